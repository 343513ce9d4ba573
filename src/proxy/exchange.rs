//! One request and its answer as the proxy saw them: what the worker judges,
//! journals and records once the answer's body has been forwarded.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper::{HeaderMap, Method, StatusCode, Version};

/// What was kept of a body that streamed through.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// The whole body, when it was wanted (JSON and text, for judging and
    /// recording), no larger than the cap, and complete.
    pub kept: Option<Bytes>,
    /// Bytes that went through.
    pub size: u64,
    /// The stream reached its end (not cut by either side).
    pub complete: bool,
    /// It was wanted but was larger than the cap.
    pub over_cap: bool,
}

impl Captured {
    /// Why the body is not in `kept`, for the recording's comment.
    pub fn why_not_kept(&self, cap: usize) -> Option<String> {
        if self.kept.is_some() || self.size == 0 && self.complete {
            return None;
        }
        Some(if !self.complete {
            "body not recorded: the stream was cut before its end".to_owned()
        } else if self.over_cap {
            format!("body not recorded: larger than {cap} bytes")
        } else {
            "body not recorded: not text".to_owned()
        })
    }
}

/// A finished exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Wall-clock time the request arrived (the recording's `startedDateTime`).
    pub started: SystemTime,
    /// From the request's arrival to the upstream's answer head.
    pub wait: Duration,
    /// From the request's arrival to the end of the answer's body.
    pub total: Duration,
    pub method: Method,
    pub version: Version,
    /// Path and query as the client sent them.
    pub target: String,
    /// The URL as the client addressed it (`http://` + its `Host` + target).
    pub url: String,
    /// The URL fetched from the upstream.
    pub upstream_url: String,
    pub request_headers: HeaderMap,
    pub request_body: Captured,
    pub status: StatusCode,
    pub response_headers: HeaderMap,
    pub response_body: Captured,
}

impl Exchange {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }
}
