//! A lean pipelined connection for the two commands of every request on a
//! live task: the poll script and the journal entry.
//!
//! Polls queued together go to Redis as one call of the poll script
//! ([`Batch`]): a script call's fixed cost (about 27,000 instructions in
//! redis-server, more than the three commands a poll runs) and the clock
//! reading are paid once for all of them, and one reply answers them all.
//!
//! redis-rs serves every other step (a well-kept client for the long tail
//! of commands), but on the poll path its generic machinery was most of a
//! replica's cost: each command was written on its own (0.75 writes a
//! command under load, measured with `/proc/PID/io`) and each reply went
//! through a general parser. Here one writer task takes every command
//! queued while it was busy and writes them with one `write`, one reader
//! task parses RESP2 replies in order and hands each to its caller, and
//! a broken or silent connection fails what was in flight and is made
//! again on the next call (no restart: the store may come back).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify};

/// One reply, as RESP2 sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A bulk or simple string.
    Data(Vec<u8>),
    Int(i64),
    Nil,
    Array(Vec<Reply>),
    /// An error reply (`-ERR …`, `-NOSCRIPT …`): Redis answered, the
    /// command failed.
    Error(String),
}

/// Why a reply cannot be read from these bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the store sent a reply that is not RESP2: {0}")]
pub struct Malformed(&'static str);

/// Arrays nest no deeper than this (the hot commands' replies nest not at all).
const MAX_DEPTH: usize = 8;

/// The first reply in `buf` and how many bytes it took; `Ok(None)` when
/// `buf` does not hold a whole reply yet.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply, usize)>, Malformed> {
    parse_at(buf, 0, 0)
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Reply, usize)>, Malformed> {
    let Some(line_end) = buf[at..].windows(2).position(|w| w == b"\r\n").map(|i| at + i) else {
        return Ok(None);
    };
    let Some(&kind) = buf.get(at) else { return Ok(None) };
    let line = &buf[at + 1..line_end];
    let next = line_end + 2;
    let number = || -> Result<i64, Malformed> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(Malformed("a length or integer that is not a number"))
    };
    match kind {
        b'+' => Ok(Some((Reply::Data(line.to_vec()), next))),
        b'-' => Ok(Some((Reply::Error(String::from_utf8_lossy(line).into_owned()), next))),
        b':' => Ok(Some((Reply::Int(number()?), next))),
        b'$' => {
            let len = number()?;
            if len < 0 {
                return Ok(Some((Reply::Nil, next)));
            }
            let end = next + len as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(Malformed("a bulk string not ended by CRLF"));
            }
            Ok(Some((Reply::Data(buf[next..end].to_vec()), end + 2)))
        }
        b'*' => {
            let len = number()?;
            if len < 0 {
                return Ok(Some((Reply::Nil, next)));
            }
            if depth >= MAX_DEPTH {
                return Err(Malformed("arrays nested too deep"));
            }
            let mut items = Vec::with_capacity((len as usize).min(1024));
            let mut pos = next;
            for _ in 0..len {
                match parse_at(buf, pos, depth + 1)? {
                    Some((item, after)) => {
                        items.push(item);
                        pos = after;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(items), pos)))
        }
        _ => Err(Malformed("an unknown reply type")),
    }
}

/// A command in RESP: `*N` and each argument as a bulk string.
#[derive(Debug, Default)]
pub struct Command(Vec<u8>);

impl Command {
    /// A command of `args` arguments (the name counts), about `size` bytes.
    pub fn new(args: usize, size: usize) -> Self {
        let mut out = Vec::with_capacity(size + 16 * args + 8);
        out.push(b'*');
        out.extend_from_slice(itoa::Buffer::new().format(args).as_bytes());
        out.extend_from_slice(b"\r\n");
        Self(out)
    }

    pub fn arg(&mut self, arg: &[u8]) -> &mut Self {
        bulk(&mut self.0, arg);
        self
    }

