//! `POST /files/update`: change the metadata of up to 1000 files, all or nothing.

use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;

use crate::api::error::ApiError;
use crate::api::extract::CdfJson;
use crate::api::model::check_identifiers;
use crate::api::page::FilesJson;
use crate::api::AppState;
use crate::clock::now_ms;
use crate::domain::{FileUpdate, Identifier, ProjectName, MAX_ITEMS};

/// The body: `{"items": [{<identifier>, "update": {…}}, …]}`. Items stay raw JSON here so that
/// [`FileUpdate::parse_items`] can name the offending field of the offending item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// The update items, 1 to 1000.
    pub items: Vec<Value>,
}

/// Applies every item and returns the updated files in request order. Unknown files are a 400 with
/// `missing` (and nothing changes), the same identifier twice is a 400 with `duplicated`, an externalId
/// another file has is a 409 with `duplicated`, and a result over a limit is a 400 naming the field.
#[tracing::instrument(skip_all, fields(project = %project))]
pub async fn update_files(
    State(app): State<AppState>,
    project: ProjectName,
    CdfJson(body): CdfJson<UpdateBody>,
) -> Result<FilesJson, ApiError> {
    let count = body.items.len();
    if !(1..=MAX_ITEMS).contains(&count) {
        return Err(ApiError::bad_request(format!(
            "items: must have 1 to {MAX_ITEMS} items, got {count}"
        )));
    }
    let updates = FileUpdate::parse_items(&body.items)?;
    let targets: Vec<Identifier> = updates.iter().map(|u| u.target.clone()).collect();
    check_identifiers(&targets, 1, MAX_ITEMS)?;
    let files = app.meta.update(&project, updates, now_ms()).await?;
    tracing::info!(files = files.len(), "files updated");
    Ok(FilesJson::new(files, None))
}
