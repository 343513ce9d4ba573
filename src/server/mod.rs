//! The server: binds, accepts connections within `--max-connections`,
//! serves them until shutdown, and keeps `--state` saved.
//!
//! Its subsystems, each a folder with its own rules: `http` (plumbing below
//! every handler), `api` (the surfaces and their rendering), `store` (the
//! task store, the one seam to the state a request changes), `persist`
//! (the state file), `control` (the control API, its gate and the
//! dashboard), `callbacks`, `media` (clips and download links), `metrics`
//! (counters for `/__mock/metrics`), and
//! `routes`, the one file that knows every surface. `app` is the state
//! they share: one `Arc<App>` whose locks are never held across an `.await`.

pub mod api;
pub mod app;
pub mod callbacks;
pub mod control;
pub mod http;
pub mod media;
pub mod metrics;
pub mod persist;
pub mod probe;
pub mod replay;
mod routes;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::contract::Contract;
pub use crate::contract::{QUERY_PATH, SUBMIT_PATH};
use crate::lifecycle::clock::Clock;
use crate::lifecycle::scenarios::Catalog;
pub use app::App;
use callbacks::notifier;
use control::{guard, redact};
use http::connection;
pub use media::Library;
use persist::state;
use store::tasks::{self, Surface, Task, TaskStore};

/// Default of `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Default request body limit.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

const HOW_LONG_TO_FINISH: Duration = Duration::from_secs(10);
const SAVE_EVERY: Duration = Duration::from_millis(250);

/// What the server needs to run; built by the binary or by tests.
#[derive(Debug)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub contract: Arc<Contract>,
    pub catalog: Catalog,
    pub clock: Clock,
    pub seed: u64,
    pub max_body: usize,
    pub quiet: bool,
    /// Base of download links; default `http://HOST:PORT` as bound.
    pub public_url: Option<String>,
    /// What download links serve: a clip per frame size.
    pub video: Library,
    /// Serve the control API under `/__mock/`.
    pub control: bool,
    /// Answer 401 to API requests without `Authorization: Bearer ...`.
    pub require_auth: bool,
    /// Save tasks and the clock here, and restore [`Config::restore`] from it.
    pub state: Option<PathBuf>,
    /// A state loaded from `state`, put into the server at start.
    pub restore: Option<state::Restored>,
    /// What the gateway's query path answers with.
    pub gateway_query: app::QueryShape,
    /// How long a callback receiver has to answer (challenge and updates).
    pub callback_timeout: Duration,
    /// Hosts besides loopback that callbacks may go to.
    pub allowed_callback_hosts: Vec<String>,
    /// How v1 callback updates spell their status: the query's words
    /// (the default) or the callback section's lowercase ones.
    pub callback_status: callbacks::StatusWords,
    /// Past this many tasks, the oldest is forgotten.
    pub max_tasks: usize,
    /// How long a request head and an idle keep-alive connection may take.
    pub timeouts: connection::Timeouts,
    /// Connections past this many are refused with 503.
    pub max_connections: usize,
    /// Show credentials in full in what the control API serves (the
    /// journal, the callbacks); by default they are shortened.
    pub keep_secrets: bool,
    /// Origins besides the server's own that browsers may call the control
    /// API from (`*`: every one); by default none.
    pub control_origins: Vec<String>,
    /// Names control requests may give in `Host` besides loopback's, the
    /// bound address and the public URL's host (`.example.com`: the domain
    /// and its subdomains; `*`: any).
    pub allowed_hosts: Vec<String>,
    /// The token control requests need (`Authorization: Bearer`). Unset on
    /// an address other than loopback, one is made up
    /// ([`guard::Guard::generated_token`]).
    pub control_token: Option<String>,
    /// Recordings to replay (`--replay`), loaded.
    pub replay: Vec<replay::Recording>,
    /// Past this many namespaces (`/ns/{name}/...`), the one idle longest
    /// is forgotten; 0 turns namespaces off.
    pub max_namespaces: usize,
    /// `--store redis://…`: the shared store replicas keep their state in
    /// (connected by [`bind`]); `None`, the in-memory default.
    pub store: Option<store::remote::Settings>,
}

