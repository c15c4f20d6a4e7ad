//! The signed content URLs: `PUT` an upload (whole, or one part) and `GET` a download. No bearer token is
//! needed or checked here (the Python SDK sends one anyway, and it is ignored); the URL's signature is
//! the credential.

use axum::body::Body;
use axum::extract::{RawPathParams, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::Deserialize;

use super::conditional::{self, Precondition};
use super::content_key;
use crate::api::error::{ApiError, ErrorKind};
use crate::api::extract::{path_param, CdfQuery};
use crate::api::transfers::{holding, Slot};
use crate::api::AppState;
use crate::blob::{BlobError, ByteStream};
use crate::clock::now_ms;
use crate::domain::{
    content_key_session, is_newer_session, ContentRef, FileRecord, Identifier, ProjectName,
    MAX_PART_BYTES, MAX_SINGLE_UPLOAD_BYTES,
};
use crate::signing::{Grant, Refusal};
use crate::store::{Published, SessionRecord, StoreError};

/// The signature fields of a content URL.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedQuery {
    part: Option<u32>,
    expires: i64,
    /// The signing key's id; absent in URLs signed before the key ring.
    kid: Option<String>,
    signature: String,
}

async fn check_signature(app: &AppState, grant: &Grant, q: &SignedQuery) -> Result<(), ApiError> {
    app.signer
        .verify_fresh(grant, q.expires, q.kid.as_deref(), &q.signature, now_ms())
        .await
        .map_err(|refusal| {
            let message = match refusal {
                Refusal::BadSignature | Refusal::UnknownKey => {
                    "The URL's signature is not valid: it was altered, or not issued by this server"
                }
                Refusal::Expired => "The URL has expired; ask for a new one",
            };
            ApiError::new(ErrorKind::Forbidden, message)
        })
}

fn etag(content: &ContentRef) -> String {
    let version = content.key.rsplit('/').next().unwrap_or(&content.key);
    format!("\"{version}\"")
}

fn body_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

/// Receives content for an upload session: the whole file, or part `?part=i` of a multipart upload.
/// The body is streamed to storage and published atomically; only then does the file become uploaded.
/// The request holds an upload slot throughout.
#[tracing::instrument(skip_all, fields(project = %project))]
pub async fn put_content(
    State(app): State<AppState>,
    project: ProjectName,
    params: RawPathParams,
    CdfQuery(query): CdfQuery<SignedQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let file_id: i64 = path_param(&params, "file_id")?;
    let session_id: String = path_param(&params, "session")?;
    let grant = Grant::Upload {
        project: project.to_string(),
        file_id,
        session: session_id.clone(),
        part: query.part,
    };
    check_signature(&app, &grant, &query).await?;
    let _slot = app.transfers.upload()?;
    let session = app
        .meta
        .session(&project, file_id, &session_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::NotFound,
                "The upload no longer exists: its file was deleted",
            )
        })?;
    let limit = match (session.parts, query.part) {
        (None, None) => MAX_SINGLE_UPLOAD_BYTES,
        (Some(parts), Some(part)) if part < parts => MAX_PART_BYTES,
        _ => {
            return Err(ApiError::bad_request(
                "part: does not match the upload session",
            ))
        }
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(length) = announced {
        if length > limit {
            return Err(ApiError::new(
                ErrorKind::PayloadTooLarge,
                format!("The content is larger than the limit of {limit} bytes"),
            ));
        }
    }
    app.check_room(announced.unwrap_or(0))?;
    if query.part.is_none() {
        refuse_if_superseded(&app, &project, file_id, &session).await?;
    }
    match query.part {
        None => put_whole(&app, &project, file_id, &session, body, limit).await,
        Some(part) => put_part(&app, &project, &session, part, body, limit).await,
    }
}

