//! Routing: the path chooses the endpoint before the method is looked at,
//! then the surface's handler answers; the journal entry and the log line
//! are written here, after the answer. The only file that knows every
//! surface.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, StatusCode};

use crate::contract::{
    FILES_RETRIEVE_PATH, GATEWAY_FILES_RETRIEVE_PATH, NATIVE_QUERY_PATH, NATIVE_SUBMIT_PATH, OPENAPI_PATH, QUERY_PATH,
    SUBMIT_PATH, V2_QUERY_PREFIX, V2_SUBMIT_PATH,
};
use crate::contract::{V2_LIST_PATH, V2_REGENERATION_PATH, V2_TASK_PREFIX};
use crate::server::api::{gateway, native, poll, render, submit, v2, v2_tasks};
use crate::server::app::App;
use crate::server::control::{self, dashboard};
use crate::server::http::{self, connection, has_bearer, json, preflight, reply, Outcome, Reply, JSON};
use crate::server::media;
use crate::server::store::tasks::Surface;
use crate::server::store::{journal, namespaces};

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

pub(crate) async fn handle(
    app: Arc<App>,
    signals: Arc<connection::Signals>,
    req: Request<Incoming>,
) -> Result<Reply, ConnectionReset> {
    signals.busy.store(true, Ordering::Relaxed);
    // Unprefixed requests (the default namespace) pay for this one
    // comparison only: no lock, no lookup.
    let result = if req.uri().path().starts_with(namespaces::PREFIX) {
        answer_in_namespace(&app, &signals, req).await
    } else {
        answer(&app, &signals, req).await
    };
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
    finish(app, signals, &parts, &parts.uri, outcome, started).await
}

/// `/ns/{name}/...`: that namespace answers what follows the prefix; the
/// journal and the log keep the path as received.
async fn answer_in_namespace(
    root: &Arc<App>,
    signals: &connection::Signals,
    req: Request<Incoming>,
) -> Result<Reply, ConnectionReset> {
    let started = (!root.quiet).then(Instant::now);
    let (mut parts, body) = req.into_parts();
    match enter_namespace(root, &mut parts) {
        Ok((app, received)) => {
            let outcome = route(&app, &parts, body).await;
            finish(&app, signals, &parts, &received, outcome, started).await
        }
        Err((status, code, message)) => {
            let outcome = json(status, render::error(code, &message)).into();
            finish(root, signals, &parts, &parts.uri, outcome, started).await
        }
    }
}

/// After the answer: the log line and the journal entry (`uri` as received).
async fn finish(
    app: &App,
    signals: &connection::Signals,
    parts: &Parts,
    uri: &hyper::Uri,
    outcome: Outcome,
    started: Option<Instant>,
) -> Result<Reply, ConnectionReset> {
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
        let task = http::task_note(task_id.as_deref(), uri);
        let status = status.map_or_else(|| "reset".to_owned(), |s| s.as_u16().to_string());
        app.log(format_args!(
            "{} {}{task} {status} {:.2}ms",
            parts.method,
            uri.path(),
            started.elapsed().as_secs_f64() * 1000.0
        ));
    }
    // Without the control API nothing can read the journal: no need to keep it.
    if record && app.control {
        let entry = journal::Entry::new(&parts.method, uri, &parts.headers, &request_body, status, task_id);
        app.store.record(entry).await;
    }
    if do_reset {
        signals.reset.store(true, Ordering::Relaxed);
        return Err(ConnectionReset);
    }
    Ok(reply)
}

/// Why a `/ns/...` request reaches no namespace: the status, the code and
/// the message of the gateway's envelope.
type Refusal = (StatusCode, &'static str, String);

/// The namespace a `/ns/{name}/...` request is for, made on its first
/// request, with `parts.uri` rewritten to what follows the prefix; the URI
/// as received comes back too. A name that is not one is answered 400, and
/// `/ns/` paths with namespaces off 404, in the gateway's envelope.
fn enter_namespace(app: &App, parts: &mut Parts) -> Result<(Arc<App>, hyper::Uri), Refusal> {
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
    let off = || {
        format!(
            "no route for {} {}: namespaces are off (--max-namespaces 0)",
            parts.method,
            parts.uri.path()
        )
    };
    let Some(namespace) = app.namespace(name) else {
        return refuse(StatusCode::NOT_FOUND, "not_found", off());
    };
    let target = match parts.uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    let mut uri = parts.uri.clone().into_parts();
    // Cannot fail (a part of a valid URI), but is an answer if it does.
    let inner = target.parse().ok().and_then(|target| {
        uri.path_and_query = Some(target);
        hyper::Uri::from_parts(uri).ok()
    });
    let Some(inner) = inner else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("cannot read {}", parts.uri),
        );
    };
    Ok((namespace, std::mem::replace(&mut parts.uri, inner)))
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
    /// v2's list (`GET /v2/query/video_generation`).
    V2List,
    /// v2's cancel-or-delete (`DELETE /v2/video_generation/{task_id}`).
    V2Task,
    /// v2's regeneration (`POST /v2/video_regeneration`).
    V2Regenerate,
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
            return json(StatusCode::UNAUTHORIZED, poll::status_error(app, surface, 401)).into();
        }
    }
    let get = matches!(parts.method, Method::GET | Method::HEAD);
    match route {
        Route::Query(Surface::Gateway) if get => gateway::query(app, parts).await,
        Route::Query(Surface::Native) if get => native::query(app, parts, Surface::Native).await,
        Route::Query(Surface::V2) if get => v2::query(app, parts).await,
        Route::Files(_) if get => native::files(app, parts).await,
        Route::Submit(Surface::V2) if parts.method == Method::POST => v2::submit(app, parts, body).await,
        Route::Submit(surface) if parts.method == Method::POST => submit::v1(app, parts, body, surface).await,
        Route::V2List if get => v2_tasks::list(app, parts).await,
        Route::V2Task if parts.method == Method::DELETE => v2_tasks::delete(app, parts).await,
        Route::V2Regenerate if parts.method == Method::POST => v2_tasks::regenerate(app, parts, body).await,
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
            ..dashboard::redirect(&app.prefix, parts.uri.query()).into()
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
