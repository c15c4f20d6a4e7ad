//! `POST /labels`, `/labels/list`, `/labels/byids` and `/labels/delete`, in CDF's shapes. Label
//! definitions are named by externalId only.
//!
//! Access: `labelsAcl` READ (list, byids) or WRITE (create, delete), with scope `all` or a `datasetScope`
//! that must list the label's data set (a label in no data set needs `all`). A scoped reader sees only
//! the labels it covers; byids or delete of another is a 403. Open mode allows everything.

use crate::api::model::check_item_count;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::iam_common::require;
use super::visible_pages::{fingerprint, page_json, page_limit, parse_items, visible_page};
use crate::api::error::ApiError;
use crate::api::extract::CdfJson;
use crate::api::AppState;
use crate::auth::{Principal, ScopeNeed};
use crate::domain::{check_external_id, check_id, Invalid, ProjectName, MAX_ITEMS};
use crate::store::labels::{Label, LabelFilter, NewLabel};

/// The ACL of label definitions.
pub const ACL: &str = "labelsAcl";
/// Longest name and description, in characters (CDF's limits).
const MAX_NAME: usize = 140;
const MAX_DESCRIPTION: usize = 500;
/// Default and largest page of `/labels/list`.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

fn view(l: &Label) -> Value {
    let mut v = json!({
        "externalId": l.label.external_id,
        "name": l.label.name,
        "createdTime": l.created_time,
    });
    if let Some(d) = &l.label.description {
        v["description"] = json!(d);
    }
    if let Some(d) = l.label.data_set_id {
        v["dataSetId"] = json!(d);
    }
    v
}

fn allowed(
    principal: &Principal,
    project: &ProjectName,
    action: &str,
    data_set: Option<i64>,
) -> bool {
    principal.allows(project.as_str(), ACL, action, ScopeNeed::DataSet(data_set))
}

fn forbid_unless(ok: bool) -> Result<(), ApiError> {
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            crate::api::error::ErrorKind::Forbidden,
            crate::api::access::FORBIDDEN_MESSAGE,
        ))
    }
}

fn text(field: &str, v: &Value, max: usize) -> Result<String, Invalid> {
    let s = v
        .as_str()
        .ok_or_else(|| Invalid::new(field, "must be a string"))?;
    if s.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(s.to_string())
}

fn new_label(v: &Value) -> Result<NewLabel, Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::new("", "must be an object"))?;
    let mut external_id = None;
    let mut name = None;
    let mut description = None;
    let mut data_set_id = None;
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "externalId" => {
                let x = text(key, value, crate::domain::MAX_EXTERNAL_ID)?;
                check_external_id(key, &x)?;
                external_id = Some(x);
            }
            "name" => {
                let x = text(key, value, MAX_NAME)?;
                if x.is_empty() {
                    return Err(Invalid::new("name", "must not be empty"));
                }
                name = Some(x);
            }
            "description" => description = Some(text(key, value, MAX_DESCRIPTION)?),
            "dataSetId" => {
                let id = value
                    .as_i64()
                    .ok_or_else(|| Invalid::new("dataSetId", "must be an integer id"))?;
                check_id("dataSetId", id)?;
                data_set_id = Some(id);
            }
            _ => {
                return Err(Invalid::new(
                    key.as_str(),
                    "is not a field of a label definition",
                ))
            }
        }
    }
    Ok(NewLabel {
        external_id: external_id.ok_or_else(|| Invalid::new("externalId", "is required"))?,
        name: name.ok_or_else(|| Invalid::new("name", "is required"))?,
        description,
        data_set_id,
    })
}

/// A body of `{"items": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsBody {
    items: Vec<Value>,
}

/// `POST /labels`: 1 to 1000 label definitions; 201 with them. An externalId the project has (or one
/// given twice) is a 409 with `duplicated`, and nothing is created.
pub async fn create_labels(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ItemsBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require(&principal, &project, ACL, "WRITE", ScopeNeed::Any)?;
    check_item_count(body.items.len(), MAX_ITEMS, "label definitions")?;
    let items = parse_items(&body.items, new_label)?;
    for l in &items {
        forbid_unless(allowed(&principal, &project, "WRITE", l.data_set_id))?;
    }
    let created = app
        .labels
        .create_labels(project.as_str(), items, crate::clock::now_ms())
        .await?;
    let items: Vec<Value> = created.iter().map(view).collect();
    Ok((StatusCode::CREATED, Json(json!({ "items": items }))))
}

