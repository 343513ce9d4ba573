//! The HTTP server: routes, the gateway's error envelopes, CORS, body
//! limits, request logs and graceful shutdown.
//!
//! One `service_fn` matches the path, then the method; handlers are plain
//! functions from request parts to a response. Shared state is one `Arc<App>`
//! whose locks are never held across an `.await`.

use std::borrow::Cow;
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::artifact::Resolution;
use crate::clock::Clock;
use crate::contract::{Contract, DOCUMENTED_TASK_ID};
use crate::journal::{self, Journal};
use crate::lifecycle::BaseResp;
use crate::render;
use crate::scenarios::Catalog;
use crate::tasks::{self, TaskStore};
use crate::video::Range;
use crate::{control, faults, state};

pub use crate::contract::{QUERY_PATH, SUBMIT_PATH};
/// MiniMax's status code for invalid parameters.
pub const INVALID_PARAMS: i64 = 2013;
/// Default request body limit.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

const TASK_NOT_EXIST: &[u8] = br#"{"code":"task_not_exist","message":"task_not_exist","data":null}"#;
const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");
const MP4: HeaderValue = HeaderValue::from_static("video/mp4");
const XML: HeaderValue = HeaderValue::from_static("application/xml");
const ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");
const EXPOSED: HeaderValue = HeaderValue::from_static("retry-after, content-range, accept-ranges");
const ALLOWED_HEADERS: HeaderValue = HeaderValue::from_static("authorization, content-type, prefer");
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
    /// What download links serve.
    pub video: Bytes,
    /// Serve the control API under `/__mock/`.
    pub control: bool,
    /// Answer 401 to API requests without `Authorization: Bearer ...`.
    pub require_auth: bool,
    /// Save tasks and the clock here, and restore [`Config::restore`] from it.
    pub state: Option<PathBuf>,
    /// A state loaded from `state`, put into the server at start.
    pub restore: Option<state::Restored>,
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
            video: crate::video::load(None).expect("the built-in video needs no I/O"),
            control: true,
            require_auth: false,
            state: None,
            restore: None,
        }
    }
}

/// The state every request sees.
#[derive(Debug)]
pub struct App {
    pub contract: Arc<Contract>,
    pub catalog: Catalog,
    pub clock: Clock,
    pub tasks: TaskStore,
    pub base_url: String,
    pub max_body: usize,
    pub quiet: bool,
    pub video: Bytes,
    pub journal: Journal,
    pub control: bool,
    pub require_auth: bool,
    /// The documented example's bytes, looked up once.
    pub documented: Bytes,
    /// Where `--state` saves.
    pub state: Option<PathBuf>,
    /// Set when tasks or the clock change, for the state saver.
    pub dirty: AtomicBool,
}

