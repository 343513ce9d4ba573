//! The dashboard at `/__mock/`: one page, compiled into the binary, that
//! shows the tasks, their timelines and the request journal, and drives the
//! clock and scripts tasks. It speaks only the control API (so anything it
//! shows can be scripted too) and loads nothing from other hosts: its CSS and
//! JavaScript are inline, and its Content-Security-Policy forbids the rest.

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::StatusCode;

use crate::server::http::{reply, Reply, HTML};

/// The page: HTML with its CSS and JavaScript inline, no build step.
pub const PAGE: &str = include_str!("index.html");

/// Only this origin, and inline code: a page that works offline, and that a
/// mistake cannot make load something from elsewhere.
const POLICY: HeaderValue = HeaderValue::from_static(
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
);

/// `GET /__mock/`.
pub fn page() -> Reply {
    let mut reply = reply(StatusCode::OK, HTML, Bytes::from_static(PAGE.as_bytes()));
    let headers = reply.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, POLICY);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    reply
}

/// `GET /__mock`: to the page, keeping the query (`?token=`); `prefix`
/// is the namespace's (`/ns/{name}`, or empty).
pub fn redirect(prefix: &str, query: Option<&str>) -> Reply {
    let page = crate::contract::CONTROL_PREFIX;
    let location = match query {
        Some(q) => format!("{prefix}{page}?{q}"),
        None => format!("{prefix}{page}"),
    };
    let mut reply = reply(StatusCode::PERMANENT_REDIRECT, HTML, Bytes::new());
    if let Ok(location) = HeaderValue::from_str(&location) {
        reply.headers_mut().insert(header::LOCATION, location);
    }
    reply
}
