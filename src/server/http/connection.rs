//! One client connection: the socket, with the two timeouts hyper cannot
//! tell apart and the scripted reset.
//!
//! hyper has one timer for "the request head has not arrived", which also
//! closes idle keep-alive connections. A slow poller that waits between
//! polls and a stalled client that sends half a head are different things:
//! here `--header-timeout` runs from the first byte of a head (or from the
//! connection's start) until the request is dispatched, and
//! `--keep-alive-timeout` runs while a connection sits idle between
//! requests. Either, expired, fails the next read, so hyper closes the
//! connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{futures::OwnedNotified, watch, Notify};
use tokio::time::{Instant, Sleep};

/// The timeouts of every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From a connection's start, or from the first byte of a request head,
    /// until the whole head has arrived.
    pub header: Duration,
    /// How long a keep-alive connection may sit idle between requests.
    pub keep_alive: Duration,
}

impl Default for Timeouts {
    /// 30 s (hyper's own) for the head, 60 s between polls.
    fn default() -> Self {
        Self {
            header: Duration::from_secs(30),
            keep_alive: Duration::from_secs(60),
        }
    }
}

/// What the request handler tells the connection.
#[derive(Debug, Default)]
pub struct Signals {
    /// Close with a TCP reset instead of a FIN (a scripted fault).
    pub reset: AtomicBool,
    /// A request is being handled: no timeout runs.
    pub busy: AtomicBool,
    /// Requests answered so far: a change tells the connection one ended
    /// (hyper need not read while a request is handled).
    pub answered: AtomicU64,
}

/// Where the current request head is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    /// No byte of it yet.
    Waiting,
    /// Its first bytes arrived; the clock is read when a read finds
    /// nothing more (at once, if the head is incomplete). A whole head is
    /// dispatched first and never needs the reading, which cost a clock
    /// read on every request.
    Arriving,
    /// Arriving since then.
    Since(Instant),
}

/// A client connection.
pub struct Connection {
    stream: TcpStream,
    signals: Arc<Signals>,
    timeouts: Timeouts,
    /// Whether the current head began arriving, and when.
    head: Head,
    /// When the connection last became idle (its start, at first).
    idle_since: Instant,
    /// `Signals::answered` when last looked at.
    answered: u64,
    timer: Pin<Box<Sleep>>,
    armed: Instant,
}

impl Connection {
    pub fn new(stream: TcpStream, signals: Arc<Signals>, timeouts: Timeouts) -> Self {
        let now = Instant::now();
        let armed = now + timeouts.header;
        Self {
            stream,
            signals,
            timeouts,
            head: Head::Waiting,
            idle_since: now,
            answered: 0,
            timer: Box::pin(tokio::time::sleep_until(armed)),
            armed,
        }
    }

    /// Takes in what the request handler signalled; whether a timeout
    /// runs (none while a request is handled).
    fn waiting(&mut self) -> bool {
        if self.signals.busy.load(Ordering::Relaxed) {
            self.head = Head::Waiting;
            return false;
        }
        let answered = self.signals.answered.load(Ordering::Relaxed);
        if answered != self.answered {
            // A request ended since the last read: idle from now.
            self.answered = answered;
            self.head = Head::Waiting;
            self.idle_since = Instant::now();
        }
        true
    }

    /// When the connection times out if nothing more arrives (while
    /// [`Connection::waiting`]).
    fn deadline(&mut self) -> Instant {
        match self.head {
            Head::Since(started) => started + self.timeouts.header,
            Head::Arriving => {
                let now = Instant::now();
                self.head = Head::Since(now);
                now + self.timeouts.header
            }
            Head::Waiting if self.answered > 0 => self.idle_since + self.timeouts.keep_alive,
            Head::Waiting => self.idle_since + self.timeouts.header,
        }
    }
}

impl Connection {
    /// Moves the timer to the current deadline and makes it wake this task.
    /// Called after a response is flushed: hyper may not read again until
    /// woken, and the keep-alive deadline starts now.
    fn rearm(&mut self, cx: &mut Context<'_>) {
        if self.waiting() {
            let deadline = self.deadline();
            self.arm(deadline);
            // Ready means the timer went off: the read that follows looks again.
            let _ = self.timer.as_mut().poll(cx);
        }
    }

    /// Sets the timer for `deadline` only when that is sooner than it is
    /// set for. A later deadline (the next request's keep-alive) leaves it:
    /// it goes off early, and [`Connection::expired`] sets it again. Moving
    /// a timer costs about as much as the rest of the connection's work on
    /// a request, and a busy connection's deadline moves on every one.
    fn arm(&mut self, deadline: Instant) {
        if deadline < self.armed {
            self.armed = deadline;
            self.timer.as_mut().reset(deadline);
        }
    }

    /// Whether the timer going off means `deadline` has passed; if it has
    /// not (the timer was set for an earlier one), it is set for `deadline`
    /// and polled again, so that it wakes this task then.
    fn expired(&mut self, deadline: Instant, cx: &mut Context<'_>) -> bool {
        if Instant::now() >= deadline {
            return true;
        }
        self.armed = deadline;
        self.timer.as_mut().reset(deadline);
        self.timer.as_mut().poll(cx).is_ready()
    }
}

