//! The video behind every download link: a short H.264 clip (a test pattern
//! with a running timer) that browsers play, so a frontend can show the
//! result of a task. `--fixtures DIR` may bring its own `video/output.mp4`.
//!
//! Range requests are answered (a `<video>` element seeks with them), and a
//! link past its `Expires` is refused as the real bucket refuses it.

use std::path::Path;

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::StatusCode;

use crate::server::app::App;
use crate::server::http::{reply, Outcome, EXPOSED, MP4, XML};

const BUILT_IN: &[u8] = include_bytes!("../../fixtures/video/output.mp4");
/// Where a fixtures folder keeps its video.
pub const FIXTURE_PATH: &str = "video/output.mp4";

/// The video from `fixtures` if it has one, else the built-in clip.
pub fn load(fixtures: Option<&Path>) -> std::io::Result<Bytes> {
    match fixtures.map(|dir| dir.join(FIXTURE_PATH)) {
        Some(path) if path.exists() => std::fs::read(&path)
            .map(Bytes::from)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: cannot read: {e}", path.display()))),
        _ => Ok(Bytes::from_static(BUILT_IN)),
    }
}

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// No usable single range: send it all (200).
    Whole,
    /// Bytes `start..=end` (206).
    Part { start: u64, end: u64 },
    /// Outside the body (416).
    Unsatisfiable,
}

/// Parses `bytes=A-B`, `bytes=A-` and `bytes=-N`. Several ranges, or a
/// header that does not parse, get the whole body, as RFC 9110 allows.
pub fn parse_range(header: Option<&str>, len: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Range::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => Some((start, end.min(len.saturating_sub(1)))),
        (Ok(start), Err(_)) if last.is_empty() => Some((start, len.saturating_sub(1))),
        (Err(_), Ok(suffix)) if first.is_empty() => {
            if suffix == 0 {
                return Range::Unsatisfiable;
            }
            Some((len.saturating_sub(suffix), len.saturating_sub(1)))
        }
        _ => None,
    };
    match parsed {
        None => Range::Whole,
        Some((start, _)) if start >= len => Range::Unsatisfiable,
        Some((start, end)) => Range::Part { start, end },
    }
}

/// The `Expires` of a signed link, in Unix seconds.
pub fn expires(query: Option<&str>) -> Option<u64> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("Expires="))
        .and_then(|v| v.parse().ok())
}

/// A download link: the clip, whole or the range asked for; 403 once the
/// link's `Expires` has passed on the mock clock, as the bucket answers.
pub fn download(app: &App, parts: &Parts) -> Outcome {
    if expires(parts.uri.query()).is_some_and(|expires| app.clock.now() / 1000 > expires) {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>AccessDenied</Code>\n  <Message>Request has expired.</Message>\n</Error>\n";
        return reply(StatusCode::FORBIDDEN, XML, Bytes::from_static(body.as_bytes())).into();
    }
    let len = app.video.len() as u64;
    let range = parts.headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let mut reply = match parse_range(range, len) {
        Range::Whole => reply(StatusCode::OK, MP4, app.video.clone()),
        Range::Part { start, end } => {
            let mut r = reply(
                StatusCode::PARTIAL_CONTENT,
                MP4,
                app.video.slice(start as usize..=end as usize),
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
    reply.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Range::Part { start: 0, end: 9 });
        assert_eq!(parse_range(Some("bytes=90-"), 100), Range::Part { start: 90, end: 99 });
        assert_eq!(parse_range(Some("bytes=-10"), 100), Range::Part { start: 90, end: 99 });
        assert_eq!(
            parse_range(Some("bytes=50-500"), 100),
            Range::Part { start: 50, end: 99 }
        );
        assert_eq!(parse_range(Some("bytes=100-"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=9-1"), 100), Range::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 100), Range::Whole);
    }

    #[test]
    fn built_in_clip_is_an_mp4() {
        let video = load(None).unwrap();
        assert_eq!(&video[4..8], b"ftyp");
    }

    #[test]
    fn expiry_is_read_from_the_link() {
        assert_eq!(
            expires(Some("Expires=1756485886&OSSAccessKeyId=x")),
            Some(1_756_485_886)
        );
        assert_eq!(expires(Some("a=1")), None);
        assert_eq!(expires(None), None);
    }
}
