//! One accepted connection: HTTP/1.1 or HTTP/2 (cleartext) over a watched socket, with paced request
//! bodies, closed by the watchdog when it holds no request and sends none in time.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::Watcher;
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::body::{Pace, PacedBody};
use super::io::GuardedIo;
use super::watch::{Activity, Cut, InFlight, Limits};
use super::zerocopy::ZeroCopyStream;
use crate::guards::Guards;

/// What every connection of a server shares.
pub(super) struct Shared {
    pub(super) router: Router,
    pub(super) builder: Builder<TokioExecutor>,
    pub(super) limits: Limits,
    pub(super) pace: Pace,
    pub(super) write_stall: std::time::Duration,
}

impl Shared {
    pub(super) fn new(router: Router, guards: &Guards) -> Self {
        let mut builder = Builder::new(TokioExecutor::new());
        // The watchdog times request heads for both protocols; hyper's HTTP/1 timer stays off so that
        // there is one rule and one log line.
        builder.http1().header_read_timeout(None);
        Self {
            router,
            builder,
            limits: Limits {
                header: guards.header_read_timeout,
                idle: guards.idle_timeout,
                write_stall: guards.write_stall_timeout,
            },
            pace: Pace {
                idle: guards.body_idle_timeout,
                min_rate: guards.min_body_rate,
            },
            write_stall: guards.write_stall_timeout,
        }
    }
}

/// Serves one connection until the client closes it, an error or a timeout ends it, or a graceful
/// shutdown has let its requests finish.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    watcher: Watcher,
) {
    let activity = Activity::new();
    let stream = ZeroCopyStream::new(stream);
    let io = GuardedIo::new(stream, Arc::clone(&activity), shared.write_stall, peer);
    let service = {
        let (router, activity, pace) = (shared.router.clone(), Arc::clone(&activity), shared.pace);
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let in_flight = activity.request_started();
            // Over HTTP/1 the socket shows a client that does not read; over HTTP/2 flow control can
            // hide it, so the response body is watched instead.
            let watched = request.version() == hyper::Version::HTTP_2;
            let request = request.map(|body| PacedBody::new(body, pace, peer));
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await?;
                Ok::<_, Infallible>(response.map(|body| Tracked {
                    inner: body,
                    in_flight,
                    watched,
                }))
            }
        })
    };
    let connection = watcher.watch(shared.builder.serve_connection(TokioIo::new(io), service));
    tokio::select! {
        result = connection => {
            if let Err(e) = result {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
        }
        cut = activity.expired(shared.limits) => match cut {
            Cut::Idle(_) => tracing::info!(peer = %peer, "closing connection: {cut}"),
            Cut::SlowHeader(_) | Cut::Unread(_) => {
                tracing::warn!(peer = %peer, "closing connection: {cut}");
            }
        },
    }
}

/// A response body that keeps its request counted as in progress until it is sent or dropped, and, when
/// `watched`, tells the watchdog whether a frame it handed over waits for the client.
struct Tracked {
    inner: axum::body::Body,
    in_flight: InFlight,
    watched: bool,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if self.watched {
            match &polled {
                Poll::Ready(Some(Ok(frame))) if frame.is_data() => self.in_flight.handed(),
                _ => self.in_flight.taken(),
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
