//! `minimax-mock proxy`: forwards every request to a real gateway (or any
//! upstream) unchanged, and judges the answers of the contract's endpoints
//! against the contract while the app runs; `--record` turns the session
//! into a HAR file that `validate` judges and `serve --replay` plays back.
//!
//! The answer path does nothing but forward: bodies stream both ways (a
//! video download never sits in memory), and only text bodies up to a cap
//! are copied on the side ([`tee`]). Once an answer's body has been handed
//! on, the exchange goes to the [`worker`] thread, which judges, logs,
//! journals and records it. The proxy's own `/__mock/` routes (health,
//! findings, the journal) are answered here; other `/__mock/` paths go
//! upstream, so a mock upstream's control API stays reachable.
//!
//! Uses `server::http` (plumbing), `server::store::journal` (the same journal as
//! `serve`), `validate` (the judge, the report) and `contract` (paths);
//! `server` knows nothing of it.

pub mod deadline;
pub mod exchange;
pub mod findings;
pub mod har;
pub mod metrics;
pub mod pin;
pub mod redact;
pub mod tee;
pub mod upstream;
pub mod worker;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::server::http::connection::next_client;
use crate::server::http::{json, preflight, query_param, task_note, Reply, ANY_ORIGIN};
use crate::server::store::journal::{Filter, Journal};
use crate::validate::Endpoint;
use deadline::Deadline;
use exchange::{Captured, Exchange};
use findings::Findings;
use metrics::ProxyMetrics;
use tee::Tee;
use upstream::{Failure, Upstream, UpstreamError};
use worker::{Job, Worker};

/// The largest body copied for judging and recording (larger ones stream
/// through unjudged and are recorded without their text).
pub const DEFAULT_TEE_CAP: usize = 1024 * 1024;
/// The default of `--upstream-timeout`: generous, since a video download
/// streams through within it.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(300);
/// How long requests in flight may take to finish at shutdown.
const HOW_LONG_TO_FINISH: Duration = Duration::from_secs(10);
/// The control routes the proxy answers itself.
const OWN_ROUTES: [&str; 4] = [
    "/__mock/health",
    "/__mock/findings",
    "/__mock/requests",
    "/__mock/metrics",
];

/// What the proxy needs to run; built by the binary or by tests.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// `http://` or `https://` URL, optionally with a path prefix.
    pub upstream: String,
    /// How long a whole exchange may take: the upstream's answer head
    /// (else 504), then its body (else it is cut).
    pub upstream_timeout: Duration,
    /// Trust only the CAs in this PEM file for an HTTPS upstream.
    pub upstream_ca: Option<PathBuf>,
    /// Consistency warnings are errors; undocumented members are reported.
    pub strict: bool,
    /// Write every exchange to this HAR file.
    pub record: Option<PathBuf>,
    /// Keep credentials in the recording and the journal.
    pub keep_secrets: bool,
    pub quiet: bool,
    /// The largest body copied for judging and recording.
    pub tee_cap: usize,
}

impl Config {
    /// Defaults for `upstream`: 127.0.0.1 port 0, 5 min, quiet.
    pub fn new(upstream: impl Into<String>) -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            upstream: upstream.into(),
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
            upstream_ca: None,
            strict: false,
            record: None,
            keep_secrets: false,
            quiet: true,
            tee_cap: DEFAULT_TEE_CAP,
        }
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("--record {path}: {source}")]
    Record {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the worker thread: {0}")]
    Worker(#[source] std::io::Error),
}

/// The state every proxied request sees.
pub struct Proxy {
    upstream: Upstream,
    pub findings: Arc<Findings>,
    pub journal: Arc<Journal>,
    /// What `GET /__mock/metrics` shows.
    pub metrics: Arc<ProxyMetrics>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    quiet: bool,
    keep_secrets: bool,
    tee_cap: usize,
    recording: bool,
}

impl Proxy {
    fn send(&self, job: Job) {
        if let Some(jobs) = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = jobs.send(job);
        }
    }

    /// Resolves once every exchange that ended before the call has been
    /// judged, journaled and recorded.
    pub async fn settled(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Settle(tx));
        let _ = rx.await;
    }

    fn log(&self, line: std::fmt::Arguments<'_>) {
        if !self.quiet {
            let line = format!("{line}\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
        }
    }
}

