//! Callbacks, as MiniMax sends them: before a task with a `callback_url` is
//! accepted, the URL must echo a challenge; afterwards every status change
//! is POSTed to it, in order, one queue per task.
//!
//! Updates are driven by the mock's clock and by polls: a watcher per task
//! wakes when the clock is moved or the task is polled (and a few times a
//! second while the clock runs), and sends every update that became due,
//! retrying a failed delivery with backoff. Watchers run on their own tokio
//! tasks, so a slow or dead receiver never delays any request.
//!
//! The mock sends requests for whoever can submit, so by default callbacks
//! go only to loopback addresses; `--allow-callback-host` opens others.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode, Uri};
use serde_json::{json, Value};

use crate::lifecycle::clock::UnixMillis;
use crate::lifecycle::duration::format_duration;
use crate::lifecycle::faults::CallbackFault;
use crate::lifecycle::Span;
use crate::server::api::render::{self, TaskView};
use crate::server::app::App;
use crate::server::callbacks::Attempt;
use crate::server::metrics::CallbackOutcome;
use crate::server::store::journal::Entry;
use crate::server::store::remote::lease::Lease;
use crate::server::store::tasks::{Surface, Task};

/// The largest answer read from a receiver.
const MAX_ANSWER: usize = 64 * 1024;
/// While the clock runs, watchers look this often for time-driven changes.
const TICK: Duration = Duration::from_millis(100);
/// The first retry waits this long; each next one twice as long.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Attempts per update: the first and three retries.
const ATTEMPTS: u32 = 4;
/// Where a callback may go: the URL, refused with a message naming the rule.
fn target(url: &str) -> Result<(Uri, String, u16), String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("callback_url {url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(format!(
                "callback_url {url}: the mock sends callbacks over http only, not {other}"
            ))
        }
        None => return Err(format!("callback_url {url:?} is not an absolute http:// URL")),
    }
    let host = uri
        .host()
        .ok_or_else(|| format!("callback_url {url} has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    Ok((uri, host, port))
}

/// Whether `host` may receive callbacks: loopback, or allowed by name.
async fn allowed(app: &App, url: &str, host: &str, port: u16) -> Result<(), String> {
    if app.callbacks.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Ok(());
    }
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("callback_url {url}: unreachable: cannot resolve {host}: {e}"))?
            .map(|a| a.ip())
            .collect(),
    };
    if !addresses.is_empty() && addresses.iter().all(IpAddr::is_loopback) {
        return Ok(());
    }
    Err(format!(
        "callback_url {url}: callbacks go only to loopback addresses unless the host is allowed with --allow-callback-host {host}"
    ))
}

/// POSTs `body` to `uri`; the status and the answer, or what went wrong.
async fn post(uri: &Uri, host: &str, port: u16, body: Bytes, timeout: Duration) -> Result<(StatusCode, Bytes), String> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("unreachable ({e})"))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("unreachable ({e})"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let authority = uri.authority().map_or(host.to_owned(), |a| a.to_string());
        let request = hyper::Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::HOST, authority)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, concat!("minimax-mock/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(body))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no answer ({e})"))?;
        let status = response.status();
        let answer = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("answer unreadable ({e})"))?
            .to_bytes();
        Ok((status, answer))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
    }
}

/// What one request to a callback URL is, for its record.
#[derive(Debug, Clone, Copy)]
struct Label<'a> {
    task_id: Option<&'a str>,
    /// `challenge` or `update`.
    kind: &'static str,
    status: Option<&'a str>,
    /// 1 for the first try, 2 for the first retry, ...
    attempt: u32,
    /// The step's callback fault held the update this long.
    delayed: Option<Duration>,
    /// This copy of a duplicated update, and how many there are.
    copy: Option<(u32, u32)>,
}

impl Label<'_> {
    fn attempt(&self, url: &str, time: UnixMillis, body: &Bytes) -> Attempt {
        Attempt {
            time,
            task_id: self.task_id.map(str::to_owned),
            url: url.to_owned(),
            kind: self.kind,
            status: self.status.map(str::to_owned),
            attempt: self.attempt,
            delivered: false,
            http_status: None,
            error: None,
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
            dropped: false,
            delayed: self.delayed.map(format_duration),
            copy: self.copy.map(|(copy, _)| copy),
            copies: self.copy.map(|(_, copies)| copies),
        }
    }
}

