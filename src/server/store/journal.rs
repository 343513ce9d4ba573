//! The request journal: what the client sent and what it was answered, so a
//! test can assert on its client afterwards (`GET /__mock/requests`).
//!
//! Recording is on the hot path of every request, so an entry is compact:
//! the target and the headers are copied into one string each, and it is
//! turned into JSON only when someone asks. (Keeping hyper's parsed parts
//! instead was measured: they are slices of the connection's read buffer, so
//! each entry pinned kilobytes and 10,000 entries held 60 MB.) The journal
//! is bounded: the oldest entries go first.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use hyper::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{json, Value};

use crate::lifecycle::clock::UnixMillis;
use crate::server::control::redact::{self, Secrets};
use crate::server::http::query_param;

/// How many requests the journal lists: the newest this many. Each thread
/// keeps as many in its shard, so memory is bounded by the thread count.
pub const CAPACITY: usize = 10_000;

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Position in the journal, oldest first (assigned when listed; the
    /// oldest entry of a full journal is dropped, and positions move up).
    pub seq: u64,
    /// A stable cursor: nanoseconds since the first entry of the process,
    /// the same on every listing (unlike `seq`, a position).
    pub id: u64,
    /// When it was recorded: orders entries across the threads' shards
    /// without a counter both threads would write on every request.
    at: std::time::Instant,
    /// Mock time of the request.
    pub time: UnixMillis,
    pub method: Method,
    /// Path and query as sent, a newline, then `name: value` lines: one
    /// allocation for the whole request head.
    head: String,
    pub body: Bytes,
    /// The status answered; `None` when the connection was reset instead
    /// (or, for a request the mock sent, when no answer came).
    pub status: Option<StatusCode>,
    /// A request the mock sent (a callback), not one it received.
    pub outgoing: bool,
    /// The task a submission created (a query's is in its URI).
    pub named_task: Option<String>,
}

impl Entry {
    /// Copies what the journal keeps of a request.
    pub fn new(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        status: Option<StatusCode>,
        task_id: Option<String>,
    ) -> Self {
        Self::received_at(std::time::Instant::now(), method, uri, headers, body, status, task_id)
    }

    /// [`Entry::new`] for a request that arrived at `at`: the server reads
    /// the clock once a request, for its metrics, and orders the journal
    /// by the same reading.
    pub fn received_at(
        at: std::time::Instant,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        status: Option<StatusCode>,
        task_id: Option<String>,
    ) -> Self {
        let target = uri.path_and_query().map_or_else(|| uri.path(), |pq| pq.as_str());
        // The bytes as they are, in one buffer of the exact length, and one
        // UTF-8 check of the whole: a conversion per header value cost more
        // than the copying. A value that is not UTF-8 (hyper allows any
        // byte but controls) is made valid in place: every value ends in an
        // ASCII newline, so what is replaced is what a per-value conversion
        // would replace.
        let len = headers.iter().fold(target.len() + 1, |n, (name, value)| {
            n + name.as_str().len() + value.len() + 3
        });
        let mut head = Vec::with_capacity(len);
        head.extend_from_slice(target.as_bytes());
        head.push(b'\n');
        for (name, value) in headers {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.push(b'\n');
        }
        let lines = String::from_utf8(head).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        epoch();
        Self {
            seq: 0,
            id: 0,
            at,
            time: 0,
            method: method.clone(),
            // Not shrunk to fit: that would copy it once more.
            head: lines,
            body: Bytes::copy_from_slice(body),
            status,
            named_task: task_id,
            outgoing: false,
        }
    }

    fn target(&self) -> &str {
        self.head.split_once('\n').map_or(&self.head, |(target, _)| target)
    }

