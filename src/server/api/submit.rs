//! Creating a task, whichever API asks: reading and checking the body,
//! choosing the scenario, verifying a callback URL, and the v1 submit both
//! the gateway and MiniMax's native API answer (they differ only in the
//! HTTP status of a refusal), with MiniMax's model table of each mode (the
//! rules are the submit schema's; here the mode's defaults and the refusal's
//! words).

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::http::request::Parts;
use hyper::StatusCode;
use serde_json::Value;

use crate::contract::Schema;
use crate::lifecycle::artifact::Resolution;
use crate::lifecycle::scenarios::Subject;
use crate::lifecycle::{BaseResp, Scenario};
use crate::server::api::render;
use crate::server::app::App;
use crate::server::callbacks::notifier;
use crate::server::http::{json, read_body, BodyError, Outcome};
use crate::server::store::tasks::{Request, Surface, Task};

/// MiniMax's status code for invalid parameters.
pub const INVALID_PARAMS: i64 = 2013;

/// What a checked submit body asks for.
#[derive(Debug)]
pub struct Submission {
    pub request: Request,
    pub model: String,
    pub prompt: Option<String>,
    pub callback: Option<String>,
}

/// Why a submit was refused: the message after `invalid params, `, naming the field.
#[derive(Debug)]
pub struct Refusal(pub String);

/// What [`create`]'s refusal says when the shared store (`--store`) cannot
/// be reached: not the client's mistake, so the surfaces answer it 503.
pub const UNAVAILABLE: &str = "the shared store is unavailable";

impl Refusal {
    pub fn is_unavailable(&self) -> bool {
        self.0 == UNAVAILABLE
    }
}

/// The body as JSON; the refusal says where it stops being JSON (as
/// [`checked_json`]'s does).
fn json_body(body: &[u8]) -> Result<Value, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        Refusal(format!(
            "body is not JSON: {} at line {} column {}",
            crate::contract::strip_position(&e.to_string()),
            e.line(),
            e.column()
        ))
    })
}

/// The body as JSON, checked against `schema`; the refusal names the first
/// field that is wrong (and the model, where the model table decided).
pub fn checked_json(schema: &Schema, body: &[u8]) -> Result<Value, Refusal> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| {
        Refusal(format!(
            "body is not JSON: {} at line {} column {}",
            crate::contract::strip_position(&e.to_string()),
            e.line(),
            e.column()
        ))
    })?;
    if let Some(v) = schema.violations(&doc).into_iter().next() {
        let field = v.pointer.trim_start_matches('/').replace('/', ".");
        let field = if field.is_empty() { "body".to_owned() } else { field };
        let model = doc.get("model").and_then(|m| m.as_str());
        let context = match (v.keyword.as_str(), model) {
            ("const" | "enum", Some(model)) if field != "model" => format!(" (for model {model})"),
            _ => String::new(),
        };
        return Err(Refusal(format!("{field}: {}{context}", v.message)));
    }
    Ok(doc)
}

/// Which of MiniMax's v1 modes a body asks for, told by the images it has
/// (MiniMax documents one page, and one model table, per mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No image.
    TextToVideo,
    /// `first_frame_image` alone.
    ImageToVideo,
    /// `last_frame_image`, with or without a first frame.
    FirstLastFrame,
    /// `subject_reference`.
    SubjectReference,
}

impl Mode {
    pub fn of(doc: &Value) -> Self {
        let has = |key| doc.get(key).is_some();
        if has("subject_reference") {
            Mode::SubjectReference
        } else if has("last_frame_image") {
            Mode::FirstLastFrame
        } else if has("first_frame_image") {
            Mode::ImageToVideo
        } else {
            Mode::TextToVideo
        }
    }
}

