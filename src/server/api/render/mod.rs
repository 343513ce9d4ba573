//! Task state → wire bytes, one module per API surface. Pure: no clock, no
//! store, no I/O; a [`TaskView`] says everything a body shows.
//!
//! Bodies are written directly rather than through serde's derive where
//! they are on a poll's hot path: the keys are constants, so only the
//! dynamic strings pass through the JSON escaper. Fixtures and snapshots
//! pin the bytes.

pub mod gateway;
pub mod native;
pub mod openai;
pub mod v2;

pub use gateway::{error, query_response, status_error, submit_response, RATE_LIMIT_MESSAGE};

use serde::Serialize;

use crate::lifecycle::artifact::{utc_date, Artifact, V2Request};
use crate::lifecycle::clock::UnixMillis;
use crate::lifecycle::Moment;

/// Which body a poll renders; a task's last body is reused only for the
/// same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The gateway's envelope (the gateway, and new-api's `/v1/video/generations/{id}`).
    Envelope,
    Native,
    V2,
    /// new-api's OpenAI video object.
    OpenAiVideo,
}

/// What a poll's body shows beyond the task's fixed data (id, request,
/// artifact, scenario) and the base URL: two views of one task with the
/// same key render the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    shape: Shape,
    index: usize,
    progress: u8,
    entered: std::time::Duration,
    processing_started: Option<std::time::Duration>,
    cancelled_at: Option<UnixMillis>,
}

impl Key {
    pub fn of(shape: Shape, view: &TaskView<'_>) -> Self {
        Self {
            shape,
            index: view.moment.index,
            progress: view.moment.progress,
            entered: view.moment.entered,
            processing_started: view.moment.processing_started,
            cancelled_at: view.v2.cancelled_at,
        }
    }
}

/// A task's last polled body. Polls repeat what the last one showed far
/// more often than not (a frozen clock in CI, a step longer than the
/// polling interval, a progress that moves one percent at a time), and a
/// body costs about a tenth of a request to render: the next poll with
/// the same [`Key`] shares these bytes instead.
#[derive(Debug, Default)]
pub struct LastBody(std::sync::Mutex<Option<Box<Last>>>);

#[derive(Debug)]
struct Last {
    key: Key,
    base_url: Box<str>,
    body: bytes::Bytes,
}

impl LastBody {
    /// The body for `key` under `base_url`: the last one if it was for
    /// the same, else `render`'s, kept for the next poll.
    pub fn get_or_render(&self, key: Key, base_url: &str, render: impl FnOnce() -> bytes::Bytes) -> bytes::Bytes {
        // A poisoned lock only means a render panicked; the slot is still sound.
        let mut last = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match last.as_deref_mut() {
            Some(last) if last.key == key && *last.base_url == *base_url => last.body.clone(),
            Some(last) => {
                let body = render();
                last.key = key;
                if *last.base_url != *base_url {
                    last.base_url = base_url.into();
                }
                last.body = body.clone();
                body
            }
            None => {
                let body = render();
                *last = Some(Box::new(Last {
                    key,
                    base_url: base_url.into(),
                    body: body.clone(),
                }));
                body
            }
        }
    }
}

/// How long a download link stays valid: 9 hours, as the links of the
/// gateway's documented example (MiniMax's CN page says 1 hour: docs/apis.md).
pub const LINK_LIFETIME_SECS: u64 = 32_400;

/// Everything the query response shows about one task at one instant.
#[derive(Debug, Clone, Copy)]
pub struct TaskView<'a> {
    pub task_id: &'a str,
    pub submitted_at: UnixMillis,
    pub moment: Moment<'a>,
    pub artifact: &'a Artifact,
    /// Where download links point: the mock itself, so the video downloads.
    pub base_url: &'a str,
    /// The requested length in seconds (v2 shows it).
    pub duration_s: u32,
    /// The requested aspect ratio of a v2 task.
    pub ratio: Option<&'a str>,
    /// What only v2 shows (default for the other APIs' tasks).
    pub v2: V2View,
}

/// What a v2 task shows beyond the others: what was asked (model, task
/// type, inputs) and whether a `DELETE` cancelled it, which overrides the
/// scenario's status from then on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct V2View {
    pub request: V2Request,
    pub cancelled_at: Option<UnixMillis>,
}

/// Unix seconds of an offset from submission; saturating, since a scenario
/// step may last as long as a Duration can and a clock may be set anywhere.
fn unix_secs(submitted_at: UnixMillis, offset: std::time::Duration) -> u64 {
    let offset = u64::try_from(offset.as_millis()).unwrap_or(u64::MAX);
    submitted_at.saturating_add(offset) / 1000
}

impl TaskView<'_> {
    pub fn submit_time(&self) -> u64 {
        self.submitted_at / 1000
    }

    pub fn start_time(&self) -> u64 {
        self.moment
            .processing_started
            .map_or(0, |at| unix_secs(self.submitted_at, at))
    }

    /// When the current step began (v2's `updated_at`).
    pub fn step_time(&self) -> u64 {
        unix_secs(self.submitted_at, self.moment.entered)
    }

    pub fn finish_time(&self) -> u64 {
        self.moment.finished().map_or(0, |at| unix_secs(self.submitted_at, at))
    }

    /// The path (after the base URL) the video is served at; `backup` for the second link.
    pub fn download_path(&self, backup: bool) -> String {
        download_path(self.artifact, self.finish_time(), backup)
    }
}

