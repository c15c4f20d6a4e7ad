//! `GET /securitycategories`, `POST /securitycategories` and `POST /securitycategories/delete`, in
//! CDF's shapes. Managing categories needs securityCategoriesAcl LIST, CREATE or DELETE with scope
//! `all` (a DELETE scoped by `idscope` may delete the categories it lists).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::iam_common::{iam_error, id_items, require, ItemsBody, MAX_IAM_ITEMS};
use crate::api::cursor::CursorCodec;
use crate::api::error::ApiError;
use crate::api::extract::{CdfJson, CdfQuery};
use crate::api::AppState;
use crate::auth::{Principal, ScopeNeed};
use crate::domain::ProjectName;
use crate::store::iam::CategoryPage;

const ACL: &str = "securityCategoriesAcl";
/// Longest security category name, in characters (CDF states none).
pub const MAX_CATEGORY_NAME: usize = 255;
/// Default and largest page of `GET /securitycategories`.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 1000;

/// The query of `GET /securitycategories`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    sort: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// `GET /securitycategories`: pages by id, `sort=ASC` (default) or `DESC`, with a sealed cursor.
pub async fn list_security_categories(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfQuery(query): CdfQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, &project, ACL, "LIST", ScopeNeed::All)?;
    let descending = match query
        .sort
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "sort must be ASC or DESC, not `{other}`"
            )))
        }
    };
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| ApiError::bad_request(format!("limit must be 1 to {MAX_LIMIT}")))?,
    };
    let fingerprint = CursorCodec::fingerprint(
        project.as_str(),
        if descending {
            "securitycategories DESC"
        } else {
            "securitycategories ASC"
        },
    );
    let after = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => Some(
            app.cursors
                .open(cursor, fingerprint)
                .map_err(|_| ApiError::bad_request("The cursor is not valid for this listing"))?,
        ),
    };
    let mut page = app
        .iam
        .security_categories(
            project.as_str(),
            CategoryPage {
                descending,
                after,
                limit: limit + 1,
            },
        )
        .await
        .map_err(iam_error)?;
    let more = page.len() > limit;
    page.truncate(limit);
    let items: Vec<Value> = page
        .iter()
        .map(|c| json!({"name": c.name, "id": c.id}))
        .collect();
    let mut body = json!({ "items": items });
    if let (true, Some(last)) = (more, page.last()) {
        body["nextCursor"] = json!(app.cursors.seal(last.id, fingerprint));
    }
    Ok(Json(body))
}

/// `POST /securitycategories`: 201 with the created categories. Names repeated in the request are
/// created once; a name the project has is a 409 with `duplicated`, and nothing is created.
pub async fn create_security_categories(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ItemsBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require(&principal, &project, ACL, "CREATE", ScopeNeed::All)?;
    if body.items.is_empty() || body.items.len() > MAX_IAM_ITEMS {
        return Err(ApiError::bad_request(format!(
            "items must hold 1 to {MAX_IAM_ITEMS} security categories"
        )));
    }
    let mut names: Vec<String> = Vec::with_capacity(body.items.len());
    for (i, item) in body.items.iter().enumerate() {
        let name = item
            .as_object()
            .filter(|o| o.keys().all(|k| k == "name"))
            .and_then(|o| o.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty() && n.chars().count() <= MAX_CATEGORY_NAME)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "items[{i}] must be {{\"name\": <1 to {MAX_CATEGORY_NAME} characters>}}"
                ))
            })?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    let created = app
        .iam
        .create_security_categories(project.as_str(), names)
        .await
        .map_err(iam_error)?;
    let items: Vec<Value> = created
        .iter()
        .map(|c| json!({"name": c.name, "id": c.id}))
        .collect();
    Ok((StatusCode::CREATED, Json(json!({ "items": items }))))
}

/// `POST /securitycategories/delete`: ids must be unique (a repeated one is a 400 with `duplicated`);
/// unknown ones are a 400 with `missing`, and nothing is deleted.
pub async fn delete_security_categories(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ItemsBody>,
) -> Result<Json<Value>, ApiError> {
    // Any DELETE first, so that a caller without one learns nothing from the ids' validation.
    require(&principal, &project, ACL, "DELETE", ScopeNeed::Any)?;
    let ids = id_items(&body.items)?;
    require(&principal, &project, ACL, "DELETE", ScopeNeed::Ids(&ids))?;
    let mut seen = std::collections::BTreeSet::new();
    let repeated: Vec<Value> = ids
        .iter()
        .filter(|id| !seen.insert(**id))
        .map(|id| json!({ "id": id }))
        .collect();
    if !repeated.is_empty() {
        return Err(ApiError {
            duplicated: repeated,
            ..ApiError::bad_request("Ids must be unique within a request")
        });
    }
    app.iam
        .delete_security_categories(project.as_str(), &ids)
        .await
        .map_err(iam_error)?;
    Ok(Json(json!({})))
}
