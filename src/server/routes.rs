//! Routing: the path chooses the endpoint before the method is looked at,
//! then the surface's handler answers; the journal entry and the log line
//! are written here, after the answer. The only file that knows every
//! surface.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, StatusCode};

use crate::contract::{
    FILES_RETRIEVE_PATH, GATEWAY_FILES_RETRIEVE_PATH, LIVE_PATH, NATIVE_QUERY_PATH, NATIVE_SUBMIT_PATH, OPENAPI_PATH,
    QUERY_PATH, SUBMIT_PATH, V2_QUERY_PREFIX, V2_SUBMIT_PATH,
};
use crate::contract::{V2_LIST_PATH, V2_REGENERATION_PATH, V2_TASK_PREFIX};
use crate::server::api::{gateway, native, openai, poll, render, submit, v2, v2_tasks};
use crate::server::app::App;
use crate::server::control::{self, dashboard};
use crate::server::http::{self, connection, discard_body, has_bearer, json, preflight, reply, Outcome, Reply, JSON};
use crate::server::media;
use crate::server::metrics;
use crate::server::store::tasks::Surface;
use crate::server::store::{journal, namespaces};

/// What the liveness probe answers with.
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// Returned by the service to drop the connection: with [`ResettableStream`]
/// the peer gets a TCP reset instead of an answer.
#[derive(Debug)]
pub(crate) struct ConnectionReset;

impl std::fmt::Display for ConnectionReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by a scripted fault")
    }
}

impl std::error::Error for ConnectionReset {}

/// The answer to `req`. The connection counts as busy from here, when
/// hyper hands the request over, not from the answer's first poll: a
/// request body read in between needs no timer.
pub(crate) fn handle(
    app: Arc<App>,
    signals: Arc<connection::Signals>,
    req: Request<Incoming>,
) -> impl std::future::Future<Output = Result<Reply, ConnectionReset>> {
    signals.busy.store(true, Ordering::Relaxed);
    handle_busy(app, signals, req)
}

async fn handle_busy(
    app: Arc<App>,
    signals: Arc<connection::Signals>,
    req: Request<Incoming>,
) -> Result<Reply, ConnectionReset> {
    // Two clock reads for the metrics' durations (the second also stamps
    // the journal entry) and three relaxed atomic adds; with --quiet
    // nothing is formatted. Health probes (every few seconds, from a
    // container runtime) are not logged.
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    // Unprefixed requests (the default namespace) pay for this one
    // comparison only: no lock, no lookup. Both are answered here, not in
    // a function of their own: each level of futures held the request once
    // more and was copied whole on every request.
    let result = if parts.uri.path().starts_with(namespaces::PREFIX) {
        answer_in_namespace(&app, &signals, &parts, body, started).await
    } else {
        let found = Route::of(parts.uri.path(), app.control);
        answer_route(&app, &signals, &parts, parts.uri.path(), found, body, started).await
    };
    signals.answered.fetch_add(1, Ordering::Relaxed);
    signals.busy.store(false, Ordering::Relaxed);
    result
}

/// Routes and finishes a request (`path` is the one answered, see
/// [`route`]); with `--store`, a GET on an API gets a journal draft first,
/// for the poll to write (see [`journal::Draft`]).
async fn answer_route(
    app: &Arc<App>,
    signals: &connection::Signals,
    parts: &Parts,
    path: &str,
    found: Option<Route>,
    body: Incoming,
    started: Instant,
) -> Result<Reply, ConnectionReset> {
    let polls = matches!(found, Some(Route::Query(_) | Route::OpenAi(_))) && parts.method == Method::GET;
    if !(polls && app.control && app.store.remote().is_some()) {
        let outcome = route(app, parts, path, found, body).await;
        let finished = finish(app, signals, parts, found, outcome, started);
        return match finished.shared {
            None => finished.answer,
            Some(_) => finished.written(app).await,
        };
    }
    let entry = journal::Entry::received_at(started, &parts.method, &parts.uri, &parts.headers, &[], None, None);
    let draft = std::cell::RefCell::new(Some(journal::Draft::new(entry)));
    // Boxed: inline, the draft and the scope made this future, copied on
    // every request, half as large again.
    Box::pin(journal::DRAFT.scope(draft, async {
        let outcome = route(app, parts, path, found, body).await;
        finish(app, signals, parts, found, outcome, started).written(app).await
    }))
    .await
}

