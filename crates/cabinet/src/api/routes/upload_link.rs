//! `POST /files/uploadlink`: a single-PUT upload URL for new content of an existing file.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::new_session;
use crate::api::access::access_for;
use crate::api::error::ApiError;
use crate::api::extract::{CdfJson, UrlBase};
use crate::api::model::{check_identifiers, FileView, IdentifierList, Items};
use crate::api::write_protection::require_owner_of_files;
use crate::api::AppState;
use crate::auth::{FilesAction, Principal};
use crate::domain::ProjectName;

/// Exactly one file, by externalId, instanceId (or id). The answer is wrapped in `items`, which is what the
/// Python SDK reads. The current content stays until the new upload completes.
pub async fn create_upload_link(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    base: UrlBase,
    CdfJson(body): CdfJson<IdentifierList>,
) -> Result<(StatusCode, Json<Items<FileView>>), ApiError> {
    check_identifiers(&body.items, 1, 1)?;
    require_owner_of_files(&app, &principal, &project, &body.items, None).await?;
    app.check_room(0)?;
    let session = new_session(None);
    let file = app
        .meta
        .open_session_in_scope(
            &project,
            &body.items[0],
            session.clone(),
            &access_for(&principal, &project, FilesAction::Write),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Items {
            items: vec![app.upload_view(&base, &project, file, &session).await?],
        }),
    ))
}