impl Default for Config {
    /// Built-in contract and scenarios, a running system clock, 127.0.0.1
    /// port 0, quiet: what `MockServer` starts from.
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            contract: Arc::new(Contract::embedded()),
            catalog: Catalog::builtin(),
            clock: Clock::new(None, false),
            seed: 0,
            max_body: DEFAULT_MAX_BODY,
            quiet: true,
            public_url: None,
            video: Library::built_in(),
            control: true,
            require_auth: false,
            state: None,
            restore: None,
            gateway_query: app::QueryShape::Envelope,
            callback_timeout: callbacks::DEFAULT_TIMEOUT,
            allowed_callback_hosts: Vec::new(),
            callback_status: callbacks::StatusWords::Query,
            max_tasks: tasks::DEFAULT_MAX_TASKS,
            timeouts: connection::Timeouts::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            keep_secrets: false,
            control_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            control_token: None,
            replay: Vec::new(),
            max_namespaces: store::namespaces::DEFAULT_MAX_NAMESPACES,
            store: None,
        }
    }
}

/// A bound, not yet serving, server: the address is known before the first request.
pub struct Bound {
    listener: TcpListener,
    app: Arc<App>,
}

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("cannot listen on {host}:{port}: {source}")]
    Listen {
        host: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::remote::StartError),
}

/// Binds the listening socket (port 0 picks a free port), and with
/// `--store` connects to the shared store and checks this replica agrees
/// with it.
pub async fn bind(mut config: Config) -> Result<Bound, BindError> {
    let remote = match config.store.take() {
        Some(settings) => Some(store::remote::connect(settings, config.catalog.clone()).await?),
        None => None,
    };
    let listen = |source| BindError::Listen {
        host: config.host.clone(),
        port: config.port,
        source,
    };
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(listen)?;
    let addr = listener.local_addr().map_err(listen)?;
    let restore = config.restore.take();
    let replay = std::mem::take(&mut config.replay);
    let shared = remote.is_some();
    let app = app_with(config, addr, restore.as_ref().map_or(0, |r| r.generation), remote);
    if shared {
        // Updates of tasks whose owner died are this replica's to send too.
        notifier::take_over(&app);
    }
    if let Some(restored) = restore {
        for task in state::restore(app.store.tasks(), app.store.clock(), restored) {
            // Updates already sent before the restart are not sent again.
            notifier::watch(&app, &task, true);
        }
    }
    // After the restored state: a replayed task is the recording's.
    for recording in replay {
        install_replay(&app, recording);
    }
    if app.persist.is_some() {
        // One snapshot of what was loaded, and a fresh log for what follows.
        app.save_all();
        // Appends a few times a second while things change; serve_then
        // folds once more at shutdown.
        let saver = Arc::downgrade(&app);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SAVE_EVERY).await;
                let Some(app) = saver.upgrade() else { break };
                if app.dirty.load(Ordering::Relaxed) {
                    let _ = tokio::task::spawn_blocking(move || app.save()).await;
                }
            }
        });
    }
    Ok(Bound { listener, app })
}

/// The state of a server whose socket is bound at `addr`, with nothing in
/// it yet (no restored state, no recordings): what `bind` starts from, and
/// what the fuzz targets drive without a socket. Needs no runtime.
pub fn app(config: Config, addr: SocketAddr, generation: u64) -> Arc<App> {
    app_with(config, addr, generation, None)
}

/// [`app`], its state in the shared store `remote` (`--store`) if given.
fn app_with(config: Config, addr: SocketAddr, generation: u64, remote: Option<Arc<store::remote::Remote>>) -> Arc<App> {
    let base_url = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{}", display_addr(addr)));
    let tasks = TaskStore::bounded(config.seed, config.max_tasks, config.catalog.has_task_id_rules());
    let guard = guard::Guard::new(
        addr,
        &config.host,
        config.public_url.as_deref(),
        &config.allowed_hosts,
        &config.control_origins,
        config.control_token.as_deref(),
        config.control,
    );
    let shared = Arc::new(app::Shared {
        documented: config.contract.documented_example().clone(),
        contract: config.contract,
        catalog: config.catalog,
        max_body: config.max_body,
        quiet: config.quiet,
        video: config.video,
        control: config.control,
        require_auth: config.require_auth,
        gateway_query: config.gateway_query,
        timeouts: config.timeouts,
        max_connections: config.max_connections,
        secrets: if config.keep_secrets {
            redact::Secrets::Keep
        } else {
            redact::Secrets::Redact
        },
        guard,
        clock_start: (config.clock.start(), config.clock.is_frozen()),
        stopping: Arc::new(tokio::sync::Notify::new()),
        stopped: std::sync::atomic::AtomicBool::new(false),
        watchers: Arc::default(),
    });
    let space = remote.as_ref().map(|r| r.space(None));
    App::new(
        shared,
        store::Store::memory(config.clock, tasks).shared(space),
        base_url,
        String::new(),
        config.state.map(|path| persist::Persist::new(path, generation)),
        callbacks::Callbacks::new(config.callback_timeout, config.allowed_callback_hosts)
            .with_status_words(config.callback_status),
        config.max_namespaces,
    )
}

