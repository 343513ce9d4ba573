//! Command-line flags, and turning them into a server [`Config`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::contract::{Contract, ContractError};
use crate::lifecycle::clock::Clock;
use crate::lifecycle::scenarios::{Catalog, ScenarioFileError};
use crate::lifecycle::Span;
use crate::server::app::QueryShape;
use crate::server::{Config, DEFAULT_MAX_BODY};

/// Mock server and contract checker for MiniMax (Hailuo) video generation behind API gateways.
#[derive(Debug, Parser)]
#[command(name = "minimax-mock", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the video-task API with scripted task lifecycles.
    Serve(Box<ServeArgs>),
    /// List the scenarios (built in, and from --scenarios) with their steps.
    Scenarios(ScenariosArgs),
    /// Check captured responses (JSON, NDJSON, HAR, curl -i output) against the contract.
    ///
    /// Exit status: 0 every document is valid, 1 some document is invalid,
    /// 2 usage or input error (missing file, text that is not JSON).
    Validate(ValidateArgs),
    /// Forward to a real gateway, judge its answers against the contract, and record the session.
    ///
    /// Every request goes to --upstream unchanged and its answer comes back
    /// unchanged; answers of the contract's endpoints are judged on the side
    /// (findings on stderr and at GET /__mock/findings).
    Proxy(ProxyArgs),
    /// Print the OpenAPI 3.1 document (JSON) of every API the mock serves, as `serve` with the same flags serves it at /openapi.json.
    Openapi(OpenapiArgs),
    /// Ask a running mock whether it is live: exit status 0 if it answers 2xx, 1 otherwise (the reason on stderr).
    ///
    /// For a container's health check where there is no curl: `probe`
    /// alone asks http://127.0.0.1:8080/__mock/live, which answers without
    /// the control token.
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 picks a free port (the ready line tells which).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Read the JSON Schemas from DIR instead of the built-in copies.
    #[arg(long, value_name = "DIR")]
    pub schemas: Option<PathBuf>,
    /// Read the example fixtures from DIR instead of the built-in copies.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    #[command(flatten)]
    pub scenarios: ScenariosArgs,
    /// Seed of the generated data: the same seed and task id give the same bytes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Start the mock clock at this Unix time (seconds) instead of now.
    #[arg(long, value_name = "UNIX_SECONDS", value_parser = clap::value_parser!(u64).range(..=crate::lifecycle::clock::LATEST / 1000))]
    pub epoch: Option<u64>,
    /// Keep the mock clock still: time-driven steps do not move by themselves.
    #[arg(long)]
    pub frozen: bool,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY)]
    pub max_body: usize,
    /// Base URL of download links (default: http://HOST:PORT as bound).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Do not log a line per request on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Turn the control API under /__mock/ off.
    #[arg(long)]
    pub no_control: bool,
    /// Answer 401 to API requests without `Authorization: Bearer ...`.
    #[arg(long)]
    pub require_auth: bool,
    /// Keep tasks and the clock in FILE (and FILE.log) across restarts and crashes.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// What GET /minimax/v1/query/video_generation answers: the documented envelope, or MiniMax's own body passed through as some gateways do.
    #[arg(long, value_enum, value_name = "SHAPE", default_value = "envelope")]
    pub gateway_query: QueryShape,
    /// How long a callback receiver has to echo the challenge and to answer each update.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration_arg)]
    pub callback_timeout: Duration,
    /// Let callbacks go to HOST too (by default only to loopback addresses); repeatable.
    #[arg(long = "allow-callback-host", value_name = "HOST")]
    pub allow_callback_hosts: Vec<String>,
    /// How v1 callback updates spell `status`: the query's words (Preparing … Fail), or lowercase as MiniMax's callback section lists them (processing, success, failed).
    #[arg(long, value_enum, value_name = "WORDS", default_value = "query")]
    pub callback_status: crate::server::callbacks::StatusWords,
    /// Keep at most N tasks: past it the oldest is forgotten (its queries answer task_not_exist).
    #[arg(long, value_name = "N", default_value_t = crate::server::store::tasks::DEFAULT_MAX_TASKS)]
    pub max_tasks: usize,
    /// Keep at most N namespaces (/ns/NAME/...), each with its own tasks, clock and journal: past it the one idle longest is forgotten with its tasks; 0 turns namespaces off.
    #[arg(long, value_name = "N", default_value_t = crate::server::store::namespaces::DEFAULT_MAX_NAMESPACES)]
    pub max_namespaces: usize,
    /// Close a connection that has not sent a whole request head in this time.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration_arg)]
    pub header_timeout: Duration,
    /// Close a keep-alive connection idle this long between requests.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration_arg)]
    pub keep_alive_timeout: Duration,
    /// Hold at most N connections; more are answered 503 and closed (the open-file limit is raised to fit where the system allows).
    #[arg(long, value_name = "N", default_value_t = crate::server::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Let web pages on ORIGIN (scheme://host:port) call the control API (by default only the mock's own pages may); `*` lets every origin, as before; repeatable.
    #[arg(long = "control-origin", value_name = "ORIGIN", value_parser = crate::server::control::guard::parse_origin)]
    pub control_origins: Vec<String>,
    /// Answer control requests whose Host is HOST too (by default only loopback names and addresses, the bound address and the --public-url host); .example.com allows a domain and its subdomains, `*` any name; repeatable.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
    /// Require `Authorization: Bearer TOKEN` on control requests. On an address other than loopback a token is required anyway: if none is given, one is made up and printed on stderr.
    #[arg(long, value_name = "TOKEN", env = crate::server::control::guard::TOKEN_ENV, hide_env_values = true)]
    pub control_token: Option<String>,
    /// Show credentials (Authorization, API-key headers, cookies, key-like query parameters) in full in what the control API serves, instead of shortened.
    #[arg(long)]
    pub keep_secrets: bool,
    /// Keep tasks, poll counts, the clock, the id sequence, next-submits, the journal and callbacks in Redis (redis://HOST:PORT[/DB]), shared by every replica started with the same URL and flags (docs/store.md).
    #[arg(long, value_name = "URL", env = "MINIMAX_MOCK_STORE")]
    pub store: Option<String>,
    /// With --store: a Redis step slower than this fails its request with 503 (and /__mock/health says not ready).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration_arg)]
    pub store_timeout: Duration,
    /// With --store: how long a replica owns a task's callback updates without renewing; after it another replica takes them over.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_arg)]
    pub store_lease: Duration,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The gateway (or any upstream) to forward to: http:// or https://, optionally with a path prefix.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 picks a free port (the ready line tells which).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// How long a whole exchange may take: no answer by then is 504, a body still streaming is cut.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration_arg)]
    pub upstream_timeout: Duration,
    /// Trust only the certificates in this PEM file for an https:// upstream: CAs, or the upstream's own self-signed certificate, pinned (default: the system's CAs).
    #[arg(long, value_name = "PEM")]
    pub upstream_ca: Option<PathBuf>,
    /// Turn consistency warnings into errors, and report fields the documentation does not know.
    #[arg(long)]
    pub strict: bool,
    /// Write every exchange to FILE as HAR 1.2, complete after each one.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Keep Authorization and API keys in the recording and the journal (redacted by default).
    #[arg(long)]
    pub keep_secrets: bool,
    /// Do not log a line per request on stderr (findings are still logged).
    #[arg(long, short)]
    pub quiet: bool,
}

