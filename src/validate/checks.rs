//! Consistency checks: what the documentation implies but a schema cannot
//! say (a terminal status at 100%, statuses that agree, a task id exactly
//! when the submit succeeded, no error code on a task in progress, time
//! running forward, a v2 list's total, a v2 error's code in its message
//! and a type that goes with its status), each about the one contract it names, and
//! the `--strict` walk for undocumented members. Failed checks are warnings (errors only with `--strict`): the
//! documentation implies them without stating them.

use serde_json::Value;

use super::{excerpt, Finding};
use crate::contract::{
    CALLBACK_UPDATE, FILES_RETRIEVE_RESPONSE, NATIVE_QUERY_RESPONSE, QUERY_RESPONSE, SUBMIT_RESPONSE, V2_QUERY_RESPONSE,
};
use crate::contract::{V2_ERROR, V2_LIST_RESPONSE};
use crate::lifecycle::{GatewayStatus, MinimaxStatus};

const GATEWAY_STATUSES: [GatewayStatus; 6] = [
    GatewayStatus::NotStart,
    GatewayStatus::Submitted,
    GatewayStatus::Queued,
    GatewayStatus::InProgress,
    GatewayStatus::Success,
    GatewayStatus::Failure,
];
const MINIMAX_STATUSES: [MinimaxStatus; 5] = [
    MinimaxStatus::Preparing,
    MinimaxStatus::Queueing,
    MinimaxStatus::Processing,
    MinimaxStatus::Success,
    MinimaxStatus::Fail,
];
/// A status the gateway documents for tasks it cannot place.
const UNKNOWN_STATUS: &str = "UNKNOWN";

fn warn(out: &mut Vec<Finding>, pointer: &str, keyword: &str, message: String) {
    out.push(Finding {
        pointer: pointer.to_owned(),
        keyword: keyword.to_owned(),
        message,
        position: None,
    });
}

/// The checks of `contract`, the shipped schema the document is judged
/// against: each check is about one contract, so a native query or a
/// callback (which have `task_id` and `base_resp` too) is never read as a
/// submit response. Values of the wrong type are left to the schema.
pub(super) fn consistency(contract: &str, doc: &Value, out: &mut Vec<Finding>) {
    match contract {
        QUERY_RESPONSE => {
            if let Some(task) = doc
                .get("data")
                .filter(|t| t.get("status").is_some_and(Value::is_string))
            {
                task_checks(task, out);
            }
        }
        SUBMIT_RESPONSE => submit_checks(doc, out),
        NATIVE_QUERY_RESPONSE | CALLBACK_UPDATE => native_task_checks(doc, out),
        FILES_RETRIEVE_RESPONSE => file_checks(doc, out),
        V2_QUERY_RESPONSE => {
            if let Some(task) = doc.get("task") {
                v2_task_checks(task, "/task", out);
            }
        }
        V2_LIST_RESPONSE => v2_list_checks(doc, out),
        V2_ERROR => v2_error_checks(doc, out),
        _ => {}
    }
}

/// `base_resp.status_code`, when it is an integer.
fn status_code(doc: &Value) -> Option<i64> {
    doc.get("base_resp")?.get("status_code")?.as_i64()
}

/// MiniMax's own task, in its query or a callback. What the schema already
/// says (on Success a file_id, a frame size of at least 1 and code 0; on
/// Fail a non-zero code) is left to it: these are what it cannot say.
fn native_task_checks(doc: &Value, out: &mut Vec<Finding>) {
    let status = doc.get("status").and_then(Value::as_str);
    // `processing` is a callback update's lowercase spelling of all three.
    let in_progress = ["Preparing", "Queueing", "Processing", "processing"];
    if let (Some(status), Some(code)) = (status.filter(|s| in_progress.contains(s)), status_code(doc)) {
        if code != 0 {
            warn(
                out,
                "/base_resp/status_code",
                "status-code",
                format!("expected 0 while status is {status} (a non-zero code is an error, reported with Fail), found {code}"),
            );
        }
    }
    // files/retrieve takes the id as an integer.
    if let Some(id) = doc.get("file_id").and_then(Value::as_str) {
        if !id.is_empty() && (id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit())) {
            warn(
                out,
                "/file_id",
                "file-id",
                format!(
                    "expected the integer files/retrieve takes, in digits, found {}",
                    excerpt(&doc["file_id"])
                ),
            );
        }
    }
}