/// Refuses, before any byte is read, content for a session older than the one the file's current
/// content came from; [`crate::store::MetadataStore::publish_content`] checks it again when it commits.
async fn refuse_if_superseded(
    app: &AppState,
    project: &ProjectName,
    file_id: i64,
    session: &SessionRecord,
) -> Result<(), ApiError> {
    let current = app
        .meta
        .retrieve(project, &[Identifier::Id(file_id)], true)
        .await?
        .pop()
        .and_then(|f| f.content)
        .and_then(|c| content_key_session(&c.key).map(str::to_string));
    if current.is_some_and(|c| is_newer_session(&c, &session.id)) {
        return Err(StoreError::Superseded.into());
    }
    Ok(())
}

async fn put_whole(
    app: &AppState,
    project: &ProjectName,
    file_id: i64,
    session: &SessionRecord,
    body: Body,
    limit: u64,
) -> Result<Response, ApiError> {
    let key = content_key(project, file_id, &session.id);
    // Until the metadata commit below has returned, the orphan collector must not take the object.
    let _in_flight = app.in_flight.begin(&key);
    let size = app.blobs.put(&key, body_stream(body), limit).await?;
    let content = ContentRef {
        key: key.clone(),
        size,
    };
    let tag = etag(&content);
    match app
        .meta
        .publish_content(project, file_id, &session.id, content, now_ms())
        .await
    {
        Ok(Published::Replaced { previous }) => {
            if let Some(previous) = previous {
                if let Err(e) = app.blobs.delete(&previous.key).await {
                    tracing::warn!(error = %e, "could not remove replaced content");
                }
            }
            tracing::info!(file_id, size, "content uploaded");
            Ok((StatusCode::OK, [(header::ETAG, tag)]).into_response())
        }
        Ok(Published::AlreadyCompleted) => {
            let _ = app.blobs.delete(&key).await;
            Err(ApiError::bad_request(
                "The upload session has already completed",
            ))
        }
        Err(e) => {
            // Nothing refers to the content: it may not stay. The error says why (the file was deleted
            // meanwhile, a newer upload won, the disk is full, a fault of ours), never a 404 for a 5xx.
            if let Err(removal) = app.blobs.delete(&key).await {
                tracing::warn!(error = %removal, "could not remove unpublished content");
            }
            Err(e.into())
        }
    }
}

async fn put_part(
    app: &AppState,
    project: &ProjectName,
    session: &SessionRecord,
    part: u32,
    body: Body,
    limit: u64,
) -> Result<Response, ApiError> {
    if session.completed_time.is_some() {
        return Err(ApiError::bad_request(
            "The multipart upload has already completed",
        ));
    }
    let size = app
        .blobs
        .put_part(&session.id, part, body_stream(body), limit)
        .await?;
    // The file may have been deleted (or the upload completed) while the part streamed in. Whoever ended
    // the session removes its parts only after ending it, so checking now, after the part is in place,
    // leaves no window in which a part could outlive its session unnoticed.
    match app
        .meta
        .session(project, session.file_id, &session.id)
        .await?
    {
        Some(now) if now.completed_time.is_none() => {
            tracing::info!(file_id = session.file_id, part, size, "part uploaded");
            Ok(StatusCode::OK.into_response())
        }
        ended => {
            // Completed or gone: no part of this session is needed any more.
            if let Err(e) = app.blobs.delete_parts(&session.id).await {
                tracing::warn!(error = %e, "could not remove the parts of an ended upload");
            }
            match ended {
                Some(_) => Err(ApiError::bad_request(
                    "The multipart upload completed while this part was being uploaded; the part was not used",
                )),
                None => Err(StoreError::SessionGone.into()),
            }
        }
    }
}

/// The signature fields of a download URL.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedGetQuery {
    expires: i64,
    kid: Option<String>,
    signature: String,
}

