//! A body that streams through unchanged while keeping a copy of it, up to
//! a cap, for judging and recording; it reports what it kept once the
//! stream ends (or is dropped), so the work on the copy starts only after
//! the last byte has been handed on.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::exchange::Captured;

/// Called once with what was kept.
pub type OnEnd = Box<dyn FnOnce(Captured) + Send>;

/// `inner`, frame for frame, with a copy of its data while it fits in `cap`.
pub struct Tee<B: Body<Data = Bytes> + Unpin> {
    inner: B,
    /// The copy, while it is wanted and fits.
    copy: Option<Vec<u8>>,
    cap: usize,
    size: u64,
    over_cap: bool,
    on_end: Option<OnEnd>,
}

impl<B: Body<Data = Bytes> + Unpin> Tee<B> {
    /// Keeps a copy of up to `cap` bytes when `keep` (else only counts them).
    pub fn new(inner: B, keep: bool, cap: usize, on_end: OnEnd) -> Self {
        Self {
            inner,
            copy: keep.then(Vec::new),
            cap,
            size: 0,
            over_cap: false,
            on_end: Some(on_end),
        }
    }

    fn finish(&mut self, complete: bool) {
        let Some(on_end) = self.on_end.take() else { return };
        let kept = if complete {
            self.copy.take().map(Bytes::from)
        } else {
            None
        };
        on_end(Captured {
            kept,
            size: self.size,
            complete,
            over_cap: self.over_cap,
        });
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tee<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.size += data.len() as u64;
                    if let Some(copy) = &mut this.copy {
                        if copy.len() + data.len() > this.cap {
                            this.copy = None;
                            this.over_cap = true;
                        } else {
                            copy.extend_from_slice(data);
                        }
                    }
                }
                // With a known length hyper stops polling after the last
                // byte, without asking for the end: this is the end.
                if this.inner.is_end_stream() {
                    this.finish(true);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                this.finish(false);
                Poll::Ready(Some(Err(e)))
            }
            None => {
                this.finish(true);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body<Data = Bytes> + Unpin> Drop for Tee<B> {
    fn drop(&mut self) {
        // Dropped before its end was polled: whole only if nothing was left
        // to read (an empty body, which hyper never polls).
        let complete = self.inner.is_end_stream();
        self.finish(complete);
    }
}