/// The object path of a task's video, shaped like MiniMax's bucket keys,
/// with the frame size as a folder: the download handler serves the clip of
/// that size without looking the task up.
pub fn download_path(artifact: &Artifact, finish_time: u64, backup: bool) -> String {
    let created = finish_time.saturating_add(artifact.created_delay);
    let which = usize::from(backup);
    format!(
        "/{}inference_output%2Fvideo%2F{}%2F{}%2F{}x{}%2F{}?Expires={}&OSSAccessKeyId={}&Signature={}",
        if backup { "backup/" } else { "" },
        utc_date(created as i64),
        artifact.object_id,
        artifact.resolution.width,
        artifact.resolution.height,
        artifact.filename,
        created.saturating_add(LINK_LIFETIME_SECS),
        artifact.access_key[which],
        percent_encode(&artifact.signature[which]),
    )
}

/// RFC 3986's unreserved characters stay; everything else is escaped, as
/// the bucket escapes its signatures.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

/// A download link of `view`'s task: the mock itself, so the video downloads.
pub fn download_url(view: &TaskView<'_>, backup: bool) -> String {
    format!("{}{}", view.base_url, view.download_path(backup))
}

/// A JSON string, quoted and escaped. Most strings here need no escaping
/// (ids, statuses, URLs), so they are copied as they are; serde_json
/// escapes exactly `"`, `\\` and control characters, and does the rest.
fn string(out: &mut Vec<u8>, text: &str) {
    if !needs_escape(text.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, text).expect("writing to a Vec cannot fail");
    }
}

/// Whether `bytes` hold a control character, `"` or `\\`: eight bytes at
/// a time (SWAR), since the strings of a poll (ids, links, signatures)
/// almost never need escaping and a byte-by-byte scan was a tenth of a
/// poll's instructions.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A lane of `x` is zero exactly where this has its high bit (no false
    // positive in the lanes that matter: those below the first zero lane).
    let zero_lane = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let x = u64::from_ne_bytes(chunk.try_into().expect("a chunk of 8"));
        // Below 0x20: x - 0x20 in a lane borrows, and x had no high bit.
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        if control | zero_lane(x ^ (ONES * u64::from(b'"'))) | zero_lane(x ^ (ONES * u64::from(b'\\'))) != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

thread_local! {
    /// The buffer a poll's body is written into, kept between requests.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A buffer to write a poll's body into: this thread's kept one (returned
/// by [`into_bytes`]), or a new one of `capacity`. A body made in a fresh
/// `Vec` cost two allocations (its own and, its length short of its
/// capacity, the `Bytes` header `Bytes::from` adds) and often a regrowth.
pub fn buffer(capacity: usize) -> Vec<u8> {
    let mut out = BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
    out.clear();
    out.reserve(capacity);
    out
}

/// The body as `Bytes`, one allocation of its exact length; `out` goes
/// back to be this thread's buffer.
pub fn into_bytes(mut out: Vec<u8>) -> bytes::Bytes {
    let body = bytes::Bytes::copy_from_slice(&out);
    out.clear();
    BUFFER.with(|b| {
        let mut kept = b.borrow_mut();
        if kept.capacity() < out.capacity() {
            *kept = out;
        }
    });
    body
}

fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    serde_json::to_writer(&mut out, value).expect("plain structs always serialize");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(bytes: &[u8]) -> bool {
        bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
    }

    /// Every byte value at every position of strings of every length up to
    /// three chunks, in plain text: the same answer as byte by byte.
    #[test]
    fn the_eight_byte_scan_agrees_with_a_byte_by_byte_one() {
        for len in 0..=24 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut text = vec![b'a'; len];
                    text[at] = b;
                    assert_eq!(needs_escape(&text), naive(&text), "byte {b:#x} at {at} of {len}");
                }
            }
        }
        for text in [
            "",
            "https://x/y?Expires=1&Signature=a%2Fb",
            "é ü 中文",
            "tab\there",
            "q\"",
            "back\\slash",
        ] {
            assert_eq!(needs_escape(text.as_bytes()), naive(text.as_bytes()), "{text}");
            let mut out = Vec::new();
            string(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text}");
        }
    }

    #[test]
    fn a_last_body_is_shared_while_its_key_and_base_url_hold() {
        let key = |shape, progress| Key {
            shape,
            index: 1,
            progress,
            entered: std::time::Duration::from_secs(1),
            processing_started: Some(std::time::Duration::from_secs(1)),
            cancelled_at: None,
        };
        let last = LastBody::default();
        let renders = std::cell::Cell::new(0);
        let body = |text: &'static str| {
            renders.set(renders.get() + 1);
            bytes::Bytes::from_static(text.as_bytes())
        };
        let get = |k, base| last.get_or_render(k, base, || body("rendered"));
        assert_eq!(get(key(Shape::Envelope, 50), "http://a"), "rendered");
        assert_eq!(get(key(Shape::Envelope, 50), "http://a"), "rendered");
        assert_eq!(renders.get(), 1, "the same key renders once");
        get(key(Shape::Envelope, 51), "http://a");
        get(key(Shape::Native, 51), "http://a");
        get(key(Shape::Native, 51), "http://a/ns/x");
        assert_eq!(renders.get(), 4, "another progress, shape or base URL renders again");
        get(key(Shape::Native, 51), "http://a/ns/x");
        assert_eq!(renders.get(), 4);
    }
}
