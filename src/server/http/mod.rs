//! HTTP plumbing every surface shares: replies and their content types,
//! CORS preflights, request bodies with a size limit, query strings.
//!
//! Below every handler: it knows nothing of tasks, surfaces or the control
//! API, so any of them can use it.

pub mod connection;
pub mod multipart;

use std::borrow::Cow;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};

pub const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");
pub const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
pub const MP4: HeaderValue = HeaderValue::from_static("video/mp4");
pub const XML: HeaderValue = HeaderValue::from_static("application/xml");
pub const ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");
/// Headers a cross-origin script may read, on the answers that carry them.
pub const EXPOSED: HeaderValue = HeaderValue::from_static("retry-after, content-range, accept-ranges");
const ALLOWED_HEADERS: HeaderValue = HeaderValue::from_static("authorization, content-type, prefer");

pub type Reply = Response<Full<Bytes>>;

/// A reply, and what the journal and the log want to know beyond it.
pub struct Outcome {
    pub reply: Reply,
    /// The task a submission created or a path names (a v1 query has it in its URI).
    pub task_id: Option<String>,
    /// The request body as read (submissions), for the journal.
    pub request_body: Bytes,
    /// Reset the connection instead of answering.
    pub reset: bool,
    /// Whether the journal records it (control requests are not recorded).
    pub record: bool,
    /// The `Access-Control-Allow-Origin` answered: `*` for the mock's API,
    /// only what the guard grants for the control API.
    pub allow_origin: Option<HeaderValue>,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Self {
        Self {
            reply,
            task_id: None,
            request_body: Bytes::new(),
            reset: false,
            record: true,
            allow_origin: Some(ANY_ORIGIN),
        }
    }
}

pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    reply(status, JSON, body.into())
}

pub fn reply(status: StatusCode, content_type: HeaderValue, body: Bytes) -> Reply {
    let mut reply = Response::new(Full::new(body));
    *reply.status_mut() = status;
    reply.headers_mut().insert(header::CONTENT_TYPE, content_type);
    reply
}

/// The answer to a CORS preflight for a route that allows `allowed`.
pub fn preflight(allowed: &'static str, headers: &HeaderMap) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = StatusCode::NO_CONTENT;
    let h = reply.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(allowed));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(allowed));
    let requested = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        requested.unwrap_or(ALLOWED_HEADERS),
    );
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    reply
}

/// Why a request body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the limit (by its declared length, or while reading a chunked one).
    TooLarge,
    /// The connection failed while reading.
    Read(String),
}

/// The request body, refused past `limit` bytes.
pub async fn read_body(limit: usize, headers: &HeaderMap, body: Incoming) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge),
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}

/// Reads and drops what is left of a request body, up to `limit` bytes,
/// for the answers that do not read it (404, 405, 401, a preflight, a GET):
/// an answer sent while the client is still sending makes the server close
/// the connection, and a client still writing (Node's fetch sending a
/// multipart body) then sees a reset instead of the answer. Past the limit
/// it stops, and the connection closes after the answer.
pub async fn discard_body(limit: usize, headers: &HeaderMap, mut body: Incoming) {
    use hyper::body::Body as _;
    if body.is_end_stream() {
        return;
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return;
    }
    let mut read = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            read = read.saturating_add(data.len());
            if read > limit {
                return;
            }
        }
    }
}

/// Whether the request carries `Authorization: Bearer <token>`.
pub fn has_bearer(headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|token| !token.is_empty())
}

/// The token of `Authorization: Bearer <token>`, trimmed.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// ` task_id=ID` for a request log line: `named` (a task the request
/// created or names in its path), else the query's `task_id`, else nothing.
pub fn task_note(named: Option<&str>, uri: &hyper::Uri) -> String {
    let from_query = || uri.query().and_then(|q| query_param(q, "task_id"));
    match named.map(Cow::Borrowed).or_else(from_query) {
        Some(id) => format!(" task_id={id}"),
        None => String::new(),
    }
}

