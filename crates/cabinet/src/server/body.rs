//! Request bodies with a pace to keep: one that sends nothing for the body idle timeout, or less than the
//! minimum rate over each such span, fails with an error. An upload then stores nothing and is answered
//! 400, a JSON request too, and the connection closes (its body was not read to the end).
//!
//! Only time the server spends waiting for the client counts: while the server is busy elsewhere (a slow
//! disk under an upload), the body is not polled and the client is not to blame.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How fast a request body must arrive.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    /// Longest wait for a byte; also the span over which the rate is averaged.
    pub(super) idle: Duration,
    /// Least average rate over each span, in bytes per second; 0 for none.
    pub(super) min_rate: u64,
}

impl Pace {
    /// Bytes a span must bring.
    fn bytes_per_span(&self) -> u64 {
        let bytes = u128::from(self.min_rate) * self.idle.as_millis() / 1000;
        u64::try_from(bytes).unwrap_or(u64::MAX)
    }
}

/// A request body held to a [`Pace`].
pub(super) struct PacedBody {
    inner: Incoming,
    pace: Pace,
    peer: SocketAddr,
    /// While the server waits for the client: since when, and up to when that wait has been counted.
    waiting: Option<(Instant, Instant)>,
    /// Waiting time counted in the current span, and the bytes it brought.
    span_waited: Duration,
    span_bytes: u64,
    timer: Option<Pin<Box<Sleep>>>,
}

impl PacedBody {
    pub(super) fn new(inner: Incoming, pace: Pace, peer: SocketAddr) -> Self {
        Self {
            inner,
            pace,
            peer,
            waiting: None,
            span_waited: Duration::ZERO,
            span_bytes: 0,
            timer: None,
        }
    }

    /// Counts the waiting time up to `now` into the current span.
    fn count_wait(&mut self, now: Instant) {
        if let Some((_, counted)) = &mut self.waiting {
            self.span_waited += now.saturating_duration_since(*counted);
            *counted = now;
        }
    }

    /// Closes the span once it is full: too few bytes in it is an error.
    fn close_full_span(&mut self) -> Result<(), BoxError> {
        if self.span_waited < self.pace.idle {
            return Ok(());
        }
        let needed = self.pace.bytes_per_span();
        if self.span_bytes < needed {
            return Err(self.fail(format!(
                "the request body is too slow: {} bytes in {:?}, below the minimum of {} bytes/s",
                self.span_bytes, self.pace.idle, self.pace.min_rate
            )));
        }
        self.span_waited = Duration::ZERO;
        self.span_bytes = 0;
        Ok(())
    }

    fn fail(&self, reason: String) -> BoxError {
        tracing::warn!(peer = %self.peer, "cutting a request body: {reason}");
        Box::new(std::io::Error::new(std::io::ErrorKind::TimedOut, reason))
    }

    /// The client has not sent the next frame yet: checks the clocks and sets a timer for the next check.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            let now = Instant::now();
            let since = self.waiting.get_or_insert((now, now)).0;
            if now >= since + self.pace.idle {
                let reason = format!("the request body stalled: no data for {:?}", self.pace.idle);
                return Poll::Ready(Some(Err(self.fail(reason))));
            }
            self.count_wait(now);
            if let Err(e) = self.close_full_span() {
                return Poll::Ready(Some(Err(e)));
            }
            let span_ends = now + self.pace.idle.saturating_sub(self.span_waited);
            let deadline = (since + self.pace.idle).min(span_ends);
            let timer = match &mut self.timer {
                Some(timer) => {
                    if timer.deadline() != deadline {
                        timer.as_mut().reset(deadline);
                    }
                    timer
                }
                None => self
                    .timer
                    .insert(Box::pin(tokio::time::sleep_until(deadline))),
            };
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl Body for PacedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => this.wait(cx),
            Poll::Ready(Some(Ok(frame))) => {
                this.count_wait(Instant::now());
                this.waiting = None;
                if let Some(data) = frame.data_ref() {
                    this.span_bytes += data.len() as u64;
                }
                match this.close_full_span() {
                    Ok(()) => Poll::Ready(Some(Ok(frame))),
                    Err(e) => Poll::Ready(Some(Err(e))),
                }
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