impl App {
    /// Notes that tasks or the clock changed (polls count too), so that
    /// `--state` saves them. Without `--state` it touches nothing shared:
    /// every poll calls it.
    pub fn changed(&self) {
        if self.state.is_some() {
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// Writes the state file now, if there is one; a failure is reported, not fatal.
    pub fn save(&self) {
        if let Some(path) = &self.state {
            self.dirty.store(false, Ordering::Relaxed);
            if let Err(e) = state::write(path, &state::snapshot(self)) {
                eprintln!("minimax-mock: {}: cannot save the state: {e}", path.display());
            }
        }
    }
}

/// A bound, not yet serving, server: the address is known before the first request.
pub struct Bound {
    listener: TcpListener,
    app: Arc<App>,
}

/// Binds the listening socket (port 0 picks a free port).
pub async fn bind(config: Config) -> std::io::Result<Bound> {
    let listener = TcpListener::bind((config.host.as_str(), config.port)).await?;
    let addr = listener.local_addr()?;
    let base_url = config
        .public_url
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{}", display_addr(addr)));
    let app = Arc::new(App {
        documented: config.contract.documented_example().clone(),
        contract: config.contract,
        catalog: config.catalog,
        clock: config.clock,
        tasks: TaskStore::new(config.seed),
        base_url,
        max_body: config.max_body,
        quiet: config.quiet,
        video: config.video,
        journal: Journal::default(),
        control: config.control,
        require_auth: config.require_auth,
        state: config.state,
        dirty: AtomicBool::new(false),
    });
    if let Some(restored) = config.restore {
        state::restore(&app, restored);
    }
    if app.state.is_some() {
        // Saves a few times a second while things change; serve_then saves
        // once more at shutdown.
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
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: keep serving the others.
                        log_line(&app, format_args!("accept failed: {e}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            let reset = Arc::new(AtomicBool::new(false));
            let io = ResettableStream {
                stream,
                reset: reset.clone(),
            };
            let service = hyper::service::service_fn(move |req| handle(app.clone(), reset.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .keep_alive(true)
                .serve_connection(TokioIo::new(io), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
        drop(listener);
        closed();
        let _ = tokio::time::timeout(HOW_LONG_TO_FINISH, graceful.shutdown()).await;
        app.save();
    }
}

/// A connection that can end in a TCP reset: once `reset` is set, closing
/// it sends RST instead of FIN (zero linger), as a crashed upstream would.
struct ResettableStream {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
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

type Reply = Response<Full<Bytes>>;

/// A reply, and what the journal and the log want to know beyond it.
struct Outcome {
    reply: Reply,
    /// The task a submission created (a query's task id is in its URI).
    created_task: Option<String>,
    /// The request body as read (submissions), for the journal.
    request_body: Bytes,
    /// Reset the connection instead of answering.
    reset: bool,
    /// Whether the journal records it (control requests are not recorded).
    record: bool,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Self {
        Self {
            reply,
            created_task: None,
            request_body: Bytes::new(),
            reset: false,
            record: true,
        }
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

async fn handle(app: Arc<App>, reset: Arc<AtomicBool>, req: Request<Incoming>) -> Result<Reply, ConnectionReset> {
    // With --quiet nothing is timed or formatted: this is the hot path.
    let started = (!app.quiet).then(Instant::now);
    let (parts, body) = req.into_parts();
    let outcome = route(&app, &parts, body).await;
    let Outcome {
        mut reply,
        created_task,
        request_body,
        reset: do_reset,
        record,
    } = outcome;
    let headers = reply.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
    let status = (!do_reset).then(|| reply.status());
    if let Some(started) = started {
        let task_id = created_task.clone().or_else(|| {
            parts
                .uri
                .query()
                .and_then(|q| query_param(q, "task_id"))
                .map(Cow::into_owned)
        });
        let task = task_id.map(|t| format!(" task_id={t}")).unwrap_or_default();
        let status = status.map_or_else(|| "reset".to_owned(), |s| s.as_u16().to_string());
        log_line(
            &app,
            format_args!(
                "{} {}{task} {status} {:.2}ms",
                parts.method,
                parts.uri.path(),
                started.elapsed().as_secs_f64() * 1000.0
            ),
        );
    }
    // Without the control API nothing can read the journal: no need to keep it.
    if record && app.control {
        let mut entry = journal::Entry::new(
            &parts.method,
            &parts.uri,
            &parts.headers,
            &request_body,
            status,
            created_task,
        );
        entry.time = app.clock.now();
        app.journal.record(entry);
    }
    if do_reset {
        reset.store(true, Ordering::Relaxed);
        return Err(ConnectionReset);
    }
    Ok(reply)
}

fn log_line(app: &App, line: std::fmt::Arguments<'_>) {
    if app.quiet {
        return;
    }
    // One write per line, so lines from both workers never interleave.
    let line = format!("{line}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The endpoints, found by path before the method is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Query,
    Submit,
    Video,
    Control,
}

impl Route {
    fn of(path: &str, control: bool) -> Option<Self> {
        match path {
            QUERY_PATH => Some(Route::Query),
            SUBMIT_PATH => Some(Route::Submit),
            p if p.starts_with("/inference_output") || p.starts_with("/backup/inference_output") => Some(Route::Video),
            p if control && p.starts_with(control::PREFIX) => Some(Route::Control),
            _ => None,
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            Route::Query | Route::Video => "GET, HEAD, OPTIONS",
            Route::Submit => "POST, OPTIONS",
            Route::Control => "GET, POST, PUT, DELETE, OPTIONS",
        }
    }
}

/// Whether the request carries `Authorization: Bearer <token>`.
fn has_bearer(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
}

async fn route(app: &App, parts: &Parts, body: Incoming) -> Outcome {
    let path = parts.uri.path();
    let Some(route) = Route::of(path, app.control) else {
        let message = format!("no route for {} {path}", parts.method);
        return json(StatusCode::NOT_FOUND, render::error("not_found", &message)).into();
    };
    if parts.method == Method::OPTIONS {
        return preflight(route.allowed(), &parts.headers).into();
    }
    if app.require_auth && matches!(route, Route::Query | Route::Submit) && !has_bearer(&parts.headers) {
        return json(StatusCode::UNAUTHORIZED, faults::error_body(401)).into();
    }
    match (route, &parts.method) {
        (Route::Query, &Method::GET | &Method::HEAD) => query(app, parts).await,
        (Route::Submit, &Method::POST) => submit(app, parts, body).await,
        (Route::Video, &Method::GET | &Method::HEAD) => video(app, parts),
        (Route::Control, _) => {
            let body = match read_body(app, &parts.headers, body).await {
                Ok(body) => body,
                Err(outcome) => return outcome,
            };
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
                record: false,
                ..reply.into()
            }
        }
        (_, method) => {
            let allowed = route.allowed();
            let message = format!("method {method} is not allowed on {path}; allowed: {allowed}");
            let mut reply = json(
                StatusCode::METHOD_NOT_ALLOWED,
                render::error("method_not_allowed", &message),
            );
            reply
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allowed));
            reply.into()
        }
    }
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    reply(status, JSON, body.into())
}

fn reply(status: StatusCode, content_type: HeaderValue, body: Bytes) -> Reply {
    let mut reply = Response::new(Full::new(body));
    *reply.status_mut() = status;
    reply.headers_mut().insert(header::CONTENT_TYPE, content_type);
    reply
}

fn preflight(allowed: &'static str, headers: &HeaderMap) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = StatusCode::NO_CONTENT;
    let h = reply.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(allowed));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(allowed));
    let requested = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        requested.unwrap_or(ALLOWED_HEADERS),
    );
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    reply
}

/// `GET /minimax/v1/query/video_generation?task_id=ID`.
async fn query(app: &App, parts: &Parts) -> Outcome {
    let task_id = parts
        .uri
        .query()
        .and_then(|q| query_param(q, "task_id"))
        .unwrap_or_default();
    let not_found = || json(StatusCode::BAD_REQUEST, Bytes::from_static(TASK_NOT_EXIST)).into();
    if task_id.is_empty() {
        return not_found();
    }
    if task_id == DOCUMENTED_TASK_ID {
        return json(StatusCode::OK, app.documented.clone()).into();
    }
    let now = app.clock.now();
    let render = |task: &tasks::Task| {
        let polls = task.poll();
        let view = task.view(now, polls, &app.base_url);
        (render::query_response(&view), view.moment.step.fault.clone(), polls)
    };
    let (body, fault, polls) = match app.tasks.with(&task_id, render) {
        Some(rendered) => rendered,
        // A task id that a scenarios-file rule names exists from its first query on.
        None => match app.catalog.rule_for(&task_id) {
            Some(scenario) => render(&app.tasks.get_or_create(&task_id, scenario, now)),
            None => return not_found(),
        },
    };
    app.changed();
    match fault {
        None => json(StatusCode::OK, body).into(),
        Some(fault) => with_fault(app, &task_id, polls, body, fault).await,
    }
}

/// Delivers `body` as the step's fault says: late, as an error, mangled, or not at all.
async fn with_fault(app: &App, task_id: &str, polls: u64, body: Vec<u8>, fault: faults::Fault) -> Outcome {
    if let Some((min, max)) = fault.delay {
        // Random but reproducible: keyed by the seed, the task and the poll.
        let mut rng = crate::artifact::rng_for(app.tasks.seed(), &format!("{task_id}/delay/{polls}"));
        let ms: u64 = fake::Fake::fake_with_rng(&(min.as_millis() as u64..=max.as_millis() as u64), &mut rng);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match fault.effect {
        None => json(StatusCode::OK, body).into(),
        Some(faults::Effect::Status { code, retry_after }) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut reply = json(status, faults::error_body(code));
            if let Some(seconds) = retry_after {
                let headers = reply.headers_mut();
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                // Only answers that carry such headers expose them to scripts.
                headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
            }
            reply.into()
        }
        Some(faults::Effect::Reset) => Outcome {
            reset: true,
            ..json(StatusCode::OK, Bytes::new()).into()
        },
        Some(effect) => json(StatusCode::OK, faults::mangle(body, &effect)).into(),
    }
}

/// `POST /minimax/v1/video_generation`.
async fn submit(app: &App, parts: &Parts, body: Incoming) -> Outcome {
    let invalid = |status: StatusCode, message: String, body: &Bytes| -> Outcome {
        let reply = json(
            status,
            render::submit_response(
                "",
                &BaseResp {
                    status_code: INVALID_PARAMS,
                    status_msg: message,
                },
            ),
        );
        Outcome {
            request_body: body.clone(),
            ..reply.into()
        }
    };
    let scenario = match preferred_scenario(&parts.headers) {
        None => None,
        Some(name) => match app.catalog.get(name) {
            Some(s) => Some(s.clone()),
            None => {
                let known = app.catalog.names().collect::<Vec<_>>().join(", ");
                let message = format!("unknown scenario {name:?} in the Prefer header; known: {known}");
                return json(StatusCode::BAD_REQUEST, render::error("invalid_request", &message)).into();
            }
        },
    };
    let body = match read_body(app, &parts.headers, body).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    let doc: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(doc) => doc,
        Err(e) => {
            let message = format!(
                "invalid params, body is not JSON: {} at line {} column {}",
                crate::contract::strip_position(&e.to_string()),
                e.line(),
                e.column()
            );
            return invalid(StatusCode::BAD_REQUEST, message, &body);
        }
    };
    if let Some(v) = app.contract.submit_request().violations(&doc).into_iter().next() {
        let field = v.pointer.trim_start_matches('/').replace('/', ".");
        let field = if field.is_empty() { "body".to_owned() } else { field };
        let model = doc.get("model").and_then(|m| m.as_str());
        let context = match (v.keyword.as_str(), model) {
            ("const" | "enum", Some(model)) if field != "model" => format!(" (for model {model})"),
            _ => String::new(),
        };
        return invalid(
            StatusCode::BAD_REQUEST,
            format!("invalid params, {field}: {}{context}", v.message),
            &body,
        );
    }
    let model = doc["model"].as_str().unwrap_or_default();
    let label = doc
        .get("resolution")
        .and_then(|r| r.as_str())
        .unwrap_or_else(|| Resolution::default_for_model(model));
    let request = tasks::Request {
        resolution: Resolution::from_label(label).expect("the schema allows only known resolutions"),
        duration_s: doc.get("duration").and_then(|d| d.as_u64()).unwrap_or(6) as u32,
    };
    let task = app.tasks.submit(
        |id| {
            scenario
                .or_else(|| app.catalog.rule_for(id).cloned())
                .unwrap_or_else(|| app.catalog.default_scenario().clone())
        },
        app.clock.now(),
        request,
    );
    app.changed();
    Outcome {
        created_task: Some(task.id.clone()),
        request_body: body,
        ..json(StatusCode::OK, render::submit_response(&task.id, &BaseResp::success())).into()
    }
}

/// The request body, refused with 413 past the limit (by its declared
/// length, or while reading a chunked one).
async fn read_body(app: &App, headers: &HeaderMap, body: Incoming) -> Result<Bytes, Outcome> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.max_body as u64) {
        return Err(too_large(app.max_body));
    }
    match Limited::new(body, app.max_body).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large(app.max_body)),
        Err(e) => {
            let message = format!("cannot read the request body: {e}");
            Err(json(StatusCode::BAD_REQUEST, render::error("invalid_request", &message)).into())
        }
    }
}

