//! A lean pipelined connection for the two commands of every request on a
//! live task: the poll script and the journal entry.
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
        let mut len = itoa::Buffer::new();
        self.0.push(b'$');
        self.0.extend_from_slice(len.format(arg.len()).as_bytes());
        self.0.extend_from_slice(b"\r\n");
        self.0.extend_from_slice(arg);
        self.0.extend_from_slice(b"\r\n");
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

/// A command on its way and where its reply goes.
struct Job {
    command: Vec<u8>,
    reply: oneshot::Sender<Result<Reply, String>>,
}

/// The callers waiting for replies on one connection, in the order their
/// commands were written; `closed` once the connection is gone, so a job
/// queued after that fails at once instead of waiting for a reply that
/// cannot come.
#[derive(Default)]
struct Waiting {
    replies: VecDeque<oneshot::Sender<Result<Reply, String>>>,
    closed: Option<String>,
}

impl Waiting {
    fn close(&mut self, why: &str) {
        if self.closed.is_none() {
            self.closed = Some(why.to_owned());
        }
        for reply in self.replies.drain(..) {
            let _ = reply.send(Err(why.to_owned()));
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
    link: Mutex<Option<Link>>,
    /// One caller connects at a time; the others wait for its link.
    connecting: tokio::sync::Mutex<()>,
}

impl Pipeline {
    pub fn new(target: Target, connect_timeout: Duration) -> Self {
        Self {
            target,
            connect_timeout,
            link: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
        }
    }

    /// Sends `command` and waits for its reply. A connection that broke
    /// (or could not be made) is an `Err` with the reason; an error
    /// reply is `Ok(Reply::Error)`.
    pub async fn call(&self, command: Command) -> Result<Reply, String> {
        let link = self.link().await?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            command: command.0,
            reply,
        };
        if link.jobs.send(job).is_err() {
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
        tokio::spawn(write_loop(queue, write, shared.clone()));
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
/// way go together in the next one.
async fn write_loop(mut queue: mpsc::UnboundedReceiver<Job>, mut write: OwnedWriteHalf, shared: Arc<Shared>) {
    let mut buf = Vec::with_capacity(16 * 1024);
    while let Some(first) = queue.recv().await {
        // Let the tasks that are ready run first: under load they queue
        // their commands too, and all go in one write.
        tokio::task::yield_now().await;
        buf.clear();
        {
            let mut waiting = shared.waiting.lock().unwrap_or_else(|e| e.into_inner());
            let mut job = Some(first);
            while let Some(Job { command, reply }) = job.take() {
                if let Some(why) = &waiting.closed {
                    let _ = reply.send(Err(why.clone()));
                } else {
                    buf.extend_from_slice(&command);
                    waiting.replies.push_back(reply);
                }
                if buf.len() < 64 * 1024 {
                    job = queue.try_recv().ok();
                }
            }
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
                    let caller = shared
                        .waiting
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .replies
                        .pop_front();
                    match caller {
                        Some(caller) => {
                            let _ = caller.send(Ok(reply));
                        }
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
    fn commands_are_written_as_bulk_strings() {
        let mut cmd = Command::new(3, 8);
        cmd.arg(b"GET").arg(b"").int(-7);
        assert_eq!(cmd.bytes(), b"*3\r\n$3\r\nGET\r\n$0\r\n\r\n$2\r\n-7\r\n");
    }
}
