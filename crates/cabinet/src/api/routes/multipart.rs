//! Multipart uploads: `initmultipartupload` (new file), `multiuploadlink` (existing file) and
//! `completemultipartupload`. Parts are PUT to their signed URLs in any order (see `content.rs`); complete
//! checks them, joins them into one object and publishes it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{check_parts, content_key, new_session, PartsQuery};
use crate::api::access::{access_for, retrieve_covered};
use crate::api::error::ApiError;
use crate::api::extract::{CdfJson, CdfQuery, UrlBase};
use crate::api::model::{check_identifiers, FileView, FileWrite, IdentifierList, Items};
use crate::api::write_protection::{require_owner, require_owner_of_files};
use crate::api::AppState;
use crate::auth::{FilesAction, Principal};
use crate::blob::BlobError;
use crate::clock::now_ms;
use crate::domain::{FileSpec, Identifier, ProjectName, MIN_PART_BYTES};
use crate::store::{Published, StoreError};

/// `?parts=&overwrite=` of initmultipartupload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitQuery {
    parts: Option<u32>,
    #[serde(default)]
    overwrite: bool,
}

/// Creates (or overwrites) a file like `POST /files` and opens a multipart session. The answer is the bare
/// file object plus `uploadId` and `uploadUrls`, which both SDKs read at top level.
#[tracing::instrument(skip_all, fields(project = %project))]
pub async fn init_multipart_upload(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    base: UrlBase,
    CdfQuery(query): CdfQuery<InitQuery>,
    CdfJson(body): CdfJson<FileWrite>,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let parts = check_parts(query.parts)?;
    let spec = FileSpec::try_from(body)?;
    let replaced: Vec<Identifier> = match (&spec.external_id, query.overwrite) {
        (Some(x), true) => vec![Identifier::ExternalId(x.clone())],
        _ => Vec::new(),
    };
    require_owner_of_files(&app, &principal, &project, &replaced, spec.data_set_id).await?;
    app.check_room(0)?;
    let session = new_session(Some(parts));
    let file = app
        .meta
        .create_file_in_scope(
            &project,
            spec,
            query.overwrite,
            session.clone(),
            now_ms(),
            &access_for(&principal, &project, FilesAction::Write),
        )
        .await?;
    begin_parts(&app, &project, file.id, &session.id).await?;
    tracing::info!(file_id = file.id, parts, "multipart upload started");
    Ok((
        StatusCode::CREATED,
        Json(app.part_urls_view(&base, &project, file, &session).await?),
    ))
}

/// Opens a multipart session for new content of an existing file; wrapped in `items`.
pub async fn create_multipart_upload_link(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    base: UrlBase,
    CdfQuery(query): CdfQuery<PartsQuery>,
    CdfJson(body): CdfJson<IdentifierList>,
) -> Result<(StatusCode, Json<Items<FileView>>), ApiError> {
    let parts = check_parts(query.parts)?;
    check_identifiers(&body.items, 1, 1)?;
    require_owner_of_files(&app, &principal, &project, &body.items, None).await?;
    app.check_room(0)?;
    let session = new_session(Some(parts));
    let file = app
        .meta
        .open_session_in_scope(
            &project,
            &body.items[0],
            session.clone(),
            &access_for(&principal, &project, FilesAction::Write),
        )
        .await?;
    begin_parts(&app, &project, file.id, &session.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(Items {
            items: vec![app.part_urls_view(&base, &project, file, &session).await?],
        }),
    ))
}

/// The body of completemultipartupload: one identifier (`id`, `externalId` or `instanceId`) and the
/// `uploadId`.
fn parse_complete_body(mut body: Map<String, Value>) -> Result<(Identifier, String), ApiError> {
    let upload_id = match body.remove("uploadId") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(_) => {
            return Err(ApiError::bad_request(
                "uploadId: must be a non-empty string",
            ))
        }
        None => return Err(ApiError::bad_request("uploadId: is required")),
    };
    let ident: Identifier = serde_json::from_value(Value::Object(body))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    ident.check()?;
    Ok((ident, upload_id))
}