/// Puts a recording's tasks into the store (replacing tasks of the same
/// ids) and queues its submits and files, their download links moved here.
fn install_replay(app: &App, mut recording: replay::Recording) {
    let now = app.store.clock().now();
    let relink = |answer: &mut tasks::Recorded| {
        answer.body = replay::relink(&answer.body, &app.base_url, now / 1000, api::render::LINK_LIFETIME_SECS);
    };
    for task in &mut recording.tasks {
        task.replay.answers_mut().for_each(relink);
    }
    for (file_id, mut answers) in recording.files {
        answers.iter_mut().for_each(relink);
        app.replay_files.add(file_id, answers);
    }
    for task in recording.tasks {
        let request = tasks::Request {
            surface: task.surface,
            ..tasks::Request::default()
        };
        let scenario = app.catalog.default_scenario().clone();
        app.store
            .tasks()
            .insert(Task::new(task.id, scenario, now, request, app.store.tasks().seed()).with_replay(task.replay));
    }
    for (surface, submits) in [Surface::Gateway, Surface::Native, Surface::V2]
        .into_iter()
        .zip(recording.submits)
    {
        app.replay_submits.add(surface, submits);
    }
}

fn display_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
        SocketAddr::V4(v4) => v4.to_string(),
    }
}

impl Bound {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// `http://HOST:PORT` as bound.
    pub fn url(&self) -> String {
        format!("http://{}", display_addr(self.local_addr()))
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets the
    /// requests in flight finish (for at most 10 s).
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        self.serve_then(shutdown, || {}).await;
    }

    /// [`Bound::serve`], calling `closed` as soon as the port is closed
    /// (before waiting for requests in flight).
    pub async fn serve_then(self, shutdown: impl Future<Output = ()>, closed: impl FnOnce()) {
        let Bound { listener, app } = self;
        let graceful = Arc::new(connection::Stopping::default());
        let connections = Arc::new(tokio::sync::Semaphore::new(app.max_connections));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                stream = connection::next_client(&listener, |e| app.log(format_args!("accept failed: {e}"))) => stream,
                () = &mut shutdown => break,
            };
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                connection::refuse(stream, app.max_connections);
                continue;
            };
            let app = app.clone();
            let signals = Arc::new(connection::Signals::default());
            let io = connection::Connection::new(stream, signals.clone(), app.timeouts);
            let service = hyper::service::service_fn(move |req| routes::handle(app.clone(), signals.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                // connection::Connection keeps the head and keep-alive timeouts apart.
                .header_read_timeout(None)
                .keep_alive(true)
                // No read while a request is answered: see connection::Connection::client_left.
                .half_close(true)
                .serve_connection(TokioIo::new(io), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                let _ = conn.await;
                drop(permit);
            });
        }
        drop(listener);
        closed();
        let _ = tokio::time::timeout(HOW_LONG_TO_FINISH, graceful.stop()).await;
        if app.store.remote().is_some() {
            // Each watcher finishes the update it sends and gives its lease up.
            app.stop_watchers(HOW_LONG_TO_FINISH).await;
        }
        app.save_all();
    }
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed
/// when this is called, not when the future is first polled: call it before
/// announcing readiness, so that a signal sent right after the ready line is
/// still a graceful stop (measured: 1 in 10 was not, before).
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {},
                        _ = terminate.recv() => {},
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
