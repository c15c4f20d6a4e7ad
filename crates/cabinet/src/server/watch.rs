//! The connection watchdog: closes a connection that holds no request and does not send one in time.
//!
//! hyper's own `header_read_timeout` is not enough on its own. It does cover the wait for the next request
//! on an idle HTTP/1 keep-alive connection (hyper 1.12 starts its timer as soon as the connection waits for
//! a request head, and re-arms it when a response completes), but it does not cover the protocol sniff of
//! the automatic HTTP/1 + HTTP/2 builder (a client that connects and sends nothing is never cut), nor
//! HTTP/2 at all, and it gives an idle connection the same time as a slow header. So one watchdog, fed by
//! the connection's I/O and its requests, enforces both rules for every protocol:
//! - with no request in progress, the next request's head must be complete within the header timeout of
//!   its first byte (of accept, on a new connection);
//! - a kept-alive connection that sends nothing after its last response is closed after the idle timeout;
//! - on HTTP/2, a response body that handed the connection a frame and is not asked for the next one within
//!   the write-stall timeout closes the connection. A client can stall an HTTP/2 download by granting no
//!   flow-control window, and then no socket write blocks (the socket-level check in `io.rs` never
//!   fires) while the download keeps its slot. Over HTTP/1 the socket-level check is exact and this one
//!   is not applied.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// What one connection is doing, as far as its timeouts care. Shared by its I/O (bytes read), its
/// requests (start and end) and its watchdog.
#[derive(Debug)]
pub(super) struct Activity {
    state: Mutex<State>,
    /// Wakes the watchdog when a deadline may have moved.
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// Requests whose response is not yet fully sent (several on HTTP/2).
    in_flight: usize,
    /// Whether any request has been received on the connection.
    served: bool,
    /// When the connection last became free of requests (accept, or the end of the last response).
    idle_since: Instant,
    /// The first byte read since then: a request is on its way.
    first_byte: Option<Instant>,
    /// Watched response bodies (HTTP/2) that handed the connection a frame and have not been asked for
    /// the next: since when, by request.
    unsent: HashMap<u64, Instant>,
    /// The id of the next request.
    next_request: u64,
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cut {
    /// No complete request head within the header timeout.
    SlowHeader(Duration),
    /// Nothing sent for the idle timeout after the last response.
    Idle(Duration),
    /// A response body's frame not taken for the write-stall timeout.
    Unread(Duration),
}

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cut::SlowHeader(limit) => write!(f, "no complete request header within {limit:?}"),
            Cut::Idle(limit) => write!(f, "idle for {limit:?} after its last response"),
            Cut::Unread(limit) => write!(f, "the client took no response data for {limit:?}"),
        }
    }
}

/// The limits the watchdog enforces.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) header: Duration,
    pub(super) idle: Duration,
    pub(super) write_stall: Duration,
}

