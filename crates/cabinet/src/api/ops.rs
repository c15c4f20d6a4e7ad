//! What operators use: `GET /metrics` (Prometheus text), `GET /healthz` and `GET /readyz`, and the
//! per-request accounting ([`observe`]) that feeds the request metrics and writes the access log.
//!
//! The access log line is written when the response body is done (sent, or dropped because the client
//! went away), so its duration and byte counts cover a whole transfer, not just the handler.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use serde_json::json;

use super::error::{ApiError, ErrorKind};
use super::AppState;
use crate::blob::BlobError;
use crate::domain::{FileFilter, ProjectName};
use crate::metrics::{SharedMetrics, UNMATCHED_ROUTE};

/// How long each readiness check may take before it counts as failed.
const READY_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a readiness answer is reused. `/readyz` is not behind authentication and writes a probe
/// object to the content store, so without this anyone who reaches the port could make the store take
/// writes as fast as they can send requests; with it, at most one probe runs per second, whatever the
/// rate of calls. A second is well below any orchestrator's probe period, so no decision is made on a
/// stale answer.
pub const READY_CACHE_FOR: Duration = Duration::from_secs(1);

/// The last readiness answer of one server and when it was obtained (its age counts from the end of the
/// checks, so that callers who waited for a slow probe still share it). Callers that arrive while a
/// probe runs wait on the lock and share its answer, so concurrent calls never start probes of their own.
#[derive(Default)]
pub struct ReadyCache(tokio::sync::Mutex<Option<(Instant, StatusCode, serde_json::Value)>>);

/// Who may read `/metrics`.
#[derive(Clone, Default)]
pub enum MetricsAccess {
    /// Anyone: the server is bound to loopback, or `metrics_public` is set.
    #[default]
    Open,
    /// Callers sending `Authorization: Bearer <token>` with this token.
    Token(Arc<str>),
    /// Nobody: bound to a non-loopback address with neither a token nor `metrics_public`.
    Closed,
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Open => "Open",
            Self::Token(_) => "Token(…)",
            Self::Closed => "Closed",
        })
    }
}

/// The token `/metrics` requires; never printed.
#[derive(Clone)]
pub struct MetricsToken(pub Arc<str>);

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(…)")
    }
}

/// The caller's name for the access log, which authentication leaves in the response's extensions:
/// `open` in open mode, else the token's subject (service token name, or a JWT's subject).
#[derive(Clone, Debug)]
pub struct CallerName(pub String);

/// `GET /metrics`: the Prometheus text format, 0.0.4.
pub async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match &app.metrics_access {
        MetricsAccess::Open => {}
        MetricsAccess::Closed => {
            return ApiError::new(
                ErrorKind::Forbidden,
                "Metrics are not served on this address: set metrics_token or metrics_public",
            )
            .into_response()
        }
        MetricsAccess::Token(expected) => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            let same: bool =
                subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes()).into();
            if !same {
                return ApiError::new(
                    ErrorKind::Unauthorized,
                    "Unauthorized: /metrics needs 'Authorization: Bearer <metrics token>'",
                )
                .into_response();
            }
        }
    }
    let (uploads, downloads) = app.transfers.in_use();
    app.metrics.set_transfers(uploads, downloads);
    if let Some(free) = app.disk.as_ref().and_then(|d| d.free_bytes()) {
        app.metrics
            .disk_free
            .set(i64::try_from(free).unwrap_or(i64::MAX));
    }
    match app.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                ),
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the metrics could not be encoded");
            ApiError::new(ErrorKind::Internal, "Internal server error").into_response()
        }
    }
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: 200 when the metadata store answers a query, the content store takes and removes a
/// small probe object, and the disk has room for uploads; 503 otherwise. The body names each check and
/// whether it passed; why a check failed goes to the log only. An answer is reused for
/// [`READY_CACHE_FOR`] (see there).
pub async fn readyz(
    State(app): State<AppState>,
    axum::Extension(cache): axum::Extension<Arc<ReadyCache>>,
) -> Response {
    let mut last = cache.0.lock().await;
    let fresh = match last.as_ref() {
        Some((at, status, body)) if at.elapsed() < READY_CACHE_FOR => Some((*status, body.clone())),
        _ => None,
    };
    let (status, body) = match fresh {
        Some(answer) => answer,
        None => {
            let (status, body) = check_readiness(&app).await;
            *last = Some((Instant::now(), status, body.clone()));
            (status, body)
        }
    };
    drop(last);
    (status, axum::Json(body)).into_response()
}