    pub fn path(&self) -> &str {
        let target = self.target();
        target.split_once('?').map_or(target, |(path, _)| path)
    }

    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, query)| query)
    }

    /// Every header, lower-case names, in the order sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.head.lines().skip(1).filter_map(|l| l.split_once(": "))
    }

    /// A header's value (repeated headers joined with `, `).
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// The task the request is about.
    pub fn task_id(&self) -> Option<String> {
        self.named_task.clone().or_else(|| {
            self.query()
                .and_then(|q| query_param(q, "task_id"))
                .map(|t| t.into_owned())
        })
    }

    /// The entry as the control API serves it: with `Secrets::Redact`,
    /// credentials (headers and key-like query parameters) shortened.
    pub fn to_json(&self, secrets: Secrets) -> Value {
        let redact = secrets == Secrets::Redact;
        let mut headers = serde_json::Map::new();
        for (name, value) in self.headers() {
            let value = if redact {
                redact::header(name, value).into_owned()
            } else {
                value.to_owned()
            };
            match headers.get_mut(name) {
                // Repeated headers are joined, as RFC 9110 allows.
                Some(Value::String(seen)) => {
                    seen.push_str(", ");
                    seen.push_str(&value);
                }
                _ => {
                    headers.insert(name.to_owned(), Value::String(value));
                }
            }
        }
        json!({
            "seq": self.seq,
            "id": self.id,
            "time": self.time,
            "method": self.method.as_str(),
            "path": self.path(),
            "query": self.query().map(|q| if redact { redact::query(q) } else { q.into() }),
            "task_id": self.task_id(),
            "headers": headers,
            "body": String::from_utf8_lossy(&self.body),
            "status": self.status.map(|s| s.as_u16()),
            "reset": self.status.is_none() && !self.outgoing,
            "direction": if self.outgoing { "outgoing" } else { "incoming" },
        })
    }
}

/// A request's entry made before it is answered (`--store`, a GET on an
/// API): the shared store writes it with the poll, so a request costs one
/// round trip to Redis instead of two. Foreseen as answered 200 with no
/// task created; an answer that turns out otherwise replaces it.
#[derive(Debug)]
pub struct Draft {
    pub entry: Entry,
    /// The entry as the store keeps it, until a poll takes it to write.
    pub record: Option<Vec<u8>>,
    /// The stream id of the entry a poll wrote.
    pub written: Option<String>,
}

impl Draft {
    pub fn new(mut entry: Entry) -> Self {
        entry.status = Some(StatusCode::OK);
        let record = Some(entry.to_record());
        Self {
            entry,
            record,
            written: None,
        }
    }

    /// Whether the answer given is the one the draft foresaw.
    pub fn foresaw(&self, status: Option<StatusCode>, task_id: Option<&str>, body: &[u8]) -> bool {
        status == self.entry.status && task_id.is_none() && body.is_empty()
    }
}

tokio::task_local! {
    /// The draft of the request this task answers, if it has one.
    pub static DRAFT: std::cell::RefCell<Option<Draft>>;
}

/// The instant entry ids count from: set before the first entry is made.
fn epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

/// An entry as a shared store keeps it (`serve --store`): a few fixed
/// fields, then the head and the body as they are, so a binary body comes
/// back byte for byte. Read back with [`Entry::from_record`].
impl Entry {
    pub fn to_record(&self) -> Vec<u8> {
        let method = self.method.as_str().as_bytes();
        let task = self.named_task.as_deref().unwrap_or("").as_bytes();
        let mut out = Vec::with_capacity(24 + method.len() + task.len() + self.head.len() + self.body.len());
        out.extend_from_slice(&self.time.to_le_bytes());
        out.extend_from_slice(&self.status.map_or(0u16, |s| s.as_u16()).to_le_bytes());
        out.push(u8::from(self.outgoing) | (u8::from(self.named_task.is_some()) << 1));
        for part in [method, task, self.head.as_bytes()] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&self.body);
        out
    }

    /// The entry a record holds, as the `id`-th of a listing; `None` for
    /// bytes that are not one.
    pub fn from_record(record: &[u8], id: u64) -> Option<Self> {
        let (time, rest) = record.split_first_chunk::<8>()?;
        let (status, rest) = rest.split_first_chunk::<2>()?;
        let (&flags, mut rest) = rest.split_first()?;
        let mut parts = [&[][..]; 3];
        for part in &mut parts {
            let (len, after) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            if after.len() < len {
                return None;
            }
            (*part, rest) = after.split_at(len);
        }
        let status = u16::from_le_bytes(*status);
        Some(Self {
            seq: 0,
            id,
            at: std::time::Instant::now(),
            time: u64::from_le_bytes(*time),
            method: Method::from_bytes(parts[0]).ok()?,
            head: String::from_utf8(parts[2].to_vec()).ok()?,
            body: Bytes::copy_from_slice(rest),
            status: if status == 0 {
                None
            } else {
                StatusCode::from_u16(status).ok()
            },
            outgoing: flags & 1 != 0,
            named_task: (flags & 2 != 0).then(|| String::from_utf8_lossy(parts[1]).into_owned()),
        })
    }
}

