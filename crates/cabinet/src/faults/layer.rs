//! The middleware that applies the armed rules to requests, added with one line in the router
//! ([`crate::api::router`]).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::rules::{FaultKind, UPLOAD_ROUTE};
use super::{Faults, Firing, Target};

/// How long a cut body waits before it fails, so that the part before the cut is written out.
const FLUSH_PAUSE: Duration = Duration::from_millis(100);

/// Names the rule that produced a response, for a test that wants to know.
pub const FAULT_HEADER: &str = "x-cabinet-fault";

/// Applies the first armed rule that fires on the request; with no rule armed, one atomic load and the
/// request goes on untouched.
pub async fn inject(State(faults): State<Arc<Faults>>, req: Request, next: Next) -> Response {
    if !faults.armed() {
        return next.run(req).await;
    }
    let (firing, upload) = match Target::of(req.method().as_str(), req.uri().path()) {
        Some(target) => (faults.fire(&target), target.route == UPLOAD_ROUTE),
        None => (None, false),
    };
    let Some(firing) = firing else {
        return next.run(req).await;
    };
    tracing::info!(
        rule = firing.id,
        method = %req.method(),
        path = req.uri().path(),
        "injecting a fault"
    );
    if let Some(ms) = firing.spec.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let mut response = match (firing.spec.status, firing.spec.fault) {
        (Some(status), _) => status_response(&firing, status),
        (None, Some(FaultKind::Reset)) => reset(),
        (None, Some(FaultKind::Truncate)) if upload => {
            // Half of the upload arrives, then the body fails: whatever the handler made of that, the
            // client gets a 500 and the connection closes.
            let (parts, body) = req.into_parts();
            let limit = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(0, |len| len / 2);
            let req = Request::from_parts(parts, cut_after(body, limit));
            let answered = next.run(req).await;
            tracing::info!(status = %answered.status(), "the upload with a failed body was answered");
            let mut response = envelope(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!(
                    "Injected fault (rule {}): the upload failed after {limit} bytes of its body",
                    firing.id
                ),
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
        (None, Some(FaultKind::Truncate)) => {
            let response = next.run(req).await;
            let limit = response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(0, |len| len / 2);
            let (parts, body) = response.into_parts();
            Response::from_parts(parts, cut_after(body, limit))
        }
        (None, None) => next.run(req).await,
    };
    if let Ok(id) = HeaderValue::from_str(&firing.id.to_string()) {
        response.headers_mut().insert(FAULT_HEADER, id);
    }
    response
}

/// The CDF error envelope with `status`, and `Retry-After` where the rule gives one.
fn status_response(firing: &Firing, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = envelope(
        status,
        &format!(
            "Injected fault (rule {}): {}",
            firing.id,
            status.canonical_reason().unwrap_or("error")
        ),
    );
    if let Some(secs) = firing.spec.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn envelope(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": status.as_u16(), "message": message } });
    (status, axum::Json(body)).into_response()
}

/// A response whose body fails before its first byte: hyper then drops the connection without writing
/// the response head, so the client sees the connection closed with no response.
fn reset() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("injected connection reset"))
    });
    Response::new(Body::from_stream(failing))
}

/// `body` cut after `limit` bytes: it then fails, which ends a response early (hyper closes the
/// connection, the client has fewer bytes than the `Content-Length`) or a request body mid-way.
fn cut_after(body: Body, limit: u64) -> Body {
    let stream = futures_util::stream::unfold(
        (body.into_data_stream(), 0u64, false),
        move |(mut inner, sent, done)| async move {
            if done {
                return None;
            }
            let cut = || std::io::Error::other("injected fault: the body stops here");
            if sent >= limit {
                // hyper drops what it has buffered when a body fails: a pause first lets the bytes
                // sent so far reach the client.
                tokio::time::sleep(FLUSH_PAUSE).await;
                return Some((Err(cut()), (inner, sent, true)));
            }
            match inner.next().await {
                Some(Ok(mut chunk)) => {
                    let room = usize::try_from(limit - sent).unwrap_or(usize::MAX);
                    if chunk.len() > room {
                        chunk.truncate(room);
                    }
                    let sent = sent + chunk.len() as u64;
                    Some((Ok(chunk), (inner, sent, false)))
                }
                Some(Err(e)) => Some((Err(std::io::Error::other(e)), (inner, sent, true))),
                // The body was shorter than the cut: it fails at its end instead.
                None => {
                    tokio::time::sleep(FLUSH_PAUSE).await;
                    Some((Err(cut()), (inner, sent, true)))
                }
            }
        },
    );
    Body::from_stream(stream)
}
