//! A Jepsen-style test of `serve --store redis://…`: three replicas of the
//! real binary on one real `redis-server`, a client going round the
//! replicas in turn (submitting tasks with a `callback_url`, polling them,
//! moving the clock through the control API), and a callback receiver on
//! loopback recording every update in the order it arrived. Faults, one
//! phase each, with tasks of their own: none; SIGKILL of a replica in the
//! middle of a delivery (restarted after); SIGTERM likewise (restarted);
//! SIGSTOP past the lease, then SIGCONT; Redis paused, then resumed.
//!
//! What must hold (docs/store.md):
//! - no task is lost: every task submitted is listed and queryable on every
//!   replica at the end, in its final status;
//! - no status goes backwards, whichever replica answers;
//! - poll counts are exact while no poll went unanswered, and afterwards
//!   off by at most the polls answered 503;
//! - every callback update arrives, in order; the only duplicates are the
//!   update in flight at a SIGKILL or SIGSTOP (at most one per task), none
//!   for SIGTERM, none for Redis paused, none in the fault-free phase;
//! - while Redis is paused every answer is a 503 (never a wrong one),
//!   within `--store-timeout` and a little.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use crate::common::redis;
use crate::store::{
    advance, get, http, polls, replicas, store_args, try_http, Answer, Replica, BODY, NATIVE_QUERY, NATIVE_SUBMIT,
    QUERY, SUBMIT,
};

/// The v1 updates of the `success` scenario, in order.
const UPDATES: [&str; 4] = ["Preparing", "Queueing", "Processing", "Success"];
/// `--store-timeout`: the default.
const STORE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a callback receiver may wait for the updates of a phase.
const DELIVERY_WAIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------
// The callback receiver: its own thread and runtime, so that the test itself
// can block.

#[derive(Debug, Clone)]
struct Update {
    task: String,
    status: String,
    /// The process that sent it (found from the connection's port), for
    /// the messages of a failure.
    from: Option<u32>,
}

/// The process of ours (a `minimax-mock`) that holds the loopback socket
/// from port `peer` to port `ours`: Linux's /proc, `None` elsewhere.
fn sender(ours: u16, peer: u16) -> Option<u32> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let port = |a: &str| u16::from_str_radix(a.rsplit(':').next()?, 16).ok();
        (port(f.get(1)?)? == peer && port(f.get(2)?)? == ours).then(|| f.get(9).map(|s| (*s).to_owned()))?
    })?;
    let socket = format!("socket:[{inode}]");
    let bin = std::fs::canonicalize(crate::common::process::BIN).ok()?;
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        if std::fs::read_link(entry.path().join("exe")).ok()? != bin {
            return None;
        }
        std::fs::read_dir(entry.path().join("fd"))
            .ok()?
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_str() == Some(socket.as_str())))
            .then_some(pid)
    })
}

struct Hook {
    url: String,
    received: Arc<Mutex<Vec<Update>>>,
    /// How long each update is held before it is answered (a challenge never
    /// is): a fault can then land while a delivery is in flight.
    hold_ms: Arc<AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hook {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/hook");
        let received: Arc<Mutex<Vec<Update>>> = Arc::default();
        let hold_ms = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (seen, hold) = (received.clone(), hold_ms.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (stream, peer) = tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok(accepted) => accepted,
                            Err(_) => continue,
                        },
                        _ = &mut stopped => return,
                    };
                    let from = sender(port, peer.port());
                    let (seen, hold) = (seen.clone(), hold.clone());
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (seen, hold) = (seen.clone(), hold.clone());
                        async move {
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            let answer = if let Some(challenge) = v.get("challenge") {
                                json!({ "challenge": challenge })
                            } else {
                                let update = Update {
                                    task: v["task_id"].as_str().unwrap_or_default().to_owned(),
                                    status: v["status"].as_str().unwrap_or_default().to_owned(),
                                    from,
                                };
                                seen.lock().unwrap().push(update);
                                let ms = hold.load(Ordering::Relaxed);
                                if ms > 0 {
                                    tokio::time::sleep(Duration::from_millis(ms)).await;
                                }
                                json!({})
                            };
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                                answer.to_string(),
                            ))))
                        }
                    });
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Self {
            url,
            received,
            hold_ms,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn hold(&self, by: Duration) {
        self.hold_ms
            .store(u64::try_from(by.as_millis()).unwrap(), Ordering::Relaxed);
    }

    /// What `task` received, in arrival order.
    fn of(&self, task: &str) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|u| u.task == task)
            .map(|u| u.status.clone())
            .collect()
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------
// The client and its history.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Gateway,
    Native,
}