/// Keeps an attempt for `GET /__mock/callbacks` and counts it in the
/// metrics; with `--store`, in the store, for every replica to list.
async fn record(app: &App, attempt: Attempt) {
    let outcome = match (attempt.dropped, attempt.delivered) {
        (true, _) => CallbackOutcome::Dropped,
        (false, true) => CallbackOutcome::Delivered,
        (false, false) => CallbackOutcome::Failed,
    };
    app.metrics.counters.callback(attempt.kind, outcome);
    match app.store.remote() {
        Some(space) => {
            let json = serde_json::to_vec(&attempt).expect("an attempt serializes");
            let _ = space.record_callback(&json).await;
        }
        None => app.callbacks.record(attempt),
    }
}

/// Sends one request to a callback URL and records it (attempts list and journal).
async fn send(app: &App, url: &str, label: Label<'_>, body: Bytes) -> Result<(StatusCode, Bytes), String> {
    let (uri, host, port) = target(url)?;
    let result = post(&uri, &host, port, body.clone(), app.callbacks.timeout).await;
    let time = app.store.clock().now();
    let (http_status, error) = match &result {
        Ok((s, _)) if s.is_success() => (Some(s.as_u16()), None),
        Ok((s, _)) => (Some(s.as_u16()), Some(format!("answered HTTP {}", s.as_u16()))),
        Err(e) => (None, Some(e.clone())),
    };
    let mut attempt = label.attempt(url, time, &body);
    attempt.delivered = error.is_none();
    attempt.http_status = http_status;
    attempt.error = error;
    record(app, attempt).await;
    if app.control {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut entry = Entry::new(
            &Method::POST,
            &uri,
            &headers,
            &body,
            result.as_ref().ok().map(|(s, _)| *s),
            label.task_id.map(str::to_owned),
        );
        entry.outgoing = true;
        app.store.record(entry).await;
    }
    result
}

/// MiniMax's URL check: POST `{"challenge": "<random>"}` and require the
/// same value back. The error names the URL and what went wrong.
pub async fn verify(app: &App, url: &str) -> Result<(), String> {
    let (_, host, port) = target(url)?;
    allowed(app, url, &host, port).await?;
    let challenge = random_challenge();
    let body = Bytes::from(json!({ "challenge": challenge }).to_string());
    let label = Label {
        task_id: None,
        kind: "challenge",
        status: None,
        attempt: 1,
        delayed: None,
        copy: None,
    };
    let (status, answer) = send(app, url, label, body)
        .await
        .map_err(|e| format!("callback_url {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "callback_url {url}: the challenge was answered with HTTP {}",
            status.as_u16()
        ));
    }
    let echoed = serde_json::from_slice::<Value>(&answer)
        .ok()
        .and_then(|v| v.get("challenge").and_then(|c| c.as_str()).map(str::to_owned));
    match echoed {
        Some(e) if e == challenge => Ok(()),
        Some(e) => Err(format!(
            "callback_url {url}: wrong echo: {e:?} instead of the challenge {challenge:?}"
        )),
        None => Err(format!(
            "callback_url {url}: wrong echo: the answer has no \"challenge\" (expected {{\"challenge\": {challenge:?}}})"
        )),
    }
}

fn random_challenge() -> String {
    use fake::Fake;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut rng = crate::lifecycle::artifact::rng_for(nanos, "challenge");
    fake::StringFaker::with(b"0123456789abcdef".to_vec(), 32).fake_with_rng(&mut rng)
}

