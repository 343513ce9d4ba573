//! The end of `--upstream-timeout` for an answer already under way: an
//! upstream that stalls mid-body is cut there, the body ending in an
//! error (the client sees the connection close before the body is whole)
//! instead of hanging for as long as the upstream likes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// What a body's error becomes once it has passed through here.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Called once if the body is cut.
pub type OnCut = Box<dyn FnOnce() + Send>;

/// The body was cut at the exchange's deadline.
#[derive(Debug, thiserror::Error)]
#[error("the upstream did not finish its answer within --upstream-timeout ({0:?}): cut")]
pub struct Stalled(pub Duration);

/// `inner`, frame for frame, until `at`; then an error.
pub struct Deadline<B> {
    inner: B,
    sleep: Pin<Box<Sleep>>,
    timeout: Duration,
    on_cut: Option<OnCut>,
}

impl<B> Deadline<B> {
    /// `timeout` is what the message names; `at` when the exchange began plus it.
    pub fn new(inner: B, at: Instant, timeout: Duration, on_cut: OnCut) -> Self {
        Self {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(at)),
            timeout,
            on_cut: Some(on_cut),
        }
    }
}

impl<B> Body for Deadline<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(on_cut) = this.on_cut.take() {
            on_cut();
        }
        Poll::Ready(Some(Err(Box::new(Stalled(this.timeout)))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
