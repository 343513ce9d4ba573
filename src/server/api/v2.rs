//! MiniMax's v2 API (MiniMax-H3, MiniMax-H3-Max) as its reference documents
//! it: `POST /v2/video_generation` with a `content` array and
//! `GET /v2/query/video_generation/{task_id}` here; the list, the delete and
//! the regeneration in `v2_tasks`; what a body may ask in `v2_rules`.
//!
//! Every error is v2's envelope (`render::v2::error`) with the HTTP status
//! of the error: 400 `bad_request_error` with `(2013)` for a refused body
//! and for an unknown task or one older than 7 days (`invalid task_id`),
//! 401 for `--require-auth`, a fault's own status. The choices the
//! reference leaves open are in docs/apis.md.

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::StatusCode;
use serde_json::Value;

use crate::contract::{Schema, V2_QUERY_PREFIX};
use crate::lifecycle::artifact::{Resolution, TaskType, V2Request};
use crate::server::api::poll::{deliver, poll};
use crate::server::api::render::{self, Shape};
use crate::server::api::submit::{self, Refusal, Submission};
use crate::server::api::v2_rules;
use crate::server::app::App;
use crate::server::http::{json, percent_decode, read_body, BodyError, Outcome};
use crate::server::store::tasks::{v2_ratio, Request, Surface};

/// What MiniMax answers for an unknown task id, or one older than 7 days.
pub const INVALID_TASK_ID: &str = "invalid params, invalid task_id";

/// v2's error envelope with `status`, a fresh request id, and `message`
/// (the code is appended).
pub fn error(app: &App, status: StatusCode, message: &str) -> Outcome {
    json(
        status,
        render::v2::error(status.as_u16(), message, &app.store.request_id()),
    )
    .into()
}

/// 400 `invalid params, {message} (2013)`.
pub fn invalid(app: &App, message: &str) -> Outcome {
    error(app, StatusCode::BAD_REQUEST, &format!("invalid params, {message}"))
}

/// The body of a v2 request, or v2's answer to one that cannot be read
/// (413 past `--max-body`, 400).
pub async fn read(app: &App, parts: &Parts, body: Incoming) -> Result<Bytes, Outcome> {
    read_body(app.max_body, &parts.headers, body)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => error(
                app,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "invalid params, request body is larger than the limit of {} bytes",
                    app.max_body
                ),
            ),
            BodyError::Read(e) => invalid(app, &format!("cannot read the request body: {e}")),
        })
}

/// The body as JSON, or why not (named as the other APIs name it).
pub fn json_body(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| {
        format!(
            "body is not JSON: {} at line {} column {}",
            crate::contract::strip_position(&e.to_string()),
            e.line(),
            e.column()
        )
    })
}

/// The schema's first objection to a body the rules took, if any: the
/// rules and the schema say the same (tested), so this is a backstop, and a
/// `--schemas` directory of one's own still holds.
pub fn schema_check(schema: &Schema, doc: &Value) -> Result<(), String> {
    match schema.violations(doc).into_iter().next() {
        None => Ok(()),
        Some(v) => {
            let field = v.pointer.trim_start_matches('/').replace('/', ".");
            let field = if field.is_empty() { "body".to_owned() } else { field };
            Err(format!("{field}: {}", v.message))
        }
    }
}

/// A checked `POST /v2/video_generation` body: what the task will be.
pub fn parse(app: &App, body: &[u8]) -> Result<Submission, Refusal> {
    let doc = json_body(body).map_err(Refusal)?;
    let asked = v2_rules::generation(&doc).map_err(Refusal)?;
    schema_check(app.contract.v2_submit_request(), &doc).map_err(Refusal)?;
    let ratio = v2_ratio(asked.ratio).expect("the rules give a v2 ratio");
    let resolution = Resolution::for_v2(asked.resolution, ratio).expect("the rules give a v2 resolution");
    let request = Request {
        resolution,
        duration_s: asked.duration,
        surface: Surface::V2,
        ratio: Some(ratio),
        model: None,
        v2: V2Request {
            model: asked.model,
            task_type: TaskType::Generation,
            images: asked.images,
            videos: asked.videos,
            audios: asked.audios,
        },
    };
    Ok(Submission {
        request,
        model: asked.model.as_str().to_owned(),
        prompt: Some(asked.prompt),
        callback: asked.callback,
    })
}

/// Creates a v2 task from a parsed body (`parse`, or the regeneration's
/// in `v2_tasks`) and answers `{"task_id"}`, or the refusal in v2's
/// envelope. An unknown scenario in `Prefer` is refused first.
pub async fn create(app: &App, parts: &Parts, body: Bytes, parsed: Result<Submission, Refusal>) -> Outcome {
    let preferred = match submit::preferred(app, &parts.headers) {
        Ok(p) => p,
        Err(message) => {
            return Outcome {
                request_body: body,
                ..invalid(app, &message)
            }
        }
    };
    let created = match parsed {
        Ok(submission) => submit::create(app, preferred, submission).await,
        Err(refusal) => Err(refusal),
    };
    match created {
        Ok(task) => Outcome {
            request_body: body,
            task_id: Some(task.id.to_string()),
            ..json(StatusCode::OK, render::v2::submit_response(&task.id)).into()
        },
        Err(refusal) if refusal.is_unavailable() => Outcome {
            request_body: body,
            ..crate::server::api::poll::unavailable(app, Surface::V2)
        },
        Err(Refusal(message)) => Outcome {
            request_body: body,
            ..invalid(app, &message)
        },
    }
}

/// `POST /v2/video_generation` → `{"task_id": "..."}`.
pub async fn submit(app: &App, parts: &Parts, body: Incoming) -> Outcome {
    let body = match read(app, parts, body).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    if let Some(recorded) = app.replay_submits.take(Surface::V2) {
        return submit::replayed(recorded, body);
    }
    let parsed = parse(app, &body);
    create(app, parts, body, parsed).await
}

/// `GET /v2/query/video_generation/{task_id}`: the task, counting a poll;
/// 400 `invalid task_id` for an unknown one or one older than 7 days.
pub async fn query(app: &App, path: &str) -> Outcome {
    let raw = path.strip_prefix(V2_QUERY_PREFIX).unwrap_or_default();
    let task_id = percent_decode(raw);
    if task_id.is_empty() {
        return invalid(app, "task_id is required");
    }
    let outcome = match poll(app, &task_id, Surface::V2, Shape::V2, render::v2::query_response).await {
        Some(polled) => deliver(app, &task_id, Surface::V2, polled).await,
        None => error(app, StatusCode::BAD_REQUEST, INVALID_TASK_ID),
    };
    Outcome {
        task_id: Some(task_id.into_owned()),
        ..outcome
    }
}