/// `/ns/{name}/...`: that namespace answers what follows the prefix; the
/// journal and the log keep the path as received.
async fn answer_in_namespace(
    root: &Arc<App>,
    signals: &connection::Signals,
    parts: &Parts,
    body: Incoming,
    started: Instant,
) -> Result<Reply, ConnectionReset> {
    match enter_namespace(root, parts, started) {
        Ok((app, path)) => {
            let found = Route::of(path, app.control);
            answer_route(&app, signals, parts, path, found, body, started).await
        }
        Err((status, code, message)) => {
            let outcome = json(status, render::error(code, &message)).into();
            let finished = finish(root, signals, parts, None, outcome, started);
            match finished.shared {
                None => finished.answer,
                Some(_) => finished.written(root).await,
            }
        }
    }
}

/// After the answer: the metrics, the log line and the journal entry
/// (the URI as received); what is left for the shared store to write comes
/// back with the answer ([`Finished::written`]). Not an `async fn`: its
/// future (the answer, its parts and the journal entry, 944 bytes) was made
/// and copied on every request, and made every future that awaited it as
/// large.
fn finish(
    app: &App,
    signals: &connection::Signals,
    parts: &Parts,
    found: Option<Route>,
    outcome: Outcome,
    started: Instant,
) -> Finished {
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
    // One clock reading for the time taken and the journal's mock time.
    let answered = Instant::now();
    let took = answered.saturating_duration_since(started);
    meter(app, found, &parts.method, status, task_id.is_some(), took);
    if !app.quiet && found != Some(Route::Live) {
        let uri = &parts.uri;
        let task = http::task_note(task_id.as_deref(), uri);
        let status = status.map_or_else(|| "reset".to_owned(), |s| s.as_u16().to_string());
        app.log(format_args!(
            "{} {}{task} {status} {:.2}ms",
            parts.method,
            uri.path(),
            took.as_secs_f64() * 1000.0
        ));
    }
    // Without the control API nothing can read the journal: no need to keep it.
    let draft = journal::DRAFT.try_with(|d| d.borrow_mut().take()).ok().flatten();
    let shared = match draft {
        Some(draft) => Some(Box::new(Shared::Settle(draft, status, task_id, request_body))),
        None if record && app.control => {
            let entry = journal::Entry::received_at(
                started,
                &parts.method,
                &parts.uri,
                &parts.headers,
                &request_body,
                status,
                task_id,
            );
            app.store
                .record_here(entry, answered)
                .map(|entry| Box::new(Shared::Record(entry)))
        }
        None => None,
    };
    let answer = if do_reset {
        signals.reset.store(true, Ordering::Relaxed);
        Err(ConnectionReset)
    } else {
        Ok(reply)
    };
    Finished { answer, shared }
}

/// What [`finish`] gives back: the answer, and the journal write it leaves
/// to the shared store (none with the in-memory one). Callers on the hot
/// path take the answer as it is when there is nothing to write: making
/// the [`Finished::written`] future on every request cost about 150
/// instructions.
struct Finished {
    answer: Result<Reply, ConnectionReset>,
    shared: Option<Box<Shared>>,
}

impl Finished {
    /// The answer, once the shared store has its journal entry.
    async fn written(self, app: &App) -> Result<Reply, ConnectionReset> {
        if let Some(shared) = self.shared {
            // Boxed: only `--store` waits here.
            Box::pin(async move {
                match *shared {
                    Shared::Settle(draft, status, task_id, body) => {
                        app.store.settle(draft, status, task_id, body).await;
                    }
                    Shared::Record(entry) => app.store.record_shared(entry).await,
                }
            })
            .await;
        }
        self.answer
    }
}

