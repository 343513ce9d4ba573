//! MiniMax's v2 API (MiniMax-H3): `POST /v2/video_generation` with a
//! `content` array, and `GET /v2/query/video_generation/{task_id}`.
//!
//! Errors are `{"error": {"code", "message"}}` with MiniMax's codes and a
//! 4xx status: 400 for a refused body, 404 for an unknown task (see
//! `docs/v2.md` for the choices UPSTREAM.md leaves open).

use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::StatusCode;
use serde_json::Value;

use crate::contract::V2_QUERY_PREFIX;
use crate::lifecycle::artifact::Resolution;
use crate::server::api::poll::{deliver, poll};
use crate::server::api::render;
use crate::server::api::submit::{self, Refusal, Submission, INVALID_PARAMS};
use crate::server::app::App;
use crate::server::http::{json, percent_decode, Outcome};
use crate::server::store::tasks::{v2_ratio, Request, Surface};

/// A v2 body: the schema (content items, resolution, duration 4–15, ratio
/// and image limits), then what the task shows.
pub fn parse(app: &App, body: &[u8]) -> Result<Submission, Refusal> {
    let doc = submit::checked_json(app.contract.v2_submit_request(), body).map_err(|refusal| {
        // The schema says this rule with `not`, whose message names no reason.
        let text_only = serde_json::from_slice::<Value>(body).ok().is_some_and(|d| {
            d["ratio"] == "adaptive"
                && d["content"]
                    .as_array()
                    .is_some_and(|c| c.iter().all(|i| i["type"] != "image_url"))
        });
        if text_only && refusal.0.starts_with("ratio:") {
            Refusal("ratio: \"adaptive\" follows an image; with text alone give a ratio such as \"16:9\"".to_owned())
        } else {
            refusal
        }
    })?;
    let items = doc["content"].as_array().map(Vec::as_slice).unwrap_or_default();
    let has_image = items.iter().any(|i| i["type"] == "image_url");
    let label = doc.get("resolution").and_then(Value::as_str).unwrap_or("768P");
    let ratio = doc
        .get("ratio")
        .and_then(Value::as_str)
        .unwrap_or(if has_image { "adaptive" } else { "16:9" });
    let ratio = v2_ratio(ratio).ok_or_else(|| Refusal(format!("ratio: {ratio:?} is not a v2 ratio")))?;
    let resolution = Resolution::for_v2(label, ratio)
        .ok_or_else(|| Refusal(format!("resolution: {label:?} is not one of \"768P\", \"2K\"")))?;
    let request = Request {
        resolution,
        duration_s: doc.get("duration").and_then(Value::as_u64).unwrap_or(5) as u32,
        surface: Surface::V2,
        ratio: Some(ratio),
        model: None,
    };
    Ok(Submission {
        request,
        model: doc["model"].as_str().unwrap_or(render::v2::MODEL).to_owned(),
        prompt: items
            .iter()
            .find(|i| i["type"] == "text")
            .and_then(|i| i["text"].as_str())
            .map(str::to_owned),
        callback: submit::callback_url(&doc),
    })
}

fn error(status: StatusCode, message: &str) -> Outcome {
    json(status, render::v2::error(INVALID_PARAMS, message)).into()
}

/// `POST /v2/video_generation` → `{"task_id": "..."}`.
pub async fn submit(app: &App, parts: &Parts, body: Incoming) -> Outcome {
    let body = match submit::body_or_error(app, &parts.headers, body, Surface::V2).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    let preferred = match submit::preferred(app, &parts.headers) {
        Ok(p) => p,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    if let Some(recorded) = app.replay_submits.take(Surface::V2) {
        return submit::replayed(recorded, body);
    }
    let created = match parse(app, &body) {
        Ok(submission) => submit::create(app, preferred, submission).await,
        Err(refusal) => Err(refusal),
    };
    match created {
        Ok(task) => Outcome {
            request_body: body,
            task_id: Some(task.id.to_string()),
            ..json(StatusCode::OK, render::v2::submit_response(&task.id)).into()
        },
        Err(Refusal(message)) => Outcome {
            request_body: body,
            ..error(StatusCode::BAD_REQUEST, &format!("invalid params, {message}"))
        },
    }
}

/// `GET /v2/query/video_generation/{task_id}`.
pub async fn query(app: &App, parts: &Parts) -> Outcome {
    let raw = parts.uri.path().strip_prefix(V2_QUERY_PREFIX).unwrap_or_default();
    let task_id = percent_decode(raw);
    if task_id.is_empty() {
        return error(StatusCode::BAD_REQUEST, "invalid params, task_id is required");
    }
    let outcome = match poll(app, &task_id, Surface::V2, render::v2::query_response).await {
        Some(polled) => deliver(app, &task_id, Surface::V2, polled).await,
        None => error(
            StatusCode::NOT_FOUND,
            &format!("invalid params, task_id {task_id} not found"),
        ),
    };
    Outcome {
        task_id: Some(task_id.into_owned()),
        ..outcome
    }
}
