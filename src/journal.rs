//! The request journal: what the client sent and what it was answered, so a
//! test can assert on its client afterwards (`GET /__mock/requests`).
//!
//! Recording is on the hot path of every request, so an entry keeps the
//! request's parsed parts as they are (moved, not copied) and is turned into
//! JSON only when someone asks. The journal is bounded: the oldest entries
//! go first.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use hyper::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{json, Value};

use crate::clock::UnixMillis;
use crate::server::query_param;

/// How many requests the journal keeps.
pub const CAPACITY: usize = 10_000;

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    /// Mock time of the request.
    pub time: UnixMillis,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The status answered; `None` when the connection was reset instead.
    pub status: Option<StatusCode>,
    /// The task a submission created (a query's is in its URI).
    pub created_task: Option<String>,
}

impl Entry {
    /// The task the request is about.
    pub fn task_id(&self) -> Option<String> {
        self.created_task.clone().or_else(|| {
            self.uri
                .query()
                .and_then(|q| query_param(q, "task_id"))
                .map(|t| t.into_owned())
        })
    }

    pub fn to_json(&self) -> Value {
        let mut headers = serde_json::Map::new();
        for (name, value) in &self.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                // Repeated headers are joined, as RFC 9110 allows.
                Some(Value::String(seen)) => {
                    seen.push_str(", ");
                    seen.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::String(value));
                }
            }
        }
        json!({
            "seq": self.seq,
            "time": self.time,
            "method": self.method.as_str(),
            "path": self.uri.path(),
            "query": self.uri.query(),
            "task_id": self.task_id(),
            "headers": headers,
            "body": String::from_utf8_lossy(&self.body),
            "status": self.status.map(|s| s.as_u16()),
            "reset": self.status.is_none(),
        })
    }
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
        self.path.as_deref().is_none_or(|p| entry.uri.path() == p)
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

#[derive(Debug, Default)]
struct Inner {
    entries: VecDeque<Entry>,
    next_seq: u64,
}

/// Every request received, oldest first.
#[derive(Debug, Default)]
pub struct Journal {
    inner: Mutex<Inner>,
}

impl Journal {
    /// Records an entry; its `seq` is assigned here.
    pub fn record(&self, mut entry: Entry) {
        let mut inner = self.lock();
        entry.seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.entries.len() == CAPACITY {
            inner.entries.pop_front();
        }
        inner.entries.push_back(entry);
    }

    /// The entries that match, oldest first.
    pub fn list(&self, filter: &Filter) -> Vec<Entry> {
        self.lock()
            .entries
            .iter()
            .filter(|e| filter.matches(e))
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.next_seq = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(target: &str) -> Entry {
        Entry {
            seq: 0,
            time: 5,
            method: Method::GET,
            uri: target.parse().unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            status: Some(StatusCode::OK),
            created_task: None,
        }
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
        assert_eq!(by_path[0].to_json()["path"], "/other");
        j.clear();
        assert!(j.list(&Filter::default()).is_empty());
    }

    #[test]
    fn bounded() {
        let j = Journal::default();
        for _ in 0..CAPACITY + 5 {
            j.record(entry("/x"));
        }
        let all = j.list(&Filter::default());
        assert_eq!((all.len(), all[0].seq), (CAPACITY, 5));
    }
}
