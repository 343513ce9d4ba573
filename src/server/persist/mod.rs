//! When `--state` writes: changes are noted as they happen (a task created,
//! replaced or removed, a poll, the clock), appended to the change log a few
//! times a second, and folded into a new snapshot when the log has grown
//! past the snapshot (and at shutdown). A poll costs a set insertion, never
//! a rewrite of the whole state: a million tasks stay cheap to keep.
//!
//! Test hook (for the crash-safety tests only): with
//! `MINIMAX_MOCK_TEST_PAUSE_WRITE=snapshot:N` or `log:N`, the N-th snapshot
//! or log append is written half, synced, and the process then stops there,
//! so a test can kill it at exactly that moment.
//!
//! Owns the state file (`state`: its format, read back). May use `store`
//! (what it saves) and `lifecycle`; nothing on the request path waits for it:
//! writes happen on a blocking thread.

pub mod state;

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::lifecycle::clock::Clock;
use crate::lifecycle::scenarios::Catalog;
use crate::server::persist::state::Change;
use crate::server::store::tasks::{Task, TaskStore};

/// The log is folded into a new snapshot once it is larger than this and
/// than the snapshot.
const FOLD_AT: u64 = 1 << 20;

/// What changed since the last append.
#[derive(Debug, Default)]
struct Pending {
    changes: Vec<Noted>,
    polled: HashSet<Box<str>>,
}

#[derive(Debug)]
enum Noted {
    Task(Arc<Task>),
    Remove(Box<str>),
    Clock,
    Reset,
}

#[derive(Debug)]
struct Log {
    file: Option<std::fs::File>,
    generation: u64,
    bytes: u64,
    snapshot_bytes: u64,
}

/// The state file and its change log.
#[derive(Debug)]
pub struct Persist {
    path: PathBuf,
    log_path: PathBuf,
    pending: Mutex<Pending>,
    log: Mutex<Log>,
}

impl Persist {
    /// For `path`, continuing `generation` (of the snapshot loaded, or 0).
    pub fn new(path: PathBuf, generation: u64) -> Self {
        Self {
            log_path: state::log_path(&path),
            path,
            pending: Mutex::new(Pending::default()),
            log: Mutex::new(Log {
                file: None,
                generation,
                bytes: 0,
                snapshot_bytes: 0,
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A task was created or replaced.
    pub fn task(&self, task: &Arc<Task>) {
        self.pending().changes.push(Noted::Task(task.clone()));
    }

    pub fn removed(&self, id: &str) {
        self.pending().changes.push(Noted::Remove(id.into()));
    }

    /// A task was polled (its count is written at the next append).
    pub fn polled(&self, task: &Task) {
        let mut pending = self.pending();
        if !pending.polled.contains(&*task.id) {
            pending.polled.insert(task.id.clone());
        }
    }

    pub fn clock(&self) {
        self.pending().changes.push(Noted::Clock);
    }

    pub fn reset(&self) {
        self.pending().changes.push(Noted::Reset);
    }

    /// Appends what changed; folds the log into a snapshot once it is large.
    pub fn flush(&self, tasks: &TaskStore, clock: &Clock, catalog: &Catalog) -> std::io::Result<()> {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.file.is_none() || log.bytes > FOLD_AT.max(log.snapshot_bytes) {
            return self.fold(&mut log, tasks, clock, catalog);
        }
        let pending = std::mem::take(&mut *self.pending());
        let mut text = Vec::new();
        let mut line = |change: &Change| {
            serde_json::to_writer(&mut text, change).expect("a change always serializes");
            text.push(b'\n');
        };
        for noted in &pending.changes {
            match noted {
                Noted::Task(task) => {
                    line(&Change::Task(Box::new(state::saved_task(task, catalog))));
                    line(&Change::Submissions(tasks.submissions()));
                }
                Noted::Remove(id) => line(&Change::Remove(id.to_string())),
                Noted::Clock => line(&Change::Clock(state::saved_clock(clock))),
                Noted::Reset => {
                    line(&Change::Reset(true));
                    line(&Change::Submissions(tasks.submissions()));
                }
            }
        }
        if !pending.polled.is_empty() {
            let polls: HashMap<String, u64> = pending
                .polled
                .iter()
                .filter_map(|id| tasks.get(id).map(|t| (id.to_string(), t.polls())))
                .collect();
            line(&Change::Polls(polls));
        }
        if text.is_empty() {
            return Ok(());
        }
        let file = log.file.as_mut().expect("opened by fold");
        if state::test_pause("log") {
            file.write_all(&text[..text.len() / 2])?;
            file.sync_data()?;
            state::pause_forever();
        }
        file.write_all(&text)?;
        file.sync_data()?;
        log.bytes += text.len() as u64;
        Ok(())
    }

    /// Writes everything as a new snapshot of the next generation, then
    /// starts a new log for it. A crash between the two leaves a log of the
    /// old generation, which the next load skips: the snapshot holds it.
    fn fold(&self, log: &mut Log, tasks: &TaskStore, clock: &Clock, catalog: &Catalog) -> std::io::Result<()> {
        // Everything noted so far is in the snapshot; what is noted while it
        // is written goes to the new log too (changes are absolute).
        drop(std::mem::take(&mut *self.pending()));
        let generation = log.generation + 1;
        let saved = state::snapshot(tasks, clock, catalog, generation);
        let snapshot_bytes = state::write(&self.path, &saved)?;
        let mut first = serde_json::to_vec(&Change::Generation(generation)).expect("serializes");
        first.push(b'\n');
        let file = new_log(&self.log_path, &first)?;
        *log = Log {
            file: Some(file),
            generation,
            bytes: first.len() as u64,
            snapshot_bytes,
        };
        Ok(())
    }

    /// Folds now (at shutdown): the next start reads one snapshot.
    pub fn fold_now(&self, tasks: &TaskStore, clock: &Clock, catalog: &Catalog) -> std::io::Result<()> {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        self.fold(&mut log, tasks, clock, catalog)
    }
}

/// Replaces the log at `path` with one holding `first`, atomically, and
/// opens it for appending.
fn new_log(path: &Path, first: &[u8]) -> std::io::Result<std::fs::File> {
    let temporary = state::temporary_beside(path);
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(first)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result?;
    std::fs::OpenOptions::new().append(true).open(path)
}