    pub fn int(&mut self, n: i64) -> &mut Self {
        let mut digits = itoa::Buffer::new();
        self.arg(digits.format(n).as_bytes())
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One caller's share of a batched command: its keys and its arguments,
/// each a RESP bulk string, counted for the batch's header.
#[derive(Debug, Default)]
pub struct Part {
    keys: Vec<u8>,
    args: Vec<u8>,
    key_count: usize,
    arg_count: usize,
}

impl Part {
    /// A part of about `keys` bytes of keys and `args` bytes of arguments.
    pub fn with_capacity(keys: usize, args: usize) -> Self {
        Self {
            keys: Vec::with_capacity(keys + 32),
            args: Vec::with_capacity(args + 32),
            ..Self::default()
        }
    }

    pub fn key(&mut self, key: &[u8]) -> &mut Self {
        bulk(&mut self.keys, key);
        self.key_count += 1;
        self
    }

    pub fn arg(&mut self, arg: &[u8]) -> &mut Self {
        bulk(&mut self.args, arg);
        self.arg_count += 1;
        self
    }

    pub fn int(&mut self, n: i64) -> &mut Self {
        let mut digits = itoa::Buffer::new();
        self.arg(digits.format(n).as_bytes())
    }
}

fn bulk(out: &mut Vec<u8>, arg: &[u8]) {
    let mut len = itoa::Buffer::new();
    out.push(b'$');
    out.extend_from_slice(len.format(arg.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(arg);
    out.extend_from_slice(b"\r\n");
}

/// The command that the parts queued together make: `EVALSHA sha`, the
/// number of keys, every part's keys, the arguments all parts share, then
/// every part's arguments. The script answers with an array of one reply a
/// part, in their order.
#[derive(Debug)]
pub struct Batch {
    sha: Vec<u8>,
    common: Vec<Vec<u8>>,
}

impl Batch {
    pub fn new(sha: &str, common: Vec<Vec<u8>>) -> Self {
        Self {
            sha: sha.as_bytes().to_vec(),
            common,
        }
    }

    /// Appends the command of `parts` to `out`.
    fn encode(&self, parts: &[Part], out: &mut Vec<u8>) {
        let keys: usize = parts.iter().map(|p| p.key_count).sum();
        let args: usize = parts.iter().map(|p| p.arg_count).sum();
        let mut count = itoa::Buffer::new();
        out.push(b'*');
        out.extend_from_slice(count.format(3 + keys + self.common.len() + args).as_bytes());
        out.extend_from_slice(b"\r\n");
        bulk(out, b"EVALSHA");
        bulk(out, &self.sha);
        bulk(out, count.format(keys).as_bytes());
        for part in parts {
            out.extend_from_slice(&part.keys);
        }
        for arg in &self.common {
            bulk(out, arg);
        }
        for part in parts {
            out.extend_from_slice(&part.args);
        }
    }
}

/// At most this many parts go in one batch: a script call runs alone in
/// Redis, and one of hundreds of polls would hold up every other client.
const MAX_PARTS: usize = 64;

type Answer = oneshot::Sender<Result<Reply, String>>;

/// A command on its way and where its reply goes.
enum Job {
    Whole { command: Vec<u8>, reply: Answer },
    Part { part: Part, reply: Answer },
}

impl Job {
    /// Fails the job at once: its connection is gone.
    fn fail(self, why: &str) {
        let (Job::Whole { reply, .. } | Job::Part { reply, .. }) = self;
        Waiter::One(reply).fail(why);
    }
}

/// The parts gathered for the next batch and who waits for each.
struct Gathered {
    parts: Vec<Part>,
    callers: Vec<Answer>,
}

impl Gathered {
    /// Writes the batch of the parts gathered, if any, its callers next in line.
    fn flush(&mut self, batch: &Batch, buf: &mut Vec<u8>, waiting: &mut Waiting) {
        if self.parts.is_empty() {
            return;
        }
        batch.encode(&self.parts, buf);
        self.parts.clear();
        waiting
            .replies
            .push_back(Waiter::Many(std::mem::take(&mut self.callers)));
    }
}

/// Who waits for one reply: one caller, or each of a batch's callers for
/// its item of the reply's array.
enum Waiter {
    One(Answer),
    Many(Vec<Answer>),
}

impl Waiter {
    fn fail(self, why: &str) {
        match self {
            Waiter::One(reply) => {
                let _ = reply.send(Err(why.to_owned()));
            }
            Waiter::Many(replies) => {
                for reply in replies {
                    let _ = reply.send(Err(why.to_owned()));
                }
            }
        }
    }

    /// Hands `reply` over: a batch's array item by item, an error reply to
    /// every caller of the batch.
    fn answer(self, reply: Reply) {
        match (self, reply) {
            (Waiter::One(caller), reply) => {
                let _ = caller.send(Ok(reply));
            }
            (Waiter::Many(callers), Reply::Array(items)) if items.len() == callers.len() => {
                for (caller, item) in callers.into_iter().zip(items) {
                    let _ = caller.send(Ok(item));
                }
            }
            (Waiter::Many(callers), Reply::Error(e)) => {
                for caller in callers {
                    let _ = caller.send(Ok(Reply::Error(e.clone())));
                }
            }
            (many, other) => many.fail(&format!("the store answered a batch of polls with {other:?}")),
        }
    }
}

/// The callers waiting for replies on one connection, in the order their
/// commands were written; `closed` once the connection is gone, so a job
/// queued after that fails at once instead of waiting for a reply that
/// cannot come.
#[derive(Default)]
struct Waiting {
    replies: VecDeque<Waiter>,
    closed: Option<String>,
}

impl Waiting {
    fn close(&mut self, why: &str) {
        if self.closed.is_none() {
            self.closed = Some(why.to_owned());
        }
        for waiter in self.replies.drain(..) {
            waiter.fail(why);
        }
    }
}

/// What a connection's two tasks and its callers share.
#[derive(Default)]
struct Shared {
    waiting: Mutex<Waiting>,
    /// Cleared when the connection is gone: the next call makes another.
    alive: std::sync::atomic::AtomicBool,
    /// Ends the reader (the connection was given up on).
    end: Notify,
}

impl Shared {
    fn close(&self, why: &str) {
        self.alive.store(false, std::sync::atomic::Ordering::Relaxed);
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).close(why);
    }
}

/// One live connection: where to queue commands and its shared state.
#[derive(Clone)]
struct Link {
    jobs: mpsc::UnboundedSender<Job>,
    shared: Arc<Shared>,
}

/// Where the store is and what a new connection says first.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub db: i64,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// The pipelined connection, made on first use and again after it broke.
pub struct Pipeline {
    target: Target,
    connect_timeout: Duration,
    batch: Arc<Batch>,
    link: Mutex<Option<Link>>,
    /// One caller connects at a time; the others wait for its link.
    connecting: tokio::sync::Mutex<()>,
}

impl Pipeline {
    pub fn new(target: Target, connect_timeout: Duration, batch: Batch) -> Self {
        Self {
            target,
            connect_timeout,
            batch: Arc::new(batch),
            link: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
        }
    }

    /// Sends `command` and waits for its reply. A connection that broke
    /// (or could not be made) is an `Err` with the reason; an error
    /// reply is `Ok(Reply::Error)`.
    pub async fn call(&self, command: Command) -> Result<Reply, String> {
        self.queue(|reply| Job::Whole {
            command: command.0,
            reply,
        })
        .await
    }

    /// Sends `part` with the other parts queued with it, as one command of
    /// the [`Batch`], and waits for its item of the reply.
    pub async fn call_part(&self, part: Part) -> Result<Reply, String> {
        self.queue(|reply| Job::Part { part, reply }).await
    }

    async fn queue(&self, job: impl FnOnce(Answer) -> Job) -> Result<Reply, String> {
        let link = self.link().await?;
        let (reply, answer) = oneshot::channel();
        if link.jobs.send(job(reply)).is_err() {
            self.forget(&link);
            return Err("the connection closed".to_owned());
        }
        answer.await.unwrap_or_else(|_| Err("the connection closed".to_owned()))
    }

    /// Ends the connection (the caller gave up waiting: a store that does
    /// not answer may never), failing what is in flight; the next call
    /// connects again.
    pub fn reset(&self) {
        if let Some(link) = self.link.lock().unwrap_or_else(|e| e.into_inner()).take() {
            link.shared.end.notify_one();
        }
    }

    fn current(&self) -> Option<Link> {
        let link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        link.as_ref()
            .filter(|l| l.shared.alive.load(std::sync::atomic::Ordering::Relaxed))
            .cloned()
    }

    fn forget(&self, dead: &Link) {
        let mut link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        if link.as_ref().is_some_and(|l| l.jobs.same_channel(&dead.jobs)) {
            *link = None;
        }
    }

    async fn link(&self) -> Result<Link, String> {
        if let Some(link) = self.current() {
            return Ok(link);
        }
        let _one = self.connecting.lock().await;
        if let Some(link) = self.current() {
            return Ok(link);
        }
        let stream = tokio::time::timeout(self.connect_timeout, self.open())
            .await
            .map_err(|_| format!("no connection within {} ms", self.connect_timeout.as_millis()))??;
        let (read, write) = stream.into_split();
        let (jobs, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        shared.alive.store(true, std::sync::atomic::Ordering::Relaxed);
        let link = Link {
            jobs,
            shared: shared.clone(),
        };
        tokio::spawn(write_loop(queue, write, shared.clone(), self.batch.clone()));
        tokio::spawn(read_loop(read, shared));
        *self.link.lock().unwrap_or_else(|e| e.into_inner()) = Some(link.clone());
        Ok(link)
    }

    /// A new connection, authenticated and on the right database.
    async fn open(&self) -> Result<TcpStream, String> {
        let t = &self.target;
        let mut stream = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let mut hello = Vec::new();
        let mut expected = 0;
        if let Some(password) = &t.password {
            let mut auth = Command::new(if t.username.is_some() { 3 } else { 2 }, 32);
            auth.arg(b"AUTH");
            if let Some(user) = &t.username {
                auth.arg(user.as_bytes());
            }
            auth.arg(password.as_bytes());
            hello.extend_from_slice(auth.bytes());
            expected += 1;
        }
        if t.db != 0 {
            let mut select = Command::new(2, 16);
            select.arg(b"SELECT").int(t.db);
            hello.extend_from_slice(select.bytes());
            expected += 1;
        }
        if expected == 0 {
            return Ok(stream);
        }
        stream.write_all(&hello).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::with_capacity(256);
        let mut used = 0;
        while expected > 0 {
            match parse(&buf[used..]).map_err(|e| e.to_string())? {
                Some((Reply::Error(e), _)) => return Err(e),
                Some((_, n)) => {
                    used += n;
                    expected -= 1;
                }
                None => {
                    if stream.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
                        return Err("the store closed the connection".to_owned());
                    }
                }
            }
        }
        Ok(stream)
    }
}

/// Writes every queued command: those that came while a write was under
/// way go together in the next one, the parts among them as batches.
async fn write_loop(
    mut queue: mpsc::UnboundedReceiver<Job>,
    mut write: OwnedWriteHalf,
    shared: Arc<Shared>,
    batch: Arc<Batch>,
) {
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut gathered = Gathered {
        parts: Vec::with_capacity(MAX_PARTS),
        callers: Vec::new(),
    };
    while let Some(first) = queue.recv().await {
        // Let the tasks that are ready run first: under load they queue
        // their commands too, and all go in one write.
        tokio::task::yield_now().await;
        buf.clear();
        {
            let mut waiting = shared.waiting.lock().unwrap_or_else(|e| e.into_inner());
            // Fixed while the lock is held: a closed connection fails every job.
            let closed = waiting.closed.clone();
            let mut job = Some(first);
            while let Some(next) = job.take() {
                match (next, &closed) {
                    (next, Some(why)) => next.fail(why),
                    (Job::Whole { command, reply }, None) => {
                        buf.extend_from_slice(&command);
                        waiting.replies.push_back(Waiter::One(reply));
                    }
                    (Job::Part { part, reply }, None) => {
                        gathered.parts.push(part);
                        gathered.callers.push(reply);
                        if gathered.parts.len() == MAX_PARTS {
                            gathered.flush(&batch, &mut buf, &mut waiting);
                        }
                    }
                }
                if buf.len() < 64 * 1024 {
                    job = queue.try_recv().ok();
                }
            }
            gathered.flush(&batch, &mut buf, &mut waiting);
        }
        if buf.is_empty() {
            continue;
        }
        if let Err(e) = write.write_all(&buf).await {
            shared.close(&format!("writing to the store: {e}"));
            shared.end.notify_one();
            return;
        }
    }
}

/// Reads replies and hands each to the caller that waits first, until the
/// connection breaks or is ended.
async fn read_loop(mut read: OwnedReadHalf, shared: Arc<Shared>) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let why = loop {
        let got = tokio::select! {
            got = read.read_buf(&mut buf) => got,
            () = shared.end.notified() => break "the store did not answer in time".to_owned(),
        };
        match got {
            Ok(0) => break "the store closed the connection".to_owned(),
            Ok(_) => {}
            Err(e) => break format!("reading from the store: {e}"),
        }
        let mut used = 0;
        let failed = loop {
            match parse(&buf[used..]) {
                Ok(Some((reply, n))) => {
                    used += n;
                    let waiter = shared
                        .waiting
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .replies
                        .pop_front();
                    match waiter {
                        Some(waiter) => waiter.answer(reply),
                        None => break Some("the store sent a reply nobody asked for".to_owned()),
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        buf.drain(..used);
        if let Some(why) = failed {
            break why;
        }
    };
    shared.close(&why);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_whole_or_not_at_all() {
        let all = b"$5\r\nhello\r\n:42\r\n-NOSCRIPT No matching script\r\n$-1\r\n*2\r\n+OK\r\n*1\r\n:1\r\n";
        let mut at = 0;
        let mut replies = Vec::new();
        while let Some((reply, n)) = parse(&all[at..]).unwrap() {
            replies.push(reply);
            at += n;
        }
        assert_eq!(at, all.len());
        assert_eq!(
            replies,
            [
                Reply::Data(b"hello".to_vec()),
                Reply::Int(42),
                Reply::Error("NOSCRIPT No matching script".to_owned()),
                Reply::Nil,
                Reply::Array(vec![Reply::Data(b"OK".to_vec()), Reply::Array(vec![Reply::Int(1)])]),
            ]
        );
        // Every cut short of a whole reply is "not yet", never an error.
        for cut in 0..all.len() {
            let mut at = 0;
            while let Some((_, n)) = parse(&all[at..cut]).unwrap() {
                at += n;
            }
        }
    }

    #[test]
    fn bytes_that_are_not_resp_are_an_error() {
        assert!(parse(b"?what\r\n").is_err());
        assert!(parse(b"$x\r\n").is_err());
        assert!(parse(b"$2\r\nabcd\r\n").is_err());
        assert!(parse(&b"*1\r\n".repeat(20)).is_err());
    }

    #[test]
    fn parts_make_one_command_keys_first() {
        let batch = Batch::new("abc", vec![b"c1".to_vec()]);
        let mut a = Part::default();
        a.key(b"k1").key(b"k2").arg(b"x");
        let mut b = Part::default();
        b.key(b"k3").key(b"k4").int(7);
        let mut out = Vec::new();
        batch.encode(&[a, b], &mut out);
        let expected: &[&[u8]] = &[b"EVALSHA", b"abc", b"4", b"k1", b"k2", b"k3", b"k4", b"c1", b"x", b"7"];
        let mut cmd = Command::new(expected.len(), 64);
        for arg in expected {
            cmd.arg(arg);
        }
        assert_eq!(out, cmd.bytes());
    }

    #[tokio::test]
    async fn a_batch_reply_goes_item_by_item_and_an_error_to_every_caller() {
        let (tx1, rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        Waiter::Many(vec![tx1, tx2]).answer(Reply::Array(vec![Reply::Int(1), Reply::Int(2)]));
        assert_eq!(rx1.await.unwrap(), Ok(Reply::Int(1)));
        assert_eq!(rx2.await.unwrap(), Ok(Reply::Int(2)));
        let (tx1, rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        Waiter::Many(vec![tx1, tx2]).answer(Reply::Error("NOSCRIPT".to_owned()));
        assert_eq!(rx1.await.unwrap(), Ok(Reply::Error("NOSCRIPT".to_owned())));
        assert_eq!(rx2.await.unwrap(), Ok(Reply::Error("NOSCRIPT".to_owned())));
        // A reply of the wrong shape fails the batch, never answers one
        // caller with another's item.
        let (tx1, rx1) = oneshot::channel();
        Waiter::Many(vec![tx1]).answer(Reply::Array(vec![]));
        assert!(rx1.await.unwrap().is_err());
    }

    #[test]
    fn commands_are_written_as_bulk_strings() {
        let mut cmd = Command::new(3, 8);
        cmd.arg(b"GET").arg(b"").int(-7);
        assert_eq!(cmd.bytes(), b"*3\r\n$3\r\nGET\r\n$0\r\n\r\n$2\r\n-7\r\n");
    }
}
