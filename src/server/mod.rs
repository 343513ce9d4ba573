//! The HTTP server: routes, the gateway's error envelopes, CORS, body
//! limits, request logs and graceful shutdown.
//!
//! One `service_fn` matches the path, then the method; handlers are plain
//! functions from request parts to a response. Shared state is one `Arc<App>`
//! whose locks are never held across an `.await`.

pub mod api;
pub mod app;
pub mod callbacks;
pub mod control;
pub mod http;
pub mod media;
pub mod persist;
pub mod replay;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::contract::Contract;
use crate::contract::{
    FILES_RETRIEVE_PATH, GATEWAY_FILES_RETRIEVE_PATH, NATIVE_QUERY_PATH, NATIVE_SUBMIT_PATH, OPENAPI_PATH,
    V2_QUERY_PREFIX, V2_SUBMIT_PATH,
};
pub use crate::contract::{QUERY_PATH, SUBMIT_PATH};
use crate::lifecycle::clock::Clock;
use crate::lifecycle::scenarios::Catalog;
use api::{gateway, native, poll, render, submit, v2};
pub use app::App;
use callbacks::notifier;
use control::{dashboard, guard, redact};
use http::{connection, has_bearer, json, preflight, reply, Outcome, Reply, JSON};
pub use media::Library;
use persist::state;
use store::journal::{self, Journal};
use store::tasks::{self, Surface, Task, TaskStore};

/// Default of `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Default request body limit.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

const HOW_LONG_TO_FINISH: Duration = Duration::from_secs(10);
const SAVE_EVERY: Duration = Duration::from_millis(250);

/// What the server needs to run; built by the binary or by tests.
#[derive(Debug)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub contract: Arc<Contract>,
    pub catalog: Catalog,
    pub clock: Clock,
    pub seed: u64,
    pub max_body: usize,
    pub quiet: bool,
    /// Base of download links; default `http://HOST:PORT` as bound.
    pub public_url: Option<String>,
    /// What download links serve: a clip per frame size.
    pub video: Library,
    /// Serve the control API under `/__mock/`.
    pub control: bool,
    /// Answer 401 to API requests without `Authorization: Bearer ...`.
    pub require_auth: bool,
    /// Save tasks and the clock here, and restore [`Config::restore`] from it.
    pub state: Option<PathBuf>,
    /// A state loaded from `state`, put into the server at start.
    pub restore: Option<state::Restored>,
    /// What the gateway's query path answers with.
    pub gateway_query: app::QueryShape,
    /// How long a callback receiver has to answer (challenge and updates).
    pub callback_timeout: Duration,
    /// Hosts besides loopback that callbacks may go to.
    pub allowed_callback_hosts: Vec<String>,
    /// Past this many tasks, the oldest is forgotten.
    pub max_tasks: usize,
    /// How long a request head and an idle keep-alive connection may take.
    pub timeouts: connection::Timeouts,
    /// Connections past this many are refused with 503.
    pub max_connections: usize,
    /// Show credentials in full in what the control API serves (the
    /// journal, the callbacks); by default they are shortened.
    pub keep_secrets: bool,
    /// Origins besides the server's own that browsers may call the control
    /// API from (`*`: every one); by default none.
    pub control_origins: Vec<String>,
    /// Names control requests may give in `Host` besides loopback's, the
    /// bound address and the public URL's host (`.example.com`: the domain
    /// and its subdomains; `*`: any).
    pub allowed_hosts: Vec<String>,
    /// The token control requests need (`Authorization: Bearer`). Unset on
    /// an address other than loopback, one is made up
    /// ([`guard::Guard::generated_token`]).
    pub control_token: Option<String>,
    /// Recordings to replay (`--replay`), loaded.
    pub replay: Vec<replay::Recording>,
}

impl Default for Config {
    /// Built-in contract and scenarios, a running system clock, 127.0.0.1
    /// port 0, quiet: what `MockServer` starts from.
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            contract: Arc::new(Contract::embedded()),
            catalog: Catalog::builtin(),
            clock: Clock::new(None, false),
            seed: 0,
            max_body: DEFAULT_MAX_BODY,
            quiet: true,
            public_url: None,
            video: Library::built_in(),
            control: true,
            require_auth: false,
            state: None,
            restore: None,
            gateway_query: app::QueryShape::Envelope,
            callback_timeout: callbacks::DEFAULT_TIMEOUT,
            allowed_callback_hosts: Vec::new(),
            max_tasks: tasks::DEFAULT_MAX_TASKS,
            timeouts: connection::Timeouts::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            keep_secrets: false,
            control_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            control_token: None,
            replay: Vec::new(),
        }
    }
}