/// A submitted task, as the client saw it.
#[derive(Debug)]
struct Tracked {
    id: String,
    api: Api,
    phase: &'static str,
    /// How many copies of an update may arrive twice: the update in flight
    /// at a SIGKILL or SIGSTOP, at most one a task.
    duplicates_allowed: usize,
    /// Polls answered (200), and polls answered 503 (which may or may not
    /// have been counted by the store).
    polls: u64,
    polls_refused: u64,
    /// The furthest point seen: (status rank, progress).
    furthest: (u8, u32),
    last_seen: String,
}

fn rank(api: Api, body: &Value) -> (u8, u32, String) {
    match api {
        Api::Gateway => {
            let status = body["data"]["status"].as_str().unwrap_or_default().to_owned();
            let rank = match status.as_str() {
                "NOT_START" => 0,
                "SUBMITTED" => 1,
                "QUEUED" => 2,
                "IN_PROGRESS" => 3,
                "SUCCESS" | "FAILURE" => 4,
                _ => panic!("not a gateway status: {body}"),
            };
            let progress = body["data"]["progress"]
                .as_str()
                .and_then(|p| p.trim_end_matches('%').parse().ok())
                .unwrap_or_else(|| panic!("no progress: {body}"));
            (rank, progress, status)
        }
        Api::Native => {
            let status = body["status"].as_str().unwrap_or_default().to_owned();
            let rank = match status.as_str() {
                "Preparing" => 0,
                "Queueing" => 2,
                "Processing" => 3,
                "Success" | "Fail" => 4,
                _ => panic!("not a native status: {body}"),
            };
            (rank, 0, status)
        }
    }
}

struct Cluster {
    replicas: Vec<Replica>,
    up: Vec<bool>,
    turn: usize,
    tasks: Vec<Tracked>,
    hook: Hook,
    /// Every answer while Redis was paused: (request, status).
    refused: Vec<(String, u16)>,
    /// Which replica each process was (a restart is a new process).
    pids: Vec<(u32, usize)>,
}

impl Cluster {
    /// The next replica that is up, in turn.
    fn next(&mut self) -> usize {
        for _ in 0..self.replicas.len() {
            let i = self.turn % self.replicas.len();
            self.turn += 1;
            if self.up[i] {
                return i;
            }
        }
        panic!("no replica is up");
    }

    fn addr(&self, i: usize) -> &str {
        assert!(self.up[i], "replica {i} is down");
        &self.replicas[i].addr
    }

    /// Notes the processes of the replicas now running.
    fn note_pids(&mut self) {
        for (i, r) in self.replicas.iter().enumerate() {
            if self.up[i] && !self.pids.iter().any(|(pid, _)| *pid == r.pid()) {
                self.pids.push((r.pid(), i));
            }
        }
    }