/// A journal write for the shared store.
enum Shared {
    /// A poll's draft, settled with the answer given.
    Settle(journal::Draft, Option<StatusCode>, Option<String>, Bytes),
    /// An entry, stamped with the mock's time at the answer.
    Record(journal::Entry),
}

/// Why a `/ns/...` request reaches no namespace: the status, the code and
/// the message of the gateway's envelope.
type Refusal = (StatusCode, &'static str, String);

/// The namespace a `/ns/{name}/...` request is for, made on its first
/// request, and the path it answers (what follows the prefix; the query
/// is the request's). The request itself is left as received, for the
/// journal and the log: rewriting its URI (a copy and a parse of the
/// target) cost about 700 instructions a request. `at`, when it arrived,
/// counts as the namespace's last use. A name that is not one is answered
/// 400, and `/ns/` paths with namespaces off 404, in the gateway's envelope.
fn enter_namespace<'a>(app: &App, parts: &'a Parts, at: Instant) -> Result<(Arc<App>, &'a str), Refusal> {
    let refuse = |status, code, message: String| Err((status, code, message));
    let (name, rest) = match namespaces::split(parts.uri.path()) {
        Some(Ok(split)) => split,
        Some(Err(e)) => return refuse(StatusCode::BAD_REQUEST, "invalid_namespace", e.to_string()),
        None => {
            return refuse(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no route for {}", parts.uri.path()),
            )
        }
    };
    let Some(namespace) = app.namespace_at(name, at) else {
        let message = format!(
            "no route for {} {}: namespaces are off (--max-namespaces 0)",
            parts.method,
            parts.uri.path()
        );
        return refuse(StatusCode::NOT_FOUND, "not_found", message);
    };
    Ok((namespace, rest))
}

/// The endpoints, found by path before the method is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Submit(Surface),
    Query(Surface),
    /// files/retrieve, at the root and through the gateway.
    Files(Surface),
    Video,
    /// new-api's OpenAI-compatible video API (`/v1/videos`, `/v1/video/...`).
    OpenAi(openai::Endpoint),
    Control,
    /// The dashboard, at the control prefix itself.
    Dashboard,
    /// The control prefix without its slash: to the dashboard.
    DashboardRedirect,
    /// The OpenAPI document: served with or without the control API.
    OpenApi,
    /// v2's list (`GET /v2/query/video_generation`).
    V2List,
    /// v2's cancel-or-delete (`DELETE /v2/video_generation/{task_id}`).
    V2Task,
    /// v2's regeneration (`POST /v2/video_regeneration`).
    V2Regenerate,
    /// The liveness probe: with or without the control API, past no guard.
    Live,
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
            V2_LIST_PATH => Route::V2List,
            V2_REGENERATION_PATH => Route::V2Regenerate,
            p if p.starts_with(V2_TASK_PREFIX) => Route::V2Task,
            p if p.starts_with("/v1/video") => Route::OpenAi(openai::Endpoint::of(p)?),
            p if p.starts_with("/inference_output") || p.starts_with("/backup/inference_output") => Route::Video,
            OPENAPI_PATH => Route::OpenApi,
            LIVE_PATH => Route::Live,
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
            | Route::OpenApi
            | Route::Live => "GET, HEAD, OPTIONS",
            Route::Submit(_) => "POST, OPTIONS",
            Route::OpenAi(endpoint) => endpoint.allowed(),
            Route::Control => control::allowed(path),
            Route::V2List => "GET, HEAD, OPTIONS",
            Route::V2Task => "DELETE, OPTIONS",
            Route::V2Regenerate => "POST, OPTIONS",
        }
    }

    /// The API whose error bodies the route answers with.
    fn surface(self) -> Option<Surface> {
        match self {
            Route::Submit(s) | Route::Query(s) | Route::Files(s) => Some(s),
            Route::V2List | Route::V2Task | Route::V2Regenerate => Some(Surface::V2),
            Route::OpenAi(_) => Some(Surface::OpenAi),
            Route::Video
            | Route::Control
            | Route::Dashboard
            | Route::DashboardRedirect
            | Route::OpenApi
            | Route::Live => None,
        }
    }
}