/// A file record comes with `base_resp.status_code` 0: a non-zero code is
/// an error, which has no file.
fn file_checks(doc: &Value, out: &mut Vec<Finding>) {
    if let Some(code) = status_code(doc).filter(|c| *c != 0) {
        warn(
            out,
            "/base_resp/status_code",
            "file-status-code",
            format!("expected 0 beside a file record, found {code}"),
        );
    }
}

/// A v2 task. The schema says content and usage come with succeeded and
/// error with failed; what it cannot say: time runs forward, and a task
/// does not both succeed and fail.
fn v2_task_checks(task: &Value, at: &str, out: &mut Vec<Finding>) {
    let created = task.get("created_at").and_then(Value::as_i64);
    let updated = task.get("updated_at").and_then(Value::as_i64);
    if let (Some(created), Some(updated)) = (created, updated) {
        if updated < created {
            warn(
                out,
                &format!("{at}/updated_at"),
                "updated-at",
                format!("expected an updated_at at or after created_at ({created}), found {updated}"),
            );
        }
    }
    let status = task.get("status").and_then(Value::as_str);
    let contradiction = match status {
        Some("succeeded") => "error",
        Some("failed") => "content",
        _ => return,
    };
    if let Some(found) = task.get(contradiction) {
        warn(
            out,
            &format!("{at}/{contradiction}"),
            "status-members",
            format!(
                "expected no {contradiction} beside status {}, found {}",
                status.unwrap_or_default(),
                excerpt(found)
            ),
        );
    }
}

/// A v2 list: each item is a task, and `total` counts at least the items.
fn v2_list_checks(doc: &Value, out: &mut Vec<Finding>) {
    let Some(items) = doc.get("items").and_then(Value::as_array) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        v2_task_checks(item, &format!("/items/{i}"), out);
    }
    if let Some(total) = doc.get("total").and_then(Value::as_u64) {
        if (total as usize) < items.len() {
            warn(
                out,
                "/total",
                "list-total",
                format!(
                    "expected a total of at least the {} items on the page, found {total}",
                    items.len()
                ),
            );
        }
    }
}

/// v2's error envelope: the message ends with MiniMax's code in
/// parentheses, and the reference's error types go with their statuses.
fn v2_error_checks(doc: &Value, out: &mut Vec<Finding>) {
    let Some(error) = doc.get("error") else {
        return;
    };
    if let Some(message) = error.get("message").and_then(Value::as_str) {
        let code = message
            .trim_end()
            .strip_suffix(')')
            .and_then(|m| m.rsplit_once('('))
            .map(|(_, code)| code);
        if !code.is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit())) {
            warn(
                out,
                "/error/message",
                "message-code",
                format!(
                    "expected a message ending with MiniMax's code in parentheses (\"invalid params (2013)\"), found {}",
                    excerpt(&error["message"])
                ),
            );
        }
    }
    let documented = [
        ("bad_request_error", "400"),
        ("authorized_error", "401"),
        ("insufficient_balance_error", "402"),
        ("unprocessable_entity_error", "422"),
        ("rate_limit_error", "429"),
        ("server_error", "500"),
        ("overloaded_error", "529"),
    ];
    let kind = error.get("type").and_then(Value::as_str);
    let http = error.get("http_code").and_then(Value::as_str);
    if let (Some(kind), Some(http)) = (kind, http) {
        // 5xx other than 529 are server errors too; other 4xx bad requests.
        let agrees = match documented.iter().find(|(t, _)| *t == kind) {
            Some((_, "500")) => http.starts_with('5') && http != "529",
            Some((_, "400")) => http.starts_with('4'),
            Some((_, "401")) => http == "401" || http == "403",
            Some((_, status)) => http == *status,
            None => true,
        };
        if !agrees {
            warn(
                out,
                "/error/type",
                "error-type",
                format!("expected an error type that goes with http_code {http}, found {kind:?}"),
            );
        }
    }
}

/// `"N%"` with N in 0..=100.
fn percent(progress: &str) -> Option<u8> {
    let digits = progress.strip_suffix('%')?;
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n <= 100)
}