/// A bound, not yet serving, server: the address is known before the first request.
pub struct Bound {
    listener: TcpListener,
    app: Arc<App>,
}

/// Binds the listening socket (port 0 picks a free port).
pub async fn bind(mut config: Config) -> std::io::Result<Bound> {
    let listener = TcpListener::bind((config.host.as_str(), config.port)).await?;
    let addr = listener.local_addr()?;
    let restore = config.restore.take();
    let replay = std::mem::take(&mut config.replay);
    let app = app(config, addr, restore.as_ref().map_or(0, |r| r.generation));
    if let Some(restored) = restore {
        for task in state::restore(&app.tasks, &app.clock, restored) {
            // Updates already sent before the restart are not sent again.
            notifier::watch(&app, &task, true);
        }
    }
    // After the restored state: a replayed task is the recording's.
    for recording in replay {
        install_replay(&app, recording);
    }
    if app.persist.is_some() {
        // One snapshot of what was loaded, and a fresh log for what follows.
        app.save_all();
        // Appends a few times a second while things change; serve_then
        // folds once more at shutdown.
        let saver = Arc::downgrade(&app);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SAVE_EVERY).await;
                let Some(app) = saver.upgrade() else { break };
                if app.dirty.load(Ordering::Relaxed) {
                    let _ = tokio::task::spawn_blocking(move || app.save()).await;
                }
            }
        });
    }
    Ok(Bound { listener, app })
}

/// The state of a server whose socket is bound at `addr`, with nothing in
/// it yet (no restored state, no recordings): what `bind` starts from, and
/// what the fuzz targets drive without a socket. Needs no runtime.
pub fn app(config: Config, addr: SocketAddr, generation: u64) -> Arc<App> {
    let base_url = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{}", display_addr(addr)));
    let tasks = TaskStore::bounded(config.seed, config.max_tasks, config.catalog.has_task_id_rules());
    let guard = guard::Guard::new(
        addr,
        &config.host,
        config.public_url.as_deref(),
        &config.allowed_hosts,
        &config.control_origins,
        config.control_token.as_deref(),
        config.control,
    );
    Arc::new_cyclic(|this| App {
        this: this.clone(),
        documented: config.contract.documented_example().clone(),
        contract: config.contract,
        catalog: config.catalog,
        clock: config.clock,
        tasks,
        base_url,
        max_body: config.max_body,
        quiet: config.quiet,
        video: config.video,
        journal: Journal::default(),
        control: config.control,
        require_auth: config.require_auth,
        persist: config.state.map(|path| persist::Persist::new(path, generation)),
        dirty: AtomicBool::new(false),
        gateway_query: config.gateway_query,
        next_submits: app::NextSubmits::default(),
        callbacks: callbacks::Callbacks::new(config.callback_timeout, config.allowed_callback_hosts),
        timeouts: config.timeouts,
        max_connections: config.max_connections,
        forgotten_log: std::sync::Mutex::new(None),
        forgotten_logged: std::sync::atomic::AtomicU64::new(0),
        secrets: if config.keep_secrets {
            redact::Secrets::Keep
        } else {
            redact::Secrets::Redact
        },
        guard,
        replay_submits: replay::Submits::default(),
        openapi: OnceLock::new(),
    })
}

/// Puts a recording's tasks into the store (replacing tasks of the same
/// ids) and queues its submits.
fn install_replay(app: &App, recording: replay::Recording) {
    let now = app.clock.now();
    for task in recording.tasks {
        let request = tasks::Request {
            surface: task.surface,
            ..tasks::Request::default()
        };
        let scenario = app.catalog.default_scenario().clone();
        app.tasks
            .insert(Task::new(task.id, scenario, now, request, app.tasks.seed()).with_replay(task.replay));
    }
    for (surface, submits) in [Surface::Gateway, Surface::Native, Surface::V2]
        .into_iter()
        .zip(recording.submits)
    {
        app.replay_submits.add(surface, submits);
    }
}

fn display_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
        SocketAddr::V4(v4) => v4.to_string(),
    }
}

impl Bound {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// `http://HOST:PORT` as bound.
    pub fn url(&self) -> String {
        format!("http://{}", display_addr(self.local_addr()))
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets the
    /// requests in flight finish (for at most 10 s).
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        self.serve_then(shutdown, || {}).await;
    }

