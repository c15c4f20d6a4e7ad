//! `POST /files/delete`: all or nothing; content and pending uploads go with the file.

use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{json, Value};

use crate::api::access::access_for;
use crate::api::error::ApiError;
use crate::api::extract::CdfJson;
use crate::api::model::{check_identifiers, IdentifierItems};
use crate::api::write_protection::require_owner_of_files;
use crate::api::AppState;
use crate::auth::{FilesAction, Principal};
use crate::domain::{Identifier, ProjectName, MAX_ITEMS};
use crate::store::StoreError;

/// Deletes the files, then their content and staged parts. Once the metadata is gone no URL of the file
/// works, so removing the blobs afterwards is safe; a failure there only leaves unreachable bytes, logged.
#[tracing::instrument(skip_all, fields(project = %project))]
pub async fn delete_files(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<IdentifierItems>,
) -> Result<Json<Value>, ApiError> {
    check_identifiers(&body.items, 1, MAX_ITEMS)?;
    if let Some(i) = body
        .items
        .iter()
        .position(|i| matches!(i, Identifier::InstanceId { .. }))
    {
        return Err(ApiError::bad_request(format!(
            "items[{i}]: files are deleted by id or externalId; data-modeling files are deleted through the instances API"
        )));
    }
    let ignore_unknown = body.ignore_unknown_ids.unwrap_or(false);
    require_owner_of_files(&app, &principal, &project, &body.items, None).await?;
    let scope = access_for(&principal, &project, FilesAction::Write);
    let deleted = match app
        .meta
        .delete_in_scope(&project, &body.items, ignore_unknown, &scope)
        .await
    {
        // Deleting needs a little room too: give back the space reserve, then try once more.
        Err(StoreError::NoSpace { .. })
            if app.disk.as_ref().is_some_and(|d| d.release_reserve()) =>
        {
            app.meta
                .delete_in_scope(&project, &body.items, ignore_unknown, &scope)
                .await?
        }
        result => result?,
    };
    for file in deleted {
        if let Some(content) = file.content {
            if let Err(e) = app.blobs.delete(&content.key).await {
                tracing::warn!(file_id = file.id, error = %e, "could not remove the content of a deleted file");
            }
        }
        for session in file.sessions {
            if let Err(e) = app.blobs.delete_parts(&session).await {
                tracing::warn!(file_id = file.id, error = %e, "could not remove staged parts of a deleted file");
            }
        }
    }
    Ok(Json(json!({})))
}
