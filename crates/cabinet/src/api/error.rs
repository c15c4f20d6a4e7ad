//! The one error type of the HTTP layer, and the only place that writes the CDF error envelope
//! `{"error": {"code", "message", "missing"?, "duplicated"?}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::blob::BlobError;
use crate::domain::{Identifier, Invalid};
use crate::store::StoreError;

/// The kinds of failure a client can see; each has exactly one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or invalid input, unknown identifiers (with `missing`), repeated ones (with `duplicated`).
    BadRequest,
    /// No bearer token, or one that is not valid for the project.
    Unauthorized,
    /// A signed URL that is forged, altered or expired, or a caller without the capability.
    Forbidden,
    /// An unknown route, or a signed URL whose file or session is gone.
    NotFound,
    /// A known route with another method.
    MethodNotAllowed,
    /// An externalId that another file already has (with `duplicated`).
    Conflict,
    /// A download whose `If-Match` names no current content.
    PreconditionFailed,
    /// A body over the limit.
    PayloadTooLarge,
    /// A Range outside the content.
    RangeNotSatisfiable,
    /// A transient fault worth retrying, or a server at capacity (with `Retry-After`).
    Unavailable,
    /// The disk (or the store) is out of space; deleting still works.
    InsufficientStorage,
    /// A fault of the server.
    Internal,
}

impl ErrorKind {
    /// The HTTP status of this kind.
    pub const fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    /// Decides the status.
    pub kind: ErrorKind,
    /// Human text for the client. Replaced by a generic text for 5xx.
    pub message: String,
    /// Unknown identifiers, as the client gave them.
    pub missing: Vec<Value>,
    /// Repeated or taken identifiers, as the client gave them.
    pub duplicated: Vec<Value>,
    /// The cause, for the log only.
    pub source: Option<anyhow::Error>,
    /// Seconds for a `Retry-After` header (503 and 429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            missing: vec![],
            duplicated: vec![],
            source: None,
            retry_after: None,
        }
    }

    /// A 503 that tells the client to come back after `retry_after_secs` (both SDKs retry 503).
    pub fn unavailable(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(ErrorKind::Unavailable, message)
        }
    }

    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// A 500 whose cause goes to the log.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(ErrorKind::Internal, "Internal server error")
        }
    }

    /// A 507: the server is out of space. Deleting files still works, and frees it.
    pub fn no_space() -> Self {
        Self::new(
            ErrorKind::InsufficientStorage,
            "The server is out of storage space: nothing was stored. Deleting files still works and frees space; retry once space is available",
        )
    }

    /// A 400 listing unknown identifiers.
    pub fn missing(ids: &[Identifier]) -> Self {
        Self {
            missing: ids.iter().map(Identifier::to_json).collect(),
            ..Self::bad_request(format!(
                "{} of the requested identifiers do not exist",
                ids.len()
            ))
        }
    }

    /// A 400 listing identifiers given more than once.
    pub fn duplicated_in_request(ids: &[Identifier]) -> Self {
        Self {
            duplicated: ids.iter().map(Identifier::to_json).collect(),
            ..Self::bad_request("Identifiers must be unique within a request")
        }
    }

    /// A 409 listing externalIds that other files already have.
    pub fn conflict(ids: &[Identifier]) -> Self {
        Self {
            duplicated: ids.iter().map(Identifier::to_json).collect(),
            ..Self::new(
                ErrorKind::Conflict,
                "The externalId is already used by another file",
            )
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Missing(ids) => Self::missing(&ids),
            StoreError::Duplicated(ids) => Self::conflict(&ids),
            StoreError::Invalid(e) => e.into(),
            StoreError::SessionGone => Self::new(
                ErrorKind::NotFound,
                "The upload session no longer exists: its file was deleted, or the session completed or expired",
            ),
            StoreError::Superseded => Self::new(
                ErrorKind::Conflict,
                "A newer upload of this file has completed, so this upload URL no longer accepts content; ask for a new upload URL (uploadlink) to replace the file's content",
            ),
            StoreError::OutOfScope => {
                Self::new(ErrorKind::Forbidden, crate::api::access::FORBIDDEN_MESSAGE)
            }
            StoreError::NoSpace { .. } => Self::no_space(),
            e @ StoreError::Internal { .. } => Self::internal(e),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NotFound => Self::new(ErrorKind::NotFound, "The content does not exist"),
            BlobError::TooLarge { limit } => Self::new(
                ErrorKind::PayloadTooLarge,
                format!("The content is larger than the limit of {limit} bytes"),
            ),
            BlobError::Aborted(e) => Self::bad_request(format!("The upload was interrupted: {e}")),
            BlobError::NoSpace { .. } => Self::no_space(),
            e @ BlobError::Internal { .. } => Self::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        // Only faults of ours hide their message; 503 and 507 say what the client can do about them.
        let message = if self.kind == ErrorKind::Internal {
            tracing::error!(error = ?self.source, "request failed");
            "Internal server error; the server log has the details under this response's x-request-id".to_string()
        } else {
            if status.is_server_error() {
                tracing::warn!(status = status.as_u16(), error = ?self.source, message = %self.message, "request refused");
            }
            self.message
        };
        let mut error = json!({ "code": status.as_u16(), "message": message });
        if !self.missing.is_empty() {
            error["missing"] = Value::Array(self.missing);
        }
        if !self.duplicated.is_empty() {
            error["duplicated"] = Value::Array(self.duplicated);
        }
        let mut response = (status, axum::Json(json!({ "error": error }))).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// One-line checks in handlers: `cond.or_bad_request("limit must be 1..=1000")?`.
pub trait OrBadRequest {
    /// `Ok` when true, else a 400 with `message`.
    fn or_bad_request(self, message: &str) -> Result<(), ApiError>;
}

impl OrBadRequest for bool {
    fn or_bad_request(self, message: &str) -> Result<(), ApiError> {
        if self {
            Ok(())
        } else {
            Err(ApiError::bad_request(message))
        }
    }
}