    /// What task `id` received, with which replica sent each update.
    fn story(&self, id: &str) -> String {
        self.hook
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|u| u.task == id)
            .map(|u| {
                let from = u.from.map_or_else(
                    || "?".to_owned(),
                    |pid| match self.pids.iter().find(|(p, _)| *p == pid) {
                        Some((_, i)) => format!("replica {i} (pid {pid})"),
                        None => format!("pid {pid}"),
                    },
                );
                format!("{} from {from}", u.status)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn logs(&self) -> String {
        self.replicas
            .iter()
            .enumerate()
            .map(|(i, r)| format!("--- replica {i} ({}):\n{}", r.addr, r.log()))
            .collect()
    }

    /// Submits a `success` task with a callback on replica `on`.
    fn submit(&mut self, on: usize, api: Api, phase: &'static str, duplicates_allowed: usize) -> usize {
        let path = match api {
            Api::Gateway => SUBMIT,
            Api::Native => NATIVE_SUBMIT,
        };
        let mut body: Value = serde_json::from_str(BODY).unwrap();
        body["callback_url"] = json!(self.hook.url);
        let addr = self.addr(on).to_owned();
        let r = try_http(
            &addr,
            "POST",
            path,
            &[("Prefer", "scenario=success")],
            &body.to_string(),
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 200, "submit on replica {on}: {}", r.body);
        let id = r.json()["task_id"].as_str().unwrap().to_owned();
        assert!(self.tasks.iter().all(|t| t.id != id), "{id} handed out twice ({phase})");
        self.tasks.push(Tracked {
            id,
            api,
            phase,
            duplicates_allowed,
            polls: 0,
            polls_refused: 0,
            furthest: (0, 0),
            last_seen: String::new(),
        });
        self.tasks.len() - 1
    }

    fn target(&self, t: usize) -> String {
        let task = &self.tasks[t];
        match task.api {
            Api::Gateway => format!("{QUERY}?task_id={}", task.id),
            Api::Native => format!("{NATIVE_QUERY}?task_id={}", task.id),
        }
    }

    /// Polls task `t` on the next replica: 200 and never behind what any
    /// replica showed before.
    fn poll(&mut self, t: usize) -> String {
        let on = self.next();
        let addr = self.addr(on).to_owned();
        let target = self.target(t);
        let r = http(&addr, "GET", &target, "");
        let task = &mut self.tasks[t];
        assert_eq!(r.status, 200, "poll {} on replica {on}: {}", task.id, r.body);
        let body = r.json();
        let id = match task.api {
            Api::Gateway => &body["data"]["task_id"],
            Api::Native => &body["task_id"],
        };
        assert_eq!(id, task.id.as_str(), "{body}");
        task.polls += 1;
        let (rank, progress, status) = rank(task.api, &body);
        assert!(
            (rank, progress) >= task.furthest,
            "{} went backwards on replica {on}: {status} after {} ({:?} < {:?})",
            task.id,
            task.last_seen,
            (rank, progress),
            task.furthest
        );
        task.furthest = (rank, progress);
        task.last_seen.clone_from(&status);
        status
    }

    fn poll_all(&mut self) {
        for t in 0..self.tasks.len() {
            self.poll(t);
        }
    }

    /// Moves the store's clock through the next replica.
    fn advance(&mut self, by: &str) {
        let on = self.next();
        let addr = self.addr(on).to_owned();
        advance(&addr, "", by);
    }

    fn of_phase(&self, phase: &str) -> Vec<usize> {
        (0..self.tasks.len())
            .filter(|&t| self.tasks[t].phase == phase)
            .collect()
    }

    /// Waits until every task of `phase` received every update at least once.
    /// With replica `down` gone (killed or stopped): the others deliver
    /// the phase's `tasks`, polled meanwhile; then `down` starts again and
    /// every task is polled once round.
    fn deliver_without(&mut self, down: usize, tasks: &[usize], phase: &str) {
        self.set_up(down, false);
        for &t in tasks {
            self.poll(t);
        }
        self.wait_delivered(phase);
        self.replicas[down].restart();
        self.set_up(down, true);
        self.note_pids();
        self.poll_all();
    }

    fn wait_delivered(&self, phase: &str) {
        let deadline = Instant::now() + DELIVERY_WAIT;
        loop {
            let missing: Vec<(String, Vec<String>)> = self
                .of_phase(phase)
                .into_iter()
                .map(|t| (self.tasks[t].id.clone(), self.hook.of(&self.tasks[t].id)))
                .filter(|(_, got)| UPDATES.iter().any(|u| !got.iter().any(|g| g == u)))
                .collect();
            if missing.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{phase}: updates missing after {DELIVERY_WAIT:?}: {missing:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the receiver heard an update of one of `tasks` with a
    /// status other than `Preparing`: a delivery is now in flight (the
    /// receiver holds its answer).
    fn wait_first_update(&self, tasks: &[usize]) {
        let deadline = Instant::now() + DELIVERY_WAIT;
        while !tasks
            .iter()
            .any(|&t| self.hook.of(&self.tasks[t].id).iter().any(|s| s != "Preparing"))
        {
            assert!(Instant::now() < deadline, "no update came\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits until the store's callbacks record shows `n` delivered updates
    /// for each of `tasks` (the owner wrote down what it sent).
    fn wait_recorded(&self, tasks: &[usize], n: usize) {
        let deadline = Instant::now() + DELIVERY_WAIT;
        for &t in tasks {
            let id = &self.tasks[t].id;
            loop {
                let on = (0..self.replicas.len()).find(|&i| self.up[i]).unwrap();
                let listed = get(self.addr(on), &format!("/__mock/callbacks?task_id={id}")).json();
                let delivered = listed["callbacks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|a| a["kind"] == "update" && a["delivered"] == true)
                    .count();
                if delivered >= n {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{id}: {delivered} updates recorded, not {n}: {listed}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Every task's poll count in the store is the client's, give or take
    /// the polls answered 503 (counted or not, depending on whether they
    /// reached Redis after all).
    fn check_polls(&self, when: &str) {
        for task in &self.tasks {
            let on = (0..self.replicas.len()).rev().find(|&i| self.up[i]).unwrap();
            let counted = polls(self.addr(on), "", &task.id);
            assert!(
                (task.polls..=task.polls + task.polls_refused).contains(&counted),
                "{when}: {} ({}) counted {counted} polls, the client made {} (+{} answered 503)",
                task.id,
                task.phase,
                task.polls,
                task.polls_refused
            );
        }
    }

    fn set_up(&mut self, i: usize, up: bool) {
        self.up[i] = up;
    }

    /// While Redis is paused: a poll of every task, submits, a clock move,
    /// health and liveness on every replica, all at once (each waits for
    /// the store's timeout). Only 503s; health not ready; live 200.
    fn refused_round(&mut self) {
        let mut requests: Vec<(Option<usize>, String, &'static str, String, &'static str)> = Vec::new();
        for t in 0..self.tasks.len() {
            let on = self.next();
            requests.push((Some(t), self.addr(on).to_owned(), "GET", self.target(t), ""));
        }
        for i in 0..self.replicas.len() {
            let addr = self.addr(i).to_owned();
            requests.push((None, addr.clone(), "POST", SUBMIT.to_owned(), BODY));
            requests.push((None, addr.clone(), "POST", NATIVE_SUBMIT.to_owned(), BODY));
            requests.push((None, addr, "POST", "/__mock/clock".to_owned(), r#"{"advance": "1s"}"#));
        }
        let handles: Vec<_> = requests
            .into_iter()
            .map(|(task, addr, method, target, body)| {
                std::thread::spawn(move || {
                    let r = refused_while_paused(&addr, method, &target, body);
                    (task, target, r.status)
                })
            })
            .collect();
        let probes: Vec<_> = (0..self.replicas.len())
            .map(|i| {
                let addr = self.addr(i).to_owned();
                std::thread::spawn(move || {
                    let within = Duration::from_secs(5);
                    let health = try_http(&addr, "GET", "/__mock/health", &[], "", within).unwrap();
                    assert_eq!(health.status, 503, "health on {addr}: {}", health.body);
                    assert_eq!(health.json()["ready"], false, "{}", health.body);
                    let live = try_http(&addr, "GET", "/__mock/live", &[], "", within).unwrap();
                    assert_eq!(live.status, 200, "live on {addr}: {}", live.body);
                    assert!(
                        live.elapsed < Duration::from_millis(500),
                        "live waited for Redis: {:?}",
                        live.elapsed
                    );
                })
            })
            .collect();
        for handle in handles {
            let (task, target, status) = handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            if let Some(t) = task {
                self.tasks[t].polls_refused += 1;
            }
            self.refused.push((target, status));
        }
        for probe in probes {
            probe.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        }
    }
}

/// A request while Redis is paused: it must be a 503 (a wrong answer is
/// worse than none), in the surface's error shape, within the timeout and
/// a little.
fn refused_while_paused(addr: &str, method: &str, target: &str, body: &str) -> Answer {
    let r = try_http(addr, method, target, &[], body, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{method} {target} while Redis is paused: {e}"));
    assert_eq!(
        r.status, 503,
        "{method} {target} on {addr} while Redis is paused: {}",
        r.body
    );
    assert!(
        r.elapsed < STORE_TIMEOUT + Duration::from_millis(2000),
        "{method} {target} took {:?} with --store-timeout {STORE_TIMEOUT:?}",
        r.elapsed
    );
    let body = r.json();
    let shaped = if target.starts_with("/minimax/") || target.starts_with("/__mock/") {
        body["code"].is_string() && body["data"].is_null()
    } else {
        body["base_resp"]["status_code"].as_i64().is_some_and(|c| c != 0)
    };
    assert!(shaped, "{method} {target}: not its surface's error shape: {body}");
    r
}

#[test]
fn three_replicas_survive_kills_stops_and_a_paused_redis() {
    let Some(redis) = redis::start_or_skip("jepsen") else {
        return;
    };
    let started = Instant::now();
    let args = store_args(&redis, 0, &["--store-timeout", "1s"]);
    let mut c = Cluster {
        replicas: replicas(3, &args),
        up: vec![true; 3],
        turn: 0,
        tasks: Vec::new(),
        hook: Hook::start(),
        refused: Vec::new(),
        pids: Vec::new(),
    };
    c.note_pids();

    // --- No faults: tasks on every replica, polled round the replicas as the
    // clock moves a second at a time; poll counts exact, one update each.
    for on in 0..6 {
        let api = if on % 2 == 0 { Api::Gateway } else { Api::Native };
        c.submit(on % 3, api, "no faults", 0);
    }
    for _ in 0..12 {
        c.advance("1s");
        c.poll_all();
    }
    for t in c.of_phase("no faults") {
        assert!(c.tasks[t].furthest.0 == 4, "{:?} not done after 12 s", c.tasks[t]);
    }
    c.check_polls("no faults");
    c.wait_delivered("no faults");
    let phase = c.of_phase("no faults");
    c.wait_recorded(&phase, UPDATES.len());
    for &t in &phase {
        assert_eq!(
            c.hook.of(&c.tasks[t].id),
            UPDATES,
            "no faults: {} got each update once, in order? {}",
            c.tasks[t].id,
            c.story(&c.tasks[t].id)
        );
    }

    // Each fault phase: tasks submitted on the victim (it made their
    // challenge, so it is the first owner of their updates), their
    // Preparing recorded; then the clock moves, and the fault lands as soon
    // as the first later update is on its way (the receiver holds each
    // answer 300 ms).
    c.hook.hold(Duration::from_millis(300));
    let fault_phase = |c: &mut Cluster, victim: usize, phase: &'static str, allowed: usize| -> Vec<usize> {
        let tasks: Vec<usize> = (0..3)
            .map(|n| {
                let api = if n % 2 == 0 { Api::Gateway } else { Api::Native };
                c.submit(victim, api, phase, allowed)
            })
            .collect();
        c.wait_recorded(&tasks, 1);
        let mover = (victim + 1) % 3;
        let addr = c.addr(mover).to_owned();
        advance(&addr, "", "30s");
        c.wait_first_update(&tasks);
        tasks
    };

    // --- SIGKILL mid-delivery: another replica takes the victim's tasks
    // over once the lease runs out. Restarted after.
    let tasks = fault_phase(&mut c, 0, "SIGKILL", 1);
    c.replicas[0].kill();
    c.deliver_without(0, &tasks, "SIGKILL");

    // --- SIGTERM mid-delivery: a graceful stop hands its tasks over, no
    // update twice. Restarted after.
    let tasks = fault_phase(&mut c, 1, "SIGTERM", 0);
    let code = c.replicas[1].terminate(Duration::from_secs(10));
    assert_eq!(code, Some(0), "SIGTERM exits 0\n{}", c.logs());
    c.deliver_without(1, &tasks, "SIGTERM");

    // --- SIGSTOP past the lease: the others take over; resumed, the old
    // owner must not send again (its fencing token is stale).
    let tasks = fault_phase(&mut c, 2, "SIGSTOP", 1);
    c.replicas[2].pause();
    c.set_up(2, false);
    for &t in &tasks {
        c.poll(t);
    }
    c.wait_delivered("SIGSTOP");
    let heard = c.hook.count();
    c.replicas[2].resume();
    c.set_up(2, true);
    // Real time for the resumed replica to do whatever it would: its timers
    // fired, its lease is gone.
    std::thread::sleep(Duration::from_millis(1500));
    c.poll_all();
    let late: Vec<Update> = c.hook.received.lock().unwrap()[heard..].to_vec();
    let again: Vec<String> = late
        .iter()
        .filter(|u| tasks.iter().any(|&t| c.tasks[t].id == u.task))
        .map(|u| format!("{}: {}", u.task, c.story(&u.task)))
        .collect();
    assert!(
        again.is_empty(),
        "SIGSTOP: sent again after every update had arrived (the stopped replica was 2): {again:#?}"
    );

    // Every poll so far was answered: the counts are still exact.
    c.check_polls("after SIGKILL, SIGTERM, SIGSTOP");

    // --- Redis paused past the lease: only 503s, on every replica and
    // surface; resumed, everything goes on, no update sent twice.
    c.hook.hold(Duration::ZERO);
    let tasks: Vec<usize> = (0..3)
        .map(|on| {
            let api = if on % 2 == 0 { Api::Gateway } else { Api::Native };
            c.submit(on, api, "Redis paused", 0)
        })
        .collect();
    c.wait_recorded(&tasks, 1);
    c.poll_all();
    redis.pause();
    let paused = Instant::now();
    c.refused_round();
    // Past the lease: every lease in Redis has run out by the time it answers.
    std::thread::sleep(Duration::from_millis(1200).saturating_sub(paused.elapsed()));
    c.refused_round();
    redis.resume();
    for i in 0..3 {
        let deadline = Instant::now() + Duration::from_secs(5);
        while try_http(c.addr(i), "GET", "/__mock/health", &[], "", Duration::from_secs(5))
            .map_or(true, |h| h.status != 200)
        {
            assert!(
                Instant::now() < deadline,
                "replica {i} not ready 5 s after Redis came back"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    c.advance("30s");
    c.poll_all();
    c.wait_delivered("Redis paused");
    c.check_polls("after Redis was paused");

    // --- The end: a quiet moment longer than the lease, so any replica that
    // would send a finished task's update again has had the chance.
    let heard = c.hook.count();
    std::thread::sleep(Duration::from_millis(1500));
    let late: Vec<String> = c.hook.received.lock().unwrap()[heard..]
        .iter()
        .map(|u| format!("{} {}: {}", u.task, u.status, c.story(&u.task)))
        .collect();
    assert!(late.is_empty(), "updates after everything was delivered: {late:#?}");

    // No task lost: listed and final on every replica.
    let ids: Vec<String> = c.tasks.iter().map(|t| t.id.clone()).collect();
    for i in 0..3 {
        let on_replica = crate::store::listed(c.addr(i), "");
        for id in &ids {
            assert!(on_replica.contains(id), "{id} missing on replica {i}");
        }
    }
    for _ in 0..3 {
        for t in 0..c.tasks.len() {
            let status = c.poll(t);
            assert!(
                status == "SUCCESS" || status == "Success",
                "{}: {status}",
                c.tasks[t].id
            );
        }
    }

    // Every update in order; duplicates only where allowed.
    let mut duplicates: HashMap<&str, usize> = HashMap::new();
    for task in &c.tasks {
        let got = c.hook.of(&task.id);
        let mut once = got.clone();
        once.dedup();
        assert_eq!(
            once, UPDATES,
            "{} ({}): out of order or missing: {got:?}",
            task.id, task.phase
        );
        let extra = got.len() - once.len();
        *duplicates.entry(task.phase).or_default() += extra;
        assert!(
            extra <= task.duplicates_allowed,
            "{} ({}): {extra} duplicate updates, at most {} allowed: {}",
            task.id,
            task.phase,
            task.duplicates_allowed,
            c.story(&task.id)
        );
    }
    for task in &c.tasks {
        if c.hook.of(&task.id).len() > UPDATES.len() {
            eprintln!("jepsen: {} ({}): {}", task.id, task.phase, c.story(&task.id));
        }
    }
    eprintln!(
        "jepsen: {} tasks, {} polls, {} answered 503 while Redis was paused, duplicates by phase {duplicates:?}, {:?}",
        c.tasks.len(),
        c.tasks.iter().map(|t| t.polls).sum::<u64>(),
        c.refused.len(),
        started.elapsed()
    );
}
