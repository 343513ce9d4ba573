//! The gateway's surface, `/minimax/v1/...`: the query in the documented
//! envelope (or, with `--gateway-query native`, MiniMax's body passed
//! through, as some gateways do), and files/retrieve passed through. The
//! submit is shared with MiniMax's native API (`submit::v1`).

use bytes::Bytes;
use hyper::http::request::Parts;
use hyper::StatusCode;

use crate::contract::DOCUMENTED_TASK_ID;
use crate::server::api::poll::{deliver, poll};
use crate::server::api::render::{self, Shape};
use crate::server::app::{App, QueryShape};
use crate::server::http::{json, query_param, Outcome};
use crate::server::store::tasks::Surface;

const TASK_NOT_EXIST: &[u8] = br#"{"code":"task_not_exist","message":"task_not_exist","data":null}"#;

/// `GET /minimax/v1/query/video_generation?task_id=ID`.
pub async fn query(app: &App, parts: &Parts) -> Outcome {
    if app.gateway_query == QueryShape::Native {
        // Boxed: held inline, the native query's future would double this
        // one's, which every poll of the gateway copies at each `.await`.
        return Box::pin(crate::server::api::native::query(app, parts, Surface::Gateway)).await;
    }
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
    match poll(app, &task_id, Surface::Gateway, Shape::Envelope, render::query_response).await {
        Some(polled) => deliver(app, &task_id, Surface::Gateway, polled).await,
        None => not_found(),
    }
}