/// A bound, not yet serving, proxy.
pub struct Bound {
    listener: TcpListener,
    proxy: Arc<Proxy>,
    worker: std::thread::JoinHandle<()>,
}

/// Checks the flags, opens the recording, starts the worker and binds.
pub async fn bind(config: Config) -> Result<Bound, StartError> {
    let upstream = Upstream::new(&config.upstream, config.upstream_ca.as_deref(), config.upstream_timeout)?;
    let record = match &config.record {
        Some(path) => {
            let recorder = har::Recorder::create(path, &upstream.url).map_err(|source| StartError::Record {
                path: path.display().to_string(),
                source,
            })?;
            Some((path.clone(), recorder))
        }
        None => None,
    };
    let addr = format!("{}:{}", config.host, config.port);
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    let findings = Arc::new(Findings::default());
    let journal = Arc::new(Journal::default());
    let metrics = Arc::new(ProxyMetrics::default());
    let recording = record.is_some();
    let (jobs, worker) = Worker {
        findings: findings.clone(),
        journal: journal.clone(),
        metrics: metrics.clone(),
        record,
        strict: config.strict,
        keep_secrets: config.keep_secrets,
        cap: config.tee_cap,
        journal_on: true,
    }
    .spawn()
    .map_err(StartError::Worker)?;
    let proxy = Arc::new(Proxy {
        upstream,
        findings,
        journal,
        metrics,
        jobs: Mutex::new(Some(jobs)),
        quiet: config.quiet,
        keep_secrets: config.keep_secrets,
        tee_cap: config.tee_cap,
        recording,
    });
    Ok(Bound {
        listener,
        proxy,
        worker,
    })
}

impl Bound {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// `http://HOST:PORT` as bound.
    pub fn url(&self) -> String {
        match self.local_addr() {
            SocketAddr::V6(v6) => format!("http://[{}]:{}", v6.ip(), v6.port()),
            SocketAddr::V4(v4) => format!("http://{v4}"),
        }
    }

    pub fn proxy(&self) -> &Arc<Proxy> {
        &self.proxy
    }

    /// Serves until `shutdown` resolves, lets the requests in flight finish
    /// (for at most 10 s), then waits for the worker to judge and record
    /// everything that ended: the recording is complete when this returns.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let Bound {
            listener,
            proxy,
            worker,
        } = self;
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                stream = next_client(&listener, |e| proxy.log(format_args!("accept failed: {e}"))) => stream,
                () = &mut shutdown => break,
            };
            let proxy = proxy.clone();
            let service = hyper::service::service_fn(move |req| handle(proxy.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
        drop(listener);
        let _ = tokio::time::timeout(HOW_LONG_TO_FINISH, graceful.shutdown()).await;
        proxy.settled().await;
        // No more jobs: the worker ends, its recording synced.
        proxy.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        let _ = tokio::task::spawn_blocking(move || worker.join()).await;
    }
}

/// What the client gets: the upstream's body streamed (until the
/// exchange's deadline), or one of ours.
pub type Body = Either<Deadline<Tee<Incoming>>, Full<Bytes>>;

