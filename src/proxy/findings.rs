//! What judging live traffic found, for `GET /__mock/findings`: one record
//! per answer with errors or warnings, newest last, bounded like the journal.
//! The count of judged answers is kept too, so a test (or a script) can tell
//! "judged and fine" from "not judged yet" without sleeping.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{json, Value};

use crate::validate::Finding;

/// How many records are kept: the newest this many.
pub const CAPACITY: usize = 10_000;

/// One judged answer that had errors or warnings.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Unix time of the request, in milliseconds.
    pub time: u64,
    /// Its index in the recording's `log.entries` (and in the log lines'
    /// `FILE#INDEX`), counting every exchange forwarded.
    pub entry: usize,
    pub method: String,
    pub path: String,
    pub task_id: Option<String>,
    pub status: u16,
    /// The schema the body was judged against (none for a body that is not JSON).
    pub schema: Option<String>,
    /// `{pointer, keyword, message}`, as `validate --format json` gives them.
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

/// The records, and how many answers were judged.
#[derive(Debug, Default)]
pub struct Findings {
    records: Mutex<VecDeque<Record>>,
    judged: AtomicU64,
}

impl Findings {
    /// Counts a judged answer, keeping its record if it found anything.
    pub fn judged(&self, record: Option<Record>) {
        if let Some(record) = record {
            let mut records = self.lock();
            if records.len() >= CAPACITY {
                records.pop_front();
            }
            records.push_back(record);
        }
        self.judged.fetch_add(1, Ordering::Release);
    }

    /// How many answers were judged since the start (or the last clear).
    pub fn judged_count(&self) -> u64 {
        self.judged.load(Ordering::Acquire)
    }

    pub fn list(&self) -> Vec<Record> {
        self.lock().iter().cloned().collect()
    }

    /// `{"judged": N, "findings": [...]}`.
    pub fn to_json(&self) -> Value {
        let records = self.list();
        json!({"judged": self.judged_count(), "findings": records})
    }

    pub fn clear(&self) {
        self.lock().clear();
        self.judged.store(0, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(entry: usize) -> Record {
        Record {
            time: 1,
            entry,
            method: "GET".into(),
            path: "/p".into(),
            task_id: None,
            status: 200,
            schema: Some("s".into()),
            errors: vec![Finding {
                pointer: "/a".into(),
                keyword: "type".into(),
                message: "m".into(),
                position: None,
            }],
            warnings: vec![],
        }
    }

    #[test]
    fn records_counts_and_clear() {
        let f = Findings::default();
        f.judged(None);
        f.judged(Some(record(1)));
        let v = f.to_json();
        assert_eq!(v["judged"], 2);
        assert_eq!(
            v["findings"][0]["errors"][0],
            json!({"pointer": "/a", "keyword": "type", "message": "m"})
        );
        assert_eq!(v["findings"][0]["entry"], 1);
        f.clear();
        assert_eq!(f.to_json(), json!({"judged": 0, "findings": []}));
    }

    #[test]
    fn bounded() {
        let f = Findings::default();
        for i in 0..CAPACITY + 3 {
            f.judged(Some(record(i)));
        }
        let list = f.list();
        assert_eq!((list.len(), list[0].entry), (CAPACITY, 3));
    }
}