/// Numbers `entries` (oldest first) as listed and keeps those `filter`
/// matches with an `id` above `after`, at most `limit`: a shared store's
/// journal, listed as [`Journal::page`] lists this process's.
pub fn listed(mut entries: Vec<Entry>, filter: &Filter, after: Option<u64>, limit: usize) -> Vec<Entry> {
    for (seq, entry) in entries.iter_mut().enumerate() {
        entry.seq = seq as u64;
    }
    entries.retain(|e| filter.matches(e) && after.is_none_or(|after| e.id > after));
    entries.truncate(limit);
    entries
}

/// Which entries to list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub path: Option<String>,
    pub task_id: Option<String>,
    pub method: Option<String>,
}

impl Filter {
    pub fn matches(&self, entry: &Entry) -> bool {
        self.path.as_deref().is_none_or(|p| same_path(entry.path(), p))
            && self
                .method
                .as_deref()
                .is_none_or(|m| entry.method.as_str().eq_ignore_ascii_case(m))
            && self
                .task_id
                .as_deref()
                .is_none_or(|t| entry.task_id().as_deref() == Some(t))
    }
}

/// Whether `path` (as received) is `wanted`, with or without its
/// namespace's prefix: in `/ns/t1`, `?path=/v1/query/video_generation`
/// finds `/ns/t1/v1/query/video_generation`.
fn same_path(path: &str, wanted: &str) -> bool {
    path == wanted
        || super::namespaces::split(path)
            .and_then(Result::ok)
            .is_some_and(|(_, rest)| rest == wanted)
}

/// Shards, so the two worker threads do not contend for one lock and one
/// deque on every request; each entry's monotonic time keeps the order.
const SHARDS: usize = 8;

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

/// Every request received, oldest first.
#[derive(Debug)]
pub struct Journal {
    shards: [Mutex<VecDeque<Entry>>; SHARDS],
}

impl Default for Journal {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(VecDeque::new())),
        }
    }
}

impl Journal {
    /// Records an entry.
    pub fn record(&self, entry: Entry) {
        let shard = SHARD.with(|i| *i);
        let evicted = {
            let mut entries = lock(&self.shards[shard]);
            let evicted = (entries.len() >= CAPACITY).then(|| entries.pop_front()).flatten();
            entries.push_back(entry);
            evicted
        };
        // Freed after the lock is released.
        drop(evicted);
    }

    /// The entries that match, oldest first.
    /// Up to `limit` matching entries with an `id` above `after`, oldest first.
    pub fn page(&self, filter: &Filter, after: Option<u64>, limit: usize) -> Vec<Entry> {
        let mut entries = self.list(filter);
        if let Some(after) = after {
            entries.retain(|e| e.id > after);
        }
        entries.truncate(limit);
        entries
    }

    pub fn list(&self, filter: &Filter) -> Vec<Entry> {
        let mut all: Vec<Entry> = self
            .shards
            .iter()
            .flat_map(|shard| lock(shard).iter().cloned().collect::<Vec<_>>())
            .collect();
        all.sort_by_key(|e| e.at);
        // Several threads' shards together may hold more: list the newest CAPACITY.
        let excess = all.len().saturating_sub(CAPACITY);
        all.drain(..excess);
        let epoch = epoch();
        for (seq, entry) in all.iter_mut().enumerate() {
            entry.seq = seq as u64;
            entry.id = entry.at.saturating_duration_since(epoch).as_nanos() as u64;
        }
        all.retain(|e| filter.matches(e));
        all
    }

    pub fn clear(&self) {
        for shard in &self.shards {
            lock(shard).clear();
        }
    }
}