async fn handle(proxy: Arc<Proxy>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let arrived = Instant::now();
    let started = SystemTime::now();
    let path = req.uri().path();
    if OWN_ROUTES.contains(&path) {
        let (parts, _) = req.into_parts();
        let mut reply = control(&proxy, &parts);
        reply
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
        return Ok(reply.map(Either::Right));
    }
    let (parts, body) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let endpoint = Endpoint::of_url(parts.uri.path());
    let upstream_uri = match proxy.upstream.uri(&target) {
        Ok(uri) => uri,
        Err(e) => {
            let message = format!("cannot forward {target} to upstream {}: {e}", proxy.upstream.url);
            proxy.metrics.exchange(metrics::Outcome::Invalid, 400);
            return Ok(ours(
                &proxy,
                &parts,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &message,
                arrived,
            ));
        }
    };

    // The request body streams to the upstream; a copy of a text body is
    // kept for the journal and the recording.
    let request_copy: Arc<Mutex<Option<Captured>>> = Arc::default();
    let slot = request_copy.clone();
    let keep_request = har::is_text(content_type(&parts.headers));
    let body = Tee::new(
        body,
        keep_request,
        proxy.tee_cap,
        Box::new(move |captured| {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(captured);
        }),
    );
    let mut forwarded = Request::builder()
        .method(parts.method.clone())
        .uri(upstream_uri.clone())
        .version(hyper::Version::HTTP_11)
        .body(body)
        .expect("parts of a parsed request build a request");
    *forwarded.headers_mut() = without_hop_by_hop(&parts.headers);
    forwarded.headers_mut().insert(header::HOST, proxy.upstream.host());

    let response = match proxy.upstream.send(forwarded).await {
        Ok(response) => response,
        Err(Failure::Timeout(after)) => {
            let message = format!(
                "upstream {} did not answer within {after:?}: raise --upstream-timeout if it is only slow",
                proxy.upstream.url
            );
            proxy.metrics.exchange(metrics::Outcome::Timeout, 504);
            return Ok(ours(
                &proxy,
                &parts,
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                &message,
                arrived,
            ));
        }
        Err(Failure::Unreachable(cause)) => {
            let message = format!("upstream {} is unreachable: {cause}", proxy.upstream.url);
            proxy.metrics.exchange(metrics::Outcome::Unreachable, 502);
            return Ok(ours(
                &proxy,
                &parts,
                StatusCode::BAD_GATEWAY,
                "fail_to_fetch_task",
                &message,
                arrived,
            ));
        }
    };
    let wait = arrived.elapsed();
    proxy.metrics.upstream_latency(wait);
    let (mut head, body) = response.into_parts();
    let upstream_headers = std::mem::take(&mut head.headers);
    head.headers = without_hop_by_hop(&upstream_headers);
    if !head
        .headers
        .keys()
        .any(|name| name.as_str().starts_with("access-control-"))
    {
        add_cors(&parts, &mut head.headers);
    }
    let status = head.status;
    if !proxy.quiet {
        let task = task_note(None, &parts.uri);
        proxy.log(format_args!(
            "{} {}{task} {} {:.2}ms",
            parts.method,
            parts.uri.path(),
            status.as_u16(),
            wait.as_secs_f64() * 1000.0
        ));
    }

    // Text bodies of the contract's endpoints are copied for judging, and
    // every text body when recording; a video streams through uncopied.
    let text = har::is_text(content_type(&head.headers));
    let keep_response = text && (endpoint.is_some() || proxy.recording);
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let mut exchange = Exchange {
        started,
        wait,
        total: wait,
        method: parts.method.clone(),
        version: parts.version,
        url: format!("http://{host}{target}"),
        target,
        upstream_url: upstream_uri.to_string(),
        request_headers: parts.headers,
        request_body: Captured::default(),
        status,
        response_headers: head.headers.clone(),
        response_body: Captured::default(),
    };
    let worker = proxy.clone();
    let cut = Arc::new(AtomicBool::new(false));
    let was_cut = cut.clone();
    let on_end = Box::new(move |captured: Captured| {
        let outcome = if was_cut.load(Ordering::Relaxed) {
            metrics::Outcome::Cut
        } else {
            metrics::Outcome::Forwarded
        };
        worker.metrics.exchange(outcome, exchange.status.as_u16());
        exchange.total = arrived.elapsed();
        exchange.response_body = captured;
        if let Some(request) = request_copy.lock().unwrap_or_else(|e| e.into_inner()).take() {
            exchange.request_body = request;
        }
        worker.send(Job::Exchange(Box::new(exchange)));
    });
    let body = Tee::new(body, keep_response, proxy.tee_cap, on_end);
    // The whole exchange within --upstream-timeout: a body that stalls is cut.
    let timeout = proxy.upstream.timeout;
    let logger = proxy.clone();
    let what = format!("{} {}", parts.method, parts.uri.path());
    let on_cut = Box::new(move || {
        cut.store(true, Ordering::Relaxed);
        logger.log(format_args!(
            "{what} cut: the upstream did not finish its answer within --upstream-timeout ({timeout:?})"
        ));
    });
    // A timeout too long to add up waits for 30 years, as tokio's own do.
    let deadline = tokio::time::Instant::from_std(arrived)
        .checked_add(timeout)
        .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400 * 365 * 30));
    let body = Deadline::new(body, deadline, timeout, on_cut);
    Ok(Response::from_parts(head, Either::Left(body)))
}

