//! `GET /files/{id}` and `POST /files/byids`.

use axum::extract::{RawPathParams, State};
use axum::{Extension, Json};

use crate::api::access::retrieve_readable;
use crate::api::error::ApiError;
use crate::api::extract::{path_param, CdfJson};
use crate::api::model::{check_identifiers, FileView, IdentifierItems};
use crate::api::page::FilesJson;
use crate::api::AppState;
use crate::auth::Principal;
use crate::domain::{Identifier, ProjectName, MAX_ITEMS};

/// One file by internal id. An unknown id is a 400 with `missing`, like byids.
pub async fn get_file(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    params: RawPathParams,
) -> Result<Json<FileView>, ApiError> {
    let id: i64 = path_param(&params, "id")?;
    let ident = Identifier::Id(id);
    ident
        .check()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let files = retrieve_readable(app.meta.as_ref(), &principal, &project, &[ident], false).await?;
    let mut files = crate::direct::settle(&app, &project, files).await?;
    let file = files
        .pop()
        .ok_or_else(|| ApiError::missing(&[Identifier::Id(id)]))?;
    Ok(Json(FileView::from(file)))
}

/// Files by id, externalId or instanceId, in request order.
pub async fn retrieve_files(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<IdentifierItems>,
) -> Result<FilesJson, ApiError> {
    check_identifiers(&body.items, 1, MAX_ITEMS)?;
    let files = retrieve_readable(
        app.meta.as_ref(),
        &principal,
        &project,
        &body.items,
        body.ignore_unknown_ids.unwrap_or(false),
    )
    .await?;
    let files = crate::direct::settle(&app, &project, files).await?;
    Ok(FilesJson::new(files, None))
}