    /// [`Bound::serve`], calling `closed` as soon as the port is closed
    /// (before waiting for requests in flight).
    pub async fn serve_then(self, shutdown: impl Future<Output = ()>, closed: impl FnOnce()) {
        let Bound { listener, app } = self;
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let connections = Arc::new(tokio::sync::Semaphore::new(app.max_connections));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                stream = connection::next_client(&listener, |e| app.log(format_args!("accept failed: {e}"))) => stream,
                () = &mut shutdown => break,
            };
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                connection::refuse(stream, app.max_connections);
                continue;
            };
            let app = app.clone();
            let signals = Arc::new(connection::Signals::default());
            let io = connection::Connection::new(stream, signals.clone(), app.timeouts);
            let service = hyper::service::service_fn(move |req| handle(app.clone(), signals.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                // connection::Connection keeps the head and keep-alive timeouts apart.
                .header_read_timeout(None)
                .keep_alive(true)
                .serve_connection(TokioIo::new(io), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                let _ = conn.await;
                drop(permit);
            });
        }
        drop(listener);
        closed();
        let _ = tokio::time::timeout(HOW_LONG_TO_FINISH, graceful.shutdown()).await;
        app.save_all();
    }
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed
/// when this is called, not when the future is first polled: call it before
/// announcing readiness, so that a signal sent right after the ready line is
/// still a graceful stop (measured: 1 in 10 was not, before).
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {},
                        _ = terminate.recv() => {},
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Returned by the service to drop the connection: with [`ResettableStream`]
/// the peer gets a TCP reset instead of an answer.
#[derive(Debug)]
struct ConnectionReset;

impl std::fmt::Display for ConnectionReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by a scripted fault")
    }
}

impl std::error::Error for ConnectionReset {}

async fn handle(
    app: Arc<App>,
    signals: Arc<connection::Signals>,
    req: Request<Incoming>,
) -> Result<Reply, ConnectionReset> {
    signals.busy.store(true, Ordering::Relaxed);
    let result = answer(&app, &signals, req).await;
    signals.answered.fetch_add(1, Ordering::Relaxed);
    signals.busy.store(false, Ordering::Relaxed);
    result
}

async fn answer(
    app: &Arc<App>,
    signals: &connection::Signals,
    req: Request<Incoming>,
) -> Result<Reply, ConnectionReset> {
    // With --quiet nothing is timed or formatted: this is the hot path.
    let started = (!app.quiet).then(Instant::now);
    let (parts, body) = req.into_parts();
    let outcome = route(app, &parts, body).await;
    let Outcome {
        mut reply,
        task_id,
        request_body,
        reset: do_reset,
        record,
        allow_origin,
    } = outcome;
    if let Some(origin) = allow_origin {
        reply.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    let status = (!do_reset).then(|| reply.status());
    if let Some(started) = started {
        let task = http::task_note(task_id.as_deref(), &parts.uri);
        let status = status.map_or_else(|| "reset".to_owned(), |s| s.as_u16().to_string());
        app.log(format_args!(
            "{} {}{task} {status} {:.2}ms",
            parts.method,
            parts.uri.path(),
            started.elapsed().as_secs_f64() * 1000.0
        ));
    }
    // Without the control API nothing can read the journal: no need to keep it.
    if record && app.control {
        let mut entry = journal::Entry::new(
            &parts.method,
            &parts.uri,
            &parts.headers,
            &request_body,
            status,
            task_id,
        );
        entry.time = app.clock.now();
        app.journal.record(entry);
    }
    if do_reset {
        signals.reset.store(true, Ordering::Relaxed);
        return Err(ConnectionReset);
    }
    Ok(reply)
}

/// The endpoints, found by path before the method is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Submit(Surface),
    Query(Surface),
    /// files/retrieve, at the root and through the gateway.
    Files(Surface),
    Video,
    Control,
    /// The dashboard, at the control prefix itself.
    Dashboard,
    /// The control prefix without its slash: to the dashboard.
    DashboardRedirect,
    /// The OpenAPI document: served with or without the control API.
    OpenApi,
}

impl Route {
    fn of(path: &str, control: bool) -> Option<Self> {
        Some(match path {
            QUERY_PATH => Route::Query(Surface::Gateway),
            SUBMIT_PATH => Route::Submit(Surface::Gateway),
            GATEWAY_FILES_RETRIEVE_PATH => Route::Files(Surface::Gateway),
            NATIVE_QUERY_PATH => Route::Query(Surface::Native),
            NATIVE_SUBMIT_PATH => Route::Submit(Surface::Native),
            FILES_RETRIEVE_PATH => Route::Files(Surface::Native),
            V2_SUBMIT_PATH => Route::Submit(Surface::V2),
            p if p.starts_with(V2_QUERY_PREFIX) => Route::Query(Surface::V2),
            p if p.starts_with("/inference_output") || p.starts_with("/backup/inference_output") => Route::Video,
            OPENAPI_PATH => Route::OpenApi,
            p if control && p == control::PREFIX => Route::Dashboard,
            p if control && p == control::PREFIX.trim_end_matches('/') => Route::DashboardRedirect,
            p if control && p.starts_with(control::PREFIX) => Route::Control,
            _ => return None,
        })
    }

