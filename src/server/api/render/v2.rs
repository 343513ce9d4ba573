//! MiniMax's v2 wire bytes (`/v2/...`, MiniMax-H3): the submit answer, the
//! task object of the query (also the payload of v2 callbacks) and errors.
//!
//! UPSTREAM.md leaves some of this open; the choices are written down in
//! `docs/v2.md` and every surface follows them: times are Unix seconds,
//! `updated_at` is when the current step began, errors are
//! `{"error":{"code","message"}}` with MiniMax's numeric codes.

use super::{download_url, number, string, to_vec, TaskView};
use crate::lifecycle::Phase;

/// The only v2 model.
pub const MODEL: &str = "MiniMax-H3";

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

/// `GET /v2/query/video_generation/{id}`: `{"task":{...}}`; `content` and
/// `usage` once succeeded, `error` once failed.
pub fn query_response(view: &TaskView<'_>) -> Vec<u8> {
    let phase = view.moment.phase();
    let step = view.moment.step;
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(br#"{"task":{"id":"#);
    string(&mut out, view.task_id);
    out.extend_from_slice(br#","model":""#);
    out.extend_from_slice(MODEL.as_bytes());
    out.extend_from_slice(br#"","status":""#);
    out.extend_from_slice(status(phase).as_bytes());
    out.extend_from_slice(br#"","created_at":"#);
    number(&mut out, view.submit_time());
    out.extend_from_slice(br#","updated_at":"#);
    number(&mut out, view.step_time());
    out.extend_from_slice(br#","resolution":"#);
    string(&mut out, view.artifact.resolution.label);
    out.extend_from_slice(br#","duration":"#);
    number(&mut out, u64::from(view.duration_s));
    out.extend_from_slice(br#","ratio":"#);
    string(&mut out, view.ratio.unwrap_or("16:9"));
    match phase {
        Phase::Success => {
            out.extend_from_slice(br#","content":{"url":"#);
            string(&mut out, &download_url(view, false));
            out.extend_from_slice(br#"},"usage":{"total_seconds":"#);
            number(&mut out, u64::from(view.duration_s));
            out.push(b'}');
        }
        Phase::Fail => {
            let message = step.fail_reason.as_deref().unwrap_or(&step.base_resp.status_msg);
            out.extend_from_slice(br#","error":{"code":"#);
            out.extend_from_slice(itoa::Buffer::new().format(step.base_resp.status_code).as_bytes());
            out.extend_from_slice(br#","message":"#);
            string(&mut out, message);
            out.push(b'}');
        }
        Phase::Pending | Phase::Processing => {}
    }
    out.extend_from_slice(b"}}");
    out
}

/// v2's error body.
pub fn error(code: i64, message: &str) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Error<'a> {
        code: i64,
        message: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        error: Error<'a>,
    }
    to_vec(&Body {
        error: Error { code, message },
    })
}

/// v2's error body for an HTTP status a scripted fault answers with.
pub fn status_error(http_status: u16) -> Vec<u8> {
    let (code, message) = super::native::code_for_status(http_status);
    error(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Contract;
    use crate::lifecycle::artifact::{Artifact, Resolution};
    use crate::lifecycle::scenarios::Catalog;
    use std::time::Duration;

    #[test]
    fn every_step_of_every_builtin_validates_in_v2() {
        let contract = Contract::embedded();
        let artifact = Artifact::generate(0, "42", Resolution::for_v2("2K", "21:9").unwrap(), 10);
        for scenario in Catalog::builtin().scenarios() {
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
                    };
                    let v: serde_json::Value = serde_json::from_slice(&query_response(&view)).unwrap();
                    let violations = contract.v2_query_response().violations(&v);
                    assert!(
                        violations.is_empty(),
                        "{} at {ms} ms, poll {polls}: {violations:?}",
                        scenario.name()
                    );
                }
            }
        }
    }

    #[test]
    fn submit_and_errors_have_their_shapes() {
        let contract = Contract::embedded();
        let v: serde_json::Value = serde_json::from_slice(&submit_response("7")).unwrap();
        assert!(contract.v2_submit_response().is_valid(&v));
        for code in [401, 429, 502] {
            let v: serde_json::Value = serde_json::from_slice(&status_error(code)).unwrap();
            assert!(contract.v2_error().is_valid(&v), "{code}: {v}");
        }
        assert_eq!(error(2013, "x"), br#"{"error":{"code":2013,"message":"x"}}"#);
    }
}
