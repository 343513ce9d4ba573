//! `serve --store redis://HOST:PORT[/DB]`: the state replicas share, in
//! Redis. Tasks with their poll counts, the clock, the task-id sequence,
//! next-submits, the journal, the callbacks record and the callbacks'
//! ownership live there; each replica keeps a mirror of what it has seen
//! (immutable task data is cached, mutable parts are read back with every
//! step), so the surfaces and the control plane read the in-memory parts
//! as before.
//!
//! Every step that must not interleave with another replica's is one Lua
//! script (`scripts`), and every script reads the clock from Redis `TIME`,
//! the one time source. A command that fails or takes longer than
//! `--store-timeout` is [`Unavailable`]: the request is answered 503 in
//! its surface's shape, nothing falls back to memory, and the connection
//! manager reconnects by itself, so recovery needs no restart.
//!
//! Keys: `mmock:config` (the flags every replica must agree on),
//! `mmock:uid` (task creation order across namespaces), and per namespace
//! `mmock:d:…` (the default) or `mmock:n:{name}:…`.

pub mod codec;
pub mod journal;
pub mod lease;
pub mod pipeline;
pub mod scripts;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Value};

use crate::lifecycle::clock::UnixMillis;
use crate::lifecycle::scenarios::Catalog;

/// The default of `--store-timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// The default of `--store-lease`.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5);
/// The shared journal keeps about this many entries (a capped stream).
pub const JOURNAL_CAP: usize = crate::server::store::journal::CAPACITY;
/// The shared callbacks record keeps this many attempts.
pub const CALLBACKS_CAP: isize = 10_000;
/// Bumped when the layout of the keys changes: replicas of another layout refuse to share.
const LAYOUT: u32 = 1;

/// The store could not be reached (or answered too late, or wrongly).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the shared store {url} is unavailable: {reason}")]
pub struct Unavailable {
    pub url: String,
    pub reason: String,
}

/// Why a replica does not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("--store {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("--store {url}: cannot reach Redis: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("--store {url}: this replica's {flag} differs from the other replicas' ({ours} here, {theirs} in the store); every replica of a store must be started with the same {flag}, or use another store (another DB: redis://HOST:PORT/1)")]
    Disagrees {
        url: String,
        flag: &'static str,
        ours: String,
        theirs: String,
    },
}

/// What every replica must agree on: the flags that shape what a task
/// shows. A replica started with other values would answer the same task
/// differently, so it refuses to start and names the flag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Agreement {
    pub layout: u32,
    pub seed: u64,
    /// A digest of the scenarios file (`built-in` without one).
    pub scenarios: String,
    /// A digest of `--schemas` and `--fixtures` (`built-in` without them).
    pub contract: String,
    pub epoch: Option<u64>,
    pub frozen: bool,
    pub max_tasks: usize,
    pub gateway_query: String,
    pub callback_status: String,
    /// A digest of the control token (`none` without one): a replica with
    /// another would refuse the control requests a load balancer sends it.
    /// The digest, not the token, so Redis and the refusal never show it.
    pub control_token: String,
}