/// Runs the three checks of `/readyz`.
async fn check_readiness(app: &AppState) -> (StatusCode, serde_json::Value) {
    let (metadata, content) = tokio::join!(metadata_ready(app), content_ready(app));
    let disk = match &app.disk {
        None => true,
        Some(disk) => disk.check_room(0).is_ok(),
    };
    let ready = metadata && content && disk;
    let word = |ok: bool| if ok { "ok" } else { "failed" };
    let body = json!({
        "status": if ready { "ready" } else { "unready" },
        "checks": {
            "metadata": word(metadata),
            "content": word(content),
            "disk": if disk { "ok" } else { "full" },
        }
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

async fn metadata_ready(app: &AppState) -> bool {
    let Ok(project) = ProjectName::parse("cabinet-readyz") else {
        return false;
    };
    let filter = FileFilter::default();
    match tokio::time::timeout(READY_CHECK_TIMEOUT, app.meta.count(&project, &filter)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readyz: the metadata store failed");
            false
        }
        Err(_) => {
            tracing::warn!("readyz: the metadata store did not answer in time");
            false
        }
    }
}

async fn content_ready(app: &AppState) -> bool {
    // A fresh key each time: concurrent probes never touch each other's object; one that a crash
    // leaves behind belongs to no file, so the orphan collector removes it.
    let key = format!("readyz/{}", uuid::Uuid::new_v4().simple());
    // Larger than the local store packs (blob/packed.rs), so that the probe takes the path of content
    // files (staging, sync, rename), which a broken content directory breaks.
    let size = crate::blob::packed::PACKED_MAX + 1;
    let probe = async {
        let body: crate::blob::ByteStream =
            Box::pin(futures_util::stream::iter([Ok::<_, std::io::Error>(
                Bytes::from(vec![b'.'; size]),
            )]));
        app.blobs.put(&key, body, size as u64).await?;
        app.blobs.delete(&key).await?;
        Ok::<(), BlobError>(())
    };
    match tokio::time::timeout(READY_CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readyz: the content store failed");
            false
        }
        Err(_) => {
            tracing::warn!("readyz: the content store did not answer in time");
            false
        }
    }
}

/// Counts a request and its response into the metrics and writes its access log line once the response
/// body is done. Runs after routing (it sees the matched route template) and after the request id is set.
pub async fn observe(State(metrics): State<SharedMetrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let project = route
        .as_deref()
        .and_then(|r| project_of(r, req.uri().path()));
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let method = method_label(req.method());
    let bytes_in = Arc::new(AtomicU64::new(0));
    let req = req.map(|body| {
        Body::new(Counted {
            inner: body,
            seen: Some(bytes_in.clone()),
            total: metrics.bytes_in.clone(),
            done: None,
        })
    });
    let response = next.run(req).await;
    let principal = response
        .extensions()
        .get::<CallerName>()
        .map(|c| c.0.clone());
    let done = Done {
        metrics: metrics.clone(),
        start,
        route: route.unwrap_or_else(|| UNMATCHED_ROUTE.to_string()),
        method,
        status: response.status().as_u16(),
        request_id,
        project,
        principal,
        bytes_in,
        bytes_out: 0,
    };
    response.map(|body| {
        Body::new(Counted {
            inner: body,
            seen: None,
            total: metrics.bytes_out.clone(),
            done: Some(done),
        })
    })
}

/// The method as a metrics label: the standard methods by name, any other as `OTHER`, so that a client
/// inventing methods cannot grow the number of series without bound.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The `{project}` segment of `path`, found where the route template has it.
fn project_of(route: &str, path: &str) -> Option<String> {
    let at = route.split('/').position(|s| s == "{project}")?;
    path.split('/').nth(at).map(str::to_string)
}

/// A body that counts the bytes passing through; a response body also finishes the request's
/// accounting when it is done or dropped.
struct Counted {
    inner: Body,
    /// The request's own count, read by its access line (a response counts into its [`Done`]).
    seen: Option<Arc<AtomicU64>>,
    total: prometheus_client::metrics::counter::Counter,
    done: Option<Done>,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                let n = data.len() as u64;
                if let Some(seen) = &self.seen {
                    seen.fetch_add(n, Ordering::Relaxed);
                }
                self.total.inc_by(n);
                if let Some(done) = self.done.as_mut() {
                    done.bytes_out += n;
                }
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

/// What is known of a request when its response head leaves; finished when its body is done.
struct Done {
    metrics: SharedMetrics,
    start: Instant,
    route: String,
    method: &'static str,
    status: u16,
    request_id: String,
    project: Option<String>,
    principal: Option<String>,
    bytes_in: Arc<AtomicU64>,
    bytes_out: u64,
}

impl Drop for Done {
    fn drop(&mut self) {
        let elapsed = self.start.elapsed();
        self.metrics
            .request_done(&self.route, self.method, self.status, elapsed);
        tracing::info!(
            target: "cabinet::access",
            request_id = %self.request_id,
            project = self.project.as_deref().unwrap_or("-"),
            principal = self.principal.as_deref().unwrap_or("-"),
            method = %self.method,
            route = %self.route,
            status = self.status,
            bytes_in = self.bytes_in.load(Ordering::Relaxed),
            bytes_out = self.bytes_out,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        use axum::http::Method;
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::HEAD), "HEAD");
        for m in ["FOO1", "FOO2", "CONNECT"] {
            let m = Method::from_bytes(m.as_bytes()).unwrap();
            assert_eq!(method_label(&m), "OTHER");
        }
    }

    #[test]
    fn the_project_comes_from_where_the_template_has_it() {
        assert_eq!(
            project_of(
                "/api/v1/projects/{project}/files/list",
                "/api/v1/projects/p1/files/list"
            ),
            Some("p1".to_string())
        );
        assert_eq!(
            project_of(
                "/blob/v1/{project}/files/{file_id}/content",
                "/blob/v1/p2/files/7/content"
            ),
            Some("p2".to_string())
        );
        assert_eq!(
            project_of("/api/v1/token/inspect", "/api/v1/token/inspect"),
            None
        );
    }
}
