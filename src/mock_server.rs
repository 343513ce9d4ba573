//! The in-process test double for Rust clients, shaped like wiremock-rs:
//! start it on a free port, point your client at [`MockServer::uri`], script
//! tasks, move time on, and check what your client sent.
//!
//! The server runs on a thread and runtime of its own, so it works the same
//! from `#[tokio::test]` (even the single-threaded flavour, with a blocking
//! client) and from plain `#[test]`s, and dropping it stops it.

use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde_json::Value;

use crate::lifecycle::clock::{Clock, UnixMillis};
use crate::lifecycle::scenarios::{Catalog, StepSpec};
use crate::server::callbacks::Attempt;
use crate::server::control::{self, ClockSpec, ControlError, NextSpec, ScriptSpec};
use crate::server::store::journal::{Entry, Filter};
use crate::server::store::namespaces;
use crate::server::{self, App, Config};

/// A running mock of the gateway. Dropping it shuts it down.
///
/// ```
/// use std::time::Duration;
/// use minimax_mock::MockServer;
///
/// // Arrange: a task that will fail, on a server of its own.
/// let server = MockServer::start_blocking();
/// server.script("job-42", "fail").unwrap();
///
/// // Act: your client polls; time moves on without sleeping.
/// let url = format!("{}/minimax/v1/query/video_generation?task_id=job-42", server.uri());
/// let first: serde_json::Value = ureq::get(&url).call().unwrap().body_mut().read_json().unwrap();
/// server.advance(Duration::from_secs(60));
/// let last: serde_json::Value = ureq::get(&url).call().unwrap().body_mut().read_json().unwrap();
///
/// // Assert: on the answers, and on what the client sent.
/// assert_eq!(first["data"]["status"], "NOT_START");
/// assert_eq!(last["data"]["status"], "FAILURE");
/// assert_eq!(server.requests().len(), 2);
/// ```
pub struct MockServer {
    addr: SocketAddr,
    app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    closed: mpsc::Receiver<()>,
}

/// Options for [`MockServer`]; start with [`MockServer::builder`].
pub struct Builder {
    config: Config,
}

impl Builder {
    /// Seed of the generated data (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Starts the mock clock at this Unix time in milliseconds (default: now),
    /// so timestamps, and so every byte, are the same on every run.
    pub fn epoch(mut self, unix_millis: UnixMillis) -> Self {
        self.config.clock = Clock::new(Some(unix_millis), self.config.clock.is_frozen());
        self
    }

    /// Lets the clock run with real time (default: it stands still and moves
    /// only with [`MockServer::advance`]).
    pub fn running_clock(self) -> Self {
        self.config.clock.set_frozen(false);
        self
    }

    /// Scenarios and task-id rules beyond the built-ins.
    pub fn scenarios(mut self, catalog: Catalog) -> Self {
        self.config.catalog = catalog;
        self
    }

    /// Answer 401 to API requests without `Authorization: Bearer ...`.
    pub fn require_auth(mut self) -> Self {
        self.config.require_auth = true;
        self
    }

    /// Any other setting, on the whole [`Config`].
    pub fn config(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(self) -> MockServer {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let closed = spawn(self.config, move |started| {
            let _ = tx.send(started);
        });
        let (addr, app, stop) = rx.await.expect("the mock server thread started");
        MockServer {
            addr,
            app,
            stop: Some(stop),
            closed,
        }
    }

    /// [`Builder::start`] for tests without an async runtime.
    pub fn start_blocking(self) -> MockServer {
        let (tx, rx) = mpsc::channel();
        let closed = spawn(self.config, move |started| {
            let _ = tx.send(started);
        });
        let (addr, app, stop) = rx.recv().expect("the mock server thread started");
        MockServer {
            addr,
            app,
            stop: Some(stop),
            closed,
        }
    }
}

type Started = (SocketAddr, Arc<App>, tokio::sync::oneshot::Sender<()>);

/// Runs the server on a thread of its own; the receiver hears when the
/// listener is closed.
fn spawn(config: Config, started: impl FnOnce(Started) + Send + 'static) -> mpsc::Receiver<()> {
    let (closed_tx, closed_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("minimax-mock".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a tokio runtime for the mock server");
            runtime.block_on(async move {
                let bound = server::bind(config).await.expect("binding 127.0.0.1:0");
                let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
                started((bound.local_addr(), bound.app().clone(), stop_tx));
                bound
                    .serve_then(
                        async {
                            let _ = stop_rx.await;
                        },
                        move || {
                            let _ = closed_tx.send(());
                        },
                    )
                    .await;
            });
        })
        .expect("a thread for the mock server");
    closed_rx
}

impl MockServer {
    /// A server on a free port of 127.0.0.1 with the built-in contract and
    /// scenarios, seed 0 and a clock that stands still until advanced.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// [`MockServer::start`] for tests without an async runtime.
    pub fn start_blocking() -> Self {
        Self::builder().start_blocking()
    }