fn task_checks(task: &Value, out: &mut Vec<Finding>) {
    let status_text = task["status"].as_str().unwrap_or_default();
    let status = GATEWAY_STATUSES.into_iter().find(|s| s.as_str() == status_text);
    let progress = task.get("progress").and_then(Value::as_str);
    if let Some(p) = progress {
        if percent(p).is_none() {
            warn(
                out,
                "/data/progress",
                "progress",
                format!(
                    "expected a percentage from \"0%\" to \"100%\", found {}",
                    excerpt(&task["progress"])
                ),
            );
        }
    }
    let Some(status) = status else {
        if status_text != UNKNOWN_STATUS {
            let known: Vec<&str> = GATEWAY_STATUSES.iter().map(|s| s.as_str()).collect();
            warn(
                out,
                "/data/status",
                "status",
                format!(
                    "expected a gateway status ({}, {UNKNOWN_STATUS}), found {}",
                    known.join(", "),
                    excerpt(&task["status"])
                ),
            );
        }
        return;
    };
    let terminal = status.phase().is_terminal();
    if terminal {
        if let Some(p) = progress.filter(|p| *p != "100%") {
            warn(
                out,
                "/data/progress",
                "terminal-progress",
                format!(
                    "expected \"100%\" for status {status}, found {}",
                    excerpt(&Value::from(p))
                ),
            );
        }
        let submit = task.get("submit_time").and_then(Value::as_i64);
        let finish = task.get("finish_time").and_then(Value::as_i64);
        if let (Some(submit), Some(finish)) = (submit, finish) {
            if finish == 0 || finish < submit {
                warn(
                    out,
                    "/data/finish_time",
                    "finish-time",
                    format!(
                        "expected a finish_time at or after submit_time ({submit}) for status {status}, found {finish}"
                    ),
                );
            }
        }
    }
    let inner = task.get("data");
    if let Some(minimax_text) = inner.and_then(|d| d.get("status")).and_then(Value::as_str) {
        match MINIMAX_STATUSES.into_iter().find(|s| s.as_str() == minimax_text) {
            None => {
                let known: Vec<&str> = MINIMAX_STATUSES.iter().map(|s| s.as_str()).collect();
                warn(
                    out,
                    "/data/data/status",
                    "minimax-status",
                    format!(
                        "expected a MiniMax status ({}), found {}",
                        known.join(", "),
                        excerpt(&Value::from(minimax_text))
                    ),
                );
            }
            Some(minimax) if minimax != status.default_minimax() => warn(
                out,
                "/data/data/status",
                "status-agreement",
                format!(
                    "expected \"{}\" beside gateway status {status}, found \"{minimax}\"",
                    status.default_minimax()
                ),
            ),
            Some(_) => {}
        }
    }
    match status {
        GatewayStatus::Success => {
            let code = inner.and_then(|d| d.get("base_resp")?.get("status_code"));
            if let Some(code) = code.filter(|c| c.as_i64().is_some_and(|c| c != 0)) {
                warn(
                    out,
                    "/data/data/base_resp/status_code",
                    "success-status-code",
                    format!("expected 0 for status SUCCESS, found {}", excerpt(code)),
                );
            }
            let url = inner.and_then(|d| d.get("file")?.get("download_url"));
            if let Some(url) = url.filter(|u| u.as_str().is_some_and(|s| s.trim().is_empty())) {
                warn(
                    out,
                    "/data/data/file/download_url",
                    "success-download-url",
                    format!("expected a download URL for status SUCCESS, found {}", excerpt(url)),
                );
            }
        }
        GatewayStatus::Failure if task.get("fail_reason").and_then(Value::as_str) == Some("") => warn(
            out,
            "/data/fail_reason",
            "failure-reason",
            "expected the error text for status FAILURE, found \"\"".to_owned(),
        ),
        _ => {}
    }
}

/// MiniMax answers a task id exactly when `base_resp.status_code` is 0.
fn submit_checks(doc: &Value, out: &mut Vec<Finding>) {
    let (Some(task_id), Some(code)) = (
        doc["task_id"].as_str(),
        doc.get("base_resp")
            .and_then(|b| b.get("status_code"))
            .and_then(Value::as_i64),
    ) else {
        return;
    };
    if code == 0 && task_id.is_empty() {
        warn(
            out,
            "/task_id",
            "submit-task-id",
            "expected a task id when base_resp.status_code is 0, found \"\"".to_owned(),
        );
    } else if code != 0 && !task_id.is_empty() {
        warn(
            out,
            "/task_id",
            "submit-task-id",
            format!(
                "expected \"\" when base_resp.status_code is {code}, found {}",
                excerpt(&doc["task_id"])
            ),
        );
    }
}