/// A v1 body (the gateway's and MiniMax's native submit): the schema with
/// its model table per mode. The defaults are MiniMax's: 768P for the Hailuo
/// models, 720P for the others, 6 s; S2V-01 makes 720P, 6 s whatever the body
/// says (its schema has neither field, so they are ignored).
pub fn parse_v1(app: &App, body: &[u8], surface: Surface) -> Result<Submission, Refusal> {
    let doc = json_body(body)?;
    if let Some(refusal) = v1_refusal(app.contract.submit_request(), &doc) {
        return Err(refusal);
    }
    let model = doc["model"].as_str().unwrap_or_default().to_owned();
    let (label, duration_s) = match Mode::of(&doc) {
        Mode::SubjectReference => ("720P", 6),
        _ => (
            doc.get("resolution")
                .and_then(|r| r.as_str())
                .unwrap_or_else(|| Resolution::default_for_model(&model)),
            doc.get("duration").and_then(|d| d.as_u64()).unwrap_or(6) as u32,
        ),
    };
    // The built-in schema allows only these; a `--schemas` one may not.
    let resolution = Resolution::from_label(label)
        .ok_or_else(|| Refusal(format!("resolution: {label:?} is not one of 512P, 720P, 768P, 1080P")))?;
    let request = Request {
        resolution,
        duration_s,
        surface,
        ratio: None,
        v2: Default::default(),
        model: None,
    };
    Ok(Submission {
        request,
        prompt: doc.get("prompt").and_then(|p| p.as_str()).map(str::to_owned),
        callback: callback_url(&doc),
        model,
    })
}

