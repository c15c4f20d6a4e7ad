//! `GET /groups`, `POST /groups` and `POST /groups/delete`: the configured groups (read-only) and the
//! groups created through the API (kept in the metadata store), in CDF's shapes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::iam_common::{iam_error, id_items, require, ItemsBody, MAX_IAM_ITEMS};
use crate::api::error::ApiError;
use crate::api::extract::{CdfJson, CdfQuery};
use crate::api::iam_model::{configured_group_view, parse_group_spec, stored_group_view};
use crate::api::AppState;
use crate::auth::{Group, Principal, ScopeNeed};
use crate::domain::ProjectName;
use crate::store::iam::StoredGroup;

/// Most groups per project, configured and created together (CDF's limit).
pub const MAX_GROUPS: usize = 1500;

/// The query of `GET /groups`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GroupsQuery {
    all: Option<String>,
}

impl AppState {
    /// The project's configured groups.
    fn configured_groups(&self, project: &ProjectName) -> Vec<Group> {
        self.access
            .as_ref()
            .and_then(|a| a.projects.get(project.as_str()))
            .map(|p| p.groups.clone())
            .unwrap_or_default()
    }

    /// The project's groups created through the API.
    async fn stored_groups(&self, project: &ProjectName) -> Result<Vec<StoredGroup>, ApiError> {
        Ok(self
            .iam
            .all_groups()
            .await
            .map_err(iam_error)?
            .into_iter()
            .filter(|g| g.project == project.as_str())
            .collect())
    }

    /// Makes this node's access rules see a write at once.
    async fn reload_groups(&self) {
        if let Some(directory) = &self.groups {
            if let Err(e) = directory.reload().await {
                tracing::error!(error = %e, "the groups could not be reloaded after a change; requests are refused until they are");
            }
        }
    }
}

/// `GET /groups?all=`: with `all=true` every group of the project (groupsAcl:LIST with scope `all`),
/// else the caller's own groups (groupsAcl:LIST with any scope). In open mode the caller is everyone,
/// so both list every group.
pub async fn list_groups(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfQuery(query): CdfQuery<GroupsQuery>,
) -> Result<Json<Value>, ApiError> {
    let all = match query.all.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "all must be true or false, not `{other}`"
            )))
        }
    };
    let need = if all { ScopeNeed::All } else { ScopeNeed::Any };
    require(&principal, &project, "groupsAcl", "LIST", need)?;
    let own: Option<Vec<i64>> = match (&principal, all) {
        (Principal::Known { grants, .. }, false) => Some(
            grants
                .iter()
                .filter(|g| g.project == project.as_str())
                .flat_map(|g| g.group_ids.iter().copied())
                .collect(),
        ),
        _ => None,
    };
    let shown = |id: i64| own.as_ref().is_none_or(|ids| ids.contains(&id));
    let mut items: Vec<Value> = app
        .configured_groups(&project)
        .iter()
        .filter(|g| shown(g.id))
        .map(configured_group_view)
        .collect();
    items.extend(
        app.stored_groups(&project)
            .await?
            .iter()
            .filter(|g| shown(g.id))
            .map(stored_group_view),
    );
    Ok(Json(json!({ "items": items })))
}

/// `POST /groups` (groupsAcl:CREATE with scope `all`): validates every spec, stores them all or none,
/// and answers 201 with the created groups.
pub async fn create_groups(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ItemsBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require(&principal, &project, "groupsAcl", "CREATE", ScopeNeed::All)?;
    if body.items.is_empty() || body.items.len() > MAX_IAM_ITEMS {
        return Err(ApiError::bad_request(format!(
            "items must hold 1 to {MAX_IAM_ITEMS} groups"
        )));
    }
    let specs = body
        .items
        .iter()
        .enumerate()
        .map(|(i, raw)| parse_group_spec(raw, &format!("items[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let room = MAX_GROUPS.saturating_sub(app.configured_groups(&project).len());
    let created = app
        .iam
        .create_groups(project.as_str(), specs, room)
        .await
        .map_err(iam_error)?;
    app.reload_groups().await;
    let items: Vec<Value> = created.iter().map(stored_group_view).collect();
    Ok((StatusCode::CREATED, Json(json!({ "items": items }))))
}

/// `POST /groups/delete` (groupsAcl:DELETE with scope `all`): deletes groups created through the API,
/// all or none. A configured group is a 400 (it lives in the configuration file); unknown ids are a 400
/// with `missing`.
pub async fn delete_groups(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ItemsBody>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, &project, "groupsAcl", "DELETE", ScopeNeed::All)?;
    let mut ids = id_items(&body.items)?;
    let configured = app.configured_groups(&project);
    if let Some(group) = configured.iter().find(|g| ids.contains(&g.id)) {
        return Err(ApiError::bad_request(format!(
            "Group {} ({}) comes from the configuration file and cannot be deleted through the API; remove it from the file and restart the server",
            group.id, group.name
        )));
    }
    ids.sort_unstable();
    ids.dedup();
    app.iam
        .delete_groups(project.as_str(), &ids)
        .await
        .map_err(iam_error)?;
    app.reload_groups().await;
    Ok(Json(json!({})))
}
