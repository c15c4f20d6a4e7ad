//! Cross-cutting request handling: request ids in logs, and the guarantee that every
//! error response carries the CDF envelope, whichever layer produced it.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawPathParams, Request};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use tracing::Span;

use super::error::{ApiError, ErrorKind};

/// Longest `x-request-id` a client may choose.
const MAX_REQUEST_ID: usize = 128;

/// Drops a client's `x-request-id` that is empty, longer than 128 characters, holds characters other than
/// `[A-Za-z0-9._-]`, or comes more than once, so that the next layer gives the request a fresh one (and the
/// response carries that). Request ids go into every log line and back to the client; a client must not
/// be able to write anything else there.
pub fn drop_unfit_request_id(mut req: Request) -> Request {
    let mut ids = req.headers().get_all("x-request-id").iter();
    let fit = match (ids.next(), ids.next()) {
        (None, _) => true,
        (Some(id), None) => {
            let id = id.as_bytes();
            !id.is_empty()
                && id.len() <= MAX_REQUEST_ID
                && id
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        }
        (Some(_), Some(_)) => false,
    };
    if !fit {
        req.headers_mut().remove("x-request-id");
    }
    req
}

/// CORS for browser apps: any origin, any method and header a preflight asks for, the request id, ETag
/// and ranges readable. Never `Access-Control-Allow-Credentials`: tokens travel in `Authorization`, which a
/// page sets itself, and no cookie or other ambient credential of a browser may reach the API.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            header::ETAG,
            header::CONTENT_RANGE,
            header::RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(3600))
}

/// A span per request that carries its id, so every log line of the request can be found by it.
pub fn span_with_request_id(req: &Request) -> Span {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
}

/// Answers routes that do not exist.
pub async fn unknown_route(req: Request) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("No such endpoint: {} {}", req.method(), req.uri().path()),
    )
}

/// Answers methods other than GET on `/files/{x}`: that path is only a resource when `x` is an id, so
/// `POST /files/nonsense` is an unknown endpoint (404), `POST /files/123` a wrong method (405).
pub async fn other_method_on_file(params: RawPathParams, req: Request) -> ApiError {
    let is_id = params
        .iter()
        .any(|(name, value)| name == "id" && value.parse::<i64>().is_ok());
    if is_id {
        method_not_allowed(req).await
    } else {
        unknown_route(req).await
    }
}

/// `GET /files/icon`: CDF's thumbnails, which cabinet does not make.
pub async fn thumbnails_unavailable() -> ApiError {
    ApiError::bad_request(
        "Thumbnails are not available: cabinet does not make file icons (GET /files/icon); \
         download the content instead",
    )
}

/// Answers known routes called with another method.
pub async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!(
            "Method {} is not allowed on {}",
            req.method(),
            req.uri().path()
        ),
    )
}

/// Rewrites error responses that some layer produced without a JSON body (a 415 from the decompression
/// layer, say) into the CDF envelope, so clients always get `error.message`.
pub async fn ensure_error_envelope(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let message = status.canonical_reason().unwrap_or("Request failed");
    let body =
        serde_json::json!({"error": {"code": status.as_u16(), "message": message}}).to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
