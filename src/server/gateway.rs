//! The gateway's surface, `/minimax/v1/...`: submit and query in the
//! documented envelope. Handlers are plain functions from request parts to
//! an [`Outcome`].

use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::http::request::Parts;
use hyper::StatusCode;

use crate::contract::DOCUMENTED_TASK_ID;
use crate::lifecycle::artifact::Resolution;
use crate::lifecycle::faults;
use crate::lifecycle::BaseResp;
use crate::server::app::App;
use crate::server::http::{json, query_param, read_body, BodyError, Outcome, EXPOSED};
use crate::server::render;
use crate::server::tasks;

/// MiniMax's status code for invalid parameters.
pub const INVALID_PARAMS: i64 = 2013;

const TASK_NOT_EXIST: &[u8] = br#"{"code":"task_not_exist","message":"task_not_exist","data":null}"#;

/// `GET /minimax/v1/query/video_generation?task_id=ID`.
pub async fn query(app: &App, parts: &Parts) -> Outcome {
    let task_id = parts
        .uri
        .query()
        .and_then(|q| query_param(q, "task_id"))
        .unwrap_or_default();
    let not_found = || json(StatusCode::BAD_REQUEST, Bytes::from_static(TASK_NOT_EXIST)).into();
    if task_id.is_empty() {
        return not_found();
    }
    if task_id == DOCUMENTED_TASK_ID {
        return json(StatusCode::OK, app.documented.clone()).into();
    }
    let now = app.clock.now();
    let render = |task: &tasks::Task| {
        let polls = task.poll();
        let view = task.view(now, polls, &app.base_url);
        (render::query_response(&view), view.moment.step.fault.clone(), polls)
    };
    let (body, fault, polls) = match app.tasks.with(&task_id, render) {
        Some(rendered) => rendered,
        // A task id that a scenarios-file rule names exists from its first query on.
        None => match app.catalog.rule_for(&task_id) {
            Some(scenario) => render(&app.tasks.get_or_create(&task_id, scenario, now)),
            None => return not_found(),
        },
    };
    app.changed();
    match fault {
        None => json(StatusCode::OK, body).into(),
        Some(fault) => with_fault(app, &task_id, polls, body, fault).await,
    }
}

/// Delivers `body` as the step's fault says: late, as an error, mangled, or not at all.
async fn with_fault(app: &App, task_id: &str, polls: u64, body: Vec<u8>, fault: faults::Fault) -> Outcome {
    if let Some((min, max)) = fault.delay {
        // Random but reproducible: keyed by the seed, the task and the poll.
        let mut rng = crate::lifecycle::artifact::rng_for(app.tasks.seed(), &format!("{task_id}/delay/{polls}"));
        let ms: u64 = fake::Fake::fake_with_rng(&(min.as_millis() as u64..=max.as_millis() as u64), &mut rng);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match fault.effect {
        None => json(StatusCode::OK, body).into(),
        Some(faults::Effect::Status { code, retry_after }) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut reply = json(status, render::status_error(code));
            if let Some(seconds) = retry_after {
                let headers = reply.headers_mut();
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                // Only answers that carry such headers expose them to scripts.
                headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
            }
            reply.into()
        }
        Some(faults::Effect::Reset) => Outcome {
            reset: true,
            ..json(StatusCode::OK, Bytes::new()).into()
        },
        Some(effect) => json(StatusCode::OK, faults::mangle(body, &effect)).into(),
    }
}

/// `POST /minimax/v1/video_generation`.
pub async fn submit(app: &App, parts: &Parts, body: Incoming) -> Outcome {
    let invalid = |status: StatusCode, message: String, body: &Bytes| -> Outcome {
        let reply = json(
            status,
            render::submit_response(
                "",
                &BaseResp {
                    status_code: INVALID_PARAMS,
                    status_msg: message,
                },
            ),
        );
        Outcome {
            request_body: body.clone(),
            ..reply.into()
        }
    };
    let scenario = match preferred_scenario(&parts.headers) {
        None => None,
        Some(name) => match app.catalog.get(name) {
            Some(s) => Some(s.clone()),
            None => {
                let known = app.catalog.names().collect::<Vec<_>>().join(", ");
                let message = format!("unknown scenario {name:?} in the Prefer header; known: {known}");
                return json(StatusCode::BAD_REQUEST, render::error("invalid_request", &message)).into();
            }
        },
    };
    let body = match body_or_error(app, &parts.headers, body).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    let doc: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(doc) => doc,
        Err(e) => {
            let message = format!(
                "invalid params, body is not JSON: {} at line {} column {}",
                crate::contract::strip_position(&e.to_string()),
                e.line(),
                e.column()
            );
            return invalid(StatusCode::BAD_REQUEST, message, &body);
        }
    };
    if let Some(v) = app.contract.submit_request().violations(&doc).into_iter().next() {
        let field = v.pointer.trim_start_matches('/').replace('/', ".");
        let field = if field.is_empty() { "body".to_owned() } else { field };
        let model = doc.get("model").and_then(|m| m.as_str());
        let context = match (v.keyword.as_str(), model) {
            ("const" | "enum", Some(model)) if field != "model" => format!(" (for model {model})"),
            _ => String::new(),
        };
        return invalid(
            StatusCode::BAD_REQUEST,
            format!("invalid params, {field}: {}{context}", v.message),
            &body,
        );
    }
    let model = doc["model"].as_str().unwrap_or_default();
    let label = doc
        .get("resolution")
        .and_then(|r| r.as_str())
        .unwrap_or_else(|| Resolution::default_for_model(model));
    let request = tasks::Request {
        resolution: Resolution::from_label(label).expect("the schema allows only known resolutions"),
        duration_s: doc.get("duration").and_then(|d| d.as_u64()).unwrap_or(6) as u32,
    };
    let task = app.tasks.submit(
        |id| {
            scenario
                .or_else(|| app.catalog.rule_for(id).cloned())
                .unwrap_or_else(|| app.catalog.default_scenario().clone())
        },
        app.clock.now(),
        request,
    );
    app.changed();
    Outcome {
        created_task: Some(task.id.clone()),
        request_body: body,
        ..json(StatusCode::OK, render::submit_response(&task.id, &BaseResp::success())).into()
    }
}

/// `scenario=NAME` from `Prefer` headers (RFC 7240: comma-separated preferences).
fn preferred_scenario(headers: &HeaderMap) -> Option<&str> {
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

/// The body, or the gateway's answer to one that cannot be read (413, 400).
pub async fn body_or_error(app: &App, headers: &HeaderMap, body: Incoming) -> Result<Bytes, Outcome> {
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
        json(status, render::error(code, &message)).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_header_names_the_scenario() {
        let mut h = HeaderMap::new();
        h.insert("prefer", HeaderValue::from_static("respond-async, scenario=fail"));
        assert_eq!(preferred_scenario(&h), Some("fail"));
        h.insert("prefer", HeaderValue::from_static("wait=5"));
        assert_eq!(preferred_scenario(&h), None);
    }
}