/// The first thing wrong with a v1 body, naming the field and, where a rule
/// of the model table decided, the rule (its `description` in the schema).
fn v1_refusal(schema: &Schema, doc: &Value) -> Option<Refusal> {
    use jsonschema::error::ValidationErrorKind;
    let error = schema.validator().iter_errors(doc).next()?;
    let mut field = error.instance_path().as_str().trim_start_matches('/').replace('/', ".");
    if let ValidationErrorKind::Required { property } = error.kind() {
        if let Some(name) = property.as_str() {
            if !field.is_empty() {
                field.push('.');
            }
            field.push_str(name);
        }
    }
    let field = if field.is_empty() { "body".to_owned() } else { field };
    let message = match error.kind() {
        ValidationErrorKind::FalseSchema => "not taken".to_owned(),
        // Not the whole prompt back.
        ValidationErrorKind::MaxLength { limit } => {
            let length = error.instance().as_str().map_or(0, |s| s.chars().count());
            format!("{length} characters, longer than {limit}")
        }
        _ => error.to_string(),
    };
    let schema_path = error.schema_path().as_str();
    let rule = schema_path
        .strip_prefix("/allOf/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|n| schema.source().pointer(&format!("/allOf/{n}/description")))
        .and_then(Value::as_str);
    let context = match (rule, doc.get("model").and_then(|m| m.as_str())) {
        (Some(rule), _) => format!(" ({rule})"),
        (None, Some(model)) if field != "model" && matches!(error.kind().keyword(), "const" | "enum") => {
            format!(" (for model {model})")
        }
        _ => String::new(),
    };
    Some(Refusal(format!("{field}: {message}{context}")))
}

/// `callback_url`, when the body has a non-empty one.
pub fn callback_url(doc: &Value) -> Option<String> {
    doc.get("callback_url")
        .and_then(|u| u.as_str())
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}

/// The scenario the `Prefer: scenario=NAME` header asks for; the error says
/// which names exist.
pub fn preferred(app: &App, headers: &HeaderMap) -> Result<Option<Arc<Scenario>>, String> {
    let Some(name) = prefer_header(headers) else {
        return Ok(None);
    };
    app.catalog.get(name).cloned().map(Some).ok_or_else(|| {
        let known = app.catalog.names().collect::<Vec<_>>().join(", ");
        format!("unknown scenario {name:?} in the Prefer header; known: {known}")
    })
}

/// `scenario=NAME` from `Prefer` headers (RFC 7240: comma-separated preferences).
fn prefer_header(headers: &HeaderMap) -> Option<&str> {
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

/// Verifies the callback URL (if any), then creates the task. The scenario
/// is, in order: the `Prefer` header's, the control API's for the next
/// submits, the first rule matching the id, model and prompt, the default.
pub async fn create(app: &App, preferred: Option<Arc<Scenario>>, submission: Submission) -> Result<Arc<Task>, Refusal> {
    if let Some(url) = &submission.callback {
        notifier::verify(app, url).await.map_err(Refusal)?;
    }
    let Submission {
        request,
        model,
        prompt,
        callback,
    } = submission;
    let next = match preferred {
        Some(preferred) => Some(preferred),
        None => app
            .store
            .take_next()
            .await
            .map_err(|_| Refusal(UNAVAILABLE.to_owned()))?,
    };
    let task = app
        .store
        .submit(
            |id| {
                next.or_else(|| {
                    let subject = Subject {
                        task_id: id,
                        model: Some(&model),
                        prompt: prompt.as_deref(),
                    };
                    app.catalog.rule_matching(&subject).cloned()
                })
                .unwrap_or_else(|| app.catalog.default_scenario().clone())
            },
            request,
            callback.as_deref(),
        )
        .await
        .map_err(|_| Refusal(UNAVAILABLE.to_owned()))?;
    app.note_task(&task);
    app.note_forgotten();
    if task.callback.is_some() {
        notifier::watch(app, &task, false);
    }
    Ok(task)
}

/// `POST /minimax/v1/video_generation` and MiniMax's `POST /v1/video_generation`:
/// `{task_id, base_resp}`. A refusal is 2013 naming the field, with HTTP 400
/// from the gateway and HTTP 200 from MiniMax (its clients read `base_resp`).
pub async fn v1(app: &App, parts: &Parts, body: Incoming, surface: Surface) -> Outcome {
    let refused_status = match surface {
        Surface::Gateway => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let answer = |status, task_id: &str, base_resp: &BaseResp, body: &Bytes| Outcome {
        request_body: body.clone(),
        task_id: (!task_id.is_empty()).then(|| task_id.to_owned()),
        ..json(status, render::submit_response(task_id, base_resp)).into()
    };
    let refuse = |message: String, body: &Bytes| {
        let base_resp = BaseResp {
            status_code: INVALID_PARAMS,
            status_msg: format!("invalid params, {message}"),
        };
        answer(refused_status, "", &base_resp, body)
    };
    // The body first, whatever the answer: one sent while the client still
    // sends would close the connection.
    let body = match body_or_error(app, &parts.headers, body, surface).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    let preferred = match preferred(app, &parts.headers) {
        Ok(p) => p,
        Err(message) => {
            return match surface {
                Surface::Gateway => json(StatusCode::BAD_REQUEST, render::error("invalid_request", &message)).into(),
                _ => refuse(message, &body),
            }
        }
    };
    if let Some(recorded) = app.replay_submits.take(surface) {
        return replayed(recorded, body);
    }
    let created = match parse_v1(app, &body, surface) {
        Ok(submission) => create(app, preferred, submission).await,
        Err(refusal) => Err(refusal),
    };
    match created {
        Ok(task) => answer(StatusCode::OK, &task.id, &BaseResp::success(), &body),
        Err(refusal) if refusal.is_unavailable() => Outcome {
            request_body: body,
            ..crate::server::api::poll::unavailable(app, surface)
        },
        Err(Refusal(message)) => refuse(message, &body),
    }
}

/// A recorded submit answer (`--replay`), byte for byte, naming the task it created.
pub fn replayed(recorded: crate::server::store::tasks::Recorded, request_body: Bytes) -> Outcome {
    let task_id = serde_json::from_slice::<Value>(&recorded.body)
        .ok()
        .and_then(|doc| doc.get("task_id").and_then(Value::as_str).map(str::to_owned))
        .filter(|id| !id.is_empty());
    Outcome {
        request_body,
        task_id,
        ..crate::server::http::reply(recorded.status, recorded.content_type, recorded.body).into()
    }
}

/// The body, or the surface's answer to one that cannot be read (413, 400).
pub async fn body_or_error(app: &App, headers: &HeaderMap, body: Incoming, surface: Surface) -> Result<Bytes, Outcome> {
    read_body(app.max_body, headers, body).await.map_err(|e| {
        let (status, code, message) = match e {
            BodyError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                format!("request body is larger than the limit of {} bytes", app.max_body),
            ),
            BodyError::Read(e) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("cannot read the request body: {e}"),
            ),
        };
        let body = match surface {
            Surface::Gateway => render::error(code, &message),
            Surface::Native => render::native::error(INVALID_PARAMS, &message),
            Surface::V2 => render::v2::error(status.as_u16(), &message, &app.store.request_id()),
            Surface::OpenAi => render::openai::error(code, &message),
        };
        json(status, body).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn prefer_header_names_the_scenario() {
        let mut h = HeaderMap::new();
        h.insert("prefer", HeaderValue::from_static("respond-async, scenario=fail"));
        assert_eq!(prefer_header(&h), Some("fail"));
        h.insert("prefer", HeaderValue::from_static("wait=5"));
        assert_eq!(prefer_header(&h), None);
    }
}