/// The metrics of one answered request: its count, status and time, and
/// for a submit whether it created a task.
fn meter(app: &App, route: Option<Route>, method: &Method, status: Option<StatusCode>, task: bool, took: Duration) {
    let counters = &app.metrics.counters;
    counters.request(metered(route), status.map(|s| s.as_u16()), took);
    let submitted = match route {
        Some(Route::Submit(surface)) => Some(surface),
        Some(Route::OpenAi(openai::Endpoint::Videos | openai::Endpoint::Generations)) => Some(Surface::OpenAi),
        Some(Route::V2Regenerate) => Some(Surface::V2),
        _ => None,
    };
    if let Some(surface) = submitted {
        if method == Method::POST {
            counters.submit(metrics::Api::of(surface), task);
        }
    }
}

/// The `api` and `route` labels of a route in the metrics: one arm each.
fn metered(route: Option<Route>) -> metrics::Endpoint {
    use metrics::Endpoint as E;
    match route {
        Some(Route::Submit(Surface::Gateway)) => E::GatewaySubmit,
        Some(Route::Query(Surface::Gateway)) => E::GatewayQuery,
        Some(Route::Files(Surface::Gateway)) => E::GatewayFiles,
        Some(Route::Submit(Surface::Native)) => E::NativeSubmit,
        Some(Route::Query(Surface::Native)) => E::NativeQuery,
        Some(Route::Files(Surface::Native)) => E::NativeFiles,
        Some(Route::Submit(Surface::V2)) => E::V2Submit,
        Some(Route::Query(Surface::V2)) => E::V2Query,
        Some(Route::V2List) => E::V2List,
        Some(Route::V2Task) => E::V2Delete,
        Some(Route::V2Regenerate) => E::V2Regenerate,
        Some(Route::OpenAi(openai::Endpoint::Videos | openai::Endpoint::Generations)) => E::OpenAiSubmit,
        Some(Route::OpenAi(openai::Endpoint::Video)) => E::OpenAiVideo,
        Some(Route::OpenAi(openai::Endpoint::Content)) => E::OpenAiContent,
        Some(Route::OpenAi(openai::Endpoint::Generation)) => E::OpenAiGeneration,
        // The other APIs have no submit, query or files/retrieve here.
        Some(Route::Submit(Surface::OpenAi) | Route::Query(Surface::OpenAi) | Route::Files(Surface::OpenAi)) => {
            E::NotFound
        }
        Some(Route::Live) => E::Live,
        // No files/retrieve on v2: its query carries the URL.
        Some(Route::Files(Surface::V2)) => E::NotFound,
        Some(Route::Video) => E::Video,
        Some(Route::Control) => E::Control,
        Some(Route::Dashboard | Route::DashboardRedirect) => E::Dashboard,
        Some(Route::OpenApi) => E::OpenApi,
        None => E::NotFound,
    }
}

