//! new-api's OpenAI-compatible video API, what the official `openai` SDKs
//! call (`client.videos.create / retrieve / download_content`):
//! `POST /v1/videos` (multipart/form-data, as the SDKs send it, or JSON),
//! `GET /v1/videos/{id}`, `GET /v1/videos/{id}/content`, and new-api's own
//! `POST /v1/video/generations` and `GET /v1/video/generations/{task_id}`.
//!
//! A submit is read as new-api reads it (`prompt` required, `model`,
//! `seconds`, `size`, `metadata`), turned into the MiniMax body new-api
//! would send upstream, and checked and created as a v1 submit is. Task ids
//! are new-api's public `task_` ids, the store's keys for these tasks.
//!
//! Errors are new-api's: its task error `{"code","message","data":null}`
//! on every route but the download, which answers OpenAI's
//! `{"error":{"message","type"}}` (docs/apis.md has the table).

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::StatusCode;
use serde_json::{Map, Value};

use crate::contract::{OPENAI_GENERATIONS_PATH, OPENAI_VIDEOS_PATH};
use crate::lifecycle::artifact::Resolution;
use crate::lifecycle::{Phase, Scenario};
use crate::server::api::poll::{deliver, poll, poll_task};
use crate::server::api::render::{self, openai as wire, Shape, LINK_LIFETIME_SECS};
use crate::server::api::submit::{self, Refusal};
use crate::server::app::App;
use crate::server::http::{holds_any, json, multipart, percent_decode, Outcome};
use crate::server::media;
use crate::server::store::tasks::{Model, Surface, Task};

/// The routes of this API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/videos`.
    Videos,
    /// `GET /v1/videos/{id}`.
    Video,
    /// `GET /v1/videos/{id}/content`.
    Content,
    /// `POST /v1/video/generations`.
    Generations,
    /// `GET /v1/video/generations/{task_id}`.
    Generation,
}

impl Endpoint {
    /// The route a path names, if it is one of this API's.
    pub fn of(path: &str) -> Option<Self> {
        if path == OPENAI_VIDEOS_PATH {
            return Some(Endpoint::Videos);
        }
        if path == OPENAI_GENERATIONS_PATH {
            return Some(Endpoint::Generations);
        }
        if let Some(rest) = path
            .strip_prefix(OPENAI_GENERATIONS_PATH)
            .and_then(|r| r.strip_prefix('/'))
        {
            return (!holds_any(rest, b"/")).then_some(Endpoint::Generation);
        }
        let rest = path.strip_prefix(OPENAI_VIDEOS_PATH)?.strip_prefix('/')?;
        // A poll's path has no slash after the id: one word-wise scan says
        // so (`split_once` searched for the char, about 130 instructions).
        if !holds_any(rest, b"/") {
            return Some(Endpoint::Video);
        }
        (rest.split_once('/')?.1 == "content").then_some(Endpoint::Content)
    }

    /// Whether the route creates a task (and so reads a body).
    pub fn is_submit(self) -> bool {
        matches!(self, Endpoint::Videos | Endpoint::Generations)
    }

    /// The methods the route answers.
    pub fn allowed(self) -> &'static str {
        if self.is_submit() {
            "POST, OPTIONS"
        } else {
            "GET, HEAD, OPTIONS"
        }
    }
}

/// The task id a route's path names (percent-decoded).
fn id_in(path: &str) -> Cow<'_, str> {
    let rest = path
        .strip_prefix(OPENAI_GENERATIONS_PATH)
        .or_else(|| path.strip_prefix(OPENAI_VIDEOS_PATH))
        .unwrap_or_default()
        .trim_start_matches('/');
    percent_decode(rest.strip_suffix("/content").unwrap_or(rest))
}

const TASK_NOT_EXIST: &[u8] = br#"{"code":"task_not_exist","message":"task_not_exist","data":null}"#;

fn refused(status: StatusCode, code: &str, message: &str) -> Outcome {
    json(status, wire::error(code, message)).into()
}

