//! The state every request sees: one `Arc<App>` shared by the connections,
//! whose locks are never held across an `.await`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use bytes::Bytes;

use crate::contract::Contract;
use crate::lifecycle::scenarios::Catalog;
use crate::server::callbacks::Callbacks;
use crate::server::control::guard::Guard;
use crate::server::control::redact::Secrets;
use crate::server::media::video::Library;
use crate::server::persist::Persist;
use crate::server::store::tasks::Task;
use crate::server::store::Store;

/// The state every request sees.
#[derive(Debug)]
pub struct App {
    /// The `Arc` this `App` lives in, for work that outlives a request (callbacks).
    pub this: Weak<App>,
    pub contract: Arc<Contract>,
    pub catalog: Catalog,
    /// Tasks, the clock, the journal: everything a request changes.
    pub store: Store,
    pub base_url: String,
    pub max_body: usize,
    pub quiet: bool,
    pub video: Library,
    pub control: bool,
    pub require_auth: bool,
    /// The documented example's bytes, looked up once.
    pub documented: Bytes,
    /// `--state`: where changes are written.
    pub persist: Option<Persist>,
    /// Set when tasks or the clock change, for the state saver.
    pub dirty: AtomicBool,
    /// What the gateway's query path answers with.
    pub gateway_query: QueryShape,
    pub callbacks: Callbacks,
    /// The head and keep-alive timeouts of every connection.
    pub timeouts: crate::server::http::connection::Timeouts,
    /// Connections past this many are refused.
    pub max_connections: usize,
    /// When forgotten tasks were last logged, and how many there were then.
    pub forgotten_log: Mutex<Option<std::time::Instant>>,
    pub forgotten_logged: AtomicU64,
    /// Whether the control API shows credentials shortened (the default) or in full.
    pub secrets: Secrets,
    /// Who may use the control API.
    pub guard: Guard,
    /// Recorded submit answers still to give (`--replay`).
    pub replay_submits: crate::server::replay::Submits,
    /// Recorded files/retrieve answers, by file id (`--replay`).
    pub replay_files: crate::server::replay::Files,
    /// The OpenAPI document of this server, made on first request.
    pub openapi: OnceLock<Bytes>,
    /// What `/__mock/metrics` shows: counters the request path adds to.
    pub metrics: crate::server::metrics::Metrics,
}

/// Forgotten tasks are logged at most this often.
const FORGOTTEN_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// What `GET /minimax/v1/query/video_generation` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum QueryShape {
    /// The documented envelope `{code, message, data: TaskDto}`.
    #[default]
    Envelope,
    /// MiniMax's own query body, passed through as some gateways do.
    Native,
}

impl App {
    /// Notes that tasks or the clock changed (polls count too), so that
    /// `--state` saves them. Without `--state` it touches nothing shared:
    /// every poll calls it.
    pub fn changed(&self) {
        if self.persist.is_some() {
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// A task was created or replaced (for `--state`).
    pub fn note_task(&self, task: &Arc<Task>) {
        if let Some(persist) = &self.persist {
            persist.task(task);
            self.changed();
        }
    }

    /// A task was polled (for `--state`; nothing to do without it).
    pub fn note_polled(&self, task: &Task) {
        if let Some(persist) = &self.persist {
            persist.polled(task);
            self.changed();
        }
    }

    pub fn note_removed(&self, id: &str) {
        if let Some(persist) = &self.persist {
            persist.removed(id);
            self.changed();
        }
    }

    pub fn note_clock(&self) {
        if let Some(persist) = &self.persist {
            persist.clock();
            self.changed();
        }
    }

    pub fn note_reset(&self) {
        if let Some(persist) = &self.persist {
            persist.reset();
            self.changed();
        }
    }

    /// Appends the changes to `--state`'s log now; a failure is reported,
    /// not fatal (the next change tries again).
    pub fn save(&self) {
        if let Some(persist) = &self.persist {
            self.dirty.store(false, Ordering::Relaxed);
            if let Err(e) = persist.flush(self.store.tasks(), self.store.clock(), &self.catalog) {
                eprintln!("minimax-mock: {}: cannot save the state: {e}", persist.path().display());
            }
        }
    }

    /// Folds `--state` into one snapshot (at shutdown).
    pub fn save_all(&self) {
        if let Some(persist) = &self.persist {
            if let Err(e) = persist.fold_now(self.store.tasks(), self.store.clock(), &self.catalog) {
                eprintln!("minimax-mock: {}: cannot save the state: {e}", persist.path().display());
            }
        }
    }

    /// Logs, at most once a minute, how many tasks were forgotten to stay
    /// within `--max-tasks`. Cheap when nothing was: one atomic load.
    pub fn note_forgotten(&self) {
        let forgotten = self.store.tasks().forgotten();
        if forgotten == self.forgotten_logged.load(Ordering::Relaxed) {
            return;
        }
        let mut last = self.forgotten_log.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < FORGOTTEN_LOG_EVERY) {
            return;
        }
        *last = Some(std::time::Instant::now());
        self.forgotten_logged.store(forgotten, Ordering::Relaxed);
        self.log(format_args!(
            "minimax-mock: {forgotten} tasks forgotten so far, oldest first, to stay within --max-tasks {}",
            self.store.tasks().max_tasks()
        ));
    }

    /// The OpenAPI document of the APIs this server answers, as its flags
    /// shape them (`GET /openapi.json`).
    pub fn openapi(&self) -> Bytes {
        self.openapi
            .get_or_init(|| {
                let options = crate::contract::openapi::Options {
                    server_url: self.base_url.clone(),
                    control: self.control,
                    require_auth: self.require_auth,
                    gateway_query_native: self.gateway_query == QueryShape::Native,
                };
                let document = crate::contract::openapi::document(&self.contract, &options);
                Bytes::from(serde_json::to_vec(&document).expect("a Value serializes"))
            })
            .clone()
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
