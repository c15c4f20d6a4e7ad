//! The HTTP server under the router: accepts connections and holds every one of them to the connection
//! guards of [`Guards`], so that no client can keep a connection, a thread or a descriptor for long
//! without doing its part.
//!
//! - [`watch`]: a connection with no request in progress must send one in time (header and idle timeouts);
//! - [`io`]: a response write that makes no progress for the write-stall timeout closes the connection;
//! - [`body`]: a request body must keep a minimum pace;
//! - [`rlimit`]: the process may open as many descriptors as its hard limit allows.
//!
//! Every cut is logged with the peer's address and the reason.

mod body;
mod connection;
mod io;
pub mod rlimit;
mod watch;
mod zerocopy;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::guards::Guards;

/// The pause after a failed accept that is not the fault of one connection (out of descriptors, say):
/// long enough not to spin, short enough to pick up as soon as descriptors are free again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting and lets the requests in
/// progress finish for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    guards: &Guards,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let shared = Arc::new(connection::Shared::new(router, guards));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                tokio::spawn(connection::serve(
                    stream,
                    peer,
                    Arc::clone(&shared),
                    graceful.watcher(),
                ));
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection; retrying in {ACCEPT_BACKOFF:?}");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!("in-flight requests did not finish within {grace:?}; stopping anyway");
        }
    }
}

/// Errors of one connection that went away before it was accepted; the next accept is unaffected.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
