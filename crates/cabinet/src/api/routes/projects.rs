//! `GET /api/v1/projects`: CDF's "list projects" (`{"items": [{"projectUrlName": …}]}`), which the
//! console's project picker reads. In open mode every project exists, so the list is the projects that
//! hold at least one file; with access control it is the projects where the caller has a group (what
//! `token/inspect` reports), whether or not they hold files.

use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{json, Value};

use crate::api::error::ApiError;
use crate::api::AppState;
use crate::auth::Principal;

/// The caller's projects, in name order.
pub async fn list_projects(
    State(app): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    let names: Vec<String> = match principal {
        Principal::Open => app.meta.projects_with_files().await?,
        Principal::Known { grants, .. } => {
            let mut names: Vec<String> = grants
                .into_iter()
                .filter(|g| !g.group_ids.is_empty())
                .map(|g| g.project)
                .collect();
            names.sort();
            names.dedup();
            names
        }
    };
    let items: Vec<Value> = names
        .into_iter()
        .map(|name| json!({ "projectUrlName": name }))
        .collect();
    Ok(Json(json!({ "items": items })))
}
