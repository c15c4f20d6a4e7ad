//! `POST /files/aggregate`: the number of files matching a filter.

use axum::extract::State;
use axum::Extension;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::access::narrow_to_readable;
use crate::api::error::ApiError;
use crate::api::extract::CdfJson;
use crate::api::AppState;
use crate::auth::Principal;
use crate::domain::{FileFilter, ProjectName};

/// The body: an optional filter (`{}` and absent both count every file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateBody {
    filter: Option<Map<String, Value>>,
}

/// Answers `{"items": [{"count": n}]}`, the only aggregate the Files API has.
pub async fn aggregate_files(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<AggregateBody>,
) -> Result<Json<Value>, ApiError> {
    let mut raw = body.filter.unwrap_or_default();
    super::data_set_refs::resolve_in_filter(&app, &project, &mut raw).await?;
    let mut filter = FileFilter::from_json(&raw)?;
    super::assets::resolve_file_asset_refs(&app, &project, &mut filter).await?;
    narrow_to_readable(&principal, &project, &mut filter);
    let count = app.meta.count(&project, &filter).await?;
    Ok(Json(json!({ "items": [{ "count": count }] })))
}