/// Whether `text` holds any of `bytes`, eight bytes at a time (a word
/// holds `c` when `word ^ c…c` has a zero byte). Task ids are 18 to 40
/// bytes: `Iterator::any` went byte by byte, about 9 instructions each,
/// and `memchr`'s SIMD set-up cost more than the scan, on every poll.
pub fn holds_any<const N: usize>(text: &str, bytes: &[u8; N]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let words = text.as_bytes().chunks_exact(8);
    let tail = words.remainder();
    for word in words {
        let word = u64::from_ne_bytes(word.try_into().expect("chunks of eight"));
        let zero_in = |y: u64| y.wrapping_sub(ONES) & !y & HIGHS != 0;
        if bytes.iter().any(|&b| zero_in(word ^ (ONES * u64::from(b)))) {
            return true;
        }
    }
    tail.iter().any(|t| bytes.contains(t))
}

/// The first value of `name` in a query string, percent-decoded.
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    // Every poll parses its query, and nearly every one is `task_id=ID`
    // (a name with `&` or `=` in it would match across pairs here).
    let plain_name = !holds_any(name, b"&=");
    if let Some(value) = query
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('='))
        .filter(|_| plain_name)
    {
        if !holds_any(value, b"&%+") {
            return Some(Cow::Borrowed(value));
        }
    }
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        // Only a key with an escape or a `+` decodes to something else
        // (`+` to a space, the same length: the length alone cannot tell).
        let matches = key == name || (key.contains(['%', '+']) && percent_decode(key) == name);
        matches.then(|| percent_decode(value))
    })
}

/// Decodes a query-string component: `%XX` escapes (by the `percent-encoding`
/// crate, already built for jsonschema) and `+` as a space, which
/// HTML forms send and the crate leaves alone. Invalid escapes stay as they
/// are; invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(text: &str) -> Cow<'_, str> {
    // Ids in paths and queries almost never hold either: the crate's
    // byte-by-byte decoder and its UTF-8 check cost more than the rest
    // of an OpenAI or v2 route did.
    if !holds_any(text, b"%+") {
        return Cow::Borrowed(text);
    }
    if !text.contains('+') {
        return percent_encoding::percent_decode_str(text).decode_utf8_lossy();
    }
    let spaced = text.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_any_finds_a_byte_anywhere() {
        assert!(!holds_any("", b"%+"));
        assert!(!holds_any("video_7f3a9c0d1e2b4a5f6c7d8e9f0a1b2c3d", b"%+&"));
        // Bytes next to the ones looked for, and high bytes, are not them.
        assert!(!holds_any("$*,'é\u{7f}ÿ", b"%+&"));
        for at in [0, 7, 8, 15, 16, 17, 35] {
            let mut id = "x".repeat(36);
            id.replace_range(at..=at, "%");
            assert!(holds_any(&id, b"&%+"), "{at}");
        }
    }

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(query_param("task_id=42", "task_id").as_deref(), Some("42"));
        assert_eq!(query_param("a=1&task_id=a%2Fb+c", "task_id").as_deref(), Some("a/b c"));
        assert_eq!(query_param("task_id", "task_id").as_deref(), Some(""));
        assert_eq!(query_param("task_id=%zz%4", "task_id").as_deref(), Some("%zz%4"));
        assert_eq!(query_param("other=1", "task_id"), None);
        assert_eq!(query_param("task%5Fid=7", "task_id").as_deref(), Some("7"));
        assert_eq!(percent_decode("a%2Bb+c"), "a+b c");
    }

    /// Found by the query fuzz target: a key spelled with `+` for a space
    /// was compared undecoded when it had the name's length.
    #[test]
    fn a_key_with_a_plus_is_decoded_whatever_its_length() {
        assert_eq!(query_param("a=1&+=x", " ").as_deref(), Some("x"));
        assert_eq!(query_param("task+id=7", "task id").as_deref(), Some("7"));
        assert_eq!(query_param("task%20id=7", "task id").as_deref(), Some("7"));
        assert_eq!(query_param("task_id=1&task+id=2", "task id").as_deref(), Some("2"));
    }

    /// Found by the query fuzz target: the fast path for `name=value` at the
    /// start of the query matched a name holding `&` across two pairs.
    #[test]
    fn a_name_never_matches_across_pairs() {
        assert_eq!(query_param("&=x", "&"), None);
        assert_eq!(query_param("a&b=1", "a&b"), None);
        assert_eq!(query_param("a%26b=1", "a&b").as_deref(), Some("1"));
    }

    #[test]
    fn bearer_tokens_are_read() {
        let mut h = HeaderMap::new();
        assert!(!has_bearer(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer  abc "));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(!has_bearer(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer "));
        assert!(!has_bearer(&h));
    }
}
