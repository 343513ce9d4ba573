//! `serve --store redis://…`: replicas of the real binary sharing one real
//! `redis-server` (started by the test on a free port). A task submitted on
//! one replica is polled on the others with exact poll counts; the clock,
//! the task-id sequence, next-submits, the journal, reset and namespaces are
//! the store's; a replica whose flags disagree with the store's refuses to
//! start; with Redis paused every API answers 503 in its own error shape and
//! recovers without a restart.
//!
//! The harness here (replicas, a raw HTTP client with a deadline) is the
//! Jepsen-style test's too (`jepsen.rs`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::process;
use crate::common::redis::{self, Redis};

pub(crate) const EPOCH: &str = "1756453472";
pub(crate) const EPOCH_MS: u64 = 1_756_453_472_000;
pub(crate) const SUBMIT: &str = "/minimax/v1/video_generation";
pub(crate) const QUERY: &str = "/minimax/v1/query/video_generation";
pub(crate) const NATIVE_SUBMIT: &str = "/v1/video_generation";
pub(crate) const NATIVE_QUERY: &str = "/v1/query/video_generation";
pub(crate) const BODY: &str =
    r#"{"model":"MiniMax-Hailuo-02","prompt":"A cat plays piano","duration":6,"resolution":"768P"}"#;
const V2_BODY: &str = r#"{"model":"MiniMax-H3","content":[{"type":"text","text":"A cat"}],"ratio":"1:1","resolution":"768P","duration":5}"#;
const OPENAI_BODY: &str = r#"{"prompt":"A cat","model":"MiniMax-Hailuo-02"}"#;

// ---------------------------------------------------------------------------
// HTTP with a deadline: a replica that hangs is a failure, not a stuck test.

/// One answer, and how long it took.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
    pub elapsed: Duration,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request on a fresh connection (`Connection: close`); `Err` if the
/// connection fails or no whole answer came within `within`.
pub(crate) fn try_http(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
    within: Duration,
) -> Result<Answer, String> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(within)).unwrap();
    stream.set_write_timeout(Some(within)).unwrap();
    let mut request = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{method} {target} on {addr}: write: {e}"))?;
    let mut raw = Vec::new();
    // read_to_end: the answer ends where the connection does.
    if let Err(e) = stream.read_to_end(&mut raw) {
        return Err(format!(
            "{method} {target} on {addr}: no whole answer after {:?}: {e}",
            started.elapsed()
        ));
    }
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{method} {target} on {addr}: not an HTTP answer: {text:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{method} {target} on {addr}: status line: {head:?}"))?;
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    let body = match length {
        Some(n) if n <= rest.len() => rest[..n].to_owned(),
        _ => rest.to_owned(),
    };
    Ok(Answer { status, body, elapsed })
}