/// The externalIds of `[{"externalId": …}]` items: 1 to 1000, none twice (a 400 with `duplicated`).
fn external_ids(items: &[Value]) -> Result<Vec<String>, ApiError> {
    check_item_count(items.len(), MAX_ITEMS, "items")?;
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    let mut repeated = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let x = item
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.get("externalId"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::bad_request(format!("items[{i}]: must be {{\"externalId\": \"…\"}}"))
            })?;
        check_external_id(&format!("items[{i}].externalId"), x)?;
        if out.iter().any(|o| o == x) {
            repeated.push(crate::domain::Identifier::ExternalId(x.to_string()));
        }
        out.push(x.to_string());
    }
    if !repeated.is_empty() {
        return Err(ApiError::duplicated_in_request(&repeated));
    }
    Ok(out)
}

/// The body of `/labels/byids`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ByIdsBody {
    items: Vec<Value>,
    #[serde(default)]
    ignore_unknown_ids: Option<bool>,
}

/// `POST /labels/byids`: in request order; unknown ones are a 400 with `missing` unless
/// `ignoreUnknownIds`.
pub async fn retrieve_labels(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ByIdsBody>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, &project, ACL, "READ", ScopeNeed::Any)?;
    let wanted = external_ids(&body.items)?;
    let found = app
        .labels
        .retrieve_labels(
            project.as_str(),
            &wanted,
            body.ignore_unknown_ids.unwrap_or(false),
        )
        .await?;
    for l in &found {
        forbid_unless(allowed(&principal, &project, "READ", l.label.data_set_id))?;
    }
    let items: Vec<Value> = found.iter().map(view).collect();
    Ok(Json(json!({ "items": items })))
}

/// `POST /labels/delete`: all or nothing; unknown externalIds are a 400 with `missing`.
pub async fn delete_labels(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ItemsBody>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, &project, ACL, "WRITE", ScopeNeed::Any)?;
    let wanted = external_ids(&body.items)?;
    if !matches!(principal, Principal::Open) {
        let found = app
            .labels
            .retrieve_labels(project.as_str(), &wanted, true)
            .await?;
        for l in &found {
            forbid_unless(allowed(&principal, &project, "WRITE", l.label.data_set_id))?;
        }
    }
    app.labels.delete_labels(project.as_str(), &wanted).await?;
    Ok(Json(json!({})))
}

/// The body of `/labels/list`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListBody {
    filter: Option<Map<String, Value>>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn parse_filter(filter: &Map<String, Value>) -> Result<LabelFilter, Invalid> {
    let mut f = LabelFilter::default();
    for (key, value) in filter {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "name" => f.name = Some(text(key, value, MAX_NAME)?),
            "externalIdPrefix" => {
                f.external_id_prefix = Some(text(key, value, crate::domain::MAX_EXTERNAL_ID)?)
            }
            "dataSetIds" => {
                let arr = value
                    .as_array()
                    .filter(|a| a.len() <= crate::domain::MAX_FILTER_IDS)
                    .ok_or_else(|| {
                        Invalid::new(
                            key.as_str(),
                            "must be an array of at most 100 {\"id\"} or {\"externalId\"}",
                        )
                    })?;
                let mut ids = Vec::with_capacity(arr.len());
                for (i, item) in arr.iter().enumerate() {
                    let id = item
                        .as_i64()
                        .or_else(|| item.get("id").and_then(Value::as_i64))
                        .ok_or_else(|| {
                            Invalid::new(
                                format!("dataSetIds[{i}]"),
                                "must be {\"id\": n} or {\"externalId\": \"…\"}",
                            )
                        })?;
                    check_id(&format!("dataSetIds[{i}]"), id)?;
                    ids.push(id);
                }
                f.data_set_ids = Some(ids);
            }
            _ => {
                return Err(Invalid::new(
                    key.as_str(),
                    "is not a field of the labels filter",
                ))
            }
        }
    }
    Ok(f)
}

/// `POST /labels/list`: in creation order, `limit` 1 to 1000 (default 100), with a sealed cursor.
/// `dataSetIds` may name data sets by externalId.
pub async fn list_labels(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ListBody>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, &project, ACL, "READ", ScopeNeed::Any)?;
    let raw = body.filter.unwrap_or_default();
    let fingerprint = fingerprint(project.as_str(), "labels", &raw);
    let mut resolved = raw;
    super::data_set_refs::resolve_in_filter(&app, &project, &mut resolved).await?;
    let filter = parse_filter(&resolved).map_err(|e| e.within("filter"))?;
    let limit = page_limit(body.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    // A scoped caller's invisible labels are skipped; pages stay full where there are more.
    let (items, next) = visible_page(
        &app,
        body.cursor.as_deref(),
        fingerprint,
        limit,
        |after, n| app.labels.list_labels(project.as_str(), &filter, after, n),
        |l| l.seq,
        |l| allowed(&principal, &project, "READ", l.label.data_set_id),
    )
    .await?;
    Ok(Json(page_json(items.iter().map(view).collect(), next)))
}