/// Joins the parts in `uploadUrls` order and publishes the result: exactly 200 `{}` (the JS SDK accepts
/// nothing else), also when the session had completed before, so a retried call succeeds.
#[tracing::instrument(skip_all, fields(project = %project))]
pub async fn complete_multipart_upload(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let (ident, upload_id) = parse_complete_body(body)?;
    let upload_id = upload_id.as_str();
    let write = access_for(&principal, &project, FilesAction::Write);
    let file = retrieve_covered(
        app.meta.as_ref(),
        &write,
        &project,
        std::slice::from_ref(&ident),
        false,
    )
    .await?
    .remove(0);
    require_owner(&app, &principal, &project, file.data_set_id).await?;
    let session = app
        .meta
        .session(&project, file.id, upload_id)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "uploadId: '{upload_id}' is not an upload of this file"
            ))
        })?;
    if session.completed_time.is_some() {
        return Ok(Json(json!({})));
    }
    let parts = session.parts.ok_or_else(|| {
        ApiError::bad_request("uploadId: this upload is a single-part upload, not a multipart one")
    })?;
    if session.expires_time < now_ms() {
        return Err(ApiError::bad_request(
            "uploadId: the upload session has expired",
        ));
    }
    let sizes = app.blobs.part_sizes(upload_id, parts).await?;
    check_stored_parts(&sizes)?;
    app.check_room(sizes.iter().flatten().sum())?;

    let key = content_key(&project, file.id, upload_id);
    // Until the metadata commit below has returned, the orphan collector must not take the object.
    let _in_flight = app.in_flight.begin(&key);
    let route_key = key.clone();
    let (key, size, _in_flight_assembled) = match app.blobs.assemble(upload_id, parts, &key).await {
        // A store that fixed the object's place when the upload began puts it there instead.
        Ok(made) => {
            let guard = (made.key != key).then(|| app.in_flight.begin(&made.key));
            (made.key, made.size, guard)
        }
        // A concurrent complete of the same session may have consumed the parts first.
        Err(BlobError::NotFound) => {
            return already_completed_or(&app, &project, file.id, upload_id).await
        }
        Err(e) => return Err(e.into()),
    };
    let fixed_key = key != route_key;
    let content = crate::domain::ContentRef {
        key: key.clone(),
        size,
    };
    let published = app
        .meta
        .publish_content(&project, file.id, upload_id, content, now_ms())
        .await;
    match published {
        Ok(Published::Replaced { previous }) => {
            if let Some(previous) = previous {
                remove_quietly(&app, &previous.key).await;
            }
            if let Err(e) = app.blobs.delete_parts(upload_id).await {
                tracing::warn!(error = %e, "could not remove the parts of a completed upload");
            }
            tracing::info!(file_id = file.id, size, "multipart upload completed");
            Ok(Json(json!({})))
        }
        Ok(Published::AlreadyCompleted) => {
            // A key fixed when the upload began is the one the concurrent complete published: keep it.
            if !fixed_key {
                remove_quietly(&app, &key).await;
            }
            Ok(Json(json!({})))
        }
        Err(e) => {
            remove_quietly(&app, &key).await;
            if matches!(e, StoreError::Superseded) {
                // A newer upload of the file won: these parts can never be used.
                if let Err(e) = app.blobs.delete_parts(upload_id).await {
                    tracing::warn!(error = %e, "could not remove the parts of a superseded upload");
                }
            }
            Err(e.into())
        }
    }
}

/// Lets the content store prepare the parts of a new session (S3 opens its multipart upload here). The
/// session exists already: on failure it is left to expire, and its parts (none) to the janitor.
async fn begin_parts(
    app: &AppState,
    project: &ProjectName,
    file_id: i64,
    session: &str,
) -> Result<(), ApiError> {
    let key = content_key(project, file_id, session);
    app.blobs.begin_parts(session, &key).await?;
    Ok(())
}

/// Every part present, and every part but the last at least 5 MiB (as S3 requires too).
fn check_stored_parts(sizes: &[Option<u64>]) -> Result<(), ApiError> {
    let absent: Vec<String> = sizes
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| i.to_string())
        .collect();
    if !absent.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Not all parts are uploaded: part(s) {} of {} are missing",
            absent.join(", "),
            sizes.len()
        )));
    }
    let last = sizes.len() - 1;
    if let Some((i, Some(size))) = sizes
        .iter()
        .enumerate()
        .find(|(i, s)| *i < last && s.is_some_and(|s| s < MIN_PART_BYTES))
    {
        return Err(ApiError::bad_request(format!(
            "Part {i} is {size} bytes; every part but the last must be at least {MIN_PART_BYTES} bytes"
        )));
    }
    Ok(())
}

async fn already_completed_or(
    app: &AppState,
    project: &ProjectName,
    file_id: i64,
    upload_id: &str,
) -> Result<Json<Value>, ApiError> {
    match app.meta.session(project, file_id, upload_id).await? {
        Some(s) if s.completed_time.is_some() => Ok(Json(json!({}))),
        _ => Err(ApiError::bad_request("Not all parts are uploaded")),
    }
}

async fn remove_quietly(app: &AppState, key: &str) {
    if let Err(e) = app.blobs.delete(key).await {
        tracing::warn!(key, error = %e, "could not remove unreferenced content");
    }
}
