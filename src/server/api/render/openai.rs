//! new-api's OpenAI-compatible video API (`/v1/videos`, `/v1/video/...`):
//! the video object, the errors of its routes, and the gateway envelope its
//! `/v1/video/generations/{task_id}` answers with (the gateway's, reused).
//!
//! Member order is new-api's Go struct (`dto.OpenAIVideo`): `id`,
//! `task_id`, `object`, `model`, `status`, `progress`, `created_at`,
//! `completed_at`, `error`, `metadata`; compact JSON, as Go writes it.

use super::{download_url, number, string, to_vec, TaskView};
use crate::lifecycle::{GatewayStatus, Phase};

/// The model a submit that names none gets.
pub const DEFAULT_MODEL: &str = "MiniMax-Hailuo-02";

/// What `POST /v1/videos` (and `POST /v1/video/generations`) answers: the
/// task just created, `queued` at 0 %, with the id twice (`task_id` is
/// new-api's older name for it).
pub fn submitted(task_id: &str, model: &str, created_at: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(br#"{"id":"#);
    string(&mut out, task_id);
    out.extend_from_slice(br#","task_id":"#);
    string(&mut out, task_id);
    out.extend_from_slice(br#","object":"video","model":"#);
    string(&mut out, model);
    out.extend_from_slice(br#","status":"queued","progress":0,"created_at":"#);
    number(&mut out, created_at);
    out.push(b'}');
    out
}

/// `GET /v1/videos/{id}`: the video object at `view`'s moment. `status` is
/// the step's OpenAI word, `progress` the gateway's percent as an integer;
/// `completed_at` once the task ended; `error` (the code as a string) when
/// MiniMax reported a non-zero `base_resp`; `metadata.url` the download link
/// once completed, `""` before, as new-api always sets it.
pub fn video(view: &TaskView<'_>, model: &str) -> Vec<u8> {
    let step = view.moment.step;
    let phase = view.moment.phase();
    let mut out = super::buffer(if phase == Phase::Success { 640 } else { 256 });
    out.extend_from_slice(br#"{"id":"#);
    string(&mut out, view.task_id);
    out.extend_from_slice(br#","object":"video","model":"#);
    string(&mut out, model);
    out.extend_from_slice(br#","status":""#);
    out.extend_from_slice(step.openai.as_str().as_bytes());
    out.extend_from_slice(br#"","progress":"#);
    number(&mut out, u64::from(view.moment.progress));
    out.extend_from_slice(br#","created_at":"#);
    number(&mut out, view.submit_time());
    if phase.is_terminal() {
        out.extend_from_slice(br#","completed_at":"#);
        number(&mut out, view.finish_time());
    }
    if step.base_resp.status_code != 0 {
        out.extend_from_slice(br#","error":{"message":"#);
        string(&mut out, &step.base_resp.status_msg);
        out.extend_from_slice(br#","code":""#);
        out.extend_from_slice(itoa::Buffer::new().format(step.base_resp.status_code).as_bytes());
        out.extend_from_slice(br#""}"#);
    }
    out.extend_from_slice(br#","metadata":{"url":"#);
    if phase == Phase::Success {
        string(&mut out, &download_url(view, false));
    } else {
        out.extend_from_slice(br#""""#);
    }
    out.extend_from_slice(b"}}");
    out
}

/// new-api's task error, on every route of this API but the download:
/// `{"code":..,"message":..,"data":null}` (the gateway's envelope).
pub fn error(code: &str, message: &str) -> Vec<u8> {
    super::gateway::error(code, message)
}

/// The error body OpenAI's own API uses, which new-api answers with on
/// `GET /v1/videos/{id}/content` and for a missing token:
/// `{"error":{"message":..,"type":..}}`, with `code` where new-api gives one.
pub fn openai_error(message: &str, kind: &str, code: Option<&str>) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Inner<'a> {
        message: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<&'a str>,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        error: Inner<'a>,
    }
    to_vec(&Body {
        error: Inner { message, kind, code },
    })
}

/// The message of new-api's token check when no key is sent.
pub const NO_TOKEN: &str = "未提供令牌";

/// The error body for an HTTP status (a scripted fault, `--require-auth`):
/// 401 as new-api's token check answers it (OpenAI's shape, `new_api_error`),
/// anything else as its task errors (the gateway's envelope and codes).
pub fn status_error(code: u16) -> Vec<u8> {
    match code {
        401 => openai_error(NO_TOKEN, "new_api_error", Some("")),
        _ => super::gateway::status_error(code),
    }
}

/// `GET /v1/videos/{id}/content` before the task succeeded: HTTP 400 with
/// the gateway's status word.
pub fn not_completed(status: GatewayStatus) -> Vec<u8> {
    let message = format!("Task is not completed yet, current status: {}", status.as_str());
    openai_error(&message, "invalid_request_error", None)
}

/// `GET /v1/videos/{id}/content` for an id new-api does not know: HTTP 404.
pub fn content_not_found() -> Vec<u8> {
    openai_error("Task not found", "invalid_request_error", None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Contract, OPENAI_ERROR, OPENAI_VIDEO_RESPONSE};
    use crate::lifecycle::artifact::{Artifact, Resolution};
    use crate::lifecycle::scenarios::Catalog;
    use crate::lifecycle::OpenAiStatus;
    use std::time::Duration;

    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    /// Every step of every built-in scenario renders a video object the
    /// schema accepts, whose status is the step's OpenAI word.
    #[test]
    fn every_step_of_every_builtin_validates_as_a_video() {
        let contract = Contract::embedded();
        let schema = contract.schema(OPENAI_VIDEO_RESPONSE).unwrap();
        let artifact = Artifact::generate(0, "task_x", Resolution::from_label("1080P").unwrap(), 6);
        for scenario in Catalog::builtin().scenarios() {
            for polls in 0..8 {
                for ms in (0..200_000).step_by(2_500) {
                    let view = TaskView {
                        task_id: "task_x",
                        submitted_at: 1_756_453_472_000,
                        moment: scenario.at(Duration::from_millis(ms), polls),
                        artifact: &artifact,
                        base_url: "http://127.0.0.1:8080",
                        duration_s: 6,
                        ratio: None,
                        v2: Default::default(),
                    };
                    let v = json(&video(&view, DEFAULT_MODEL));
                    let violations = schema.violations(&v);
                    assert!(
                        violations.is_empty(),
                        "{} at {ms} ms, poll {polls}: {violations:?}",
                        scenario.name()
                    );
                    assert_eq!(v["status"], view.moment.step.openai.as_str());
                    assert_eq!(v["progress"], u64::from(view.moment.progress));
                    assert_eq!(v["completed_at"].is_u64(), view.moment.phase().is_terminal());
                }
            }
        }
    }

    #[test]
    fn a_failed_task_says_why_with_a_string_code() {
        let catalog = Catalog::builtin();
        let artifact = Artifact::generate(0, "t", Resolution::from_label("768P").unwrap(), 6);
        let view = TaskView {
            task_id: "t",
            submitted_at: 1_756_453_472_000,
            moment: catalog.get("fail").unwrap().at(Duration::from_secs(60), 0),
            artifact: &artifact,
            base_url: "http://h",
            duration_s: 6,
            ratio: None,
            v2: Default::default(),
        };
        let v = json(&video(&view, "T2V-01"));
        assert_eq!(v["status"], "failed");
        assert_eq!(v["error"]["code"], "1027");
        assert_eq!(v["metadata"]["url"], "");
        assert_eq!(v["model"], "T2V-01");
        let unknown = catalog.get("openai-unknown").unwrap().at(Duration::ZERO, 0);
        assert_eq!(unknown.step.openai, OpenAiStatus::Unknown);
    }

    #[test]
    fn submit_answer_and_errors_have_their_shapes() {
        let contract = Contract::embedded();
        let answer = json(&submitted("task_a", DEFAULT_MODEL, 7));
        assert!(
            contract.schema(OPENAI_VIDEO_RESPONSE).unwrap().is_valid(&answer),
            "{answer}"
        );
        assert_eq!(
            submitted("task_a", "m", 7),
            br#"{"id":"task_a","task_id":"task_a","object":"video","model":"m","status":"queued","progress":0,"created_at":7}"#
        );
        let openai = contract.schema(OPENAI_ERROR).unwrap();
        for body in [
            not_completed(GatewayStatus::Queued),
            content_not_found(),
            status_error(401),
        ] {
            assert!(openai.is_valid(&json(&body)), "{}", String::from_utf8_lossy(&body));
        }
        assert_eq!(
            not_completed(GatewayStatus::InProgress),
            br#"{"error":{"message":"Task is not completed yet, current status: IN_PROGRESS","type":"invalid_request_error"}}"#
        );
        for code in [429, 500, 502, 503, 418] {
            assert!(contract.error().is_valid(&json(&status_error(code))), "{code}");
        }
    }
}
