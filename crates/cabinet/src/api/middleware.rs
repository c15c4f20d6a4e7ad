//! Cross-cutting request handling: bearer tokens, request ids in logs, and the guarantee that every
//! error response carries the CDF envelope, whichever layer produced it.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Span;

use super::error::{ApiError, ErrorKind};

/// Until authentication lands, any bearer token is accepted, but one must be there: the JS SDK sends its
/// first request without a token and only fetches one after a 401.
pub async fn require_bearer_token(req: Request, next: Next) -> Response {
    if req.method() == axum::http::Method::OPTIONS {
        return next.run(req).await;
    }
    let has_token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .is_some_and(|token| !token.trim().is_empty());
    if !has_token {
        return ApiError::new(
            ErrorKind::Unauthorized,
            "Unauthorized: send an access token as 'Authorization: Bearer <token>'",
        )
        .into_response();
    }
    next.run(req).await
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
