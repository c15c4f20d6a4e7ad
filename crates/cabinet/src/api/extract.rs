//! Request extractors whose every rejection is a CDF error naming what is wrong.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ErrorKind};
use super::AppState;
use crate::domain::ProjectName;

/// A JSON body (gzip already inflated by the decompression layer), parsed with the path of the first
/// offending field in the error message.
pub struct CdfJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CdfJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorKind::PayloadTooLarge, "The request body is too large")
            } else {
                ApiError::bad_request(format!("Could not read the request body: {e}"))
            }
        })?;
        parse_json(&bytes).map(CdfJson)
    }
}

/// Parses JSON, reporting the path of the first field that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(format!("The request body is not valid JSON: {inner}"))
        } else if path == "." {
            ApiError::bad_request(format!("Invalid request body: {inner}"))
        } else {
            ApiError::bad_request(format!("{path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Query parameters, parsed into `T`; unknown or malformed ones are a 400 that names them.
pub struct CdfQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for CdfQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de)
            .map(CdfQuery)
            .map_err(|e| {
                ApiError::bad_request(format!("Invalid query parameters: {}", e.into_inner()))
            })
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

impl<S: Send + Sync> FromRequestParts<S> for ProjectName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let raw = params
            .iter()
            .find(|(k, _)| *k == "project")
            .map(|(_, v)| v)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("route has no project parameter")))?;
        Ok(ProjectName::parse(raw)?)
    }
}

/// A path parameter by name, parsed from its text.
pub fn path_param<T: std::str::FromStr>(params: &RawPathParams, name: &str) -> Result<T, ApiError> {
    let raw = params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("route has no {name} parameter")))?;
    raw.parse()
        .map_err(|_| ApiError::bad_request(format!("{name}: '{raw}' is not valid")))
}

/// Where the upload and download URLs handed to this request start (see
/// [`crate::signing::UrlSigner::base_for`]): the configured public URL, or the `Host` the client used.
pub struct UrlBase(pub String);

impl FromRequestParts<AppState> for UrlBase {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        Ok(UrlBase(state.signer.base_for(host)))
    }
}