impl Agreement {
    /// Each field with the flag that sets it, in the order they are checked.
    fn flags(&self) -> [(&'static str, String); 10] {
        [
            ("store layout (another minimax-mock version)", self.layout.to_string()),
            ("--seed", self.seed.to_string()),
            ("--scenarios", self.scenarios.clone()),
            ("--schemas/--fixtures", self.contract.clone()),
            (
                "--epoch",
                self.epoch.map_or_else(|| "none".to_owned(), |e| e.to_string()),
            ),
            ("--frozen", self.frozen.to_string()),
            ("--max-tasks", self.max_tasks.to_string()),
            ("--gateway-query", self.gateway_query.clone()),
            ("--callback-status", self.callback_status.clone()),
            ("--control-token", self.control_token.clone()),
        ]
    }
}

/// A stable digest (FNV-1a, 64 bits) of some bytes: the same on every
/// replica and every build, unlike std's hasher.
pub fn digest(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// How to reach the store and what this replica is.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub timeout: Duration,
    pub lease: Duration,
    pub agreement: Agreement,
}

/// A connection to the shared store, for every namespace of a replica.
pub struct Remote {
    conn: ConnectionManager,
    /// The poll script and the journal entries: a request's two commands.
    hot: pipeline::Pipeline,
    /// The URL without a password, for messages.
    url: String,
    timeout: Duration,
    pub lease: Duration,
    /// This replica's name in leases: host, process and a random part.
    pub replica: String,
    pub seed: u64,
    pub max_tasks: usize,
    pub remember_forgotten: bool,
    /// How a namespace's clock starts: `--epoch` in ms (-1: Redis time then) and `--frozen`.
    pub clock_start: (i64, u8),
    pub catalog: Catalog,
    /// The last step failed: steps that may be left out (the journal entry
    /// of an answer already given) are, rather than wait for the timeout again.
    down: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("replica", &self.replica)
            .finish()
    }
}

/// The URL as it may be shown: without its password.
fn shown(url: &str) -> String {
    match url
        .split_once("://")
        .and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?)))
    {
        Some((scheme, (_, host))) => format!("{scheme}://…@{host}"),
        None => url.to_owned(),
    }
}