/// Streams a file's current content, with Content-Type (the file's mimeType), Content-Length, ETag, and
/// single byte ranges (206, or 416 outside the content), under the conditions of `If-Match` (412),
/// `If-None-Match` (304) and `If-Range` (see [`conditional`]). The URL only has to be valid when the
/// request starts; a long transfer may outlive it. The transfer holds a download slot until its body is
/// sent.
pub async fn get_content(
    State(app): State<AppState>,
    project: ProjectName,
    params: RawPathParams,
    CdfQuery(query): CdfQuery<SignedGetQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let file_id: i64 = path_param(&params, "file_id")?;
    let grant = Grant::Download {
        project: project.to_string(),
        file_id,
    };
    let signed = SignedQuery {
        part: None,
        expires: query.expires,
        kid: query.kid,
        signature: query.signature,
    };
    check_signature(&app, &grant, &signed).await?;
    let mut slot = Some(app.transfers.download()?);
    // Content replaced right after the lookup is deleted from storage; one fresh lookup then finds the new.
    for attempt in 0..2 {
        let (file, content) = current_content(&app, &project, file_id).await?;
        match respond_with(&app, &file, &content, &headers, &mut slot).await {
            Err(BlobError::NotFound) if attempt == 0 => continue,
            result => return result.map_err(ApiError::from),
        }
    }
    Err(ApiError::new(
        ErrorKind::NotFound,
        "The file's content does not exist",
    ))
}

async fn current_content(
    app: &AppState,
    project: &ProjectName,
    file_id: i64,
) -> Result<(FileRecord, ContentRef), ApiError> {
    let file = app
        .meta
        .retrieve(project, &[Identifier::Id(file_id)], true)
        .await?
        .pop()
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "The file no longer exists"))?;
    let content = file
        .content
        .clone()
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "The file has no content"))?;
    Ok((file, content))
}

async fn respond_with(
    app: &AppState,
    file: &FileRecord,
    content: &ContentRef,
    headers: &HeaderMap,
    slot: &mut Option<Slot>,
) -> Result<Response, BlobError> {
    let tag = etag(content);
    let mime = file
        .mime_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    let content_type =
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    match conditional::evaluate(headers, &tag) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response())
        }
        Precondition::Failed => {
            return Ok(ApiError::new(
                ErrorKind::PreconditionFailed,
                "If-Match: the file's content is no longer the one named",
            )
            .into_response())
        }
    }
    let range = headers
        .get(header::RANGE)
        .filter(|_| conditional::range_applies(headers, &tag))
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, content.size));
    let (status, range) = match range {
        None | Some(RangeAnswer::Whole) => (StatusCode::OK, None),
        Some(RangeAnswer::Part(first, last)) => (StatusCode::PARTIAL_CONTENT, Some((first, last))),
        Some(RangeAnswer::Unsatisfiable) => {
            let mut response = ApiError::new(
                ErrorKind::RangeNotSatisfiable,
                format!("The range is outside the content of {} bytes", content.size),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", content.size)) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
    };
    let length = range.map_or(content.size, |(first, last)| last - first + 1);
    let stream = if length == 0 {
        Box::pin(futures_util::stream::empty())
    } else {
        let stream = app.blobs.get(&content.key, range).await?;
        match slot.take() {
            Some(slot) => holding(stream, slot),
            None => stream,
        }
    };
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    if let Some((first, last)) = range {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{}", content.size)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

/// How to answer a `Range` header.
#[derive(Debug, PartialEq, Eq)]
enum RangeAnswer {
    /// Ignore it and send everything: several ranges, or a header we do not understand.
    Whole,
    /// Send bytes `first..=last`.
    Part(u64, u64),
    /// 416: the range starts past the end.
    Unsatisfiable,
}

fn parse_range(header: &str, size: u64) -> RangeAnswer {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    match (start.parse::<u64>(), end.parse::<u64>()) {
        (Ok(first), Ok(last)) if first <= last => {
            if first >= size {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part(first, last.min(size - 1))
            }
        }
        (Ok(first), Err(_)) if end.is_empty() => {
            if first >= size {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part(first, size - 1)
            }
        }
        (Err(_), Ok(suffix)) if start.is_empty() => {
            if suffix == 0 || size == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part(size - suffix.min(size), size - 1)
            }
        }
        _ => RangeAnswer::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeAnswer::Part(0, 9));
        assert_eq!(parse_range("bytes=90-200", 100), RangeAnswer::Part(90, 99));
        assert_eq!(parse_range("bytes=10-", 100), RangeAnswer::Part(10, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeAnswer::Part(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), RangeAnswer::Part(0, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 100), RangeAnswer::Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeAnswer::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeAnswer::Whole);
    }
}