/// The status word an update reports, per surface and (v1) in the words of
/// `--callback-status`: a change of it is what sends an update, so with the
/// lowercase words `Preparing`, `Queueing` and `Processing` send one
/// `processing` update, at the first of them.
fn status_word(app: &App, task: &Task, view: &TaskView<'_>) -> &'static str {
    match task.request.surface {
        Surface::V2 => render::v2::shown_status(view),
        _ => app.callbacks.status_words.word(view.moment.step.minimax),
    }
}

/// The update body for `view`: v1's `{task_id, status, file_id, base_resp}`
/// with `word` as its status, or for a v2 task the v2 query's task object.
fn update_body(task: &Task, view: &TaskView<'_>, word: &str) -> Vec<u8> {
    match task.request.surface {
        Surface::V2 => render::v2::query_response(view),
        _ => render::native::callback_update(view, word),
    }
}

/// An update waiting in a task's queue for its time (mock time).
struct Due {
    due: UnixMillis,
    /// The step whose change it reports: how far the updates went, for a
    /// replica that takes the task over (`--store`).
    step: usize,
    word: &'static str,
    body: Bytes,
    fault: Option<CallbackFault>,
}

/// When the task entered step `index`, on the mock's clock: exact when only
/// time led there; when a poll did, the moment the watcher saw it (`now`:
/// it is woken by the poll, so at once).
fn changed_at(task: &Task, index: usize, now: UnixMillis) -> UnixMillis {
    let steps = task.scenario.steps();
    if steps[..index.min(steps.len())]
        .iter()
        .any(|s| matches!(s.span, Span::Polls(_)))
    {
        return now;
    }
    let entered = u64::try_from(task.scenario.entering(index).entered.as_millis()).unwrap_or(u64::MAX);
    task.submitted_at.saturating_add(entered).min(now)
}

/// Where a watcher starts.
#[derive(Debug, Clone, Copy)]
enum Start {
    /// From the task's first change on (a new task).
    First,
    /// From now on (a task restored from `--state`: updates before the
    /// restart were sent).
    Now,
    /// From step `n` on, the step after the last status the previous owner
    /// reported (a task taken over from another replica, `--store`).
    Step(usize),
}

/// Starts the watcher that sends `task`'s status updates: from its first
/// change on, or (`resume`, a task restored from `--state`) from now on.
/// With `--store`, only the replica that holds the task's lease sends them.
pub fn watch(app: &App, task: &Arc<Task>, resume: bool) {
    let lease = app.store.take_lease(&task.id);
    if app.store.remote().is_some() && lease.is_none() {
        return;
    }
    spawn_watcher(app, task, if resume { Start::Now } else { Start::First }, lease);
}

/// Why a watcher stops early.
enum Stop {
    /// Its lease is another replica's now: nothing more may be sent.
    Lost,
}

/// With `--store`: renews the lease and reads the task as the store holds
/// it (the poll count others made, a cancellation, the clock). `Ok(false)`:
/// the task is gone.
async fn refresh(app: &App, task: &Task, lease: &Lease) -> Result<bool, Stop> {
    match lease.renew().await {
        Ok(true) => {}
        // Not ours any more; or the store is away, so that whether it is
        // cannot be known: stop, and the lease runs out. Whichever replica
        // then takes it goes on from the progress recorded.
        Ok(false) | Err(_) => return Err(Stop::Lost),
    }
    match app.store.task(&task.id).await {
        Ok((Some(now), _)) if now.created == task.created => {
            task.set_polls(now.polls());
            if let Some(at) = now.cancelled_at() {
                task.cancel(at);
            }
            Ok(true)
        }
        Ok((Some(_), _)) => Ok(false),
        Ok((None, _)) => Ok(false),
        Err(_) => Err(Stop::Lost),
    }
}

/// How far the updates of `task` went: the first step not yet reported.
fn progress(queue: &[Due], next: usize) -> usize {
    queue.iter().map(|d| d.step).min().unwrap_or(next).min(next)
}

fn spawn_watcher(app: &App, task: &Arc<Task>, start: Start, lease: Option<Lease>) {
    let Some(url) = task.callback.clone() else { return };
    let Some(app) = app.this.upgrade() else { return };
    let task = task.clone();
    let weak = Arc::downgrade(&app);
    let changed = app.callbacks.changed.clone();
    let stopping = app.stopping.clone();
    let watching = lease.is_some().then(|| app.watching());
    drop(app);
    tokio::spawn(async move {
        let _watching = watching;
        // The next step to look at, and the status last reported: a new
        // task reports its first status too; a restored one goes on from now.
        let (mut next, mut sent_word) = {
            let Some(app) = weak.upgrade() else { return };
            match start {
                Start::First => (0, ""),
                Start::Now | Start::Step(_) => {
                    // A cancelled task has reported `cancelled` already.
                    if matches!(start, Start::Now) && task.cancelled_at().is_some() {
                        return;
                    }
                    let now = app.store.clock().now();
                    let index = match start {
                        Start::Step(n) => n.checked_sub(1),
                        _ => Some(task.moment(now, task.polls().saturating_sub(1)).index),
                    };
                    match index {
                        None => (0, ""),
                        Some(index) => {
                            let view = TaskView {
                                moment: task.scenario.entering(index),
                                ..task.view(now, 0, &app.base_url)
                            };
                            (index + 1, status_word(&app, &task, &view))
                        }
                    }
                }
            }
        };
        // Updates not sent yet, in the order of the changes: a delayed one
        // waits here while later ones, due sooner, go out before it.
        let mut queue: Vec<Due> = Vec::new();
        loop {
            // Created before looking, so a change while we look still wakes us.
            let woken = changed.notified();
            let stop = stopping.notified();
            let Some(app) = weak.upgrade() else { return };
            match &lease {
                Some(lease) => {
                    if app.is_stopping() {
                        // A graceful stop: the next owner goes on from here.
                        let _ = lease.release().await;
                        return;
                    }
                    match refresh(&app, &task, lease).await {
                        Ok(true) => {}
                        Ok(false) => {
                            let _ = lease.progress("done").await;
                            return;
                        }
                        Err(Stop::Lost) => return,
                    }
                }
                // The task was deleted or replaced: its updates stop.
                None if !app.store.tasks().get(&task.id).is_some_and(|t| Arc::ptr_eq(&t, &task)) => return,
                None => {}
            }
            let seen_polls = task.polls().saturating_sub(1);
            let now = app.store.clock().now();
            // A cancelled task reports the steps it went through before, then `cancelled`.
            let cancelled = task.cancelled_at();
            let until = cancelled.unwrap_or(now);
            let current = task.moment(until, seen_polls).index;
            while next <= current {
                let mut view = TaskView {
                    moment: task.scenario.entering(next),
                    ..task.view(now, seen_polls, &app.base_url)
                };
                view.v2.cancelled_at = None;
                let word = status_word(&app, &task, &view);
                if word != sent_word {
                    let fault = task.scenario.steps()[next].callback;
                    let delay = fault.and_then(|f| f.delay).map_or(0, |d| d.as_millis());
                    queue.push(Due {
                        due: changed_at(&task, next, now).saturating_add(u64::try_from(delay).unwrap_or(u64::MAX)),
                        step: next,
                        word,
                        body: Bytes::from(update_body(&task, &view, word)),
                        fault,
                    });
                    sent_word = word;
                }
                next += 1;
            }
            // In the order they fall due; ties keep the order of the changes.
            queue.sort_by_key(|d| d.due);
            let ready = queue.partition_point(|d| d.due <= now);
            let mut ready: std::collections::VecDeque<Due> = queue.drain(..ready).collect();
            if cancelled.is_some() {
                // The cancellation is the last update: any still held back go first.
                ready.extend(std::mem::take(&mut queue));
            }
            while let Some(due) = ready.pop_front() {
                if !send_due(&app, &url, &task.id, due, lease.as_ref()).await {
                    return;
                }
                if let Some(lease) = &lease {
                    let first_left = ready.iter().chain(&queue).map(|d| d.step).min();
                    let done = first_left.map_or(next, |s| s.min(next));
                    if let Ok(false) = lease.progress(&done.to_string()).await {
                        return;
                    }
                }
            }
            if cancelled.is_some() {
                let view = task.view(until, seen_polls, &app.base_url);
                let word = status_word(&app, &task, &view);
                let body = Bytes::from(update_body(&task, &view, word));
                let label = Label {
                    task_id: Some(&task.id),
                    kind: "update",
                    status: Some(word),
                    attempt: 1,
                    delayed: None,
                    copy: None,
                };
                if deliver(&app, &url, label, body, lease.as_ref()).await {
                    if let Some(lease) = &lease {
                        let _ = lease.progress("done").await;
                    }
                }
                return;
            }
            if queue.is_empty() && next > 0 && task.scenario.steps()[next - 1].phase().is_terminal() {
                if let Some(lease) = &lease {
                    let _ = lease.progress("done").await;
                }
                return;
            }
            if let Some(lease) = &lease {
                if let Ok(false) = lease.progress(&progress(&queue, next).to_string()).await {
                    return;
                }
            }
            // Another replica's polls and clock changes wake no watcher here:
            // with a store, look every tick.
            let running = !app.store.clock().is_frozen() || lease.is_some();
            drop(app);
            if running {
                tokio::select! {
                    () = woken => {},
                    () = stop => {},
                    () = tokio::time::sleep(TICK) => {},
                }
            } else {
                woken.await;
            }
        }
    });
}

/// With `--store`: takes over, every third of a lease, the callbacks of
/// tasks whose owner is gone (its lease ran out or was given up), in every
/// namespace, going on from how far their updates went.
pub fn take_over(app: &Arc<App>) {
    let Some(space) = app.store.remote() else { return };
    let remote = space.remote.clone();
    let every = (remote.lease / 3).max(Duration::from_millis(50));
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(root) = weak.upgrade() else { return };
            if root.is_stopping() {
                return;
            }
            let mut apps = vec![root.clone()];
            if let Ok(names) = remote.namespaces().await {
                apps.extend(names.iter().filter_map(|name| root.namespace(name)));
            }
            for app in apps {
                let Some(space) = app.store.remote() else { continue };
                let Ok(pending) = space.pending_callbacks().await else {
                    continue;
                };
                for id in pending {
                    let Ok(Some((lease, progress))) = space.take_lease(&id).await else {
                        continue;
                    };
                    let task = match app.store.task(&id).await {
                        Ok((Some(task), _)) if task.callback.is_some() => task,
                        _ => {
                            // Gone meanwhile, or replaced by a task
                            // without a callback: nothing to send.
                            let _ = lease.progress("done").await;
                            continue;
                        }
                    };
                    let step = progress.and_then(|p| p.parse().ok()).unwrap_or(0);
                    spawn_watcher(&app, &task, Start::Step(step), Some(lease));
                }
            }
        }
    });
}

