//! The download links: the clip of the task's frame size, whole or by
//! `Range`, and the bucket's 403 once a link has expired on the mock clock.

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::StatusCode;

use crate::server::app::App;
use crate::server::http::{reply, Outcome, Reply, EXPOSED, MP4, XML};
use crate::server::media::video::{expires, frame_of_path, parse_range, Range};

/// A download link: the clip, whole or the range asked for; 403 once the
/// link's `Expires` has passed on the mock clock, as the bucket answers, and
/// 400 for an `Expires` that is not a number of seconds.
/// The clip has the frame size the link names, the task's.
pub fn download(app: &App, parts: &Parts, path: &str) -> Outcome {
    match expires(parts.uri.query()) {
        Some(Ok(expires)) if app.store.clock().now() / 1000 > expires => {
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>AccessDenied</Code>\n  <Message>Request has expired.</Message>\n</Error>\n";
            return reply(StatusCode::FORBIDDEN, XML, Bytes::from_static(body.as_bytes())).into();
        }
        // As the bucket answers a signed link whose expiry is not a time.
        Some(Err(_)) => {
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>InvalidArgument</Code>\n  <Message>Expires must be a number of seconds since the Unix epoch.</Message>\n</Error>\n";
            return reply(StatusCode::BAD_REQUEST, XML, Bytes::from_static(body.as_bytes())).into();
        }
        _ => {}
    }
    let (width, height) = frame_of_path(path);
    clip(app, width, height, &parts.headers).into()
}

/// The clip of `width` x `height`, whole or the `Range` of `headers`
/// (206, or 416 past its end), with `Accept-Ranges`.
pub fn clip(app: &App, width: u32, height: u32, headers: &hyper::HeaderMap) -> Reply {
    let video = app.video.clip(width, height);
    let len = video.len() as u64;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let mut reply = match parse_range(range, len) {
        Range::Whole => reply(StatusCode::OK, MP4, video),
        Range::Part { start, end } => {
            let mut r = reply(
                StatusCode::PARTIAL_CONTENT,
                MP4,
                video.slice(start as usize..=end as usize),
            );
            let content_range = format!("bytes {start}-{end}/{len}");
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&content_range).expect("ASCII"),
            );
            r
        }
        Range::Unsatisfiable => {
            let mut r = reply(StatusCode::RANGE_NOT_SATISFIABLE, MP4, Bytes::new());
            let content_range = format!("bytes */{len}");
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&content_range).expect("ASCII"),
            );
            r
        }
    };
    let headers = reply.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
    reply
}
