//! The state every request sees: one `Arc<App>` shared by the connections,
//! whose locks are never held across an `.await`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::contract::Contract;
use crate::lifecycle::clock::Clock;
use crate::lifecycle::scenarios::Catalog;
use crate::server::journal::Journal;
use crate::server::tasks::TaskStore;
// Shared through the folder (mod.rs re-exports it) rather than named as
// `video::Library`: video.rs names `App` for its handler, so that would be a
// cycle between the two files. Moving `Library` to a file of its own would
// remove the cycle itself.
use crate::server::Library;

/// The state every request sees.
#[derive(Debug)]
pub struct App {
    pub contract: Arc<Contract>,
    pub catalog: Catalog,
    pub clock: Clock,
    pub tasks: TaskStore,
    pub base_url: String,
    pub max_body: usize,
    pub quiet: bool,
    pub video: Library,
    pub journal: Journal,
    pub control: bool,
    pub require_auth: bool,
    /// The documented example's bytes, looked up once.
    pub documented: Bytes,
    /// Where `--state` saves.
    pub state: Option<PathBuf>,
    /// Set when tasks or the clock change, for the state saver.
    pub dirty: AtomicBool,
}

impl App {
    /// Notes that tasks or the clock changed (polls count too), so that
    /// `--state` saves them. Without `--state` it touches nothing shared:
    /// every poll calls it.
    pub fn changed(&self) {
        if self.state.is_some() {
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// One line on stderr unless `--quiet`; one write, so lines from both
    /// workers never interleave.
    pub fn log(&self, line: std::fmt::Arguments<'_>) {
        if self.quiet {
            return;
        }
        let line = format!("{line}\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    }
}
