//! The recording (`--record FILE.har`): every exchange as a HAR 1.2 entry,
//! written as the session goes, so that browsers' HAR viewers, `minimax-mock
//! validate` and `serve --replay` read it.
//!
//! The file is a complete HAR document after every entry: the closing
//! `]}}` tail is rewritten in place behind each new entry, in one write. A
//! crash (or `kill -9`) so loses at most the exchange in flight, never the
//! file, and a reader can open it while the proxy is still running.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use hyper::HeaderMap;
use serde_json::{json, Value};

use super::exchange::Exchange;
use super::redact;
use crate::lifecycle::artifact::utc_date;
use crate::server::http::percent_decode;

/// What closes the document after the last entry.
const TAIL: &[u8] = b"\n]}}\n";

/// A HAR file being written.
#[derive(Debug)]
pub struct Recorder {
    file: File,
    /// Where the tail starts: the next entry goes here.
    tail_at: u64,
    entries: usize,
}

impl Recorder {
    /// Creates (or truncates) `path` and writes an empty, complete log.
    pub fn create(path: &Path, upstream: &str) -> io::Result<Self> {
        let log = json!({
            "version": "1.2",
            "creator": {"name": "minimax-mock", "version": env!("CARGO_PKG_VERSION")},
            "comment": format!("recorded by minimax-mock proxy in front of {upstream}"),
            "pages": [],
        });
        let mut head = serde_json::to_string(&log).map_err(io::Error::other)?;
        head.pop(); // the log object's closing brace: the entries come first
        let head = format!("{{\"log\":{head},\"entries\":[");
        let mut file = File::create(path)?;
        file.write_all(head.as_bytes())?;
        file.write_all(TAIL)?;
        file.flush()?;
        Ok(Self {
            file,
            tail_at: head.len() as u64,
            entries: 0,
        })
    }

    /// Entries written so far: the index the next one gets.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Appends an entry, and the tail behind it, in one write.
    pub fn append(&mut self, entry: &Value) -> io::Result<()> {
        let mut chunk = Vec::with_capacity(2048);
        chunk.extend_from_slice(if self.entries == 0 { b"\n" } else { b",\n" });
        serde_json::to_writer(&mut chunk, entry).map_err(io::Error::other)?;
        let grown = chunk.len() as u64;
        chunk.extend_from_slice(TAIL);
        self.file.seek(SeekFrom::Start(self.tail_at))?;
        self.file.write_all(&chunk)?;
        self.file.flush()?;
        self.tail_at += grown;
        self.entries += 1;
        Ok(())
    }

