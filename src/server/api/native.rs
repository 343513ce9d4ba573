//! MiniMax's native API at the root (`/v1/...`), bodies exactly as
//! MiniMax's: the query and files/retrieve (the submit is `submit::v1`).
//!
//! Errors are MiniMax's `{"base_resp": {...}}` with HTTP 200 and a non-zero
//! `status_code`, as MiniMax answers and as its clients expect (they read
//! `base_resp`, not the HTTP status): 2013 for a missing, malformed or
//! unknown `task_id` / `file_id`.

use hyper::http::request::Parts;
use hyper::StatusCode;

use crate::server::api::poll::{deliver, poll};
use crate::server::api::render::{self, Shape};
use crate::server::api::submit::INVALID_PARAMS;
use crate::server::app::App;
use crate::server::http::{json, query_param, reply, Outcome};
use crate::server::store::tasks::Surface;

fn refused(message: String) -> Outcome {
    json(StatusCode::OK, render::native::error(INVALID_PARAMS, &message)).into()
}

/// `GET /v1/query/video_generation?task_id=ID` (and the gateway's query
/// with `--gateway-query native`; `surface` says which was called).
pub async fn query(app: &App, parts: &Parts, surface: Surface) -> Outcome {
    let task_id = parts
        .uri
        .query()
        .and_then(|q| query_param(q, "task_id"))
        .unwrap_or_default();
    if task_id.is_empty() {
        return refused("invalid params, task_id is required".to_owned());
    }
    match poll(
        app,
        &task_id,
        Surface::Native,
        Shape::Native,
        render::native::query_response,
    )
    .await
    {
        Some(polled) => deliver(app, &task_id, surface, polled).await,
        None => refused(format!("invalid params, task_id {task_id} not found")),
    }
}

/// `GET /v1/files/retrieve?file_id=ID` and the gateway's passthrough
/// `/minimax/v1/files/retrieve`: the file of a task whose last poll (or
/// whose time) shows it succeeded, or a recorded answer for that id
/// (`--replay`). Not a poll: it moves no lifecycle.
pub async fn files(app: &App, parts: &Parts) -> Outcome {
    let param = parts
        .uri
        .query()
        .and_then(|q| query_param(q, "file_id"))
        .unwrap_or_default();
    if param.is_empty() {
        return refused("invalid params, file_id is required".to_owned());
    }
    if let Some(recorded) = app.replay_files.next(&param) {
        return reply(recorded.status, recorded.content_type, recorded.body).into();
    }
    let Ok(file_id) = param.parse::<u64>() else {
        return refused(format!("invalid params, file_id {param:?} is not an integer"));
    };
    let not_found = || refused(format!("invalid params, file_id {file_id} not found"));
    let task = match app.store.by_file(file_id).await {
        Ok(Some(task)) => task,
        Ok(None) => return not_found(),
        Err(_) => return crate::server::api::poll::unavailable(app, Surface::Native),
    };
    let view = task.view(app.store.clock().now(), task.polls().saturating_sub(1), &app.base_url);
    if view.moment.phase() != crate::lifecycle::Phase::Success {
        return not_found();
    }
    Outcome {
        task_id: Some(task.id.to_string()),
        ..json(StatusCode::OK, render::native::file_response(&view)).into()
    }
}
