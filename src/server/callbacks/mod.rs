//! What callbacks are allowed to do and what was sent: the settings
//! (`--callback-timeout`, `--allow-callback-host`, `--callback-status`) and
//! every attempt, for `GET /__mock/callbacks` and `MockServer::callbacks`.
//! The sending is `notifier`'s.
//!
//! May use `store` (the tasks whose updates are due), `api::render` (the
//! update bodies), `http` and `metrics`; the surfaces start a task's watcher
//! at submit.

pub mod notifier;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

use crate::lifecycle::clock::UnixMillis;
use crate::lifecycle::MinimaxStatus;

/// The challenge and each delivery must be answered within this, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Attempts kept for `GET /__mock/callbacks`.
const KEPT: usize = 10_000;

/// How a v1 update spells its `status` (`--callback-status`). MiniMax's
/// callback section contradicts itself: an update "matches the query
/// body" (whose words are `Preparing` … `Fail`), yet its status values are
/// listed as `processing`, `success`, `failed`, and its example carries
/// `"status": "success"`. The query's words are the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum StatusWords {
    /// The query's words: `Preparing`, `Queueing`, `Processing`, `Success`, `Fail`.
    #[default]
    Query,
    /// The callback section's: `processing` (for `Preparing`, `Queueing` and
    /// `Processing`), `success`, `failed`.
    Lowercase,
}

impl StatusWords {
    /// The word an update reports for MiniMax's `status`.
    pub fn word(self, status: MinimaxStatus) -> &'static str {
        match (self, status) {
            (StatusWords::Query, status) => status.as_str(),
            (
                StatusWords::Lowercase,
                MinimaxStatus::Preparing | MinimaxStatus::Queueing | MinimaxStatus::Processing,
            ) => "processing",
            (StatusWords::Lowercase, MinimaxStatus::Success) => "success",
            (StatusWords::Lowercase, MinimaxStatus::Fail) => "failed",
        }
    }
}

/// One request the mock sent to a callback URL.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attempt {
    /// Mock time it was sent.
    pub time: UnixMillis,
    pub task_id: Option<String>,
    pub url: String,
    /// `challenge` or `update`.
    pub kind: &'static str,
    /// The status an update reports (MiniMax's, or v2's).
    pub status: Option<String>,
    /// 1 for the first try of this request, 2 for the first retry, ...
    pub attempt: u32,
    pub delivered: bool,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    /// What was sent (or, dropped, what would have been).
    pub body: Value,
    /// Not sent: the step's callback fault drops it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
    /// Held this long after the status change by the step's callback fault
    /// (`"15000ms"`), so later updates may have overtaken it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delayed: Option<String>,
    /// Which copy of a duplicated update this is, 1 to `copies`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copies: Option<u32>,
}

/// The callback settings and what was sent.
#[derive(Debug)]
pub struct Callbacks {
    pub timeout: Duration,
    /// Hosts besides loopback that callbacks may go to.
    pub allowed_hosts: Vec<String>,
    /// How v1 updates spell their status.
    pub status_words: StatusWords,
    attempts: Mutex<VecDeque<Attempt>>,
    /// Woken when the clock moves or a task with a callback is polled.
    pub changed: Arc<Notify>,
}

impl Callbacks {
    pub fn new(timeout: Duration, allowed_hosts: Vec<String>) -> Self {
        Self {
            timeout,
            allowed_hosts,
            status_words: StatusWords::default(),
            attempts: Mutex::new(VecDeque::new()),
            changed: Arc::new(Notify::new()),
        }
    }

    /// The same settings, v1 updates spelling their status in `words`.
    pub fn with_status_words(mut self, words: StatusWords) -> Self {
        self.status_words = words;
        self
    }

    /// The same settings, nothing sent yet: a new namespace's.
    pub fn fresh(&self) -> Self {
        Self::new(self.timeout, self.allowed_hosts.clone()).with_status_words(self.status_words)
    }

    pub fn record(&self, attempt: Attempt) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if attempts.len() >= KEPT {
            attempts.pop_front();
        }
        attempts.push_back(attempt);
    }

    /// Every attempt (of `task_id`'s, if given), oldest first.
    pub fn list(&self, task_id: Option<&str>) -> Vec<Attempt> {
        let attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts
            .iter()
            .filter(|a| task_id.is_none_or(|t| a.task_id.as_deref() == Some(t)))
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.attempts.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Default for Callbacks {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_words_fold_the_running_statuses_into_processing() {
        use MinimaxStatus as M;
        let all = [M::Preparing, M::Queueing, M::Processing, M::Success, M::Fail];
        let words = |w: StatusWords| all.map(|s| w.word(s));
        assert_eq!(
            words(StatusWords::Query),
            ["Preparing", "Queueing", "Processing", "Success", "Fail"]
        );
        assert_eq!(
            words(StatusWords::Lowercase),
            ["processing", "processing", "processing", "success", "failed"]
        );
    }
}