/// An answer of the proxy's own (the upstream failed, or the target cannot
/// be forwarded): the gateway's error envelope, logged and journaled.
fn ours(
    proxy: &Proxy,
    parts: &Parts,
    status: StatusCode,
    code: &str,
    message: &str,
    arrived: Instant,
) -> Response<Body> {
    let body = json!({"code": code, "message": message, "data": null});
    let mut reply = json(status, serde_json::to_vec(&body).expect("a Value serializes"));
    reply
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
    let task = task_note(None, &parts.uri);
    proxy.log(format_args!(
        "{} {}{task} {} {:.2}ms {message}",
        parts.method,
        parts.uri.path(),
        status.as_u16(),
        arrived.elapsed().as_secs_f64() * 1000.0
    ));
    // Kept as sent; `GET /__mock/requests` shortens credentials as `serve`'s does.
    let mut entry =
        crate::server::store::journal::Entry::new(&parts.method, &parts.uri, &parts.headers, b"", Some(status), None);
    entry.time = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    proxy.journal.record(entry);
    reply.map(Either::Right)
}

/// `GET /__mock/health`, `GET|DELETE /__mock/findings`, `GET|DELETE /__mock/requests`,
/// `GET /__mock/metrics`.
fn control(proxy: &Proxy, parts: &Parts) -> Reply {
    let path = parts.uri.path();
    let allowed = if path == "/__mock/health" || path == "/__mock/metrics" {
        "GET, OPTIONS"
    } else {
        "GET, DELETE, OPTIONS"
    };
    let ok = |body: Value| json(StatusCode::OK, serde_json::to_vec(&body).expect("a Value serializes"));
    match (path, &parts.method) {
        (_, &Method::OPTIONS) => preflight(allowed, &parts.headers),
        ("/__mock/health", &Method::GET) => ok(json!({"status": "ok", "upstream": proxy.upstream.url})),
        ("/__mock/metrics", &Method::GET) => crate::server::http::reply(
            StatusCode::OK,
            HeaderValue::from_static(crate::server::metrics::text::CONTENT_TYPE),
            Bytes::from(proxy.metrics.scrape()),
        ),
        ("/__mock/findings", &Method::GET) => ok(proxy.findings.to_json()),
        ("/__mock/findings", &Method::DELETE) => {
            proxy.findings.clear();
            crate::server::http::reply(StatusCode::NO_CONTENT, crate::server::http::JSON, Bytes::new())
        }
        ("/__mock/requests", &Method::GET) => {
            let q = parts.uri.query().unwrap_or("");
            let filter = Filter {
                path: query_param(q, "path").map(|p| p.into_owned()),
                task_id: query_param(q, "task_id").map(|p| p.into_owned()),
                method: query_param(q, "method").map(|p| p.into_owned()),
            };
            let secrets = if proxy.keep_secrets {
                crate::server::control::redact::Secrets::Keep
            } else {
                crate::server::control::redact::Secrets::Redact
            };
            let requests: Vec<Value> = proxy.journal.list(&filter).iter().map(|e| e.to_json(secrets)).collect();
            ok(json!({ "requests": requests }))
        }
        ("/__mock/requests", &Method::DELETE) => {
            proxy.journal.clear();
            crate::server::http::reply(StatusCode::NO_CONTENT, crate::server::http::JSON, Bytes::new())
        }
        _ => {
            let message = format!("method {} is not allowed on {path}; allowed: {allowed}", parts.method);
            let body = json!({"code": "method_not_allowed", "message": message, "data": null});
            let mut reply = json(
                StatusCode::METHOD_NOT_ALLOWED,
                serde_json::to_vec(&body).expect("a Value serializes"),
            );
            reply
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allowed));
            reply
        }
    }
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// Headers that describe one connection, not the message (RFC 9110 7.6.1):
/// never forwarded, in either direction.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// `headers` without the hop-by-hop ones (and those `Connection` names).
fn without_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if HOP_BY_HOP.contains(name) || named.iter().any(|n| n == name.as_str()) {
            continue;
        }
        out.append(name, value.clone());
    }
    out
}

/// CORS as `serve` answers it, for an upstream that sent none: any origin,
/// and for a preflight the method and headers asked for.
fn add_cors(request: &Parts, headers: &mut HeaderMap) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
    if request.method == Method::OPTIONS {
        if let Some(method) = request.headers.get(header::ACCESS_CONTROL_REQUEST_METHOD) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, method.clone());
        }
        if let Some(asked) = request.headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, x-private"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k"));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("2"));
        let out = without_hop_by_hop(&h);
        let names: Vec<&str> = out.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["authorization", "content-length"]);
    }
}