/// Connects, checks that this replica agrees with the store (or records
/// what it agrees on, the first replica), and makes the default
/// namespace's clock if it has none.
pub async fn connect(settings: Settings, catalog: Catalog) -> Result<Arc<Remote>, StartError> {
    let url = shown(&settings.url);
    if !settings.url.starts_with("redis://") {
        return Err(StartError::Url {
            url,
            reason: "only redis://HOST:PORT[/DB] stores are supported".to_owned(),
        });
    }
    let client = redis::Client::open(settings.url.as_str()).map_err(|e| StartError::Url {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    let config = ConnectionManagerConfig::new()
        // No response timeout of its own: every step runs within
        // `--store-timeout` already (`within`), and a second timer a
        // command is measurable on the poll path.
        .set_response_timeout(None)
        .set_connection_timeout(Some(settings.timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    let unreachable = |reason: String| StartError::Unreachable {
        url: url.clone(),
        reason,
    };
    let info = client.get_connection_info();
    let redis::ConnectionAddr::Tcp(host, port) = info.addr() else {
        return Err(StartError::Url {
            url,
            reason: "only redis://HOST:PORT[/DB] stores are supported".to_owned(),
        });
    };
    let target = pipeline::Target {
        host: host.clone(),
        port: *port,
        db: info.redis_settings().db(),
        username: info.redis_settings().username().map(str::to_owned),
        password: info.redis_settings().password().map(str::to_owned),
    };
    let conn = tokio::time::timeout(settings.timeout * 3, ConnectionManager::new_with_config(client, config))
        .await
        .map_err(|_| unreachable(format!("no answer in {} ms", settings.timeout.as_millis() * 3)))?
        .map_err(|e| unreachable(e.to_string()))?;
    let a = &settings.agreement;
    let clock_start = (
        a.epoch.map_or(-1, |e| (e as i64).saturating_mul(1000)),
        u8::from(a.frozen),
    );
    let polls = pipeline::Batch::new(
        &scripts::POLL.sha,
        [
            clock_start.0,
            i64::from(clock_start.1),
            crate::server::store::tasks::V2_WINDOW_MS as i64,
            JOURNAL_CAP as i64,
        ]
        .map(|n| n.to_string().into_bytes())
        .to_vec(),
    );
    let remote = Arc::new(Remote {
        conn,
        hot: pipeline::Pipeline::new(target, settings.timeout, polls),
        url: url.clone(),
        timeout: settings.timeout,
        lease: settings.lease,
        replica: replica_name(),
        seed: a.seed,
        max_tasks: a.max_tasks,
        remember_forgotten: catalog.has_task_id_rules(),
        clock_start,
        catalog,
        down: std::sync::atomic::AtomicBool::new(false),
    });
    let ours = serde_json::to_string(a).expect("the agreement serializes");
    let mut set = redis::cmd("SET");
    set.arg("mmock:config").arg(&ours).arg("NX").arg("GET");
    let theirs: Option<String> = remote.run(&set).await.map_err(|e| unreachable(e.reason))?;
    if let Some(theirs) = theirs {
        let theirs: Agreement = serde_json::from_str(&theirs).map_err(|e| StartError::Disagrees {
            url: url.clone(),
            flag: "store layout (another minimax-mock version)",
            ours: LAYOUT.to_string(),
            theirs: format!("unreadable: {e}"),
        })?;
        for ((flag, ours), (_, theirs)) in a.flags().into_iter().zip(theirs.flags()) {
            if ours != theirs {
                return Err(StartError::Disagrees {
                    url,
                    flag,
                    ours,
                    theirs,
                });
            }
        }
    }
    remote
        .space(None)
        .clock(ClockOp::Read)
        .await
        .map_err(|e| unreachable(e.reason))?;
    Ok(remote)
}

/// The layout version of the keys, for the agreement.
pub fn layout() -> u32 {
    LAYOUT
}

fn replica_name() -> String {
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".to_owned());
    format!("{host}:{}:{:08x}", std::process::id(), u32::from_le_bytes(random))
}

/// A clock operation (`scripts::CLOCK_OP`).
#[derive(Debug, Clone, Copy)]
pub enum ClockOp {
    Read,
    Advance(u64),
    Freeze,
    Resume,
    Reset,
}

/// The clock as the store read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    pub now: UnixMillis,
    pub frozen: bool,
}

impl Remote {
    /// Runs one command within `--store-timeout`.
    pub async fn run<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Unavailable> {
        let mut conn = self.conn.clone();
        self.within(cmd.query_async(&mut conn)).await
    }

    /// Runs a pipeline within `--store-timeout`.
    pub async fn pipe<T: FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T, Unavailable> {
        let mut conn = self.conn.clone();
        self.within(pipe.query_async(&mut conn)).await
    }

    /// Runs a script within `--store-timeout`.
    pub async fn script<T: FromRedisValue>(&self, invocation: &redis::ScriptInvocation<'_>) -> Result<T, Unavailable> {
        let mut conn = self.conn.clone();
        self.within(invocation.invoke_async(&mut conn)).await
    }

    /// Runs one of the poll path's commands on the pipelined connection,
    /// within `--store-timeout`; a connection that did not answer in time
    /// is given up (Redis may be paused or the network black-holed) and
    /// made again by the next command. An error reply is an `Err` too.
    async fn hot(&self, command: pipeline::Command) -> Result<pipeline::Reply, Unavailable> {
        self.hot_step(self.hot.call(command)).await
    }

    /// A poll on the pipelined connection, batched with the polls queued
    /// with it, as [`Remote::hot`] runs a command.
    async fn hot_poll(&self, part: pipeline::Part) -> Result<pipeline::Reply, Unavailable> {
        self.hot_step(self.hot.call_part(part)).await
    }

    async fn hot_step(
        &self,
        step: impl std::future::Future<Output = Result<pipeline::Reply, String>>,
    ) -> Result<pipeline::Reply, Unavailable> {
        use std::sync::atomic::Ordering;
        let result = match tokio::time::timeout(self.timeout, step).await {
            Ok(Ok(pipeline::Reply::Error(e))) if !e.starts_with("NOSCRIPT") => Err(self.unavailable(e)),
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(self.unavailable(e)),
            Err(_) => {
                self.hot.reset();
                Err(self.unavailable(format!(
                    "no answer within {} ms (--store-timeout)",
                    self.timeout.as_millis()
                )))
            }
        };
        self.down.store(result.is_err(), Ordering::Relaxed);
        result
    }

    async fn within<T>(
        &self,
        step: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Unavailable> {
        use std::sync::atomic::Ordering;
        let result = match tokio::time::timeout(self.timeout, step).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.unavailable(e.to_string())),
            Err(_) => Err(self.unavailable(format!(
                "no answer within {} ms (--store-timeout)",
                self.timeout.as_millis()
            ))),
        };
        self.down.store(result.is_err(), Ordering::Relaxed);
        result
    }

    /// Whether the last step failed (the store is probably away).
    pub fn is_down(&self) -> bool {
        self.down.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn unavailable(&self, reason: String) -> Unavailable {
        Unavailable {
            url: self.url.clone(),
            reason,
        }
    }

    /// Whether the store answers now (`/__mock/health`).
    pub async fn ping(&self) -> Result<(), Unavailable> {
        self.run::<String>(&redis::cmd("PING")).await.map(drop)
    }

    /// The keys of namespace `name` (`None`: the default one).
    pub fn space(self: &Arc<Self>, name: Option<&str>) -> Space {
        let prefix = match name {
            None => "mmock:d:".to_owned(),
            Some(name) => format!("mmock:n:{name}:"),
        };
        Space {
            remote: self.clone(),
            clock_key: format!("{prefix}clock").into(),
            journal_key: format!("{prefix}journal").into(),
            prefix,
        }
    }

    /// Every named namespace some replica has used (`GET /__mock/namespaces`).
    pub async fn namespaces(&self) -> Result<Vec<String>, Unavailable> {
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(NAMESPACES);
        let mut names: Vec<String> = self.run(&cmd).await?;
        names.sort();
        Ok(names)
    }
}

/// The set of named namespaces in use.
pub const NAMESPACES: &str = "mmock:namespaces";

/// One namespace's keys in the store.
#[derive(Debug, Clone)]
pub struct Space {
    pub remote: Arc<Remote>,
    prefix: String,
    /// The two keys every poll touches, made once: a poll is the hot path.
    clock_key: Arc<str>,
    journal_key: Arc<str>,
}

/// A task as the store holds it: the mutable parts read back with every step.
#[derive(Debug, Clone)]
pub struct Held {
    pub uid: u64,
    pub polls: u64,
    pub cancelled_at: u64,
    /// The task's record, when the caller's copy was not of this task.
    pub data: Option<Vec<u8>>,
    pub submitted_at: UnixMillis,
    /// The stream id of the journal entry the poll wrote, if it wrote one.
    pub journaled: Option<String>,
}

fn int(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Int(i)) => *i,
        Some(Value::BulkString(b)) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).unwrap_or(0),
        _ => 0,
    }
}