impl ProxyArgs {
    pub fn config(&self) -> crate::proxy::Config {
        crate::proxy::Config {
            host: self.host.clone(),
            port: self.port,
            upstream_timeout: self.upstream_timeout,
            upstream_ca: self.upstream_ca.clone(),
            strict: self.strict,
            record: self.record.clone(),
            keep_secrets: self.keep_secrets,
            quiet: self.quiet,
            ..crate::proxy::Config::new(self.upstream.clone())
        }
    }
}

/// A duration flag (`500ms`, `3s`, `1m`).
fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    crate::lifecycle::duration::parse_duration(text)
}

#[derive(Debug, Args)]
pub struct ScenariosArgs {
    /// Add scenarios and task-id rules from a JSON file (see README).
    #[arg(long = "scenarios", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Replay a recorded session (HAR, e.g. from proxy --record): its tasks answer their recorded bodies poll by poll; repeatable.
    #[arg(long = "replay", value_name = "FILE")]
    pub replay: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OpenapiArgs {
    /// Embed the JSON Schemas of DIR instead of the built-in copies.
    #[arg(long, value_name = "DIR")]
    pub schemas: Option<PathBuf>,
    /// Take the examples from the fixtures of DIR instead of the built-in copies.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    /// The server URL the document names (what `serve --public-url` would be).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// Leave out the control API and the dashboard, as `serve --no-control` does.
    #[arg(long)]
    pub no_control: bool,
    /// Document the 401 and the bearer token of `serve --require-auth`.
    #[arg(long)]
    pub require_auth: bool,
    /// What the gateway's query answers, as `serve --gateway-query`.
    #[arg(long, value_enum, value_name = "SHAPE", default_value = "envelope")]
    pub gateway_query: QueryShape,
}

impl OpenapiArgs {
    /// The document, pretty-printed; the schemas and fixtures are loaded and
    /// checked as `serve` loads them.
    pub fn document(&self) -> Result<String, ContractError> {
        let contract = Contract::load(self.schemas.as_deref(), self.fixtures.as_deref())?;
        let options = crate::contract::openapi::Options {
            server_url: self.public_url.trim_end_matches('/').to_owned(),
            control: !self.no_control,
            require_auth: self.require_auth,
            gateway_query_native: self.gateway_query == QueryShape::Native,
        };
        let document = crate::contract::openapi::document(&contract, &options);
        Ok(serde_json::to_string_pretty(&document).expect("a Value serializes"))
    }
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The mock's base URL (its /__mock/live is asked), or any http:// URL to GET.
    #[arg(value_name = "URL", default_value = crate::server::probe::DEFAULT_URL)]
    pub url: String,
    /// How long the whole probe may take: resolving, connecting and the answer.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration_arg)]
    pub timeout: Duration,
    /// The control token, sent as a bearer to a /__mock/ path only (/__mock/health for a readiness probe; /__mock/live needs none).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MINIMAX_MOCK_CONTROL_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

impl ProbeArgs {
    pub fn run(&self) -> Result<u16, crate::server::probe::ProbeError> {
        crate::server::probe::probe(&self.url, self.timeout, self.token.as_deref())
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files or directories to check (directories are walked for *.json, *.ndjson,
    /// *.jsonl, *.har, *.txt); - reads standard input. Each file's kind is told
    /// from its content.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// The schema documents are judged against: auto picks each one's contract
    /// by its shape (its top-level members); or a shipped schema by name, or a
    /// JSON Schema file. HAR entries are judged by their endpoint and status.
    #[arg(long, value_name = "NAME|PATH", default_value = crate::validate::AUTO)]
    pub schema: String,
    /// Turn consistency warnings into errors, and report fields the documentation does not know.
    #[arg(long)]
    pub strict: bool,
    /// How to report: human (colour on a terminal, NO_COLOR respected), json
    /// (JSON Lines, one object per document), junit or github (annotations).
    #[arg(long, value_enum, default_value = "human")]
    pub format: crate::validate::report::Format,
}

impl ValidateArgs {
    /// Judges every input and reports on standard output (input problems on
    /// standard error).
    pub fn run(&self) -> Result<crate::validate::Status, crate::validate::ValidateError> {
        use crate::validate::{self, Judge, ValidateError};
        use std::io::IsTerminal as _;
        let contract = Contract::embedded();
        let judge = Judge::new(&contract, &self.schema, self.strict)?;
        let stdout = std::io::stdout();
        let color = crate::validate::report::color_wanted(stdout.is_terminal());
        let out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
        let mut report = crate::validate::report::new(self.format, out, std::io::stderr(), color);
        let summary = validate::run(&self.paths, &judge, |e| report.event(e));
        match summary.and_then(|s| report.finish(&s).map(|()| s)) {
            Ok(summary) => Ok(summary.status()),
            // The reader stopped listening (`| head`): nothing left to say.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(validate::Status::Error),
            Err(e) => Err(ValidateError::Output(e)),
        }
    }
}

/// Why `serve` could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error(transparent)]
    Scenarios(#[from] ScenarioFileError),
    #[error(transparent)]
    Video(#[from] std::io::Error),
    #[error(transparent)]
    State(#[from] crate::server::persist::state::StateError),
    #[error(transparent)]
    Replay(#[from] crate::server::replay::ReplayError),
    /// Flags that do not go together.
    #[error("{0}")]
    Flags(String),
    #[error("{path}: cannot read it to compare with the other replicas': {source}")]
    Digest {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl ScenariosArgs {
    pub fn catalog(&self) -> Result<Catalog, ScenarioFileError> {
        match &self.file {
            Some(path) => Catalog::from_file(path),
            None => Ok(Catalog::builtin()),
        }
    }

    /// The recordings `--replay` names, learned.
    pub fn recordings(&self) -> Result<Vec<crate::server::replay::Recording>, crate::server::replay::ReplayError> {
        self.replay.iter().map(|p| crate::server::replay::load(p)).collect()
    }

    /// What `scenarios` prints: the catalog, or with `--replay` what the
    /// recordings teach (and the catalog too if `--scenarios` names one).
    pub fn listing(&self) -> Result<String, StartError> {
        let mut out = String::new();
        if self.replay.is_empty() || self.file.is_some() {
            out.push_str(&describe(&self.catalog()?));
        }
        for recording in self.recordings()? {
            out.push_str(&crate::server::replay::describe(&recording));
        }
        Ok(out)
    }
}

impl ServeArgs {
    /// Loads and checks everything the flags name; nothing is served if any of it is bad.
    pub fn config(&self) -> Result<Config, StartError> {
        let contract = Contract::load(self.schemas.as_deref(), self.fixtures.as_deref())?;
        let catalog = self.scenarios.catalog()?;
        let restore = match &self.state {
            Some(path) => crate::server::persist::state::load(path, self.seed, &catalog)?,
            None => None,
        };
        let store = self.store_settings()?;
        Ok(Config {
            host: self.host.clone(),
            port: self.port,
            contract: Arc::new(contract),
            catalog,
            clock: Clock::new(self.epoch.map(|s| s * 1000), self.frozen),
            seed: self.seed,
            max_body: self.max_body,
            quiet: self.quiet,
            public_url: self.public_url.clone(),
            video: crate::server::media::video::Library::load(self.fixtures.as_deref())?,
            control: !self.no_control,
            require_auth: self.require_auth,
            restore,
            state: self.state.clone(),
            gateway_query: self.gateway_query,
            callback_timeout: self.callback_timeout,
            allowed_callback_hosts: self.allow_callback_hosts.clone(),
            callback_status: self.callback_status,
            max_tasks: self.max_tasks,
            timeouts: crate::server::http::connection::Timeouts {
                header: self.header_timeout,
                keep_alive: self.keep_alive_timeout,
            },
            max_connections: self.max_connections,
            keep_secrets: self.keep_secrets,
            control_origins: self.control_origins.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
            control_token: self.control_token.clone(),
            replay: self.scenarios.recordings()?,
            max_namespaces: self.max_namespaces,
            store,
        })
    }

    /// `--store`'s settings, with what this replica must agree on with the
    /// others: the flags that shape what a task shows.
    fn store_settings(&self) -> Result<Option<crate::server::store::remote::Settings>, StartError> {
        use crate::server::store::remote::{self, Agreement, Settings};
        let Some(url) = &self.store else { return Ok(None) };
        let refuse = |why: &str| Err(StartError::Flags(format!("--store {url}: {why}")));
        if self.state.is_some() {
            return refuse("the state is in the store: --state is for one process without a store");
        }
        if !self.scenarios.replay.is_empty() {
            return refuse("--replay is for one process without a store");
        }
        let loopback = matches!(self.host.as_str(), "localhost" | "127.0.0.1" | "::1")
            || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !self.no_control && !loopback && self.control_token.is_none() {
            return refuse(&format!(
                "replicas on {} need the same control token: give it with --control-token or {} (a made-up one would differ per replica)",
                self.host,
                crate::server::control::guard::TOKEN_ENV
            ));
        }
        let contents = |path: &std::path::Path| {
            read_all(path).map_err(|source| StartError::Digest {
                path: path.display().to_string(),
                source,
            })
        };
        let scenarios = match &self.scenarios.file {
            Some(path) => remote::digest(&[&contents(path)?]),
            None => "built-in".to_owned(),
        };
        let contract = match (&self.schemas, &self.fixtures) {
            (None, None) => "built-in".to_owned(),
            (schemas, fixtures) => {
                let mut parts = Vec::new();
                for dir in [schemas, fixtures] {
                    parts.push(match dir {
                        Some(dir) => contents(dir)?,
                        None => b"built-in".to_vec(),
                    });
                }
                let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                remote::digest(&parts)
            }
        };
        Ok(Some(Settings {
            url: url.clone(),
            timeout: self.store_timeout,
            lease: self.store_lease,
            agreement: Agreement {
                layout: remote::layout(),
                seed: self.seed,
                scenarios,
                contract,
                epoch: self.epoch,
                frozen: self.frozen,
                max_tasks: self.max_tasks,
                gateway_query: format!("{:?}", self.gateway_query).to_lowercase(),
                callback_status: format!("{:?}", self.callback_status).to_lowercase(),
                control_token: self
                    .control_token
                    .as_deref()
                    .map_or_else(|| "none".to_owned(), |t| remote::digest(&[t.as_bytes()])),
            },
        }))
    }
}

/// A file's bytes, or a directory's files' names and bytes in name order.
fn read_all(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    if !path.is_dir() {
        return std::fs::read(path);
    }
    let mut names: Vec<_> = std::fs::read_dir(path)?.collect::<Result<Vec<_>, _>>()?;
    names.sort_by_key(|e| e.file_name());
    let mut all = Vec::new();
    for entry in names {
        all.extend_from_slice(entry.file_name().as_encoded_bytes());
        all.extend(read_all(&entry.path())?);
    }
    Ok(all)
}

/// A readable listing of the catalog, one scenario a block.
pub fn describe(catalog: &Catalog) -> String {
    let mut out = String::new();
    let default = catalog.default_scenario().name();
    for scenario in catalog.scenarios() {
        let mark = if scenario.name() == default { " (default)" } else { "" };
        out.push_str(&format!("{}{mark}\n", scenario.name()));
        if let Some(description) = scenario.description() {
            out.push_str(&format!("  {description}\n"));
        }
        for step in scenario.steps() {
            let span = match step.span {
                Span::For(d) => format!("for {:?}", d),
                Span::Polls(n) => format!("for {n} poll{}", if n == 1 { "" } else { "s" }),
                Span::Terminal => "terminal".to_owned(),
            };
            let (from, to) = step.progress;
            let progress = if from == to {
                format!("{from}%")
            } else {
                format!("{from}%..{to}%")
            };
            let fault = step
                .fault
                .as_ref()
                .map(|f| format!("  fault {}", crate::lifecycle::scenarios::fault_json(f)))
                .unwrap_or_default();
            // Only a step that chose it: the OpenAI-compatible word the status does not imply.
            let openai = if step.openai == crate::lifecycle::OpenAiStatus::for_gateway(step.status) {
                String::new()
            } else {
                format!("  openai {}", step.openai)
            };
            let callback = step
                .callback
                .as_ref()
                .map(|c| format!("  callback {}", crate::lifecycle::scenarios::callback_json(c)))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {:<12} {:<10} {:<9} {span}{openai}{fault}{callback}\n",
                step.status.as_str(),
                step.minimax.as_str(),
                progress
            ));
        }
    }
    out
}
