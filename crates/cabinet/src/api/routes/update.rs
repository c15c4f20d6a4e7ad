//! `POST /files/update`: change the metadata of up to 1000 files, all or nothing.

use axum::extract::State;
use axum::Extension;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::api::access::access_for;
use crate::api::error::ApiError;
use crate::api::extract::CdfJson;
use crate::api::model::check_identifiers;
use crate::api::page::FilesJson;
use crate::api::write_protection::require_owner_of_files;
use crate::api::AppState;
use crate::auth::{FilesAction, Principal};
use crate::clock::now_ms;
use crate::domain::{FileUpdate, Identifier, Invalid, ProjectName, SetOrNull, MAX_ITEMS};

/// The body: `{"items": [{<identifier>, "update": {…}}, …]}`. Items stay JSON text here: each is parsed
/// on its own (so that [`FileUpdate::parse`] can name the offending field of the offending item), and
/// only one at a time is a tree in memory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// The update items, 1 to 1000.
    pub items: Vec<Box<RawValue>>,
}

/// Largest JSON text of one update item: the largest legal changes (metadata, a geoLocation of 256 KiB
/// of request text, 1000 asset ids to add and to remove, …) take about 400 KB.
const MAX_ITEM_BYTES: usize = 1024 * 1024;

/// Parses each item, refusing one over [`MAX_ITEM_BYTES`] before it is parsed.
fn parse_items(items: &[Box<RawValue>]) -> Result<Vec<FileUpdate>, ApiError> {
    items
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let at = |e: Invalid| ApiError::from(e.within(&format!("items[{i}]")));
            let text = raw.get();
            if text.len() > MAX_ITEM_BYTES {
                return Err(at(Invalid::new(
                    "",
                    format!(
                        "must be at most {MAX_ITEM_BYTES} bytes of JSON, got {}",
                        text.len()
                    ),
                )));
            }
            let item: Value = serde_json::from_str(text)
                .map_err(|e| at(Invalid::new("", format!("is not valid JSON: {e}"))))?;
            FileUpdate::parse(&item).map_err(at)
        })
        .collect()
}

/// Applies every item and returns the updated files in request order. Unknown files are a 400 with
/// `missing` (and nothing changes), the same identifier twice is a 400 with `duplicated`, an externalId
/// another file has is a 409 with `duplicated`, and a result over a limit is a 400 naming the field.
#[tracing::instrument(skip_all, fields(project = %project))]
pub async fn update_files(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<UpdateBody>,
) -> Result<FilesJson, ApiError> {
    crate::api::model::check_item_count(body.items.len(), MAX_ITEMS, "items")?;
    let updates = parse_items(&body.items)?;
    let targets: Vec<Identifier> = updates.iter().map(|u| u.target.clone()).collect();
    check_identifiers(&targets, 1, MAX_ITEMS)?;
    let moved_into: Vec<i64> = updates
        .iter()
        .filter_map(|u| match u.patch.data_set_id {
            Some(SetOrNull::Set(d)) => Some(d),
            _ => None,
        })
        .collect();
    require_owner_of_files(&app, &principal, &project, &targets, moved_into).await?;
    let scope = access_for(&principal, &project, FilesAction::Write);
    let files = app
        .meta
        .update_in_scope(&project, updates, now_ms(), &scope)
        .await?;
    tracing::info!(files = files.len(), "files updated");
    Ok(FilesJson::new(files, None))
}
