//! The gateway's wire bytes: the documented envelope of the query, its
//! error envelope, and the submit response it relays from MiniMax.
//!
//! Field order follows the documentation; the output is compact JSON as the
//! gateway (Go's encoding/json) writes it. The documented quirks are kept:
//! on SUCCESS `fail_reason` holds the file id, and `file.file_id` is an
//! integer while `data.file_id` is a string.

use super::{download_url, number, string, to_vec, TaskView};
use crate::lifecycle::{BaseResp, Phase};

/// The query response body for `view`.
///
/// Written directly rather than through serde's derive: the keys are
/// constants, so only the dynamic strings pass through the JSON escaper. This
/// is the hot path of every poll (about half the instructions of a request
/// went to escaping constant keys); the fixtures and snapshots pin the bytes.
pub fn query_response(view: &TaskView<'_>) -> Vec<u8> {
    let step = view.moment.step;
    let phase = view.moment.phase();
    let succeeded = phase == Phase::Success;
    let artifact = view.artifact;
    let finish_time = view.finish_time();
    let fail_reason = match phase {
        Phase::Success => artifact.file_id_text.as_str(),
        Phase::Fail => step.fail_reason.as_deref().unwrap_or(&step.base_resp.status_msg),
        _ => step.fail_reason.as_deref().unwrap_or(""),
    };
    let mut out = super::buffer(if succeeded { 1024 } else { 640 });
    out.extend_from_slice(br#"{"code":"success","message":"","data":{"task_id":"#);
    string(&mut out, view.task_id);
    out.extend_from_slice(br#","action":"video_generation","status":""#);
    out.extend_from_slice(step.status.as_str().as_bytes());
    out.extend_from_slice(br#"","fail_reason":"#);
    string(&mut out, fail_reason);
    out.extend_from_slice(br#","submit_time":"#);
    number(&mut out, view.submit_time());
    out.extend_from_slice(br#","start_time":"#);
    number(&mut out, view.start_time());
    out.extend_from_slice(br#","finish_time":"#);
    number(&mut out, finish_time);
    out.extend_from_slice(br#","progress":""#);
    number(&mut out, u64::from(view.moment.progress));
    out.extend_from_slice(br#"%","data":{"file":"#);
    if succeeded {
        out.extend_from_slice(br#"{"bytes":"#);
        number(&mut out, artifact.bytes);
        out.extend_from_slice(br#","file_id":"#);
        number(&mut out, artifact.file_id);
        out.extend_from_slice(br#","purpose":"video_generation","filename":"#);
        string(&mut out, artifact.filename);
        out.extend_from_slice(br#","created_at":"#);
        number(&mut out, finish_time.saturating_add(artifact.created_delay));
        out.extend_from_slice(br#","download_url":"#);
        string(&mut out, &download_url(view, false));
        out.extend_from_slice(br#","backup_download_url":"#);
        string(&mut out, &download_url(view, true));
        out.push(b'}');
    } else {
        // The schema requires `file` at every step; before success it is empty.
        out.extend_from_slice(
            br#"{"bytes":0,"file_id":0,"purpose":"video_generation","filename":"","created_at":0,"download_url":"","backup_download_url":""}"#,
        );
    }
    out.extend_from_slice(br#","status":""#);
    out.extend_from_slice(step.minimax.as_str().as_bytes());
    out.extend_from_slice(br#"","file_id":"#);
    string(&mut out, if succeeded { &artifact.file_id_text } else { "" });
    out.extend_from_slice(br#","task_id":"#);
    string(&mut out, view.task_id);
    // `base_resp` in the documented member order: `status_msg` first.
    out.extend_from_slice(br#","base_resp":{"status_msg":"#);
    string(&mut out, &step.base_resp.status_msg);
    out.extend_from_slice(br#","status_code":"#);
    out.extend_from_slice(itoa::Buffer::new().format(step.base_resp.status_code).as_bytes());
    let (width, height) = if succeeded {
        (artifact.resolution.width, artifact.resolution.height)
    } else {
        (0, 0)
    };
    out.extend_from_slice(br#"},"video_width":"#);
    number(&mut out, u64::from(width));
    out.extend_from_slice(br#","video_height":"#);
    number(&mut out, u64::from(height));
    out.extend_from_slice(b"}}}");
    out
}

#[derive(serde::Serialize)]
struct Envelope<'a, T> {
    code: &'a str,
    message: &'a str,
    data: T,
}

/// The gateway's error envelope: `{"code":..,"message":..,"data":null}`.
pub fn error(code: &str, message: &str) -> Vec<u8> {
    to_vec(&Envelope {
        code,
        message,
        data: (),
    })
}

/// What the gateway says with HTTP 429.
pub const RATE_LIMIT_MESSAGE: &str = "当前分组上游负载已饱和，请稍后再试";

/// The gateway's error body for an HTTP status (scripted faults, 401).
pub fn status_error(code: u16) -> Vec<u8> {
    let (code, message) = match code {
        401 => ("unauthorized", "未提供令牌"),
        429 => ("rate_limit", RATE_LIMIT_MESSAGE),
        500 => ("get_task_failed", "get_task_failed"),
        501 => ("not_implemented", "not_implemented"),
        502 => ("fail_to_fetch_task", "fail_to_fetch_task: bad gateway"),
        503 => ("service_unavailable", "upstream service unavailable"),
        504 => ("fail_to_fetch_task", "fail_to_fetch_task: upstream timed out"),
        400..=499 => ("invalid_request", "invalid_request"),
        _ => ("fail_to_fetch_task", "fail_to_fetch_task"),
    };
    error(code, message)
}

/// The submit response, MiniMax's own shape.
pub fn submit_response(task_id: &str, base_resp: &BaseResp) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Submit<'a> {
        task_id: &'a str,
        base_resp: &'a BaseResp,
    }
    to_vec(&Submit { task_id, base_resp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Contract;
    use crate::lifecycle::artifact::Artifact;
    use crate::lifecycle::artifact::Resolution;
    use crate::lifecycle::clock::UnixMillis;
    use crate::lifecycle::scenarios::Catalog;
    use std::time::Duration;

    const SUBMITTED: UnixMillis = 1_756_453_472_000;

    fn render(scenario: &str, elapsed: Duration, polls: u64) -> serde_json::Value {
        let catalog = Catalog::builtin();
        let scenario = catalog.get(scenario).unwrap();
        let artifact = Artifact::generate(0, "42", Resolution::from_label("768P").unwrap(), 6);
        let view = TaskView {
            task_id: "42",
            submitted_at: SUBMITTED,
            moment: scenario.at(elapsed, polls),
            artifact: &artifact,
            base_url: "http://127.0.0.1:8080",
            duration_s: 6,
            ratio: None,
            v2: Default::default(),
        };
        serde_json::from_slice(&query_response(&view)).unwrap()
    }

    #[test]
    fn success_shows_the_documented_quirks() {
        let v = render("success", Duration::from_secs(60), 0);
        let d = &v["data"];
        assert_eq!(d["status"], "SUCCESS");
        assert_eq!(d["progress"], "100%");
        assert_eq!(d["fail_reason"], d["data"]["file_id"]);
        assert!(d["data"]["file"]["file_id"].is_u64());
        assert!(d["data"]["file_id"].is_string());
        assert_eq!(
            (d["data"]["video_width"].as_u64(), d["data"]["video_height"].as_u64()),
            (Some(1366), Some(768))
        );
        assert_eq!(d["submit_time"], 1_756_453_472);
        assert_eq!(d["start_time"], 1_756_453_476);
        assert_eq!(d["finish_time"], 1_756_453_482);
        let url = d["data"]["file"]["download_url"].as_str().unwrap();
        assert!(
            url.starts_with("http://127.0.0.1:8080/inference_output%2Fvideo%2F2025-08-29%2F"),
            "{url}"
        );
    }

    #[test]
    fn every_step_of_every_builtin_validates() {
        let contract = Contract::embedded();
        for scenario in Catalog::builtin().scenarios() {
            for polls in 0..8 {
                for ms in (0..200_000).step_by(500) {
                    let v = render(scenario.name(), Duration::from_millis(ms), polls);
                    let violations = contract.query_response().violations(&v);
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
    fn failure_carries_the_reason_and_minimax_fail() {
        let v = render("fail", Duration::from_secs(60), 0);
        assert_eq!(v["data"]["status"], "FAILURE");
        assert_eq!(v["data"]["data"]["status"], "Fail");
        assert_eq!(v["data"]["data"]["base_resp"]["status_code"], 1027);
        assert_eq!(v["data"]["fail_reason"], v["data"]["data"]["base_resp"]["status_msg"]);
    }

    #[test]
    fn dynamic_strings_are_escaped() {
        let catalog = Catalog::builtin();
        let artifact = Artifact::generate(0, "x", Resolution::from_label("768P").unwrap(), 6);
        let view = TaskView {
            task_id: "a\"b\\c\n\u{1}",
            submitted_at: SUBMITTED,
            moment: catalog.get("fail").unwrap().at(Duration::from_secs(60), 0),
            artifact: &artifact,
            base_url: "http://h",
            duration_s: 6,
            ratio: None,
            v2: Default::default(),
        };
        let v: serde_json::Value = serde_json::from_slice(&query_response(&view)).unwrap();
        assert_eq!(v["data"]["task_id"], "a\"b\\c\n\u{1}");
        assert_eq!(v["data"]["data"]["task_id"], "a\"b\\c\n\u{1}");
    }

    #[test]
    fn errors_and_submit_have_their_shapes() {
        assert_eq!(
            error("task_not_exist", "task_not_exist"),
            br#"{"code":"task_not_exist","message":"task_not_exist","data":null}"#
        );
        assert_eq!(
            submit_response("1", &BaseResp::success()),
            br#"{"task_id":"1","base_resp":{"status_code":0,"status_msg":"success"}}"#
        );
    }

    #[test]
    fn status_errors_fit_the_envelope() {
        let contract = crate::contract::Contract::embedded();
        for code in [401, 429, 500, 502, 503, 504, 418] {
            let v: serde_json::Value = serde_json::from_slice(&status_error(code)).unwrap();
            assert!(contract.error().is_valid(&v), "{code}: {v}");
        }
        let v: serde_json::Value = serde_json::from_slice(&status_error(429)).unwrap();
        assert_eq!(v["message"], RATE_LIMIT_MESSAGE);
    }
}
