//! MiniMax's v2 wire bytes (`/v2/...`, MiniMax-H3 and MiniMax-H3-Max): the
//! submit answer, the task object of the query (also the items of the list
//! and the payload of v2 callbacks), the delete answer and the error
//! envelope, as MiniMax's API reference shows them.
//!
//! Where the reference is unclear the choices are in docs/apis.md ("Where
//! the reference is unclear"): times are Unix seconds, `updated_at` is when
//! the current step began (or the task was cancelled), `usage` is `{}`
//! until the task has succeeded, `error.code` is a string.

use super::{download_url, number, string, TaskView};
use crate::lifecycle::artifact::{TaskType, V2Usage};
use crate::lifecycle::Phase;

/// `{"task_id":"..."}`.
pub fn submit_response(task_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(40);
    out.extend_from_slice(br#"{"task_id":"#);
    string(&mut out, task_id);
    out.push(b'}');
    out
}

/// v2's status word for a phase.
pub fn status(phase: Phase) -> &'static str {
    match phase {
        Phase::Pending => "queued",
        Phase::Processing => "running",
        Phase::Success => "succeeded",
        Phase::Fail => "failed",
    }
}

/// The status `view` shows: its phase's, or `cancelled` once a `DELETE`
/// cancelled it.
pub fn shown_status(view: &TaskView<'_>) -> &'static str {
    if view.v2.cancelled_at.is_some() {
        "cancelled"
    } else {
        status(view.moment.phase())
    }
}

/// The task object, members in the reference's order: `id`, `model`,
/// `status`, `error` (failed), `created_at`, `updated_at`, `content`
/// (succeeded), `resolution`, `duration`, `usage` (`{}` until succeeded),
/// `ratio` (`""` for a regeneration), `task_type`, `modality`.
fn task(out: &mut Vec<u8>, view: &TaskView<'_>) {
    let cancelled = view.v2.cancelled_at;
    let phase = if cancelled.is_some() {
        None
    } else {
        Some(view.moment.phase())
    };
    let step = view.moment.step;
    let request = &view.v2.request;
    out.extend_from_slice(br#"{"id":"#);
    string(out, view.task_id);
    out.extend_from_slice(br#","model":""#);
    out.extend_from_slice(request.model.as_str().as_bytes());
    out.extend_from_slice(br#"","status":""#);
    out.extend_from_slice(shown_status(view).as_bytes());
    out.push(b'"');
    if phase == Some(Phase::Fail) {
        let message = step.fail_reason.as_deref().unwrap_or(&step.base_resp.status_msg);
        out.extend_from_slice(br#","error":{"code":""#);
        out.extend_from_slice(itoa::Buffer::new().format(step.base_resp.status_code).as_bytes());
        out.extend_from_slice(br#"","message":"#);
        string(out, message);
        out.push(b'}');
    }
    out.extend_from_slice(br#","created_at":"#);
    number(out, view.submit_time());
    out.extend_from_slice(br#","updated_at":"#);
    number(out, cancelled.map_or_else(|| view.step_time(), |at| at / 1000));
    if phase == Some(Phase::Success) {
        out.extend_from_slice(br#","content":{"url":"#);
        string(out, &download_url(view, false));
        out.push(b'}');
    }
    out.extend_from_slice(br#","resolution":"#);
    string(out, view.artifact.resolution.label);
    out.extend_from_slice(br#","duration":"#);
    number(out, u64::from(view.duration_s));
    out.extend_from_slice(br#","usage":{"#);
    if phase == Some(Phase::Success) {
        usage(out, &V2Usage::of(request, view.artifact.resolution, view.duration_s));
    }
    out.extend_from_slice(br#"},"ratio":"#);
    match request.task_type {
        TaskType::Regeneration => string(out, ""),
        TaskType::Generation => string(out, view.ratio.unwrap_or("16:9")),
    }
    out.extend_from_slice(br#","task_type":""#);
    out.extend_from_slice(request.task_type.as_str().as_bytes());
    out.extend_from_slice(br#"","modality":"video"}"#);
}

/// The members of a finished task's `usage` (inside its braces).
fn usage(out: &mut Vec<u8>, usage: &V2Usage) {
    let mut member = |name: &[u8], value: u64, first: bool| {
        if !first {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name);
        out.extend_from_slice(b"\":");
        number(out, value);
    };
    member(b"total_seconds", u64::from(usage.total_seconds), true);
    member(b"input_seconds", u64::from(usage.input_seconds), false);
    member(b"output_seconds", u64::from(usage.output_seconds), false);
    member(b"input_image_count", u64::from(usage.input_image_count), false);
    if let Some(seconds) = usage.input_audio_seconds {
        member(b"input_audio_seconds", u64::from(seconds), false);
    }
    member(b"total_tokens", usage.total_tokens, false);
    member(b"prompt_tokens", usage.prompt_tokens, false);
    member(b"completion_tokens", usage.completion_tokens, false);
}

/// `GET /v2/query/video_generation/{id}` (and a v2 callback's body):
/// `{"task":{...}}`.
pub fn query_response(view: &TaskView<'_>) -> Vec<u8> {
    let mut out = super::buffer(640);
    out.extend_from_slice(br#"{"task":"#);
    task(&mut out, view);
    out.push(b'}');
    out
}

/// `GET /v2/query/video_generation`: `{"items":[task...],"total":N}`.
pub fn list_response<'a>(items: impl IntoIterator<Item = TaskView<'a>>, total: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(br#"{"items":["#);
    for (i, view) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        task(&mut out, &view);
    }
    out.extend_from_slice(br#"],"total":"#);
    number(&mut out, total as u64);
    out.push(b'}');
    out
}

/// What a `DELETE /v2/video_generation/{id}` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// A queued task, now `cancelled`.
    Cancelled,
    /// A succeeded or failed task, whose record is gone.
    Deleted,
}

impl Removal {
    pub fn as_str(self) -> &'static str {
        match self {
            Removal::Cancelled => "cancelled",
            Removal::Deleted => "deleted",
        }
    }
}

/// `{"task_id":"...","action":"cancelled","status":"cancelled"}` (or `deleted`).
pub fn delete_response(task_id: &str, removal: Removal) -> Vec<u8> {
    let mut out = Vec::with_capacity(80);
    out.extend_from_slice(br#"{"task_id":"#);
    string(&mut out, task_id);
    out.extend_from_slice(br#","action":""#);
    out.extend_from_slice(removal.as_str().as_bytes());
    out.extend_from_slice(br#"","status":""#);
    out.extend_from_slice(removal.as_str().as_bytes());
    out.extend_from_slice(b"\"}");
    out
}

/// `error.type` and MiniMax's internal code for an HTTP status, as the
/// reference pairs them (400 2013, 401 1004, 402 1008, 422 1026, 429 1002,
/// 500 1000, 529 `overloaded_error`); a 403 is an authorization failure,
/// other 4xx are bad requests, other 5xx server errors.
pub fn kind(http_status: u16) -> (&'static str, i64) {
    match http_status {
        401 | 403 => ("authorized_error", 1004),
        402 => ("insufficient_balance_error", 1008),
        422 => ("unprocessable_entity_error", 1026),
        429 => ("rate_limit_error", 1002),
        529 => ("overloaded_error", 1000),
        400..=499 => ("bad_request_error", 2013),
        _ => ("server_error", 1000),
    }
}

/// The reference's message for an HTTP status, without its code.
fn message_for(http_status: u16) -> &'static str {
    match http_status {
        401 | 403 => "login fail: Please carry the API secret key in the 'Authorization' field of the request header",
        402 => "insufficient balance",
        422 => "video description contains sensitive content",
        429 => "rate limit, please retry later",
        529 => "the service is overloaded, please retry later",
        400..=499 => "invalid params",
        _ => "internal error",
    }
}

/// v2's error envelope: `{"type":"error","error":{"type","message","http_code"},"request_id"}`,
/// `message` ending with the internal code in parentheses, `http_code` the
/// status as a string.
pub fn error(http_status: u16, message: &str, request_id: &str) -> Vec<u8> {
    let (kind, code) = kind(http_status);
    let mut out = Vec::with_capacity(160 + message.len());
    out.extend_from_slice(br#"{"type":"error","error":{"type":""#);
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(br#"","message":"#);
    string(&mut out, &format!("{message} ({code})"));
    out.extend_from_slice(br#","http_code":""#);
    number(&mut out, u64::from(http_status));
    out.extend_from_slice(br#""},"request_id":"#);
    string(&mut out, request_id);
    out.push(b'}');
    out
}

/// v2's error envelope for an HTTP status a scripted fault (or
/// `--require-auth`) answers with, in the reference's words.
pub fn status_error(http_status: u16, request_id: &str) -> Vec<u8> {
    error(http_status, message_for(http_status), request_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Contract;
    use crate::lifecycle::artifact::{Artifact, Resolution, V2Model, V2Request};
    use crate::lifecycle::scenarios::Catalog;
    use crate::server::api::render::V2View;
    use std::time::Duration;

    #[test]
    fn every_step_of_every_builtin_validates_in_v2() {
        let contract = Contract::embedded();
        let catalog = Catalog::builtin();
        let artifact = Artifact::generate(0, "42", Resolution::for_v2("2K", "21:9").unwrap(), 10);
        let kinds = [
            V2View::default(),
            V2View {
                request: V2Request {
                    model: V2Model::H3Max,
                    images: 2,
                    ..V2Request::default()
                },
                cancelled_at: None,
            },
            V2View {
                request: V2Request {
                    task_type: TaskType::Regeneration,
                    ..V2Request::default()
                },
                cancelled_at: None,
            },
            V2View {
                request: V2Request {
                    audios: 1,
                    videos: 3,
                    ..V2Request::default()
                },
                cancelled_at: Some(1_756_453_475_000),
            },
        ];
        for v2 in kinds {
            let mut seen = Vec::new();
            for scenario in catalog.scenarios() {
                for polls in 0..8 {
                    for ms in (0..200_000).step_by(2_500) {
                        let view = TaskView {
                            task_id: "42",
                            submitted_at: 1_756_453_472_000,
                            moment: scenario.at(Duration::from_millis(ms), polls),
                            artifact: &artifact,
                            base_url: "http://127.0.0.1:8080",
                            duration_s: 10,
                            ratio: Some("21:9"),
                            v2,
                        };
                        let v: serde_json::Value = serde_json::from_slice(&query_response(&view)).unwrap();
                        let violations = contract.v2_query_response().violations(&v);
                        assert!(violations.is_empty(), "{v}: {violations:?}");
                        if ms % 25_000 == 0 {
                            seen.push(view);
                        }
                    }
                }
            }
            let list: serde_json::Value = serde_json::from_slice(&list_response(seen, 99)).unwrap();
            let violations = contract.v2_list_response().violations(&list);
            assert!(violations.is_empty(), "{violations:?}");
        }
    }

    #[test]
    fn submit_delete_and_errors_have_their_shapes() {
        let contract = Contract::embedded();
        let v: serde_json::Value = serde_json::from_slice(&submit_response("7")).unwrap();
        assert!(contract.v2_submit_response().is_valid(&v));
        for removal in [Removal::Cancelled, Removal::Deleted] {
            let v: serde_json::Value = serde_json::from_slice(&delete_response("7", removal)).unwrap();
            assert!(contract.v2_delete_response().is_valid(&v), "{v}");
        }
        for code in [400, 401, 402, 403, 404, 413, 422, 429, 500, 502, 503, 529] {
            let v: serde_json::Value = serde_json::from_slice(&status_error(code, "0123")).unwrap();
            assert!(contract.v2_error().is_valid(&v), "{code}: {v}");
            assert_eq!(v["error"]["http_code"], code.to_string());
        }
        assert_eq!(
            String::from_utf8(status_error(429, "abc")).unwrap(),
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"rate limit, please retry later (1002)","http_code":"429"},"request_id":"abc"}"#
        );
        assert_eq!(
            String::from_utf8(error(400, "invalid params, a \"b\"", "x")).unwrap(),
            r#"{"type":"error","error":{"type":"bad_request_error","message":"invalid params, a \"b\" (2013)","http_code":"400"},"request_id":"x"}"#
        );
        assert_eq!(kind(500), ("server_error", 1000));
        assert_eq!(kind(529), ("overloaded_error", 1000));
        assert_eq!(kind(402), ("insufficient_balance_error", 1008));
        assert_eq!(kind(422), ("unprocessable_entity_error", 1026));
        assert_eq!(kind(401), ("authorized_error", 1004));
    }
}
