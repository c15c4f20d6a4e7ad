//! `POST /files` (also `/files/`): create a file, or overwrite one by externalId, and hand out its
//! single-PUT upload URL.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::{new_session, OverwriteQuery};
use crate::api::access::access_for;
use crate::api::error::ApiError;
use crate::api::extract::{CdfJson, CdfQuery, UrlBase};
use crate::api::model::{FileView, FileWrite};
use crate::api::write_protection::require_owner_of_files;
use crate::api::AppState;
use crate::auth::{FilesAction, Principal};
use crate::clock::now_ms;
use crate::domain::{FileSpec, Identifier, ProjectName};

/// Creates the file (201) with `uploaded: false` and an `uploadUrl`. With `overwrite=true` and an
/// existing externalId, that file's fields are replaced; its content stays until the new upload lands.
#[tracing::instrument(skip_all, fields(project = %project))]
pub async fn create_file(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    base: UrlBase,
    CdfQuery(query): CdfQuery<OverwriteQuery>,
    CdfJson(body): CdfJson<FileWrite>,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let spec = FileSpec::try_from(body)?;
    let replaced: Vec<Identifier> = match (&spec.external_id, query.overwrite) {
        (Some(x), true) => vec![Identifier::ExternalId(x.clone())],
        _ => Vec::new(),
    };
    require_owner_of_files(&app, &principal, &project, &replaced, spec.data_set_id).await?;
    app.check_room(0)?;
    let session = new_session(None);
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
    tracing::info!(file_id = file.id, "file created");
    Ok((
        StatusCode::CREATED,
        Json(app.upload_view(&base, &project, file, &session).await?),
    ))
}