    pub fn builder() -> Builder {
        let config = Config {
            clock: Clock::new(None, true),
            ..Config::default()
        };
        Builder { config }
    }

    /// `http://127.0.0.1:PORT`: the base URL to give your client.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// Scripts `task_id` to follow a scenario (by name) from now on.
    pub fn script(&self, task_id: &str, scenario: &str) -> Result<(), ControlError> {
        self.default_namespace().script(task_id, scenario)
    }

    /// Scripts `task_id` with inline steps, in the scenarios-file format:
    /// `json!([{"status": "QUEUED", "polls": 1}, {"status": "SUCCESS"}])`.
    pub fn script_steps(&self, task_id: &str, steps: Value) -> Result<(), ControlError> {
        self.default_namespace().script_steps(task_id, steps)
    }

    /// Scripts `task_id` with the full control-API body, for any API:
    /// `json!({"scenario": "fail", "surface": "v2", "ratio": "9:16"})`.
    pub fn script_with(&self, task_id: &str, spec: Value) -> Result<(), ControlError> {
        self.default_namespace().script_with(task_id, spec)
    }

    /// The next `count` submits, through any API, follow `scenario`: how
    /// tests choose the lifecycle of clients that cannot send `Prefer`.
    pub fn next_submits(&self, scenario: &str, count: u32) -> Result<(), ControlError> {
        self.default_namespace().next_submits(scenario, count)
    }

    /// Every callback request sent for `task_id` (challenges have none), oldest first.
    pub fn callbacks(&self, task_id: &str) -> Vec<Attempt> {
        self.default_namespace().callbacks(task_id)
    }

    /// Waits for `task_id`'s delivered callback update number `seen` (0 for
    /// the first) and returns it; `None` after `timeout`. Drive the task
    /// (poll it, or [`MockServer::advance`]) before waiting.
    pub async fn next_callback(&self, task_id: &str, seen: usize, timeout: Duration) -> Option<Attempt> {
        self.default_namespace().next_callback(task_id, seen, timeout).await
    }

    /// Moves the mock clock forward: every lifecycle moves with it.
    pub fn advance(&self, by: Duration) {
        self.default_namespace().advance(by);
    }

    /// Every request received, oldest first (the control API's are not; and
    /// none if the control API was turned off in the config).
    pub fn requests(&self) -> Vec<Entry> {
        self.default_namespace().requests()
    }

    /// A task's state and timeline, as `GET /__mock/tasks/{id}` shows it.
    pub fn task(&self, task_id: &str) -> Option<Value> {
        self.default_namespace().task(task_id)
    }

    /// Tasks, clock and journal back to the start (of the default
    /// namespace; named ones are left as they are).
    pub fn reset(&self) {
        self.default_namespace().reset();
    }

    /// A namespace of this server, for one test of many sharing it: its
    /// own tasks, clock, task-id sequence, next-submits, journal and
    /// callbacks record, at [`Namespace::uri`] (`http://127.0.0.1:PORT/ns/NAME`).
    /// Made on first use (here or by a request under its prefix); the
    /// scenarios and settings are the server's.
    ///
    /// ```
    /// use std::time::Duration;
    /// use minimax_mock::MockServer;
    ///
    /// let server = MockServer::start_blocking();
    /// let (a, b) = (server.namespace("test-a"), server.namespace("test-b"));
    /// a.script("job", "fail").unwrap();
    /// b.script("job", "success").unwrap();
    /// a.advance(Duration::from_secs(60));
    /// let url = |ns: &minimax_mock::Namespace| format!("{}/minimax/v1/query/video_generation?task_id=job", ns.uri());
    /// let status = |ns| -> String {
    ///     let body: serde_json::Value = ureq::get(&url(ns)).call().unwrap().body_mut().read_json().unwrap();
    ///     body["data"]["status"].as_str().unwrap().to_owned()
    /// };
    /// assert_eq!(status(&a), "FAILURE");
    /// assert_eq!(status(&b), "NOT_START"); // b's clock did not move
    /// assert_eq!(a.requests().len(), 1);
    /// ```
    ///
    /// # Panics
    ///
    /// If `name` is not 1 to 64 of `[A-Za-z0-9._-]`, or the server was
    /// started with `max_namespaces: 0`.
    pub fn namespace(&self, name: &str) -> Namespace {
        assert!(
            namespaces::valid_name(name),
            "{name:?} is not a namespace name (1 to 64 of A-Z a-z 0-9 . _ -)"
        );
        assert!(self.app.namespaces.max() > 0, "namespaces are off (max_namespaces: 0)");
        let namespace = Namespace {
            root: self.app.clone(),
            name: Some(name.to_owned()),
            addr: self.addr,
        };
        namespace.app();
        namespace
    }

    fn default_namespace(&self) -> Namespace {
        Namespace {
            root: self.app.clone(),
            name: None,
            addr: self.addr,
        }
    }

