//! `POST /files/search`: files matching a filter, ranked by how well their name matches.

use axum::extract::State;
use axum::Extension;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::page_limit;
use crate::api::access::narrow_to_readable;
use crate::api::error::ApiError;
use crate::api::extract::CdfJson;
use crate::api::page::FilesJson;
use crate::api::AppState;
use crate::auth::Principal;
use crate::domain::{check_max_chars, FileFilter, ProjectName, MAX_NAME};

/// `{"name": …}`; the Python SDK sends `{"name": null}` when it only filters.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SearchTerms {
    name: Option<String>,
}

/// The body; every member may be absent or null.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    filter: Option<Map<String, Value>>,
    search: Option<SearchTerms>,
    limit: Option<i64>,
}

/// At most `limit` (default 100, at most 1000) files: the filter first, then the best name matches (exact,
/// prefix, whole word, then one or two typos per word). No cursor: search is for finding, list is for walking.
pub async fn search_files(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<SearchBody>,
) -> Result<FilesJson, ApiError> {
    let mut raw = body.filter.unwrap_or_default();
    super::data_set_refs::resolve_in_filter(&app, &project, &mut raw).await?;
    let mut filter = FileFilter::from_json(&raw)?;
    super::assets::resolve_file_asset_refs(&app, &project, &mut filter).await?;
    narrow_to_readable(&principal, &project, &mut filter);
    let limit = page_limit(body.limit)?;
    let name = body
        .search
        .and_then(|s| s.name)
        .filter(|n| !n.trim().is_empty());
    check_max_chars("search.name", name.as_deref(), MAX_NAME)?;
    let files = app
        .meta
        .search(&project, &filter, name.as_deref(), limit)
        .await?;
    let files = crate::direct::settle(&app, &project, files).await?;
    Ok(FilesJson::new(files, None))
}
