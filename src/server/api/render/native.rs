//! MiniMax's own wire bytes (`/v1/...`): the query, files/retrieve, errors
//! and the v1 callback update. Member order follows MiniMax's API reference;
//! `base_resp` is `status_code` first here, unlike the gateway's copy.

use super::{download_url, number, string, TaskView};
use crate::lifecycle::Phase;

/// `GET /v1/query/video_generation`: `file_id` and the frame size only on
/// `Success`, absent before (MiniMax's clients read them only then); a failed
/// task carries its `base_resp` code and message.
pub fn query_response(view: &TaskView<'_>) -> Vec<u8> {
    let step = view.moment.step;
    let mut out = task_and_status(view);
    if view.moment.phase() == Phase::Success {
        let artifact = view.artifact;
        out.extend_from_slice(br#","file_id":"#);
        string(&mut out, &artifact.file_id_text);
        out.extend_from_slice(br#","video_width":"#);
        number(&mut out, u64::from(artifact.resolution.width));
        out.extend_from_slice(br#","video_height":"#);
        number(&mut out, u64::from(artifact.resolution.height));
    }
    base_resp(&mut out, step.base_resp.status_code, &step.base_resp.status_msg);
    out.push(b'}');
    out
}

/// `GET /v1/files/retrieve`: the file object of a task that succeeded.
pub fn file_response(view: &TaskView<'_>) -> Vec<u8> {
    let artifact = view.artifact;
    let mut out = Vec::with_capacity(640);
    out.extend_from_slice(br#"{"file":{"file_id":"#);
    number(&mut out, artifact.file_id);
    out.extend_from_slice(br#","bytes":"#);
    number(&mut out, artifact.bytes);
    out.extend_from_slice(br#","created_at":"#);
    number(&mut out, view.finish_time().saturating_add(artifact.created_delay));
    out.extend_from_slice(br#","filename":"#);
    string(&mut out, artifact.filename);
    out.extend_from_slice(br#","purpose":"video_generation","download_url":"#);
    string(&mut out, &download_url(view, false));
    out.extend_from_slice(br#","backup_download_url":"#);
    string(&mut out, &download_url(view, true));
    out.push(b'}');
    base_resp(&mut out, 0, "success");
    out.push(b'}');
    out
}

/// A v1 callback update: what MiniMax POSTs at each status change, its
/// `status` spelled `word` (the query's word, or the callback section's
/// lowercase one: `server::callbacks::StatusWords`).
pub fn callback_update(view: &TaskView<'_>, word: &str) -> Vec<u8> {
    let step = view.moment.step;
    let mut out = Vec::with_capacity(200);
    out.extend_from_slice(br#"{"task_id":"#);
    string(&mut out, view.task_id);
    out.extend_from_slice(br#","status":"#);
    string(&mut out, word);
    out.extend_from_slice(br#","file_id":"#);
    let succeeded = view.moment.phase() == Phase::Success;
    string(&mut out, if succeeded { &view.artifact.file_id_text } else { "" });
    base_resp(&mut out, step.base_resp.status_code, &step.base_resp.status_msg);
    out.push(b'}');
    out
}

/// MiniMax's error body: `{"base_resp":{"status_code":N,"status_msg":"..."}}`.
pub fn error(status_code: i64, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + message.len());
    base_resp(&mut out, status_code, message);
    out[0] = b'{'; // in place of base_resp()'s leading comma
    out.push(b'}');
    out
}

/// MiniMax's error body for an HTTP status a scripted fault answers with,
/// in MiniMax's own codes.
pub fn status_error(http_status: u16) -> Vec<u8> {
    let (code, message) = code_for_status(http_status);
    error(code, message)
}

/// MiniMax's `base_resp` code and message for an HTTP error status. The
/// messages are MiniMax's as its clients see them: 1002 and 1004 as MiniMax
/// answers a request over its rate limit and one without a key (the
/// error-code table's "rate limit" and "not authorized" are their stems).
pub fn code_for_status(http_status: u16) -> (i64, &'static str) {
    match http_status {
        401 => (
            1004,
            "login fail: Please carry the API secret key in the 'Authorization' field of the request header",
        ),
        429 => (1002, "rate limit exceeded(RPM)"),
        500..=599 => (1033, "system error, please try again later"),
        _ => (1000, "unknown error"),
    }
}

/// `{"task_id":"…","status":"…"`, the start of a query and of an update.
fn task_and_status(view: &TaskView<'_>) -> Vec<u8> {
    let mut out = super::buffer(200);
    out.extend_from_slice(br#"{"task_id":"#);
    string(&mut out, view.task_id);
    out.extend_from_slice(br#","status":""#);
    out.extend_from_slice(view.moment.step.minimax.as_str().as_bytes());
    out.push(b'"');
    out
}

/// `,"base_resp":{...}` in MiniMax's member order.
fn base_resp(out: &mut Vec<u8>, status_code: i64, status_msg: &str) {
    out.extend_from_slice(br#","base_resp":{"status_code":"#);
    out.extend_from_slice(itoa::Buffer::new().format(status_code).as_bytes());
    out.extend_from_slice(br#","status_msg":"#);
    string(out, status_msg);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Contract;
    use crate::lifecycle::artifact::{Artifact, Resolution};
    use crate::lifecycle::scenarios::Catalog;
    use std::time::Duration;

    /// The callback section's lowercase word for `view`'s status (as
    /// `server::callbacks::StatusWords::Lowercase` spells it).
    fn lowercase(view: &TaskView<'_>) -> &'static str {
        use crate::lifecycle::MinimaxStatus as M;
        match view.moment.step.minimax {
            M::Success => "success",
            M::Fail => "failed",
            M::Preparing | M::Queueing | M::Processing => "processing",
        }
    }

    #[test]
    fn every_step_of_every_builtin_validates_in_every_native_body() {
        let contract = Contract::embedded();
        let artifact = Artifact::generate(0, "42", Resolution::from_label("1080P").unwrap(), 6);
        for scenario in Catalog::builtin().scenarios() {
            for polls in 0..8 {
                for ms in (0..200_000).step_by(2_500) {
                    let view = TaskView {
                        task_id: "42",
                        submitted_at: 1_756_453_472_000,
                        moment: scenario.at(Duration::from_millis(ms), polls),
                        artifact: &artifact,
                        base_url: "http://127.0.0.1:8080",
                        duration_s: 6,
                        ratio: None,
                        v2: Default::default(),
                    };
                    let at = format!("{} at {ms} ms, poll {polls}", scenario.name());
                    let parse = |b: Vec<u8>| serde_json::from_slice::<serde_json::Value>(&b).unwrap();
                    let query = parse(query_response(&view));
                    assert!(contract.native_query_response().is_valid(&query), "{at}: {query}");
                    for word in [view.moment.step.minimax.as_str(), lowercase(&view)] {
                        let update = parse(callback_update(&view, word));
                        assert!(contract.callback_update().is_valid(&update), "{at}: {update}");
                        assert_eq!(update["status"], word);
                    }
                    if view.moment.phase() == Phase::Success {
                        let file = parse(file_response(&view));
                        assert!(contract.files_retrieve_response().is_valid(&file), "{at}: {file}");
                    }
                }
            }
        }
    }

    /// Found by tests/properties.rs: a FAILURE given only a `fail_reason`
    /// was `Fail` with `status_code` 0, which MiniMax's schemas refuse.
    #[test]
    fn a_failure_with_only_a_reason_has_a_code() {
        let text = r#"{"scenarios": {"x": {"steps": [{"status": "FAILURE", "fail_reason": "boom"}]}}}"#;
        let catalog = Catalog::from_text("s.json", text).unwrap();
        let scenario = catalog.get("x").unwrap();
        let artifact = Artifact::generate(0, "42", Resolution::from_label("768P").unwrap(), 6);
        let view = TaskView {
            task_id: "42",
            submitted_at: 1_756_453_472_000,
            moment: scenario.at(Duration::ZERO, 0),
            artifact: &artifact,
            base_url: "http://127.0.0.1:8080",
            duration_s: 6,
            ratio: None,
            v2: Default::default(),
        };
        let contract = Contract::embedded();
        let query: serde_json::Value = serde_json::from_slice(&query_response(&view)).unwrap();
        assert_eq!(
            query["base_resp"],
            serde_json::json!({"status_code": 1000, "status_msg": "boom"})
        );
        assert!(contract.native_query_response().is_valid(&query), "{query}");
        for word in ["Fail", lowercase(&view)] {
            let update: serde_json::Value = serde_json::from_slice(&callback_update(&view, word)).unwrap();
            assert!(contract.callback_update().is_valid(&update), "{update}");
        }
    }

    #[test]
    fn errors_are_base_resp_only() {
        assert_eq!(
            error(2013, "invalid params, task_id is required"),
            br#"{"base_resp":{"status_code":2013,"status_msg":"invalid params, task_id is required"}}"#
        );
        let contract = Contract::embedded();
        for code in [401, 429, 500, 503, 418] {
            let v: serde_json::Value = serde_json::from_slice(&status_error(code)).unwrap();
            assert!(contract.native_error().is_valid(&v), "{code}: {v}");
        }
    }
}