fn too_large(limit: usize) -> Outcome {
    let message = format!("request body is larger than the limit of {limit} bytes");
    json(
        StatusCode::PAYLOAD_TOO_LARGE,
        render::error("request_too_large", &message),
    )
    .into()
}

/// `scenario=NAME` from `Prefer` headers (RFC 7240: comma-separated preferences).
fn preferred_scenario(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .find_map(|pref| {
            let (key, value) = pref.split_once('=')?;
            (key.trim().eq_ignore_ascii_case("scenario")).then(|| value.trim().trim_matches('"'))
        })
}

/// A download link: the clip, whole or the range asked for; 403 once the
/// link's `Expires` has passed on the mock clock, as the bucket answers.
fn video(app: &App, parts: &Parts) -> Outcome {
    if crate::video::expires(parts.uri.query()).is_some_and(|expires| app.clock.now() / 1000 > expires) {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>AccessDenied</Code>\n  <Message>Request has expired.</Message>\n</Error>\n";
        return reply(StatusCode::FORBIDDEN, XML, Bytes::from_static(body.as_bytes())).into();
    }
    let len = app.video.len() as u64;
    let range = parts.headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let mut reply = match crate::video::parse_range(range, len) {
        Range::Whole => reply(StatusCode::OK, MP4, app.video.clone()),
        Range::Part { start, end } => {
            let mut r = reply(
                StatusCode::PARTIAL_CONTENT,
                MP4,
                app.video.slice(start as usize..=end as usize),
            );
            let content_range = format!("bytes {start}-{end}/{len}");
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&content_range).expect("ASCII"),
            );
            r
        }
        Range::Unsatisfiable => {
            let mut r = reply(StatusCode::RANGE_NOT_SATISFIABLE, MP4, Bytes::new());
            let content_range = format!("bytes */{len}");
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&content_range).expect("ASCII"),
            );
            r
        }
    };
    let headers = reply.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
    reply.into()
}