    /// The server's state, for tests that need more than the methods above.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }
}

/// One namespace of a [`MockServer`] ([`MockServer::namespace`]): the same
/// operations as the server's, on this namespace's tasks, clock and
/// journal only. A namespace forgotten to stay within `max_namespaces` is
/// made again, empty, by the next operation.
#[derive(Clone)]
pub struct Namespace {
    root: Arc<App>,
    /// `None`: the default namespace.
    name: Option<String>,
    addr: SocketAddr,
}

impl Namespace {
    /// `http://127.0.0.1:PORT/ns/NAME`: the base URL to give your client.
    pub fn uri(&self) -> String {
        match &self.name {
            Some(name) => format!("http://{}{}{name}", self.addr, namespaces::PREFIX),
            None => format!("http://{}", self.addr),
        }
    }

    /// The namespace's name (`None`: the server's default namespace).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// This namespace's state (made again if it was forgotten).
    pub fn app(&self) -> Arc<App> {
        match &self.name {
            Some(name) => self
                .root
                .namespace(name)
                .expect("namespaces are on: checked by MockServer::namespace"),
            None => self.root.clone(),
        }
    }

    /// Scripts `task_id` to follow a scenario (by name) from now on.
    pub fn script(&self, task_id: &str, scenario: &str) -> Result<(), ControlError> {
        let spec = ScriptSpec {
            scenario: Some(scenario.to_owned()),
            ..ScriptSpec::default()
        };
        control::script(&self.app(), task_id, &spec).map(drop)
    }

    /// Scripts `task_id` with inline steps, in the scenarios-file format:
    /// `json!([{"status": "QUEUED", "polls": 1}, {"status": "SUCCESS"}])`.
    pub fn script_steps(&self, task_id: &str, steps: Value) -> Result<(), ControlError> {
        let steps: Vec<StepSpec> = serde_json::from_value(steps).map_err(|e| ControlError {
            pointer: "/steps".to_owned(),
            reason: e.to_string(),
        })?;
        let spec = ScriptSpec {
            steps: Some(steps),
            ..ScriptSpec::default()
        };
        control::script(&self.app(), task_id, &spec).map(drop)
    }

    /// Scripts `task_id` with the full control-API body, for any API:
    /// `json!({"scenario": "fail", "surface": "v2", "ratio": "9:16"})`.
    pub fn script_with(&self, task_id: &str, spec: Value) -> Result<(), ControlError> {
        let spec: ScriptSpec = serde_json::from_value(spec).map_err(|e| ControlError {
            pointer: "/".to_owned(),
            reason: e.to_string(),
        })?;
        control::script(&self.app(), task_id, &spec).map(drop)
    }

    /// The next `count` submits, through any API, follow `scenario`: how
    /// tests choose the lifecycle of clients that cannot send `Prefer`.
    pub fn next_submits(&self, scenario: &str, count: u32) -> Result<(), ControlError> {
        let spec = NextSpec {
            scenario: Some(scenario.to_owned()),
            steps: None,
            count,
        };
        control::next(&self.app(), &spec)
    }

    /// Every callback request sent for `task_id` (challenges have none), oldest first.
    pub fn callbacks(&self, task_id: &str) -> Vec<Attempt> {
        self.app().callbacks.list(Some(task_id))
    }

    /// Waits for `task_id`'s delivered callback update number `seen` (0 for
    /// the first) and returns it; `None` after `timeout`. Drive the task
    /// (poll it, or [`Namespace::advance`]) before waiting.
    pub async fn next_callback(&self, task_id: &str, seen: usize, timeout: Duration) -> Option<Attempt> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let updates: Vec<Attempt> = self
                .callbacks(task_id)
                .into_iter()
                .filter(|a| a.kind == "update" && a.delivered)
                .collect();
            if updates.len() > seen {
                return updates.into_iter().nth(seen);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Moves the mock clock forward: every lifecycle moves with it.
    pub fn advance(&self, by: Duration) {
        let _ = control::clock(
            &self.app(),
            &ClockSpec {
                advance: Some(format!("{}ms", by.as_millis())),
                ..ClockSpec::default()
            },
        );
    }

    /// Every request received, oldest first (the control API's are not; and
    /// none if the control API was turned off in the config).
    pub fn requests(&self) -> Vec<Entry> {
        self.app().store.journal().list(&Filter::default())
    }

    /// A task's state and timeline, as `GET /__mock/tasks/{id}` shows it.
    pub fn task(&self, task_id: &str) -> Option<Value> {
        let app = self.app();
        let task = app.store.tasks().get(task_id)?;
        Some(control::task_json(&app, &task))
    }

    /// Tasks, clock, journal and callbacks back to the start, this namespace's only.
    pub fn reset(&self) {
        control::reset(&self.app());
    }
}

impl Drop for MockServer {
    /// Stops accepting and waits (at most 5 s) until the port is closed, so a
    /// test that drops the server can rely on it being gone.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            let _ = self.closed.recv_timeout(Duration::from_secs(5));
        }
    }
}