/// What a submit asked for, as new-api reads it.
#[derive(Debug, Default, PartialEq)]
struct Asked {
    prompt: String,
    model: Option<String>,
    seconds: Option<u64>,
    size: Option<String>,
    /// Merged into MiniMax's body.
    metadata: Map<String, Value>,
}

/// Why a submit was refused: new-api's code (`invalid_request`,
/// `invalid_multipart_form`) and message, HTTP 400.
#[derive(Debug, PartialEq)]
struct Invalid(&'static str, String);

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid("invalid_request", message.into())
}

/// The members of MiniMax's submit body, the only ones `metadata` can set
/// (new-api unmarshals it into that struct, which drops the rest).
const MINIMAX_FIELDS: [&str; 11] = [
    "model",
    "prompt",
    "prompt_optimizer",
    "fast_pretreatment",
    "duration",
    "resolution",
    "callback_url",
    "aigc_watermark",
    "first_frame_image",
    "last_frame_image",
    "subject_reference",
];

/// `metadata` as an object: one, or a string holding one in JSON.
fn metadata_of(value: &Value) -> Result<Map<String, Value>, Invalid> {
    match value {
        Value::Object(map) => Ok(map.clone()),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(invalid(format!(
                "metadata: {text:?} is not a JSON object (give the object, or a string holding one)"
            ))),
        },
        _ => Err(invalid("metadata: an object, or a string holding one in JSON")),
    }
}

/// The prompt, or new-api's refusal of a missing or blank one.
fn prompt_of(doc: &Value) -> Result<(), Invalid> {
    match doc.get("prompt") {
        None | Some(Value::Null) => Err(invalid("prompt is required")),
        Some(Value::String(p)) if p.trim().is_empty() => Err(invalid("prompt is required")),
        _ => Ok(()),
    }
}

/// Checks `doc` (a JSON body, or a form's fields as one) against the
/// request schema; the refusal names the first field that is wrong.
fn checked(app: &App, doc: &Value) -> Result<(), Invalid> {
    prompt_of(doc)?;
    let body = serde_json::to_vec(doc).expect("a Value serializes");
    submit::checked_json(app.contract.openai_video_request(), &body)
        .map(drop)
        .map_err(|Refusal(message)| invalid(message))
}

/// A number of seconds from a string of digits (the schema has checked it).
fn whole(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A JSON body: new-api's `TaskSubmitReq`; `seconds` (OpenAI's name, a
/// string) or `duration` (new-api's, a number or a string of one).
fn from_json(app: &App, body: &[u8]) -> Result<Asked, Invalid> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "body is not JSON: {} at line {} column {}",
            crate::contract::strip_position(&e.to_string()),
            e.line(),
            e.column()
        ))
    })?;
    if !doc.is_object() {
        return Err(invalid("body: a JSON object, such as {\"prompt\": \"...\"}"));
    }
    checked(app, &doc)?;
    let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(Asked {
        prompt: text("prompt").unwrap_or_default(),
        model: text("model").filter(|m| !m.is_empty()),
        seconds: doc.get("seconds").or_else(|| doc.get("duration")).and_then(whole),
        size: text("size"),
        metadata: doc.get("metadata").map(metadata_of).transpose()?.unwrap_or_default(),
    })
}

/// Fields new-api reads by name from a form (and `seconds`, its duration,
/// and `metadata`); any other field becomes a metadata entry. `images`,
/// which may repeat, is read and not used: MiniMax's channel ignores it.
const FORM_FIELDS: [&str; 9] = [
    "prompt",
    "model",
    "mode",
    "image",
    "size",
    "seconds",
    "duration",
    "input_reference",
    "metadata",
];