/// A request that must be answered within 10 s.
pub(crate) fn http(addr: &str, method: &str, target: &str, body: &str) -> Answer {
    try_http(addr, method, target, &[], body, Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn get(addr: &str, target: &str) -> Answer {
    http(addr, "GET", target, "")
}

/// Submits through the gateway with `Prefer: scenario=SCENARIO`; the task id.
pub(crate) fn submit(addr: &str, prefix: &str, scenario: &str) -> String {
    let prefer = format!("scenario={scenario}");
    let r = try_http(
        addr,
        "POST",
        &format!("{prefix}{SUBMIT}"),
        &[("Prefer", &prefer)],
        BODY,
        Duration::from_secs(10),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "submit on {addr}: {}", r.body);
    r.json()["task_id"].as_str().unwrap().to_owned()
}

/// The gateway status of `task` as the replica at `addr` shows it (a poll).
pub(crate) fn status(addr: &str, prefix: &str, task: &str) -> String {
    let r = get(addr, &format!("{prefix}{QUERY}?task_id={task}"));
    assert_eq!(r.status, 200, "query {task} on {addr}: {}", r.body);
    r.json()["data"]["status"].as_str().unwrap().to_owned()
}

/// `POST {prefix}/__mock/clock {"advance": BY}` on `addr`; the clock's `now`.
pub(crate) fn advance(addr: &str, prefix: &str, by: &str) -> u64 {
    let r = http(
        addr,
        "POST",
        &format!("{prefix}/__mock/clock"),
        &json!({ "advance": by }).to_string(),
    );
    assert_eq!(r.status, 200, "advance on {addr}: {}", r.body);
    r.json()["now"].as_u64().unwrap()
}

pub(crate) fn clock_now(addr: &str, prefix: &str) -> u64 {
    let r = get(addr, &format!("{prefix}/__mock/clock"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["now"].as_u64().unwrap()
}

/// The poll count of `task` as the control API of `addr` shows it.
pub(crate) fn polls(addr: &str, prefix: &str, task: &str) -> u64 {
    let r = get(addr, &format!("{prefix}/__mock/tasks/{task}"));
    assert_eq!(r.status, 200, "task {task} on {addr}: {}", r.body);
    r.json()["polls"].as_u64().unwrap()
}

/// The task ids `GET /__mock/tasks` lists on `addr`.
pub(crate) fn listed(addr: &str, prefix: &str) -> Vec<String> {
    let r = get(addr, &format!("{prefix}/__mock/tasks"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Replicas: the real binary, killed when dropped.

/// A replica: `minimax-mock serve ARGS --port 0`, its stderr collected.
pub(crate) struct Replica {
    child: Option<Child>,
    pub addr: String,
    args: Vec<String>,
    log: Arc<Mutex<String>>,
}

/// `serve --quiet --store URL --epoch EPOCH --frozen --store-lease 1s`, plus `extra`.
pub(crate) fn store_args(redis: &Redis, db: u32, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "serve",
        "--quiet",
        "--store",
        &redis.url(db),
        "--epoch",
        EPOCH,
        "--frozen",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(["--store-lease".to_owned(), "1s".to_owned()]);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

impl Replica {
    pub fn start(args: &[String]) -> Self {
        let mut replica = Self {
            child: None,
            addr: String::new(),
            args: args.to_vec(),
            log: Arc::default(),
        };
        replica.restart();
        replica
    }

    /// Starts it (again) with the same flags, on a new port.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "still running");
        let (mut child, addr) = process::start(&self.args).unwrap_or_else(|why| panic!("{why}"));
        // Drained, so a chatty replica never blocks on a full pipe.
        let mut stderr = child.stderr.take().unwrap();
        let log = self.log.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                log.lock().unwrap().push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        self.addr = addr.replace("0.0.0.0", "127.0.0.1");
        self.child = Some(child);
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGKILL, and waits until it is gone.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, and waits (at most `within`) until it exits; its exit code.
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        let mut child = self.child.take().expect("running");
        redis::signal(child.id(), libc::SIGTERM);
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("still running {within:?} after SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pause(&self) {
        redis::signal(self.pid(), libc::SIGSTOP);
    }

    pub fn resume(&self) {
        redis::signal(self.pid(), libc::SIGCONT);
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            redis::signal(child.id(), libc::SIGCONT);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `n` replicas with the same flags on one store.
pub(crate) fn replicas(n: usize, args: &[String]) -> Vec<Replica> {
    (0..n).map(|_| Replica::start(args)).collect()
}

/// Runs `minimax-mock ARGS --port 0`, which must exit within 10 s (it
/// refuses to start); its exit code and stderr.
pub(crate) fn refused(args: &[String]) -> (Option<i32>, String) {
    let mut child = process::command(args).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let mut out = String::new();
            child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            panic!("{args:?} started instead of refusing: {out}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.code(), err)
}

// ---------------------------------------------------------------------------

#[test]
fn a_task_submitted_on_one_replica_is_polled_on_the_others() {
    let Some(redis) = redis::start_or_skip("store-polls") else {
        return;
    };
    let r = replicas(3, &store_args(&redis, 0, &[]));
    let (a, b, c) = (&r[0].addr, &r[1].addr, &r[2].addr);
    let task = submit(a, "", "success-polls");
    // One step a poll, whichever replica answers: the count is the store's.
    let seen: Vec<String> = [b, c, b, c, b, c].iter().map(|addr| status(addr, "", &task)).collect();
    assert_eq!(
        seen,
        ["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "SUCCESS"]
    );
    // The control API shows the count; looking is not a poll.
    assert_eq!(polls(a, "", &task), 6);
    assert_eq!(polls(c, "", &task), 6);
    // MiniMax's own query polls the same task.
    let native = get(a, &format!("{NATIVE_QUERY}?task_id={task}"));
    assert_eq!(native.json()["status"], "Success", "{}", native.body);
    assert_eq!(polls(b, "", &task), 7);
    // Nothing is made up where the store has nothing.
    let missing = get(c, &format!("{QUERY}?task_id=306000000000001"));
    assert_eq!(
        (missing.status, missing.json()["code"].clone()),
        (400, json!("task_not_exist"))
    );
    // Poll-driven and concurrent: each of 20 polls through all three gets a
    // count of its own, so each step before SUCCESS is seen exactly once.
    let task = submit(b, "", "success-polls");
    let addrs: Vec<String> = r.iter().map(|r| r.addr.clone()).collect();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let addr = addrs[i % 3].clone();
            let task = task.clone();
            std::thread::spawn(move || status(&addr, "", &task))
        })
        .collect();
    let mut seen: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    seen.sort();
    let mut expected: Vec<String> = ["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(std::iter::repeat_n("SUCCESS".to_owned(), 16))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(polls(c, "", &task), 20);
}

/// Polls that reach a replica together go to Redis as one script call
/// (`pipeline::Batch`); each still gets its own count, its namespace's clock
/// and its own journal entry, and a poll of no task in the batch changes
/// nothing.
#[test]
fn polls_queued_together_each_get_their_own_answer() {
    let Some(redis) = redis::start_or_skip("store-batches") else {
        return;
    };
    let r = replicas(1, &store_args(&redis, 0, &[]));
    let addr = r[0].addr.clone();
    let spaces = ["", "/ns/batch-a", "/ns/batch-b"];
    // One namespace's clock is ahead: its polls must not read another's.
    advance(&addr, spaces[2], "1h");
    let tasks: Vec<String> = spaces.iter().map(|ns| submit(&addr, ns, "success-polls")).collect();
    let per_task = 16;
    let start = Arc::new(std::sync::Barrier::new(spaces.len() * per_task + 8));
    let mut handles = Vec::new();
    for (ns, task) in spaces.iter().zip(&tasks) {
        for _ in 0..per_task {
            let (addr, start, target) = (addr.clone(), start.clone(), format!("{ns}{QUERY}?task_id={task}"));
            handles.push(std::thread::spawn(move || {
                start.wait();
                let answer = get(&addr, &target);
                assert_eq!(answer.status, 200, "{}", answer.body);
                let data = &answer.json()["data"];
                (
                    data["status"].as_str().unwrap().to_owned(),
                    data["submit_time"].as_u64().unwrap(),
                )
            }));
        }
    }
    let missing: Vec<_> = (0..8)
        .map(|_| {
            let (addr, start) = (addr.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                get(&addr, &format!("{QUERY}?task_id=306000000000001")).status
            })
        })
        .collect();
    let answers: Vec<(String, u64)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(missing.into_iter().all(|h| h.join().unwrap() == 400));
    for (i, (ns, task)) in spaces.iter().zip(&tasks).enumerate() {
        let mine = &answers[i * per_task..(i + 1) * per_task];
        let mut seen: Vec<&str> = mine.iter().map(|(s, _)| s.as_str()).collect();
        seen.sort_unstable();
        let mut expected = vec!["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS"];
        expected.extend(std::iter::repeat_n("SUCCESS", per_task - 4));
        expected.sort_unstable();
        assert_eq!(seen, expected, "namespace {ns:?}");
        assert_eq!(polls(&addr, ns, task), per_task as u64, "namespace {ns:?}");
        let journal = get(&addr, &format!("{ns}/__mock/requests?task_id={task}")).json();
        let queries = api_requests(&journal).filter(|e| e["method"] == "GET").count();
        assert_eq!(queries, per_task, "namespace {ns:?}: {journal}");
    }
    // The clock moved ahead in batch-b only, and every poll read its own.
    let submitted = |i: usize| answers[i * per_task].1;
    assert!(answers[..2 * per_task].iter().all(|(_, t)| *t == submitted(0)));
    assert!(answers[2 * per_task..].iter().all(|(_, t)| *t == submitted(2)));
    assert_eq!(submitted(2) - submitted(0), 3600);
}

#[test]
fn the_clock_is_the_stores() {
    let Some(redis) = redis::start_or_skip("store-clock") else {
        return;
    };
    let a = Replica::start(&store_args(&redis, 0, &[]));
    let b = Replica::start(&store_args(&redis, 0, &[]));
    let task = submit(&a.addr, "", "success");
    assert_eq!(status(&a.addr, "", &task), "NOT_START");
    assert_eq!(advance(&b.addr, "", "30s"), EPOCH_MS + 30_000);
    assert_eq!(status(&a.addr, "", &task), "SUCCESS", "B's advance moved A's task");
    // A replica started later adopts the store's clock as it is now (its
    // --epoch set the clock only if it had been the first).
    let c = Replica::start(&store_args(&redis, 0, &[]));
    let clock = get(&c.addr, "/__mock/clock").json();
    assert_eq!(
        (clock["now"].as_u64(), clock["frozen"].clone()),
        (Some(EPOCH_MS + 30_000), json!(true))
    );
    assert_eq!(status(&c.addr, "", &task), "SUCCESS");
    // Resumed on C: every replica's clock runs, from where it was.
    let r = http(&c.addr, "POST", "/__mock/clock", r#"{"resume": true}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let clock = get(&a.addr, "/__mock/clock").json();
    assert_eq!(clock["frozen"], false, "{clock}");
    assert!(clock["now"].as_u64().unwrap() >= EPOCH_MS + 30_000, "{clock}");
    let r = http(&a.addr, "POST", "/__mock/clock", r#"{"freeze": true}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let frozen_at = r.json()["now"].as_u64().unwrap();
    let clock = get(&b.addr, "/__mock/clock").json();
    assert_eq!(
        (clock["frozen"].clone(), clock["now"].as_u64()),
        (json!(true), Some(frozen_at))
    );
}

#[test]
fn task_ids_are_unique_across_replicas_and_follow_the_seeds_sequence() {
    let Some(redis) = redis::start_or_skip("store-ids") else {
        return;
    };
    let r = replicas(3, &store_args(&redis, 0, &[]));
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let addr = r[i % 3].addr.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|n| {
                        let path = if n % 2 == 0 { SUBMIT } else { NATIVE_SUBMIT };
                        let answer = http(&addr, "POST", path, BODY);
                        assert_eq!(answer.status, 200, "{}", answer.body);
                        answer.json()["task_id"].as_str().unwrap().to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<String> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "an id was handed out twice");
    let mut on_c = listed(&r[2].addr, "");
    on_c.sort();
    assert_eq!(on_c, ids, "every replica lists every task");

    // The sequence is the seed's, shared: the same 60 ids one in-memory mock gives.
    let (memory, addr) = process::serve(&["serve", "--quiet", "--epoch", EPOCH, "--frozen"]);
    let mut alone: Vec<String> = (0..60)
        .map(|_| {
            http(&addr, "POST", SUBMIT, BODY).json()["task_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    process::stop(memory, "KILL");
    alone.sort();
    assert_eq!(ids, alone);
}

/// The entries of a journal listing that are not the control API's.
fn api_requests(journal: &Value) -> impl Iterator<Item = &Value> {
    journal["requests"]
        .as_array()
        .expect("a journal listing")
        .iter()
        .filter(|e| !e["path"].as_str().unwrap().starts_with("/__mock/"))
}

#[test]
fn the_journal_is_shared() {
    let Some(redis) = redis::start_or_skip("store-journal") else {
        return;
    };
    let r = replicas(3, &store_args(&redis, 0, &[]));
    let task = submit(&r[0].addr, "", "success");
    status(&r[0].addr, "", &task);
    status(&r[1].addr, "", &task);
    let missing = get(&r[1].addr, &format!("{NATIVE_QUERY}?task_id=journal-b"));
    assert_eq!(missing.status, 200, "{}", missing.body); // native: base_resp says no

    let journal = get(&r[2].addr, "/__mock/requests").json();
    let seen: Vec<(String, String, Value)> = api_requests(&journal)
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap().to_owned(),
                e["task_id"].clone(),
            )
        })
        .collect();
    let t = json!(task);
    assert_eq!(
        seen,
        [
            ("POST".to_owned(), SUBMIT.to_owned(), t.clone()),
            ("GET".to_owned(), QUERY.to_owned(), t.clone()),
            ("GET".to_owned(), QUERY.to_owned(), t),
            ("GET".to_owned(), NATIVE_QUERY.to_owned(), json!("journal-b")),
        ],
        "{journal}"
    );
    // Filters work on the shared journal, from any replica.
    let filtered = get(&r[0].addr, "/__mock/requests?task_id=journal-b").json();
    assert_eq!(filtered["requests"].as_array().unwrap().len(), 1, "{filtered}");
    // Cleared on one, cleared for all.
    assert_eq!(http(&r[1].addr, "DELETE", "/__mock/requests", "").status, 204);
    let after = get(&r[0].addr, &format!("/__mock/requests?task_id={task}")).json();
    assert_eq!(after["requests"], json!([]), "{after}");
}

#[test]
fn a_polls_journal_entry_is_written_with_the_poll_and_a_faults_answer_replaces_it() {
    let Some(redis) = redis::start_or_skip("store-journal-faults") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("minimax-mock-store-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenarios = dir.join("scenarios.json");
    std::fs::write(
        &scenarios,
        r#"{"scenarios": {"flaky": {"steps": [
            {"status": "QUEUED", "for": "1s", "fault": {"status": 429}},
            {"status": "IN_PROGRESS", "for": "1s", "fault": {"reset": true}},
            {"status": "SUCCESS"}]}}}"#,
    )
    .unwrap();
    let r = replicas(3, &store_args(&redis, 0, &["--scenarios", scenarios.to_str().unwrap()]));
    let task = submit(&r[0].addr, "", "flaky");
    let query = format!("{QUERY}?task_id={task}");
    assert_eq!(get(&r[1].addr, &query).status, 429);
    advance(&r[0].addr, "", "1s");
    let reset = try_http(&r[1].addr, "GET", &query, &[], "", Duration::from_secs(10));
    assert!(reset.is_err(), "the step resets the connection: {reset:?}");
    advance(&r[0].addr, "", "1s");
    assert_eq!(status(&r[0].addr, "", &task), "SUCCESS");
    let unknown = get(&r[1].addr, &format!("{QUERY}?task_id=nothing-here")).status;
    assert_ne!(unknown, 200);

    // One entry per request, each with the answer given and the poll's
    // moment, in order, read through the replica that answered none of them.
    let journal = get(&r[2].addr, "/__mock/requests").json();
    let seen: Vec<(String, Value, Value, u64)> = api_requests(&journal)
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_owned(),
                e["task_id"].clone(),
                e["status"].clone(),
                e["time"].as_u64().unwrap() - EPOCH_MS,
            )
        })
        .collect();
    let (t, other) = (json!(task), json!("nothing-here"));
    assert_eq!(
        seen,
        [
            ("POST".to_owned(), t.clone(), json!(200), 0),
            ("GET".to_owned(), t.clone(), json!(429), 0),
            ("GET".to_owned(), t.clone(), Value::Null, 1000),
            ("GET".to_owned(), t, json!(200), 2000),
            ("GET".to_owned(), other, json!(unknown), 2000),
        ],
        "{journal}"
    );
}

#[test]
fn polls_go_on_after_redis_forgets_its_scripts_or_drops_the_connections() {
    let Some(redis) = redis::start_or_skip("store-reconnect") else {
        return;
    };
    let r = Replica::start(&store_args(&redis, 0, &[]));
    let task = submit(&r.addr, "", "success");
    status(&r.addr, "", &task);
    // Redis restarted empty of scripts: the poll sends its script again.
    assert_eq!(redis.cli(&["SCRIPT", "FLUSH"]).trim(), "OK");
    status(&r.addr, "", &task);
    // Every client connection dropped: the next polls connect again (one
    // may meet the dying connection and be answered 503, never wrongly).
    redis.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    let query = format!("{QUERY}?task_id={task}");
    let answers: Vec<u16> = (0..5).map(|_| get(&r.addr, &query).status).collect();
    assert!(answers.iter().all(|s| [200, 503].contains(s)), "{answers:?}");
    assert_eq!(answers.last(), Some(&200), "{answers:?}");
    // The control API's connection (redis-rs's manager) is made again too.
    let shown = (0..5)
        .map(|_| get(&r.addr, &format!("/__mock/tasks/{task}")))
        .find(|a| a.status == 200)
        .expect("the control API recovers");
    let polls = shown.json()["polls"].as_u64().unwrap();
    let answered = 2 + answers.iter().filter(|s| **s == 200).count() as u64;
    assert_eq!(polls, answered, "every poll answered 200 was counted once");
}

#[test]
fn next_submits_set_on_one_replica_apply_on_another() {
    let Some(redis) = redis::start_or_skip("store-next") else {
        return;
    };
    let r = replicas(3, &store_args(&redis, 0, &[]));
    let set = http(
        &r[0].addr,
        "PUT",
        "/__mock/next",
        r#"{"scenario": "instant", "count": 1}"#,
    );
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(get(&r[2].addr, "/__mock/next").json()["count"], 1);
    // A plain submit (no Prefer) on B takes it.
    let on_b = http(&r[1].addr, "POST", NATIVE_SUBMIT, BODY).json()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(status(&r[2].addr, "", &on_b), "SUCCESS");
    assert_eq!(get(&r[0].addr, "/__mock/next").json()["count"], 0);
    // Used up: the next one, on C, is the default scenario.
    let on_c = http(&r[2].addr, "POST", SUBMIT, BODY).json()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(status(&r[0].addr, "", &on_c), "NOT_START");
}

#[test]
fn reset_on_one_replica_resets_them_all() {
    let Some(redis) = redis::start_or_skip("store-reset") else {
        return;
    };
    let r = replicas(3, &store_args(&redis, 0, &[]));
    let first = submit(&r[0].addr, "", "success");
    submit(&r[1].addr, "", "success");
    advance(&r[1].addr, "", "10s");
    http(&r[0].addr, "PUT", "/__mock/next", r#"{"scenario": "fail", "count": 3}"#);
    assert_eq!(listed(&r[2].addr, "").len(), 2);

    assert_eq!(http(&r[2].addr, "POST", "/__mock/reset", "").status, 204);
    assert_eq!(listed(&r[0].addr, ""), Vec::<String>::new());
    assert_eq!(clock_now(&r[1].addr, ""), EPOCH_MS, "the clock is back at the start");
    assert_eq!(get(&r[0].addr, "/__mock/next").json()["count"], 0);
    let journal = get(&r[1].addr, "/__mock/requests").json();
    let api: Vec<&Value> = journal["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["path"].as_str().unwrap().starts_with("/__mock/"))
        .collect();
    assert!(api.is_empty(), "{journal}");
    // The sequence starts over: the first id again, from any replica.
    assert_eq!(submit(&r[1].addr, "", "success"), first);
    let old = get(&r[0].addr, &format!("{QUERY}?task_id={first}")).json();
    assert_eq!(old["data"]["status"], "NOT_START", "a new task, not the old one: {old}");
}

#[test]
fn namespaces_are_isolated_across_replicas() {
    let Some(redis) = redis::start_or_skip("store-ns") else {
        return;
    };
    // Database 5 of the server: the store uses the one its URL names.
    let r = replicas(3, &store_args(&redis, 5, &[]));
    let (a, b, c) = (&r[0].addr, &r[1].addr, &r[2].addr);
    let in_x = submit(a, "/ns/x", "success");
    let in_y = submit(b, "/ns/y", "success");
    assert_eq!(in_x, in_y, "each namespace has its own id sequence");
    let second_in_x = submit(c, "/ns/x", "success");
    assert_ne!(second_in_x, in_x);
    let missing = get(b, &format!("/ns/y{QUERY}?task_id={second_in_x}"));
    assert_eq!(missing.json()["code"], "task_not_exist", "{}", missing.body);
    let missing = get(a, &format!("{QUERY}?task_id={in_x}"));
    assert_eq!(missing.json()["code"], "task_not_exist", "not in the default namespace");

    assert_eq!(advance(b, "/ns/x", "30s"), EPOCH_MS + 30_000);
    assert_eq!(status(c, "/ns/x", &in_x), "SUCCESS");
    assert_eq!(status(a, "/ns/y", &in_y), "NOT_START");
    assert_eq!(clock_now(a, "/ns/y"), EPOCH_MS);
    assert_eq!(clock_now(c, ""), EPOCH_MS);
    assert_eq!(clock_now(a, "/ns/x"), EPOCH_MS + 30_000);

    // Each namespace's journal, from any replica, paths as received.
    let journal = get(c, "/ns/y/__mock/requests").json();
    let paths: Vec<&str> = journal["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .filter(|p| !p.contains("/__mock/"))
        .collect();
    assert_eq!(
        paths,
        [
            format!("/ns/y{SUBMIT}"),
            format!("/ns/y{QUERY}"),
            format!("/ns/y{QUERY}")
        ]
    );

    assert_eq!(http(a, "POST", "/ns/x/__mock/reset", "").status, 204);
    assert!(listed(b, "/ns/x").is_empty());
    assert_eq!(listed(c, "/ns/y"), [in_y.as_str()]);

    assert!(redis.dbsize(5) > 0, "the store keeps its keys in database 5");
    assert_eq!(redis.dbsize(0), 0, "and nothing in database 0");
}

#[test]
fn a_replica_whose_flags_disagree_with_the_store_refuses_to_start() {
    let Some(redis) = redis::start_or_skip("store-flags") else {
        return;
    };
    let a = Replica::start(&store_args(&redis, 0, &["--seed", "3"]));
    let (code, err) = refused(&store_args(&redis, 0, &["--seed", "7"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--seed"), "names the flag: {err}");
    // The clock's start is agreed too: a namespace's clock starts as the
    // flags say, whichever replica makes it.
    let mut other_epoch = store_args(&redis, 0, &["--seed", "3"]);
    let at = other_epoch.iter().position(|f| f == "--epoch").unwrap();
    other_epoch[at + 1] = "1800000000".to_owned();
    let (code, err) = refused(&other_epoch);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--epoch"), "names the flag: {err}");

    let dir = std::env::temp_dir().join(format!("minimax-mock-store-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenarios = dir.join("scenarios.json");
    std::fs::write(
        &scenarios,
        r#"{"default": "fail", "scenarios": {}, "rules": [{"task_id": "e2e-*", "scenario": "instant"}]}"#,
    )
    .unwrap();
    let file = scenarios.to_str().unwrap();
    let (code, err) = refused(&store_args(&redis, 0, &["--seed", "3", "--scenarios", file]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--scenarios"), "names the flag: {err}");
    let _ = std::fs::remove_dir_all(&dir);

    // Agreeing flags start, and the first replica was not disturbed.
    let b = Replica::start(&store_args(&redis, 0, &["--seed", "3"]));
    let task = submit(&b.addr, "", "instant");
    assert_eq!(status(&a.addr, "", &task), "SUCCESS");
}

#[test]
fn off_loopback_the_store_needs_an_explicit_control_token() {
    let Some(redis) = redis::start_or_skip("store-token") else {
        return;
    };
    let (code, err) = refused(&store_args(&redis, 0, &["--host", "0.0.0.0"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--control-token"), "names the flag: {err}");

    let token = "store-token-0123456789abcdef";
    let replica = Replica::start(&store_args(&redis, 0, &["--host", "0.0.0.0", "--control-token", token]));
    let bearer = format!("Bearer {token}");
    let within = Duration::from_secs(10);
    let health = try_http(&replica.addr, "GET", "/__mock/health", &[], "", within).unwrap();
    assert_eq!(health.status, 401, "{}", health.body);
    let health = try_http(
        &replica.addr,
        "GET",
        "/__mock/health",
        &[("Authorization", &bearer)],
        "",
        within,
    )
    .unwrap();
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(!replica.log().contains(token), "a given token is not printed");

    // Another token would refuse what the load balancer sends it: named,
    // neither token shown.
    let other = "store-token-fedcba9876543210";
    let (code, err) = refused(&store_args(&redis, 0, &["--host", "0.0.0.0", "--control-token", other]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--control-token"), "names the flag: {err}");
    assert!(!err.contains(token) && !err.contains(other), "{err}");
}

/// What each surface answers while the store does not: a request, the
/// schema its error body must follow.
fn surface_requests(tasks: &Tasks) -> Vec<(&'static str, String, String, &'static str)> {
    vec![
        (
            "GET",
            format!("{QUERY}?task_id={}", tasks.gateway),
            String::new(),
            minimax_mock::contract::ERROR,
        ),
        (
            "POST",
            SUBMIT.to_owned(),
            BODY.to_owned(),
            minimax_mock::contract::ERROR,
        ),
        (
            "GET",
            format!("{NATIVE_QUERY}?task_id={}", tasks.native),
            String::new(),
            minimax_mock::contract::NATIVE_ERROR,
        ),
        (
            "POST",
            NATIVE_SUBMIT.to_owned(),
            BODY.to_owned(),
            minimax_mock::contract::NATIVE_ERROR,
        ),
        (
            "GET",
            format!("/v2/query/video_generation/{}", tasks.v2),
            String::new(),
            minimax_mock::contract::V2_ERROR,
        ),
        (
            "POST",
            "/v2/video_generation".to_owned(),
            V2_BODY.to_owned(),
            minimax_mock::contract::V2_ERROR,
        ),
        // new-api answers its task routes' errors in the gateway's envelope
        // (as the mock's faults on them do), the download in OpenAI's.
        (
            "GET",
            format!("/v1/videos/{}", tasks.openai),
            String::new(),
            minimax_mock::contract::ERROR,
        ),
        (
            "POST",
            "/v1/videos".to_owned(),
            OPENAI_BODY.to_owned(),
            minimax_mock::contract::ERROR,
        ),
        (
            "GET",
            format!("/v1/videos/{}/content", tasks.openai),
            String::new(),
            minimax_mock::contract::OPENAI_ERROR,
        ),
        // The control API has no memory to fall back on either.
        (
            "GET",
            "/__mock/tasks".to_owned(),
            String::new(),
            minimax_mock::contract::ERROR,
        ),
        (
            "POST",
            "/__mock/clock".to_owned(),
            r#"{"advance": "1s"}"#.to_owned(),
            minimax_mock::contract::ERROR,
        ),
    ]
}

/// One task of each surface.
struct Tasks {
    gateway: String,
    native: String,
    v2: String,
    openai: String,
}

fn one_task_per_surface(addr: &str) -> Tasks {
    let id = |path: &str, body: &str, field: &str| {
        let r = http(addr, "POST", path, body);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.json()[field].as_str().unwrap().to_owned()
    };
    Tasks {
        gateway: id(SUBMIT, BODY, "task_id"),
        native: id(NATIVE_SUBMIT, BODY, "task_id"),
        v2: id("/v2/video_generation", V2_BODY, "task_id"),
        openai: id("/v1/videos", OPENAI_BODY, "id"),
    }
}

/// Every surface's request, sent to every replica at once (a thread each):
/// the answers, in `surface_requests` order per replica.
fn all_at_once(addrs: &[String], tasks: &Tasks, within: Duration) -> Vec<(String, String, Result<Answer, String>)> {
    let handles: Vec<_> = addrs
        .iter()
        .flat_map(|addr| {
            surface_requests(tasks)
                .into_iter()
                .map(move |(method, target, body, _)| {
                    let addr = addr.clone();
                    std::thread::spawn(move || {
                        let answer = try_http(&addr, method, &target, &[], &body, within);
                        (addr, format!("{method} {target}"), answer)
                    })
                })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn with_redis_paused_every_api_answers_503_and_recovers_without_a_restart() {
    let Some(redis) = redis::start_or_skip("store-paused") else {
        return;
    };
    let r = replicas(2, &store_args(&redis, 0, &["--store-timeout", "1s"]));
    let addrs: Vec<String> = r.iter().map(|r| r.addr.clone()).collect();
    let tasks = one_task_per_surface(&addrs[0]);
    assert_eq!(status(&addrs[1], "", &tasks.gateway), "NOT_START");
    let contract = minimax_mock::contract::Contract::embedded();

    redis.pause();
    // Everything at once on both replicas: each within the store's timeout
    // and a little, each a 503 in its own surface's error shape.
    let answers = all_at_once(&addrs, &tasks, Duration::from_secs(5));
    let schemas: Vec<&str> = surface_requests(&tasks).iter().map(|s| s.3).collect();
    for (i, (addr, request, answer)) in answers.iter().enumerate() {
        let answer = answer.as_ref().unwrap_or_else(|e| panic!("{request} on {addr}: {e}"));
        assert_eq!(answer.status, 503, "{request} on {addr}: {}", answer.body);
        assert!(
            answer.elapsed < Duration::from_millis(3000),
            "{request} on {addr} took {:?} (--store-timeout 1s)",
            answer.elapsed
        );
        let schema = contract.schema(schemas[i % schemas.len()]).unwrap();
        let body = answer.json();
        assert!(
            schema.is_valid(&body),
            "{request} on {addr}: not a {} body: {body}",
            schema.name()
        );
        if request.contains("/v2/") {
            assert_eq!(body["error"]["http_code"], "503", "{body}");
        }
    }
    for addr in &addrs {
        let health = try_http(addr, "GET", "/__mock/health", &[], "", Duration::from_secs(5)).unwrap();
        assert_eq!(health.status, 503, "{}", health.body);
        assert_eq!(health.json()["ready"], false, "{}", health.body);
        let live = try_http(addr, "GET", "/__mock/live", &[], "", Duration::from_secs(5)).unwrap();
        assert_eq!((live.status, live.body.trim()), (200, "ok"));
        assert!(
            live.elapsed < Duration::from_millis(500),
            "live waited for the store: {:?}",
            live.elapsed
        );
    }

    redis.resume();
    // Back without a restart: ready within a few seconds, then every
    // request answers again, with the tasks as they were.
    for addr in &addrs {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let health = try_http(addr, "GET", "/__mock/health", &[], "", Duration::from_secs(5)).unwrap();
            if health.status == 200 {
                assert_ne!(health.json()["ready"], false, "{}", health.body);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not ready 5 s after Redis came back: {}",
                health.body
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for (addr, request, answer) in all_at_once(&addrs, &tasks, Duration::from_secs(10)) {
        let answer = answer.unwrap_or_else(|e| panic!("{request} on {addr}: {e}"));
        if request.ends_with("/content") {
            // The task is there, not done yet: its download says so.
            assert_eq!(answer.status, 400, "{request} on {addr}: {}", answer.body);
            assert!(answer.body.contains("not completed"), "{}", answer.body);
        } else {
            assert_eq!(answer.status, 200, "{request} on {addr}: {}", answer.body);
        }
    }
    let on_b = listed(&addrs[1], "");
    for task in [&tasks.gateway, &tasks.native, &tasks.v2, &tasks.openai] {
        assert!(on_b.contains(task), "{task} kept: {on_b:?}");
    }
    // The clock moved by exactly the two advances answered 200 above (the
    // 503'd ones may or may not have reached Redis later: at most those).
    let now = clock_now(&addrs[0], "");
    assert!((EPOCH_MS + 2_000..=EPOCH_MS + 4_000).contains(&now), "{now}");
    // A gateway task moves on, status forwards.
    advance(&addrs[1], "", "30s");
    assert_eq!(status(&addrs[0], "", &tasks.gateway), "SUCCESS");
}