/// With `--strict`: members the schema's `properties` do not list, where the
/// schema neither allows (`additionalProperties`) nor forbids them (the
/// schema reports those itself).
pub(super) fn unknown_fields(
    root: &Value,
    schema: &Value,
    doc: &Value,
    pointer: &mut String,
    name: &str,
    out: &mut Vec<Finding>,
) {
    let schema = resolve(root, schema);
    match doc {
        Value::Object(members) => {
            let mut known: Vec<&serde_json::Map<String, Value>> = Vec::new();
            let mut open = false;
            for part in std::iter::once(schema).chain(subschemas(root, schema)) {
                if let Some(props) = part.get("properties").and_then(Value::as_object) {
                    known.push(props);
                }
                if part.get("additionalProperties").is_some() || part.get("patternProperties").is_some() {
                    open = true;
                }
            }
            if known.is_empty() {
                return;
            }
            for (key, value) in members {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                match known.iter().find_map(|props| props.get(key)) {
                    Some(sub) => unknown_fields(root, sub, value, pointer, name, out),
                    None if !open => warn(
                        out,
                        pointer,
                        "unknown-field",
                        format!(
                            "{key:?} is not in the documentation (schema {name}); found {}",
                            excerpt(value)
                        ),
                    ),
                    None => {}
                }
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                unknown_fields(root, item_schema, item, pointer, name, out);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    for _ in 0..32 {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(target) => match root.pointer(target) {
                Some(next) => schema = next,
                None => break,
            },
            None => break,
        }
    }
    schema
}

fn subschemas<'a>(root: &'a Value, schema: &'a Value) -> impl Iterator<Item = &'a Value> {
    ["allOf", "anyOf", "oneOf"]
        .into_iter()
        .filter_map(move |k| schema.get(k).and_then(Value::as_array))
        .flatten()
        .map(move |s| resolve(root, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keywords(findings: &[Finding]) -> Vec<(&str, &str)> {
        findings
            .iter()
            .map(|f| (f.pointer.as_str(), f.keyword.as_str()))
            .collect()
    }

    #[test]
    fn status_words_are_checked() {
        let mut out = Vec::new();
        task_checks(&json!({"status": "DONE", "progress": "100%"}), &mut out);
        task_checks(&json!({"status": "UNKNOWN", "progress": "5%"}), &mut out);
        task_checks(
            &json!({"status": "FAILURE", "progress": "100%", "fail_reason": "", "submit_time": 5, "finish_time": 6, "data": {"status": "Failed"}}),
            &mut out,
        );
        task_checks(
            &json!({"status": "QUEUED", "progress": "20%", "data": {"status": "Queueing"}}),
            &mut out,
        );
        assert_eq!(
            keywords(&out),
            [
                ("/data/status", "status"),
                ("/data/data/status", "minimax-status"),
                ("/data/fail_reason", "failure-reason")
            ]
        );
    }

    #[test]
    fn percent_accepts_only_n_percent() {
        assert_eq!(percent("0%"), Some(0));
        assert_eq!(percent("100%"), Some(100));
        for bad in ["101%", "50", "%", "5 %", "-1%", "1000%", ""] {
            assert_eq!(percent(bad), None, "{bad}");
        }
    }

    #[test]
    fn submit_responses_are_checked() {
        let mut out = Vec::new();
        consistency(
            SUBMIT_RESPONSE,
            &json!({"task_id": "", "base_resp": {"status_code": 0, "status_msg": "success"}}),
            &mut out,
        );
        consistency(
            SUBMIT_RESPONSE,
            &json!({"task_id": "1", "base_resp": {"status_code": 2013, "status_msg": "x"}}),
            &mut out,
        );
        consistency(
            SUBMIT_RESPONSE,
            &json!({"task_id": "1", "base_resp": {"status_code": 0, "status_msg": "success"}}),
            &mut out,
        );
        assert_eq!(
            keywords(&out),
            [("/task_id", "submit-task-id"), ("/task_id", "submit-task-id")]
        );
    }

    /// A lowercase callback update (`--callback-status lowercase`, MiniMax's
    /// callback section) is checked as the query's words are.
    #[test]
    fn a_lowercase_processing_update_with_an_error_code_is_flagged() {
        let mut out = Vec::new();
        let update = json!({"task_id": "1", "status": "processing", "file_id": "", "base_resp": {"status_code": 1002, "status_msg": "x"}});
        consistency(CALLBACK_UPDATE, &update, &mut out);
        assert_eq!(keywords(&out), [("/base_resp/status_code", "status-code")]);
        let mut out = Vec::new();
        let update = json!({"task_id": "1", "status": "success", "file_id": "205258526306433", "base_resp": {"status_code": 0, "status_msg": "success"}});
        consistency(CALLBACK_UPDATE, &update, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn native_file_and_v2_checks() {
        let mut out = Vec::new();
        let base = |code: i64| json!({"status_code": code, "status_msg": "x"});
        consistency(
            NATIVE_QUERY_RESPONSE,
            &json!({"task_id": "1", "status": "Processing", "base_resp": base(1002)}),
            &mut out,
        );
        consistency(
            CALLBACK_UPDATE,
            &json!({"task_id": "1", "status": "Success", "file_id": "file-9", "base_resp": base(0)}),
            &mut out,
        );
        consistency(
            FILES_RETRIEVE_RESPONSE,
            &json!({"file": {}, "base_resp": base(2013)}),
            &mut out,
        );
        consistency(
            V2_QUERY_RESPONSE,
            &json!({"task": {"status": "succeeded", "created_at": 10, "updated_at": 9, "error": {}}}),
            &mut out,
        );
        consistency(
            V2_QUERY_RESPONSE,
            &json!({"task": {"status": "failed", "content": {"url": "https://x"}}}),
            &mut out,
        );
        consistency(
            V2_LIST_RESPONSE,
            &json!({"items": [{"status": "queued", "created_at": 10, "updated_at": 9}], "total": 0}),
            &mut out,
        );
        consistency(
            V2_ERROR,
            &json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down", "http_code": "500"}}),
            &mut out,
        );
        assert_eq!(
            keywords(&out),
            [
                ("/base_resp/status_code", "status-code"),
                ("/file_id", "file-id"),
                ("/base_resp/status_code", "file-status-code"),
                ("/task/updated_at", "updated-at"),
                ("/task/error", "status-members"),
                ("/task/content", "status-members"),
                ("/items/0/updated_at", "updated-at"),
                ("/total", "list-total"),
                ("/error/message", "message-code"),
                ("/error/type", "error-type"),
            ]
        );
        assert_eq!(
            out[0].message,
            "expected 0 while status is Processing (a non-zero code is an error, reported with Fail), found 1002"
        );
        // What agrees says nothing: a Fail with its code, a numeric file id, equal times.
        let mut out = Vec::new();
        consistency(
            NATIVE_QUERY_RESPONSE,
            &json!({"task_id": "1", "status": "Fail", "base_resp": base(1027)}),
            &mut out,
        );
        consistency(
            CALLBACK_UPDATE,
            &json!({"task_id": "1", "status": "Success", "file_id": "306793063383292", "base_resp": base(0)}),
            &mut out,
        );
        consistency(
            V2_QUERY_RESPONSE,
            &json!({"task": {"status": "queued", "created_at": 10, "updated_at": 10}}),
            &mut out,
        );
        for (kind, http) in [
            ("server_error", "503"),
            ("authorized_error", "403"),
            ("bad_request_error", "413"),
            ("overloaded_error", "529"),
        ] {
            consistency(
                V2_ERROR,
                &json!({"error": {"type": kind, "message": "internal error (1000)", "http_code": http}}),
                &mut out,
            );
        }
        assert_eq!(keywords(&out), []);
    }

    /// A failed native query or callback has a task id and a non-zero
    /// status_code, as a submit response must not: not a submit response.
    #[test]
    fn checks_keep_to_their_contract() {
        use crate::contract::{CALLBACK_UPDATE, ERROR, NATIVE_QUERY_RESPONSE};
        let failed = json!({"task_id": "1", "status": "Fail", "file_id": "", "base_resp": {"status_code": 1027, "status_msg": "x"}});
        let task = json!({"code": "success", "message": "", "data": {"status": "DONE", "progress": "5"}});
        let mut out = Vec::new();
        for contract in [NATIVE_QUERY_RESPONSE, CALLBACK_UPDATE, ERROR, "my-own.schema.json"] {
            consistency(contract, &failed, &mut out);
            consistency(contract, &task, &mut out);
        }
        assert_eq!(keywords(&out), []);
        consistency(QUERY_RESPONSE, &failed, &mut out);
        consistency(SUBMIT_RESPONSE, &task, &mut out);
        assert_eq!(keywords(&out), []);
        consistency(QUERY_RESPONSE, &task, &mut out);
        consistency(SUBMIT_RESPONSE, &failed, &mut out);
        assert_eq!(
            keywords(&out),
            [
                ("/data/progress", "progress"),
                ("/data/status", "status"),
                ("/task_id", "submit-task-id")
            ]
        );
    }
}