    /// Flushes to the disk (at shutdown; a process crash loses nothing
    /// written before it without this).
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// The HAR entry of an exchange; credentials redacted unless `keep_secrets`.
/// `cap` is the largest body kept, for the comment on one that was not.
pub fn entry(ex: &Exchange, keep_secrets: bool, cap: usize) -> Value {
    let target = |t: &str| {
        if keep_secrets {
            t.to_owned()
        } else {
            redact::target(t).into_owned()
        }
    };
    let query: Vec<Value> = ex
        .query()
        .filter(|q| !q.is_empty())
        .map(|q| {
            q.split('&')
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    let (name, value) = (percent_decode(name), percent_decode(value));
                    let value = if keep_secrets || !redact::is_secret(&name) {
                        value.into_owned()
                    } else {
                        redact::REDACTED.to_owned()
                    };
                    json!({"name": name, "value": value})
                })
                .collect()
        })
        .unwrap_or_default();
    let mut request = json!({
        "method": ex.method.as_str(),
        "url": target(&ex.url),
        "httpVersion": format!("{:?}", ex.version),
        "cookies": [],
        "headers": headers(&ex.request_headers, keep_secrets),
        "queryString": query,
        "headersSize": -1,
        "bodySize": ex.request_body.size,
    });
    if let Some(body) = ex.request_body.kept.as_ref().filter(|b| !b.is_empty()) {
        let mut post = body_json(body);
        post["mimeType"] = json!(header(&ex.request_headers, "content-type").unwrap_or_default());
        request["postData"] = post;
    } else if let Some(why) = (ex.request_body.size > 0)
        .then(|| ex.request_body.why_not_kept(cap))
        .flatten()
    {
        request["comment"] = json!(why);
    }
    let mut content = match &ex.response_body.kept {
        Some(body) if !body.is_empty() => body_json(body),
        _ => json!({}),
    };
    content["size"] = json!(ex.response_body.size);
    content["mimeType"] = json!(header(&ex.response_headers, "content-type").unwrap_or_default());
    if let Some(why) = ex.response_body.why_not_kept(cap) {
        content["comment"] = json!(why);
    }
    let wait = ex.wait.as_secs_f64() * 1000.0;
    let total = ex.total.as_secs_f64() * 1000.0;
    json!({
        "startedDateTime": iso_time(ex.started),
        "time": round3(total),
        "request": request,
        "response": {
            "status": ex.status.as_u16(),
            "statusText": ex.status.canonical_reason().unwrap_or_default(),
            "httpVersion": format!("{:?}", ex.version),
            "cookies": [],
            "headers": headers(&ex.response_headers, keep_secrets),
            "content": content,
            "redirectURL": header(&ex.response_headers, "location").unwrap_or_default(),
            "headersSize": -1,
            "bodySize": ex.response_body.size,
        },
        "cache": {},
        "timings": {"send": 0, "wait": round3(wait), "receive": round3((total - wait).max(0.0))},
        "_upstream": target(&ex.upstream_url),
    })
}

fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// `{"text": ...}` for UTF-8, else base64 with `"encoding": "base64"`, as HAR says.
fn body_json(body: &[u8]) -> Value {
    match std::str::from_utf8(body) {
        Ok(text) => json!({"text": text}),
        Err(_) => json!({"text": base64(body), "encoding": "base64"}),
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn headers(headers: &HeaderMap, keep_secrets: bool) -> Vec<Value> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes());
            let value = if keep_secrets {
                value.into_owned()
            } else {
                redact::header_value(name.as_str(), &value).into_owned()
            };
            json!({"name": name.as_str(), "value": value})
        })
        .collect()
}

/// `2026-01-02T03:04:05.678Z`, as HAR's `startedDateTime` wants (ISO 8601).
pub fn iso_time(at: SystemTime) -> String {
    let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let secs = ms / 1000;
    let day = secs % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        utc_date(secs as i64),
        day / 3600,
        day % 3600 / 60,
        day % 60,
        ms % 1000
    )
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether a body of this content type is worth keeping as text.
pub fn is_text(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|t| {
        let t = t.to_ascii_lowercase();
        t.contains("json") || t.starts_with("text/") || t.contains("xml") || t.contains("x-www-form-urlencoded")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_and_base64() {
        let at = UNIX_EPOCH + Duration::from_millis(1_756_453_472_123);
        assert_eq!(iso_time(at), "2025-08-29T07:44:32.123Z");
        assert_eq!(base64(b"{\"a\":1}"), "eyJhIjoxfQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn the_file_is_complete_after_every_entry() {
        let path = std::env::temp_dir().join(format!("mm-har-{}.har", std::process::id()));
        let mut rec = Recorder::create(&path, "http://up").unwrap();
        let read = || serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(read()["log"]["entries"], json!([]));
        assert_eq!(read()["log"]["version"], "1.2");
        rec.append(&json!({"a": 1})).unwrap();
        assert_eq!(read()["log"]["entries"], json!([{"a": 1}]));
        rec.append(&json!({"b": 2})).unwrap();
        assert_eq!(read()["log"]["entries"], json!([{"a": 1}, {"b": 2}]));
        assert_eq!(rec.entries(), 2);
        std::fs::remove_file(&path).unwrap();
    }
}