fn lock(shard: &Mutex<VecDeque<Entry>>) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn entry(target: &str) -> Entry {
        let mut headers = HeaderMap::new();
        headers.append("x-a", "1".parse().unwrap());
        headers.append("x-a", "2".parse().unwrap());
        Entry::new(
            &Method::GET,
            &target.parse().unwrap(),
            &headers,
            b"",
            Some(StatusCode::OK),
            None,
        )
    }

    #[test]
    fn records_come_back_byte_for_byte() {
        let uri: Uri = "/v1/videos?x=1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "multipart/form-data; boundary=x".parse().unwrap());
        let mut entry = Entry::new(
            &Method::POST,
            &uri,
            &headers,
            b"\x00\xffbody",
            Some(StatusCode::OK),
            Some("t1".into()),
        );
        entry.time = 42;
        entry.outgoing = true;
        let back = Entry::from_record(&entry.to_record(), 7).unwrap();
        assert_eq!((back.id, back.time, back.outgoing), (7, 42, true));
        assert_eq!(
            (&back.method, back.status, back.named_task.as_deref()),
            (&Method::POST, Some(StatusCode::OK), Some("t1"))
        );
        assert_eq!((back.path(), back.query()), ("/v1/videos", Some("x=1")));
        assert_eq!(&back.body[..], b"\x00\xffbody");
        assert_eq!(
            back.header("content-type").as_deref(),
            Some("multipart/form-data; boundary=x")
        );
        assert!(Entry::from_record(&entry.to_record()[..5], 0).is_none());
    }

    #[test]
    fn entries_keep_target_and_headers() {
        let e = entry("/p?task_id=7&x=1");
        assert_eq!((e.path(), e.query()), ("/p", Some("task_id=7&x=1")));
        assert_eq!(e.header("X-A").as_deref(), Some("1, 2"));
        assert_eq!(e.task_id().as_deref(), Some("7"));
        assert_eq!(
            e.to_json(Secrets::Redact)["headers"],
            serde_json::json!({"x-a": "1, 2"})
        );
    }

    #[test]
    fn a_value_that_is_not_utf8_is_kept_made_valid() {
        let mut headers = HeaderMap::new();
        headers.insert("x-a", HeaderValue::from_bytes(b"a\xffb").unwrap());
        headers.insert("x-b", HeaderValue::from_static("c"));
        let e = Entry::new(&Method::GET, &"/p".parse().unwrap(), &headers, b"", None, None);
        assert_eq!(e.header("x-a").as_deref(), Some("a\u{fffd}b"));
        assert_eq!(e.header("x-b").as_deref(), Some("c"));
        assert_eq!(e.path(), "/p");
    }

    #[test]
    fn credentials_are_redacted_unless_kept() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer sk-1234567890ab12".parse().unwrap());
        headers.insert("x-api-key", "short-key".parse().unwrap());
        let e = Entry::new(
            &Method::GET,
            &"/q?task_id=7&api_key=0123456789abcdef".parse().unwrap(),
            &headers,
            b"",
            Some(StatusCode::OK),
            None,
        );
        let shown = e.to_json(Secrets::Redact);
        assert_eq!(shown["headers"]["authorization"], "Bearer sk-1…ab12");
        assert_eq!(shown["headers"]["x-api-key"], "…");
        assert_eq!(shown["query"], "task_id=7&api_key=0123…cdef");
        assert_eq!(shown["task_id"], "7");
        let kept = e.to_json(Secrets::Keep);
        assert_eq!(kept["headers"]["authorization"], "Bearer sk-1234567890ab12");
        assert_eq!(kept["query"], "task_id=7&api_key=0123456789abcdef");
        assert_eq!(e.header("authorization").as_deref(), Some("Bearer sk-1234567890ab12"));
    }

    #[test]
    fn filters_and_order() {
        let j = Journal::default();
        j.record(entry("/minimax/v1/query/video_generation?task_id=1"));
        j.record(entry("/minimax/v1/query/video_generation?task_id=2"));
        j.record(entry("/other"));
        let by_task = j.list(&Filter {
            task_id: Some("2".into()),
            ..Filter::default()
        });
        assert_eq!(by_task.len(), 1);
        assert_eq!(by_task[0].seq, 1);
        let by_path = j.list(&Filter {
            path: Some("/other".into()),
            ..Filter::default()
        });
        assert_eq!(by_path[0].to_json(Secrets::Keep)["path"], "/other");
        j.clear();
        assert!(j.list(&Filter::default()).is_empty());
    }

    #[test]
    fn bounded() {
        let j = Journal::default();
        for i in 0..CAPACITY + 5 {
            j.record(entry(&format!("/x{i}")));
        }
        let all = j.list(&Filter::default());
        assert_eq!((all.len(), all[0].seq, all[0].path()), (CAPACITY, 0, "/x5"));
    }
}