fn bytes(v: Option<&Value>) -> Option<Vec<u8>> {
    match v {
        Some(Value::BulkString(b)) => Some(b.clone()),
        _ => None,
    }
}

fn reading(values: &[Value]) -> ClockReading {
    ClockReading {
        now: int(values.get(1)).max(0) as u64,
        frozen: int(values.get(2)) == 1,
    }
}

/// The POLL or PEEK script's one-string answer (see [`scripts::POLL`]);
/// what cannot be read counts as no task.
fn held_of(answer: &[u8]) -> (ClockReading, Option<Held>) {
    let (head, data) = match answer.iter().position(|b| *b == b'\n') {
        Some(i) => (&answer[..i], Some(answer[i + 1..].to_vec())),
        None => (answer, None),
    };
    let mut fields = head.split(|b| *b == b',');
    // Digits only (what the script writes); anything else reads as 0.
    let number = |f: &[u8]| {
        f.iter()
            .try_fold(0u64, |n, b| match b {
                b'0'..=b'9' => n.checked_mul(10)?.checked_add(u64::from(b - b'0')),
                _ => None,
            })
            .unwrap_or(0)
    };
    let mut next = || fields.next().map_or(0, number);
    let (found, now, frozen) = (next(), next(), next());
    let clock = ClockReading {
        now,
        frozen: frozen == 1,
    };
    if found != 1 {
        return (clock, None);
    }
    let (polls, cancelled_at, uid) = (next(), next(), next());
    let journaled = fields
        .next()
        .filter(|id| !id.is_empty())
        .map(|id| String::from_utf8_lossy(id).into_owned());
    let submitted_at = fields.next().map_or(0, number);
    let held = Held {
        polls,
        cancelled_at,
        uid,
        data,
        submitted_at,
        journaled,
    };
    (clock, Some(held))
}