/// A `multipart/form-data` body, as new-api reads one: the first value of
/// each field; `seconds` is the duration; a field it does not name becomes
/// a metadata entry (a number when it reads as one); `input_reference`,
/// a file, is read and not used. A `metadata` field holding a JSON object
/// is merged as the JSON body's is.
async fn from_form(app: &App, body: Bytes, boundary: &str) -> Result<Asked, Invalid> {
    let parts = multipart::parts(body, boundary)
        .await
        .map_err(|e| Invalid("invalid_multipart_form", format!("multipart body: {e}")))?;
    let mut doc = Map::new();
    let mut metadata = Map::new();
    for part in &parts {
        if part.file_name.is_some() || part.name == "images" || doc.contains_key(&part.name) {
            continue;
        }
        let Some(text) = part.text() else {
            return Err(invalid(format!("{}: the field is not UTF-8 text", part.name)));
        };
        if FORM_FIELDS.contains(&part.name.as_str()) {
            doc.insert(part.name.clone(), Value::String(text.to_owned()));
        } else if !metadata.contains_key(&part.name) {
            let value = match (text.parse::<i64>(), text.parse::<f64>()) {
                (Ok(i), _) => Value::from(i),
                (_, Ok(f)) if f.is_finite() => Value::from(f),
                _ => Value::String(text.to_owned()),
            };
            metadata.insert(part.name.clone(), value);
        }
    }
    let doc = Value::Object(doc);
    checked(app, &doc)?;
    if let Some(own) = doc.get("metadata") {
        metadata.extend(metadata_of(own)?);
    }
    let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(Asked {
        prompt: text("prompt").unwrap_or_default(),
        model: text("model").filter(|m| !m.is_empty()),
        seconds: doc.get("seconds").or_else(|| doc.get("duration")).and_then(whole),
        size: text("size"),
        metadata,
    })
}

/// new-api's resolution for a `size` (`WxH`): by substring, else the
/// model's default.
pub fn resolution_for_size(size: &str, model: &str) -> &'static str {
    ["1080", "768", "720", "512"]
        .iter()
        .find(|pixels| size.contains(*pixels))
        .map_or_else(
            || Resolution::default_for_model(model),
            |pixels| match *pixels {
                "1080" => "1080P",
                "768" => "768P",
                "720" => "720P",
                _ => "512P",
            },
        )
}

/// The MiniMax body new-api sends upstream for `asked`: model, prompt,
/// duration (6 unless asked) and resolution, then the metadata's members
/// of MiniMax's body over them.
fn minimax_body(asked: &Asked) -> Value {
    let model = asked.model.as_deref().unwrap_or(wire::DEFAULT_MODEL);
    let resolution = match asked.size.as_deref().filter(|s| !s.is_empty()) {
        Some(size) => resolution_for_size(size, model),
        None => Resolution::default_for_model(model),
    };
    let mut body = Map::new();
    body.insert("model".into(), model.into());
    body.insert("prompt".into(), asked.prompt.clone().into());
    body.insert("duration".into(), asked.seconds.filter(|s| *s > 0).unwrap_or(6).into());
    body.insert("resolution".into(), resolution.into());
    for (key, value) in &asked.metadata {
        if MINIMAX_FIELDS.contains(&key.as_str()) {
            body.insert(key.clone(), value.clone());
        }
    }
    Value::Object(body)
}

/// `POST /v1/videos` and `POST /v1/video/generations`: the video object,
/// `queued` at 0 %.
pub async fn submit(app: &App, parts: &Parts, body: Incoming) -> Outcome {
    // The body first, whatever the answer: one sent while the client still
    // sends would close the connection.
    let body = match submit::body_or_error(app, &parts.headers, body, Surface::OpenAi).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    let preferred = submit::preferred(app, &parts.headers).map_err(invalid);
    let asked = match multipart::boundary(&parts.headers) {
        Some(Ok(boundary)) => from_form(app, body.clone(), &boundary).await,
        Some(Err(e)) => Err(Invalid("invalid_multipart_form", format!("multipart body: {e}"))),
        None => from_json(app, &body),
    };
    let outcome = match preferred.and_then(|preferred| Ok((preferred, asked?))) {
        Ok((preferred, asked)) => create(app, preferred, &asked).await,
        Err(Invalid(code, message)) => refused(StatusCode::BAD_REQUEST, code, &message),
    };
    Outcome {
        request_body: body,
        ..outcome
    }
}