/// Sends an update that fell due as its step's callback fault says: not at
/// all (recorded as dropped), or once or more in a row, each with retries.
/// False when the lease was lost (`--store`): nothing more may be sent.
async fn send_due(app: &App, url: &str, task_id: &str, due: Due, lease: Option<&Lease>) -> bool {
    let fault = due.fault.unwrap_or(CallbackFault {
        delay: None,
        drop: false,
        copies: 1,
    });
    let label = Label {
        task_id: Some(task_id),
        kind: "update",
        status: Some(due.word),
        attempt: 1,
        delayed: fault.delay,
        copy: None,
    };
    if fault.drop {
        let mut attempt = label.attempt(url, app.store.clock().now(), &due.body);
        attempt.dropped = true;
        record(app, attempt).await;
        return true;
    }
    for copy in 1..=fault.copies {
        let label = Label {
            copy: (fault.copies > 1).then_some((copy, fault.copies)),
            ..label
        };
        if !deliver(app, url, label, due.body.clone(), lease).await {
            return false;
        }
    }
    true
}

/// Delivers one update, retrying with backoff; gives up after [`ATTEMPTS`].
/// With `--store` the lease is renewed before every attempt; false when it
/// was lost (another replica sends the task's updates now).
async fn deliver(app: &App, url: &str, label: Label<'_>, body: Bytes, lease: Option<&Lease>) -> bool {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        if let Some(lease) = lease {
            if !matches!(lease.renew().await, Ok(true)) {
                return false;
            }
        }
        match send(app, url, Label { attempt, ..label }, body.clone()).await {
            Ok((status, _)) if status.is_success() => return true,
            _ if attempt < ATTEMPTS => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            _ => {}
        }
    }
    true
}