impl Activity {
    /// A connection accepted now.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                in_flight: 0,
                served: false,
                idle_since: Instant::now(),
                first_byte: None,
                unsent: HashMap::new(),
                next_request: 0,
            }),
            changed: Notify::new(),
        })
    }

    /// The connection read some bytes. Between requests, the first one starts the header clock.
    pub(super) fn bytes_read(&self) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.in_flight == 0 && state.first_byte.is_none() {
            state.first_byte = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A request head arrived; the returned guard ends the request when dropped (when its response body is
    /// done, or the request is abandoned).
    pub(super) fn request_started(self: &Arc<Self>) -> InFlight {
        let mut id = 0;
        if let Ok(mut state) = self.state.lock() {
            state.in_flight += 1;
            state.served = true;
            state.first_byte = None;
            id = state.next_request;
            state.next_request += 1;
        }
        self.changed.notify_one();
        InFlight {
            activity: Arc::clone(self),
            id,
        }
    }

    fn request_ended(&self, id: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.unsent.remove(&id);
            state.in_flight = state.in_flight.saturating_sub(1);
            if state.in_flight == 0 {
                state.idle_since = Instant::now();
                state.first_byte = None;
            }
        }
        self.changed.notify_one();
    }

    /// When the connection must be closed if nothing changes, and why; `None` while requests are in
    /// progress and the client takes what they send (their own timeouts bound them).
    fn deadline(&self, limits: Limits) -> Option<(Instant, Cut)> {
        let state = self.state.lock().ok()?;
        if state.in_flight > 0 {
            let oldest = state.unsent.values().min()?;
            return Some((
                *oldest + limits.write_stall,
                Cut::Unread(limits.write_stall),
            ));
        }
        Some(match state.first_byte {
            Some(first) => (first + limits.header, Cut::SlowHeader(limits.header)),
            None if !state.served => (
                state.idle_since + limits.header,
                Cut::SlowHeader(limits.header),
            ),
            None => (state.idle_since + limits.idle, Cut::Idle(limits.idle)),
        })
    }

    /// Completes when the connection has broken one of the rules.
    pub(super) async fn expired(&self, limits: Limits) -> Cut {
        loop {
            let changed = self.changed.notified();
            match self.deadline(limits) {
                None => changed.await,
                Some((at, cut)) => {
                    if Instant::now() >= at {
                        return cut;
                    }
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
            }
        }
    }
}

/// A request in progress on a connection; dropping it ends the request.
#[derive(Debug)]
pub(super) struct InFlight {
    activity: Arc<Activity>,
    id: u64,
}

impl InFlight {
    /// The response body handed the connection a frame: from now the client must take it.
    pub(super) fn handed(&self) {
        let Ok(mut state) = self.activity.state.lock() else {
            return;
        };
        let first = state.unsent.is_empty();
        state.unsent.insert(self.id, Instant::now());
        drop(state);
        if first {
            self.activity.changed.notify_one();
        }
    }

    /// The connection asked the body for more, or the body ended: nothing waits for the client.
    pub(super) fn taken(&self) {
        if let Ok(mut state) = self.activity.state.lock() {
            state.unsent.remove(&self.id);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity.request_ended(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        header: Duration::from_millis(300),
        idle: Duration::from_millis(600),
        write_stall: Duration::from_millis(400),
    };

    /// Asserts that `elapsed` is `expected`, give or take the scheduler's latency.
    fn assert_about(elapsed: Duration, expected: Duration) {
        assert!(
            elapsed >= expected && elapsed < expected + Duration::from_millis(250),
            "took {elapsed:?}, expected {expected:?}"
        );
    }

    #[tokio::test]
    async fn a_silent_new_connection_is_cut_after_the_header_timeout() {
        let activity = Activity::new();
        let began = Instant::now();
        assert_eq!(
            activity.expired(LIMITS).await,
            Cut::SlowHeader(LIMITS.header)
        );
        assert_about(began.elapsed(), LIMITS.header);
    }

    #[tokio::test]
    async fn an_idle_connection_gets_the_idle_timeout_and_a_started_head_the_header_timeout() {
        let activity = Activity::new();
        drop(activity.request_started());
        let began = Instant::now();
        assert_eq!(activity.expired(LIMITS).await, Cut::Idle(LIMITS.idle));
        assert_about(began.elapsed(), LIMITS.idle);

        drop(activity.request_started());
        let began = Instant::now();
        let pause = Duration::from_millis(100);
        let watch = activity.expired(LIMITS);
        tokio::pin!(watch);
        assert!(tokio::time::timeout(pause, &mut watch).await.is_err());
        activity.bytes_read();
        assert_eq!(watch.await, Cut::SlowHeader(LIMITS.header));
        assert_about(began.elapsed(), pause + LIMITS.header);
    }

    #[tokio::test]
    async fn a_request_in_progress_is_never_cut() {
        let activity = Activity::new();
        let request = activity.request_started();
        let watch = activity.expired(LIMITS);
        tokio::pin!(watch);
        let waited = tokio::time::timeout(LIMITS.idle * 3, &mut watch).await;
        assert!(waited.is_err(), "cut with a request in progress");
        drop(request);
        let began = Instant::now();
        assert_eq!(watch.await, Cut::Idle(LIMITS.idle));
        assert_about(began.elapsed(), LIMITS.idle);
    }

    #[tokio::test]
    async fn a_response_frame_the_client_does_not_take_is_cut_after_the_write_stall_timeout() {
        let activity = Activity::new();
        let request = activity.request_started();
        let watch = activity.expired(LIMITS);
        tokio::pin!(watch);
        // Frames handed and taken in turn keep the connection.
        for _ in 0..4 {
            request.handed();
            tokio::time::sleep(LIMITS.write_stall / 2).await;
            request.taken();
        }
        let waited = tokio::time::timeout(LIMITS.write_stall, &mut watch).await;
        assert!(waited.is_err(), "cut while the client took every frame");
        request.handed();
        let began = Instant::now();
        assert_eq!(watch.await, Cut::Unread(LIMITS.write_stall));
        assert_about(began.elapsed(), LIMITS.write_stall);
    }
}