impl Connection {
    /// Whether the client closed the connection while its answer waits (a
    /// scripted delay, the shared store, a callback check): a one-byte
    /// peek that finds the end of the stream or an error. Nothing to read
    /// yet wakes this connection when something comes; data (a pipelined
    /// request) means the client is there.
    ///
    /// hyper looks for that itself with a read as it hands each request
    /// over (`half_close` off); but the request's head still holds the read
    /// buffer then, so hyper allocated a new one for that read, on every
    /// request (about 300 instructions; the connection is built with
    /// `half_close` on). Here an answer that is ready at once pays nothing.
    fn client_left(&mut self, cx: &mut Context<'_>) -> bool {
        let mut byte = [std::mem::MaybeUninit::uninit()];
        let mut peeked = ReadBuf::uninit(&mut byte);
        match self.stream.poll_peek(cx, &mut peeked) {
            Poll::Ready(Ok(n)) => n == 0,
            Poll::Ready(Err(_)) => true,
            Poll::Pending => false,
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.signals.reset.load(Ordering::Relaxed) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for Connection {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let waiting = this.waiting();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if waiting && this.head == Head::Waiting && buf.filled().len() > before {
                    this.head = Head::Arriving;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if !waiting {
                    return Poll::Pending;
                }
                let deadline = this.deadline();
                this.arm(deadline);
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) if this.expired(deadline, cx) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client sent no complete request in time",
                    ))),
                    _ => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    /// hyper flushes on every wake-up of the connection, also while an
    /// answer waits (busy): then this looks whether the client left.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let flushed = Pin::new(&mut self.stream).poll_flush(cx);
        if flushed.is_ready() {
            if self.signals.busy.load(Ordering::Relaxed) {
                if self.client_left(cx) {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "the client left before its answer",
                    )));
                }
            } else {
                self.rearm(cx);
            }
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Tells every connection the server stops, so that each finishes the
/// request it is answering and closes, and waits until they have: what
/// hyper-util's `GracefulShutdown` does, whose watch a connection polled on
/// every wake-up (a `watch::Receiver::changed` future, about 130
/// instructions a request). Here a connection looks at a flag, and polls
/// its `Notified` only when its waker changes (for a spawned task, once).
#[derive(Debug)]
pub struct Stopping {
    stopped: AtomicBool,
    notify: Arc<Notify>,
    /// Every watched connection holds a receiver: closed when the last ends.
    open: watch::Sender<()>,
}

impl Default for Stopping {
    fn default() -> Self {
        Self {
            stopped: AtomicBool::new(false),
            notify: Arc::new(Notify::new()),
            open: watch::channel(()).0,
        }
    }
}

impl Stopping {
    /// `conn`, finishing gracefully once [`Stopping::stop`] is called.
    pub fn watch<C: GracefulConnection>(self: &Arc<Self>, conn: C) -> impl Future<Output = C::Output> {
        // Both made now, before any stop: a `Notified` hears every
        // `notify_waiters` after it was made, polled or not.
        let notified = self.notify.clone().notified_owned();
        watched(conn, self.clone(), notified, self.open.subscribe())
    }

    /// Tells every watched connection to finish, and waits until all have.
    pub async fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.notify.notify_waiters();
        self.open.closed().await;
    }
}

async fn watched<C: GracefulConnection>(
    conn: C,
    stopping: Arc<Stopping>,
    notified: OwnedNotified,
    _open: watch::Receiver<()>,
) -> C::Output {
    let mut conn = std::pin::pin!(conn);
    let mut notified = std::pin::pin!(notified);
    let mut registered: Option<std::task::Waker> = None;
    let mut finishing = false;
    std::future::poll_fn(move |cx| {
        if !finishing {
            let fresh = !registered.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
            // The flag is set before the waiters are woken: a stop is seen
            // here, or its wake-up reaches the waker registered here.
            if stopping.stopped.load(Ordering::Acquire) || (fresh && notified.as_mut().poll(cx).is_ready()) {
                finishing = true;
                conn.as_mut().graceful_shutdown();
            } else if fresh {
                registered = Some(cx.waker().clone());
            }
        }
        conn.as_mut().poll(cx)
    })
    .await
}

/// The next client of `listener`, with Nagle off. A failed accept (out of
/// file descriptors and the like) is logged and retried a moment later:
/// the connections already open keep being served.
pub async fn next_client(listener: &TcpListener, log: impl Fn(std::io::Error)) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                return stream;
            }
            Err(e) => {
                log(e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Refuses a connection over `--max-connections`: a 503 in the gateway's
/// envelope, then close. Never waits on the client.
pub fn refuse(stream: TcpStream, max: usize) {
    let body = format!(
        r#"{{"code":"too_many_connections","message":"the mock already holds {max} connections (--max-connections)","data":null}}"#
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
    drop(stream);
}

/// Raises the soft limit of open files toward `wanted` (within the hard
/// limit), so `--max-connections` is not cut short by the default 1024.
/// Returns the limit in force.
#[cfg(unix)]
// rlim_t is u64 on Linux but not on every unix.
#[allow(clippy::useless_conversion)]
pub fn raise_open_files(wanted: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        let target = (wanted as libc::rlim_t).min(limit.rlim_max);
        if target > limit.rlim_cur {
            let raised = libc::rlimit {
                rlim_cur: target,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return u64::from(target);
            }
        }
        u64::from(limit.rlim_cur)
    }
}

#[cfg(not(unix))]
pub fn raise_open_files(wanted: u64) -> u64 {
    wanted
}