/// Checks the MiniMax body as MiniMax would (the v1 model table, the
/// callback's challenge) and creates the task; a refusal is MiniMax's 2013,
/// as new-api relays it.
async fn create(app: &App, preferred: Option<Arc<Scenario>>, asked: &Asked) -> Outcome {
    let upstream = serde_json::to_vec(&minimax_body(asked)).expect("a Value serializes");
    let created = match submit::parse_v1(app, &upstream, Surface::OpenAi) {
        Ok(mut submission) => {
            submission.request.model = Model::named(&submission.model);
            submit::create(app, preferred, submission).await
        }
        Err(refusal) => Err(refusal),
    };
    match created {
        Ok(task) => Outcome {
            task_id: Some(task.id.to_string()),
            ..json(
                StatusCode::OK,
                wire::submitted(&task.id, model_of(&task), task.submitted_at / 1000),
            )
            .into()
        },
        Err(refusal) if refusal.is_unavailable() => crate::server::api::poll::unavailable(app, Surface::OpenAi),
        Err(Refusal(message)) => refused(
            StatusCode::BAD_REQUEST,
            "2013",
            &format!("hailuo api error: invalid params, {message}"),
        ),
    }
}

/// The model a task of this API shows.
fn model_of(task: &Task) -> &'static str {
    task.request.model.map_or(wire::DEFAULT_MODEL, Model::name)
}

/// `GET /v1/videos/{id}` (the video object) and `GET
/// /v1/video/generations/{task_id}` (the gateway's envelope): a poll.
pub async fn query(app: &App, path: &str, endpoint: Endpoint) -> Outcome {
    let task_id = id_in(path);
    if task_id.is_empty() {
        return json(StatusCode::BAD_REQUEST, Bytes::from_static(TASK_NOT_EXIST)).into();
    }
    let polled = match endpoint {
        Endpoint::Generation => poll(app, &task_id, Surface::OpenAi, Shape::Envelope, render::query_response).await,
        _ => {
            poll_task(app, &task_id, Surface::OpenAi, Shape::OpenAiVideo, |task, view| {
                wire::video(view, model_of(task))
            })
            .await
        }
    };
    let outcome = match polled {
        Some(polled) => deliver(app, &task_id, Surface::OpenAi, polled).await,
        None => json(StatusCode::BAD_REQUEST, Bytes::from_static(TASK_NOT_EXIST)).into(),
    };
    Outcome {
        task_id: Some(task_id.into_owned()),
        ..outcome
    }
}