impl Space {
    pub fn key(&self, what: &str) -> String {
        format!("{}{what}", self.prefix)
    }

    pub fn task_key(&self, id: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + 2 + id.len());
        key.push_str(&self.prefix);
        key.push_str("t:");
        key.push_str(id);
        key
    }

    fn start_args(&self) -> (i64, u8) {
        self.remote.clock_start
    }

    /// Notes that a named namespace is in use (its first request here).
    pub async fn register(&self, name: &str) -> Result<(), Unavailable> {
        let mut cmd = redis::cmd("SADD");
        cmd.arg(NAMESPACES).arg(name);
        self.remote.run::<i64>(&cmd).await.map(drop)
    }

    /// Reads or changes the clock.
    pub async fn clock(&self, op: ClockOp) -> Result<ClockReading, Unavailable> {
        let (start, frozen) = self.start_args();
        let mut inv = scripts::CLOCK_OP.prepare_invoke();
        inv.key(&*self.clock_key).arg(start).arg(frozen);
        match op {
            ClockOp::Read => inv.arg("read").arg(0),
            ClockOp::Advance(ms) => inv.arg("advance").arg(ms),
            ClockOp::Freeze => inv.arg("freeze").arg(0),
            ClockOp::Resume => inv.arg("resume").arg(0),
            ClockOp::Reset => inv.arg("reset").arg(0),
        };
        let values: Vec<Value> = self.remote.script(&inv).await?;
        Ok(ClockReading {
            now: int(values.first()).max(0) as u64,
            frozen: int(values.get(1)) == 1,
        })
    }

    /// Counts a poll of `id` by a query of `family`; `None` if there is no
    /// such task for it (nothing counted).
    /// With `record`, the request's journal entry is written with the
    /// poll (when there is a task to count it on).
    pub async fn poll(
        &self,
        id: &str,
        family: u8,
        cached: u64,
        record: Option<&[u8]>,
    ) -> Result<(ClockReading, Option<Held>), Unavailable> {
        let record = record.unwrap_or_default();
        let part = || {
            let mut part = pipeline::Part::with_capacity(self.prefix.len() * 3 + id.len() + 32, record.len() + 24);
            part.key(self.task_key(id).as_bytes())
                .key(self.clock_key.as_bytes())
                .key(self.journal_key.as_bytes())
                .int(i64::from(family))
                .int(cached as i64)
                .arg(record);
            part
        };
        let mut reply = self.remote.hot_poll(part()).await?;
        if matches!(&reply, pipeline::Reply::Error(_)) {
            // NOSCRIPT: Redis restarted or its scripts were flushed; it
            // learns the script again and the poll goes once more.
            let mut load = pipeline::Command::new(3, scripts::POLL.code.len() + 32);
            load.arg(b"SCRIPT").arg(b"LOAD").arg(scripts::POLL.code.as_bytes());
            if let pipeline::Reply::Error(e) = self.remote.hot(load).await? {
                return Err(self.remote.unavailable(e));
            }
            reply = self.remote.hot_poll(part()).await?;
        }
        match reply {
            pipeline::Reply::Data(answer) => Ok(held_of(&answer)),
            other => Err(self.remote.unavailable(format!("the poll script answered {other:?}"))),
        }
    }

    /// A look at `id` without counting a poll.
    pub async fn peek(&self, id: &str, cached: u64) -> Result<(ClockReading, Option<Held>), Unavailable> {
        let (start, frozen) = self.start_args();
        let mut inv = scripts::PEEK.prepare_invoke();
        inv.key(self.task_key(id))
            .key(&*self.clock_key)
            .arg(start)
            .arg(frozen)
            .arg(cached);
        let answer: Vec<u8> = self.remote.script(&inv).await?;
        Ok(held_of(&answer))
    }

    /// Creates the task `record` describes, or (`replace` false) gives
    /// back the one already there. `Ok((clock, None))`: an id forgotten
    /// past `--max-tasks` that must stay forgotten.
    pub async fn create(&self, new: &NewTask<'_>) -> Result<(ClockReading, Option<Created>), Unavailable> {
        let (start, frozen) = self.start_args();
        let mut inv = scripts::CREATE.prepare_invoke();
        inv.key(self.task_key(new.id))
            .key(&*self.clock_key)
            .key(self.key("order"))
            .key(self.key("files"))
            .key("mmock:uid")
            .key(self.key("forgotten"))
            .key(self.key("cbtasks"))
            .key(self.key("stats"))
            .key(self.key(&format!("lease:{}", new.id)))
            .key("mmock:fence")
            .arg(start)
            .arg(frozen)
            .arg(new.data)
            .arg(new.family)
            .arg(u8::from(new.v2))
            .arg(new.file_id)
            .arg(new.id)
            .arg(self.remote.max_tasks)
            .arg(u8::from(new.replace))
            .arg(u8::from(self.remote.remember_forgotten))
            .arg(u8::from(new.callback))
            .arg(new.submitted_at.map_or_else(String::new, |s| s.to_string()))
            .arg(new.polls)
            .arg(new.cancelled_at)
            .arg(self.key("t:"))
            .arg(&self.remote.replica)
            .arg(self.remote.lease.as_millis() as u64);
        let v: Vec<Value> = self.remote.script(&inv).await?;
        let clock = reading(&v);
        let created = int(v.first());
        if created < 0 {
            return Ok((clock, None));
        }
        let held = Held {
            uid: int(v.get(3)).max(0) as u64,
            submitted_at: int(v.get(4)).max(0) as u64,
            polls: int(v.get(5)).max(0) as u64,
            cancelled_at: int(v.get(6)).max(0) as u64,
            data: if created == 1 { None } else { bytes(v.get(7)) },
            journaled: None,
        };
        let lease = match (created, int(v.get(7))) {
            (1, token) if token > 0 => Some(lease::Lease::held(self.clone(), new.id, token as u64)),
            _ => None,
        };
        Ok((clock, Some((created == 1, held, lease))))
    }

    /// The next number of the submission sequence (0 first).
    pub async fn next_submission(&self) -> Result<u64, Unavailable> {
        let mut cmd = redis::cmd("INCR");
        cmd.arg(self.key("seq"));
        let n: i64 = self.remote.run(&cmd).await?;
        Ok(n.max(1) as u64 - 1)
    }

    /// Removes task `id`; whether it existed.
    pub async fn remove(&self, id: &str) -> Result<bool, Unavailable> {
        let mut inv = scripts::REMOVE.prepare_invoke();
        inv.key(self.task_key(id))
            .key(self.key("order"))
            .key(self.key("files"))
            .key(self.key("cbtasks"))
            .arg(id);
        Ok(self.remote.script::<i64>(&inv).await? == 1)
    }

    /// v2's cancel of `id`: whether this call cancelled it, and the clock.
    pub async fn cancel(&self, id: &str) -> Result<(bool, UnixMillis), Unavailable> {
        let (start, frozen) = self.start_args();
        let mut inv = scripts::CANCEL.prepare_invoke();
        inv.key(self.task_key(id)).key(&*self.clock_key).arg(start).arg(frozen);
        let v: Vec<Value> = self.remote.script(&inv).await?;
        Ok((int(v.first()) == 1, int(v.get(1)).max(0) as u64))
    }

    /// The id of the task whose file is `file_id`.
    pub async fn by_file(&self, file_id: u64) -> Result<Option<String>, Unavailable> {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(self.key("files")).arg(file_id);
        self.remote.run(&cmd).await
    }

    /// Every task in creation order: id, uid, polls, cancelled at and
    /// submitted at, with the record of those whose uid `cached` does not
    /// know. Two round trips, whatever the number of tasks.
    pub async fn tasks(&self, cached: impl Fn(&str) -> Option<u64>) -> Result<Vec<(String, Held)>, Unavailable> {
        let mut cmd = redis::cmd("ZRANGE");
        cmd.arg(self.key("order")).arg(0).arg(-1).arg("WITHSCORES");
        let listed: Vec<(String, u64)> = self.remote.run(&cmd).await?;
        if listed.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (id, uid) in &listed {
            let known = cached(id) == Some(*uid);
            let cmd = pipe
                .cmd("HMGET")
                .arg(self.task_key(id))
                .arg("u")
                .arg("p")
                .arg("c")
                .arg("s");
            if !known {
                cmd.arg("d");
            }
        }
        let rows: Vec<Vec<Value>> = self.remote.pipe(&pipe).await?;
        Ok(listed
            .into_iter()
            .zip(rows)
            .filter(|(_, row)| matches!(row.first(), Some(Value::BulkString(_))))
            .map(|((id, _), row)| {
                let held = Held {
                    uid: int(row.first()).max(0) as u64,
                    polls: int(row.get(1)).max(0) as u64,
                    cancelled_at: int(row.get(2)).max(0) as u64,
                    submitted_at: int(row.get(3)).max(0) as u64,
                    data: bytes(row.get(4)),
                    journaled: None,
                };
                (id, held)
            })
            .collect())
    }

    /// How many tasks this namespace forgot past `--max-tasks`.
    pub async fn forgotten(&self) -> Result<u64, Unavailable> {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(self.key("stats")).arg("forgotten");
        let n: Option<u64> = self.remote.run(&cmd).await?;
        Ok(n.unwrap_or(0))
    }

    /// The scenario for one submit, counting it.
    pub async fn take_next(&self) -> Result<Option<Vec<u8>>, Unavailable> {
        let mut inv = scripts::TAKE_NEXT.prepare_invoke();
        inv.key(self.key("next"));
        self.remote.script(&inv).await
    }

    /// Sets (count > 0) or clears the next-submits scenario.
    pub async fn set_next(&self, record: Option<(&[u8], u32)>) -> Result<(), Unavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(self.key("next")).ignore();
        if let Some((record, count)) = record.filter(|(_, count)| *count > 0) {
            pipe.cmd("HSET")
                .arg(self.key("next"))
                .arg("scenario")
                .arg(record)
                .arg("count")
                .arg(count)
                .ignore();
        }
        self.remote.pipe::<()>(&pipe).await
    }

    /// The next-submits scenario's record and how many submits it still applies to.
    pub async fn peek_next(&self) -> Result<Option<(Vec<u8>, u32)>, Unavailable> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.key("next")).arg("scenario").arg("count");
        let (record, count): (Option<Vec<u8>>, Option<u32>) = self.remote.run(&cmd).await?;
        Ok(record.zip(count).filter(|(_, c)| *c > 0))
    }

    /// Forgets some of the namespace: `what` of `journal`, `callbacks`, `next`.
    pub async fn clear(&self, what: &[&str]) -> Result<(), Unavailable> {
        let mut cmd = redis::cmd("DEL");
        for w in what {
            cmd.arg(self.key(w));
        }
        self.remote.run::<i64>(&cmd).await.map(drop)
    }

    /// The control API's reset: every task, the sequence, the journal,
    /// next-submits and the callbacks record go; the clock goes back to
    /// how the server started. The keys are removed in batches, outside
    /// one script, so a million tasks do not block Redis for long.
    pub async fn reset(&self) -> Result<ClockReading, Unavailable> {
        let mut cmd = redis::cmd("ZRANGE");
        cmd.arg(self.key("order")).arg(0).arg(-1);
        let ids: Vec<String> = self.remote.run(&cmd).await?;
        for chunk in ids.chunks(1000) {
            let mut del = redis::cmd("UNLINK");
            for id in chunk {
                del.arg(self.task_key(id));
            }
            self.remote.run::<i64>(&del).await?;
        }
        let mut del = redis::cmd("UNLINK");
        for what in [
            "order",
            "files",
            "seq",
            "journal",
            "callbacks",
            "next",
            "forgotten",
            "stats",
            "cbtasks",
            "cbprogress",
        ] {
            del.arg(self.key(what));
        }
        self.remote.run::<i64>(&del).await?;
        self.clock(ClockOp::Reset).await
    }

    /// Deletes the whole namespace (`DELETE /__mock/namespaces/{name}`).
    pub async fn delete(&self, name: &str) -> Result<(), Unavailable> {
        self.reset().await?;
        let mut del = redis::cmd("UNLINK");
        del.arg(&*self.clock_key);
        self.remote.run::<i64>(&del).await?;
        let mut srem = redis::cmd("SREM");
        srem.arg(NAMESPACES).arg(name);
        self.remote.run::<i64>(&srem).await.map(drop)
    }
}