/// The first value of `name` in a query string, percent-decoded.
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    // Every poll parses its query, and nearly every one is `task_id=ID`.
    if let Some(value) = query.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')) {
        if !value.bytes().any(|b| matches!(b, b'&' | b'%' | b'+')) {
            return Some(Cow::Borrowed(value));
        }
    }
    query.split('&').find_map(|pair| {
        let (key, value) = match pair.bytes().position(|b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, ""),
        };
        let matches = if key.len() == name.len() {
            key == name
        } else {
            percent_decode(key) == name
        };
        matches.then(|| percent_decode(value))
    })
}

pub(crate) fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(query_param("task_id=42", "task_id").as_deref(), Some("42"));
        assert_eq!(query_param("a=1&task_id=a%2Fb+c", "task_id").as_deref(), Some("a/b c"));
        assert_eq!(query_param("task_id", "task_id").as_deref(), Some(""));
        assert_eq!(query_param("task_id=%zz%4", "task_id").as_deref(), Some("%zz%4"));
        assert_eq!(query_param("other=1", "task_id"), None);
    }

    #[test]
    fn prefer_header_names_the_scenario() {
        let mut h = HeaderMap::new();
        h.insert("prefer", HeaderValue::from_static("respond-async, scenario=fail"));
        assert_eq!(preferred_scenario(&h), Some("fail"));
        h.insert("prefer", HeaderValue::from_static("wait=5"));
        assert_eq!(preferred_scenario(&h), None);
    }
}