    fn allowed(self, path: &str) -> &'static str {
        match self {
            Route::Query(_)
            | Route::Files(_)
            | Route::Video
            | Route::Dashboard
            | Route::DashboardRedirect
            | Route::OpenApi => "GET, HEAD, OPTIONS",
            Route::Submit(_) => "POST, OPTIONS",
            Route::Control => control::allowed(path),
        }
    }

    /// The API whose error bodies the route answers with.
    fn surface(self) -> Option<Surface> {
        match self {
            Route::Submit(s) | Route::Query(s) | Route::Files(s) => Some(s),
            Route::Video | Route::Control | Route::Dashboard | Route::DashboardRedirect | Route::OpenApi => None,
        }
    }
}

async fn route(app: &App, parts: &Parts, body: Incoming) -> Outcome {
    let path = parts.uri.path();
    let Some(route) = Route::of(path, app.control) else {
        let message = format!("no route for {} {path}", parts.method);
        return json(StatusCode::NOT_FOUND, render::error("not_found", &message)).into();
    };
    if route == Route::Control {
        // Only here: the API's routes never pay for the control plane's checks.
        return serve_control(app, parts, body).await;
    }
    if parts.method == Method::OPTIONS {
        return preflight(route.allowed(path), &parts.headers).into();
    }
    if let Some(surface) = route.surface() {
        if app.require_auth && !has_bearer(&parts.headers) {
            return json(StatusCode::UNAUTHORIZED, poll::status_error(surface, 401)).into();
        }
    }
    let get = matches!(parts.method, Method::GET | Method::HEAD);
    match route {
        Route::Query(Surface::Gateway) if get => gateway::query(app, parts).await,
        Route::Query(Surface::Native) if get => native::query(app, parts, Surface::Native).await,
        Route::Query(Surface::V2) if get => v2::query(app, parts).await,
        Route::Files(_) if get => native::files(app, parts),
        Route::Submit(Surface::V2) if parts.method == Method::POST => v2::submit(app, parts, body).await,
        Route::Submit(surface) if parts.method == Method::POST => submit::v1(app, parts, body, surface).await,
        Route::Video if get => media::download::download(app, parts),
        Route::OpenApi if get => Outcome {
            record: false,
            ..json(StatusCode::OK, app.openapi()).into()
        },
        Route::Dashboard if get => Outcome {
            record: false,
            ..dashboard::page().into()
        },
        Route::DashboardRedirect if get => Outcome {
            record: false,
            ..dashboard::redirect(parts.uri.query()).into()
        },
        _ => {
            let allowed = route.allowed(path);
            let method = &parts.method;
            let message = format!("method {method} is not allowed on {path}; allowed: {allowed}");
            let mut reply = json(
                StatusCode::METHOD_NOT_ALLOWED,
                render::error("method_not_allowed", &message),
            );
            reply
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allowed));
            Outcome {
                // The journal is about the app under test, not the mock's own pages.
                record: !matches!(route, Route::Dashboard | Route::DashboardRedirect | Route::OpenApi),
                ..reply.into()
            }
        }
    }
}

/// A control request: admitted by the guard (its Host, its Origin, the
/// token), then served; refused before anything is done otherwise.
async fn serve_control(app: &App, parts: &Parts, body: Incoming) -> Outcome {
    let mut outcome = match app.guard.admit(parts) {
        Err(refusal) => Outcome {
            allow_origin: None,
            ..refusal.reply().into()
        },
        Ok(allow_origin) if parts.method == Method::OPTIONS => Outcome {
            allow_origin,
            ..preflight(Route::Control.allowed(parts.uri.path()), &parts.headers).into()
        },
        Ok(allow_origin) => match submit::body_or_error(app, &parts.headers, body, Surface::Gateway).await {
            Err(outcome) => Outcome {
                allow_origin,
                ..outcome
            },
            Ok(body) => {
                let answer = control::handle(app, parts, &body);
                let mut reply = match answer.body {
                    Some(value) => json(answer.status, serde_json::to_vec(&value).expect("a Value serializes")),
                    None => reply(answer.status, JSON, Bytes::new()),
                };
                if let Some(allow) = answer.allow {
                    reply
                        .headers_mut()
                        .insert(header::ALLOW, HeaderValue::from_static(allow));
                }
                Outcome {
                    allow_origin,
                    ..reply.into()
                }
            }
        },
    };
    // What is answered depends on the Origin: caches must not share it.
    outcome
        .reply
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("origin"));
    outcome.record = false;
    outcome
}