/// What `Space::create` did: whether it created the task, the task as the
/// store holds it, and the lease of its callbacks, taken with it.
pub type Created = (bool, Held, Option<lease::Lease>);

/// A task to create (`Space::create`).
#[derive(Debug)]
pub struct NewTask<'a> {
    pub id: &'a str,
    pub data: &'a [u8],
    pub family: u8,
    pub v2: bool,
    pub file_id: u64,
    pub replace: bool,
    pub callback: bool,
    /// `None`: now, on the store's clock.
    pub submitted_at: Option<UnixMillis>,
    pub polls: u64,
    pub cancelled_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(shown("redis://:secret@db:6379/1"), "redis://…@db:6379/1");
        assert_eq!(shown("redis://db:6379"), "redis://db:6379");
    }

    #[test]
    fn a_poll_answer_is_read_with_or_without_the_tasks_data() {
        let (clock, held) = held_of(b"0,253402300799999,1");
        assert_eq!(
            (clock.now, clock.frozen, held.is_none()),
            (253_402_300_799_999, true, true)
        );
        let (clock, held) = held_of(b"1,1700000000000,0,3,0,42,1700000000001-0");
        let held = held.unwrap();
        assert_eq!((clock.now, clock.frozen), (1_700_000_000_000, false));
        assert_eq!((held.polls, held.cancelled_at, held.uid, held.data), (3, 0, 42, None));
        assert_eq!(held.journaled.as_deref(), Some("1700000000001-0"));
        // The data may hold anything after the first newline, commas and newlines too.
        let (_, held) = held_of(b"1,5,0,0,9,42,,1699999999000\n{\"a\":1,\n\"b\":2}");
        let held = held.unwrap();
        assert_eq!((held.cancelled_at, held.submitted_at), (9, 1_699_999_999_000));
        assert_eq!(held.journaled, None);
        assert_eq!(held.data.as_deref(), Some(&b"{\"a\":1,\n\"b\":2}"[..]));
        assert!(held_of(b"garbage").1.is_none());
    }

    #[test]
    fn digests_are_stable() {
        assert_eq!(digest(&[b"a", b"b"]), digest(&[b"a", b"b"]));
        assert_ne!(digest(&[b"ab"]), digest(&[b"a", b"b"]));
    }
}