/// `GET /v1/videos/{id}/content`: the clip of the task's frame size, whole
/// or by `Range`, once it succeeded; 400 before (with the gateway's status),
/// 404 for an unknown id, and, as new-api relays the bucket's refusal, 502
/// once the link the task shows has expired on the mock's clock. Not a poll.
pub async fn content(app: &App, parts: &Parts, path: &str) -> Outcome {
    let task_id = id_in(path);
    let error = |status, body: Vec<u8>| -> Outcome { json(status, body).into() };
    let outcome = if task_id.is_empty() {
        error(
            StatusCode::BAD_REQUEST,
            wire::openai_error("task_id is required", "invalid_request_error", None),
        )
    } else {
        match app.store.get(&task_id, Surface::OpenAi).await {
            // The download answers in OpenAI's error shape, as its other errors.
            Err(_) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                wire::openai_error("the shared store is unavailable", "server_error", None),
            ),
            Ok(None) => error(StatusCode::NOT_FOUND, wire::content_not_found()),
            Ok(Some(task)) => {
                let now = app.store.clock().now();
                let view = task.view(now, task.polls().saturating_sub(1), &app.base_url);
                let artifact = view.artifact;
                let expires = view
                    .finish_time()
                    .saturating_add(artifact.created_delay)
                    .saturating_add(LINK_LIFETIME_SECS);
                if view.moment.phase() != Phase::Success {
                    error(StatusCode::BAD_REQUEST, wire::not_completed(view.moment.step.status))
                } else if now / 1000 > expires {
                    error(
                        StatusCode::BAD_GATEWAY,
                        wire::openai_error("Upstream service returned status 403", "server_error", None),
                    )
                } else {
                    let resolution = artifact.resolution;
                    let mut reply = media::download::clip(app, resolution.width, resolution.height, &parts.headers);
                    reply
                        .headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
                    reply.into()
                }
            }
        }
    };
    Outcome {
        task_id: (!task_id.is_empty()).then(|| task_id.into_owned()),
        ..outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_routes() {
        use Endpoint::*;
        let cases = [
            ("/v1/videos", Some(Videos)),
            ("/v1/videos/task_1", Some(Video)),
            ("/v1/videos/", Some(Video)),
            ("/v1/videos/task_1/content", Some(Content)),
            ("/v1/videos/task_1/remix", None),
            ("/v1/videos/a/b/content", None),
            ("/v1/video/generations", Some(Generations)),
            ("/v1/video/generations/task_1", Some(Generation)),
            ("/v1/video/generations/task_1/x", None),
            ("/v1/videosx", None),
            ("/v1/video_generation", None),
        ];
        for (path, endpoint) in cases {
            assert_eq!(Endpoint::of(path), endpoint, "{path}");
        }
        assert_eq!(id_in("/v1/videos/task_a%2Fb/content"), "task_a/b");
        assert_eq!(id_in("/v1/video/generations/task_9"), "task_9");
        assert_eq!(id_in("/v1/videos/task_9"), "task_9");
    }

    #[test]
    fn sizes_map_to_resolutions_by_substring() {
        let cases = [
            ("1920x1080", "MiniMax-Hailuo-02", "1080P"),
            ("1366x768", "MiniMax-Hailuo-02", "768P"),
            ("1280x720", "MiniMax-Hailuo-02", "720P"),
            ("912x512", "MiniMax-Hailuo-02", "512P"),
            ("720x1280", "T2V-01", "720P"),
            ("1024x1792", "MiniMax-Hailuo-02", "768P"),
            ("1024x1792", "T2V-01", "720P"),
            ("big", "I2V-01", "720P"),
        ];
        for (size, model, resolution) in cases {
            assert_eq!(resolution_for_size(size, model), resolution, "{size} {model}");
        }
    }

    #[test]
    fn metadata_is_merged_into_minimaxs_body() {
        let asked = Asked {
            prompt: "A cat".into(),
            model: None,
            seconds: Some(10),
            size: Some("1366x768".into()),
            metadata: serde_json::from_str(r#"{"prompt_optimizer": false, "callback_url": "http://x", "foo": 1}"#)
                .unwrap(),
        };
        assert_eq!(
            minimax_body(&asked),
            serde_json::json!({
                "model": "MiniMax-Hailuo-02", "prompt": "A cat", "duration": 10, "resolution": "768P",
                "prompt_optimizer": false, "callback_url": "http://x"
            })
        );
        let plain = Asked {
            prompt: "x".into(),
            model: Some("T2V-01".into()),
            ..Asked::default()
        };
        assert_eq!(minimax_body(&plain)["duration"], 6);
        assert_eq!(minimax_body(&plain)["resolution"], "720P");
        assert!(metadata_of(&Value::from(r#"{"a": 1}"#)).is_ok());
        assert!(metadata_of(&Value::from("[1]")).is_err());
        assert!(metadata_of(&Value::from(3)).is_err());
    }

    #[test]
    fn every_model_of_the_submit_schema_is_kept() {
        let contract = crate::contract::Contract::embedded();
        let schema = contract.submit_request().source();
        for model in schema["properties"]["model"]["enum"].as_array().unwrap() {
            let name = model.as_str().unwrap();
            assert_eq!(Model::named(name).map(Model::name), Some(name));
        }
    }
}
