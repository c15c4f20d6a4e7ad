//! A connection's socket, watched: reads feed the connection watchdog, and a write that makes no progress
//! for the write-stall timeout fails, which closes the connection. That is what frees a download whose
//! client stopped reading: nothing else would, since the server is not waiting for the client then, the
//! client is waiting for nothing.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::watch::Activity;

/// A socket whose writes may not stall longer than a limit.
pub(super) struct GuardedIo<T> {
    inner: T,
    activity: Arc<Activity>,
    stall_limit: Duration,
    /// Armed at the first write that could not proceed; disarmed by any progress.
    stall: Option<Pin<Box<Sleep>>>,
    armed: bool,
    peer: SocketAddr,
}

impl<T> GuardedIo<T> {
    pub(super) fn new(
        inner: T,
        activity: Arc<Activity>,
        stall_limit: Duration,
        peer: SocketAddr,
    ) -> Self {
        Self {
            inner,
            activity,
            stall_limit,
            stall: None,
            armed: false,
            peer,
        }
    }

    /// The write could not proceed: starts the stall clock, or fails once it has run out.
    fn stalled<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        if !self.armed {
            let deadline = Instant::now() + self.stall_limit;
            match &mut self.stall {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.stall = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        if let Some(sleep) = &mut self.stall {
            if sleep.as_mut().poll(cx).is_ready() {
                tracing::warn!(
                    peer = %self.peer,
                    "closing connection: the client read nothing for {:?}",
                    self.stall_limit
                );
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped reading the response",
                )));
            }
        }
        Poll::Pending
    }

    fn progressed<R>(
        &mut self,
        result: Poll<io::Result<R>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<R>> {
        match result {
            Poll::Pending => self.stalled(cx),
            ready => {
                self.armed = false;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progressed(result, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progressed(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.progressed(result, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
