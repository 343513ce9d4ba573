//! The answer to `GET /__mock/metrics` (the control API's guard has
//! admitted it): the counters, and the task gauge counted now.

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};

use super::{scrape, text, Api, TaskCounts};
use crate::lifecycle::GatewayStatus;
use crate::server::app::App;
use crate::server::http::{json, reply, Reply};

/// The statuses in the gauge's order.
const STATUSES: [GatewayStatus; 6] = [
    GatewayStatus::NotStart,
    GatewayStatus::Submitted,
    GatewayStatus::Queued,
    GatewayStatus::InProgress,
    GatewayStatus::Success,
    GatewayStatus::Failure,
];

/// Every task's status now, as the control API shows it (without counting
/// a poll), counted per API and status. One pass over the store.
fn task_counts(app: &App) -> TaskCounts {
    let now = app.store.clock().now();
    let mut counts = [[0u64; STATUSES.len()]; Api::ALL.len()];
    for task in app.store.tasks().list() {
        let status = task.moment(now, task.polls()).step.status;
        let s = STATUSES.iter().position(|&x| x == status).unwrap_or_default();
        counts[Api::of(task.request.surface) as usize][s] += 1;
    }
    let mut out = Vec::new();
    for api in Api::ALL {
        for (s, status) in STATUSES.iter().enumerate() {
            out.push((api, status.as_str(), counts[api as usize][s]));
        }
    }
    out
}

/// `GET` (or `HEAD`) `/__mock/metrics`; any other method is 405.
pub fn reply_to(app: &App, parts: &Parts) -> Reply {
    if !matches!(parts.method, Method::GET | Method::HEAD) {
        let body = serde_json::json!({"code": "method_not_allowed", "message": "allowed: GET", "data": null});
        let mut refused = json(
            StatusCode::METHOD_NOT_ALLOWED,
            serde_json::to_vec(&body).expect("a Value serializes"),
        );
        refused
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return refused;
    }
    // The instance's endpoint lists every namespace, each under its
    // `namespace` label; a namespace's own (`/ns/{name}/__mock/metrics`)
    // lists that one.
    let named = app.namespaces.list();
    let mut parts = vec![(app.namespace_name(), &app.metrics.counters, task_counts(app))];
    for listed in &named {
        parts.push((
            Some(listed.name.as_str()),
            &listed.value.metrics.counters,
            task_counts(&listed.value),
        ));
    }
    let body = scrape(&parts);
    reply(
        StatusCode::OK,
        HeaderValue::from_static(text::CONTENT_TYPE),
        Bytes::from(body),
    )
}
