//! The state every request sees: one `Arc<App>` per namespace, shared by
//! the connections, whose locks are never held across an `.await`; and
//! [`Shared`], what the namespaces of an instance have in common.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use bytes::Bytes;

use crate::contract::Contract;
use crate::lifecycle::clock::{Clock, UnixMillis};
use crate::lifecycle::scenarios::Catalog;
use crate::server::callbacks::Callbacks;
use crate::server::control::guard::Guard;
use crate::server::control::redact::Secrets;
use crate::server::media::video::Library;
use crate::server::persist::Persist;
use crate::server::store::namespaces::{self, Namespaces};
use crate::server::store::tasks::{Task, TaskStore};
use crate::server::store::Store;

/// What every namespace of an instance shares: the contract, the
/// scenarios, the flags and the gates. Reached through [`App`]'s `Deref`,
/// so `app.contract` reads the same in every handler.
#[derive(Debug)]
pub struct Shared {
    pub contract: Arc<Contract>,
    pub catalog: Catalog,
    pub max_body: usize,
    pub quiet: bool,
    pub video: Library,
    pub control: bool,
    pub require_auth: bool,
    /// The documented example's bytes, looked up once.
    pub documented: Bytes,
    /// What the gateway's query path answers with.
    pub gateway_query: QueryShape,
    /// The head and keep-alive timeouts of every connection.
    pub timeouts: crate::server::http::connection::Timeouts,
    /// Connections past this many are refused.
    pub max_connections: usize,
    /// Whether the control API shows credentials shortened (the default) or in full.
    pub secrets: Secrets,
    /// Who may use the control API.
    pub guard: Guard,
    /// How a new namespace's clock starts: at `--epoch` (`None`: the
    /// system time then), frozen or running, as the server started.
    pub clock_start: (Option<UnixMillis>, bool),
    /// Woken when the server stops: with `--store`, callback watchers give
    /// their leases up for another replica to go on.
    pub stopping: Arc<tokio::sync::Notify>,
    pub stopped: AtomicBool,
    /// Watchers holding a lease (`--store`), which a graceful stop waits for.
    pub watchers: Arc<std::sync::atomic::AtomicUsize>,
}

/// Counts a lease-holding watcher while it lives.
#[derive(Debug)]
pub struct Watching(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Shared {
    pub fn is_stopping(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// A watcher holding a lease starts.
    pub fn watching(&self) -> Watching {
        self.watchers.fetch_add(1, Ordering::AcqRel);
        Watching(self.watchers.clone())
    }

    /// Tells the watchers the server stops, and waits (at most `within`)
    /// until those holding leases gave them up.
    pub async fn stop_watchers(&self, within: std::time::Duration) {
        self.stopped.store(true, Ordering::Release);
        self.stopping.notify_waiters();
        let deadline = tokio::time::Instant::now() + within;
        while self.watchers.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            self.stopping.notify_waiters();
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// The state every request sees: one namespace's (the default one's for
/// an unprefixed path, `/ns/{name}`'s otherwise), and through `Deref` the
/// instance's [`Shared`] settings.
#[derive(Debug)]
pub struct App {
    /// The `Arc` this `App` lives in, for work that outlives a request (callbacks).
    pub this: Weak<App>,
    pub shared: Arc<Shared>,
    /// Tasks, the clock, the journal: everything a request changes.
    pub store: Store,
    /// Base of the links this namespace hands out, its prefix included.
    pub base_url: String,
    /// `/ns/{name}` for a named namespace, empty for the default one.
    pub prefix: String,
    /// `--state`: where changes are written (the default namespace's only).
    pub persist: Option<Persist>,
    /// Set when tasks or the clock change, for the state saver.
    pub dirty: AtomicBool,
    pub callbacks: Callbacks,
    /// When forgotten tasks were last logged, and how many there were then.
    pub forgotten_log: Mutex<Option<std::time::Instant>>,
    pub forgotten_logged: AtomicU64,
    /// Recorded submit answers still to give (`--replay`).
    pub replay_submits: crate::server::replay::Submits,
    /// Recorded files/retrieve answers, by file id (`--replay`).
    pub replay_files: crate::server::replay::Files,
    /// What `/__mock/metrics` shows: counters this namespace's requests,
    /// polls, faults and callbacks add to.
    pub metrics: crate::server::metrics::Metrics,
    /// The OpenAPI document of this server, made on first request.
    pub openapi: OnceLock<Bytes>,
    /// The named namespaces: the default namespace's registry (empty in
    /// the named ones, which hold no namespaces of their own).
    pub namespaces: Namespaces<App>,
}

impl std::ops::Deref for App {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
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
    /// A namespace's state: `store` empty or restored, nothing sent yet.
    pub fn new(
        shared: Arc<Shared>,
        store: Store,
        base_url: String,
        prefix: String,
        persist: Option<Persist>,
        callbacks: Callbacks,
        max_namespaces: usize,
    ) -> Arc<Self> {
        Arc::new_cyclic(|this| App {
            this: this.clone(),
            shared,
            store,
            base_url,
            prefix,
            persist,
            dirty: AtomicBool::new(false),
            callbacks,
            forgotten_log: Mutex::new(None),
            forgotten_logged: AtomicU64::new(0),
            replay_submits: crate::server::replay::Submits::default(),
            replay_files: crate::server::replay::Files::default(),
            metrics: crate::server::metrics::Metrics::default(),
            openapi: OnceLock::new(),
            namespaces: Namespaces::new(max_namespaces),
        })
    }

    /// The namespace's name; `None` for the default namespace.
    pub fn namespace_name(&self) -> Option<&str> {
        self.prefix.strip_prefix(namespaces::PREFIX)
    }

    /// The namespace `name` (a [`namespaces::valid_name`]) of this, the
    /// default namespace: made now, empty, if it does not exist (which may
    /// forget the one idle longest); `None` with `--max-namespaces 0`.
    pub fn namespace(&self, name: &str) -> Option<Arc<App>> {
        self.namespace_at(name, std::time::Instant::now())
    }

    /// [`App::namespace`] for a request that arrived at `at` (the use the
    /// namespace's idle time counts from), with no clock read of its own.
    pub fn namespace_at(&self, name: &str, at: std::time::Instant) -> Option<Arc<App>> {
        self.namespaces.get_or_make_at(name, at, || {
            let (start, frozen) = self.clock_start;
            let tasks = TaskStore::bounded(
                self.store.tasks().seed(),
                self.store.tasks().max_tasks(),
                self.catalog.has_task_id_rules(),
            );
            let prefix = format!("{}{name}", namespaces::PREFIX);
            let space = self.store.remote().map(|space| {
                let space = space.remote.space(Some(name));
                // Listed for every replica (`GET /__mock/namespaces`); a
                // store that cannot be reached now misses only the listing.
                let listed = space.clone();
                let name = name.to_owned();
                tokio::spawn(async move {
                    let _ = listed.register(&name).await;
                });
                space
            });
            App::new(
                self.shared.clone(),
                Store::memory(Clock::new(start, frozen), tasks).shared(space),
                format!("{}{prefix}", self.base_url),
                prefix,
                None,
                self.callbacks.fresh(),
                0,
            )
        })
    }

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