/// `path` is the one answered: what follows `/ns/{name}` in a namespace.
async fn route(app: &App, parts: &Parts, path: &str, found: Option<Route>, body: Incoming) -> Outcome {
    let Some(route) = found else {
        // Every answer waits for the body (within the limit), so that a
        // client still sending one gets it on a connection that stays open.
        discard_body(app.max_body, &parts.headers, body).await;
        let message = format!("no route for {} {path}", parts.method);
        return json(StatusCode::NOT_FOUND, render::error("not_found", &message)).into();
    };
    if route == Route::Control {
        // Only here: the API's routes never pay for the control plane's checks.
        return Box::pin(serve_control(app, parts, path, body)).await;
    }
    if parts.method == Method::OPTIONS {
        discard_body(app.max_body, &parts.headers, body).await;
        return preflight(route.allowed(path), &parts.headers).into();
    }
    if let Some(surface) = route.surface() {
        if app.require_auth && !has_bearer(&parts.headers) {
            discard_body(app.max_body, &parts.headers, body).await;
            return json(StatusCode::UNAUTHORIZED, poll::status_error(app, surface, 401)).into();
        }
    }
    // The submits read the body themselves; every other answer discards it
    // first. Their futures (and the rarer routes' below) are boxed: held
    // inline they would make this future, and every one that awaits it,
    // kilobytes large, copied whole at each `.await` of every poll.
    if parts.method == Method::POST {
        match route {
            Route::Submit(Surface::V2) => return Box::pin(v2::submit(app, parts, body)).await,
            Route::Submit(surface) => return Box::pin(submit::v1(app, parts, body, surface)).await,
            Route::OpenAi(endpoint) if endpoint.is_submit() => return Box::pin(openai::submit(app, parts, body)).await,
            Route::V2Regenerate => return Box::pin(v2_tasks::regenerate(app, parts, body)).await,
            _ => {}
        }
    }
    discard_body(app.max_body, &parts.headers, body).await;
    let get = matches!(parts.method, Method::GET | Method::HEAD);
    match route {
        Route::Query(Surface::Gateway) if get => gateway::query(app, parts).await,
        Route::Query(Surface::Native) if get => native::query(app, parts, Surface::Native).await,
        Route::Query(Surface::V2) if get => v2::query(app, path).await,
        Route::Files(_) if get => Box::pin(native::files(app, parts)).await,
        Route::V2List if get => Box::pin(v2_tasks::list(app, parts)).await,
        Route::V2Task if parts.method == Method::DELETE => Box::pin(v2_tasks::delete(app, path)).await,
        Route::OpenAi(openai::Endpoint::Content) if get => Box::pin(openai::content(app, parts, path)).await,
        Route::OpenAi(endpoint) if get && !endpoint.is_submit() => openai::query(app, path, endpoint).await,
        Route::Video if get => media::download::download(app, parts, path),
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
            ..dashboard::redirect(&app.prefix, parts.uri.query()).into()
        },
        Route::Live if get => Outcome {
            record: false,
            ..reply(StatusCode::OK, TEXT, Bytes::from_static(b"ok\n")).into()
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
                record: !matches!(
                    route,
                    Route::Dashboard | Route::DashboardRedirect | Route::OpenApi | Route::Live
                ),
                ..reply.into()
            }
        }
    }
}

/// A control request: admitted by the guard (its Host, its Origin, the
/// token), then served; refused before anything is done otherwise.
async fn serve_control(app: &App, parts: &Parts, path: &str, body: Incoming) -> Outcome {
    let allow_origin = match app.guard.admit(parts) {
        Err(refusal) => {
            discard_body(app.max_body, &parts.headers, body).await;
            return control_answer(Outcome {
                allow_origin: None,
                ..refusal.reply().into()
            });
        }
        Ok(allow_origin) => allow_origin,
    };
    if parts.method == Method::OPTIONS {
        discard_body(app.max_body, &parts.headers, body).await;
        return control_answer(Outcome {
            allow_origin,
            ..preflight(Route::Control.allowed(path), &parts.headers).into()
        });
    }
    if path == metrics::PATH {
        discard_body(app.max_body, &parts.headers, body).await;
        // With --store the counters are this replica's (scrape each one);
        // the task gauge counts the store's tasks.
        if app.store.remote().is_some() {
            let _ = app.store.pull().await;
            for listed in app.namespaces.list() {
                let _ = listed.value.store.pull().await;
            }
        }
        return control_answer(Outcome {
            allow_origin,
            ..metrics::serve::reply_to(app, parts).into()
        });
    }
    let outcome = match submit::body_or_error(app, &parts.headers, body, Surface::Gateway).await {
        Err(outcome) => Outcome {
            allow_origin,
            ..outcome
        },
        Ok(body) => {
            let answer = control::shared::handle(app, parts, path, &body).await;
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
    };
    control_answer(outcome)
}

/// What every control answer carries: `Vary: Origin` (what is answered
/// depends on it, so caches must not share it), and no journal entry.
fn control_answer(mut outcome: Outcome) -> Outcome {
    outcome
        .reply
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("origin"));
    outcome.record = false;
    outcome
}
