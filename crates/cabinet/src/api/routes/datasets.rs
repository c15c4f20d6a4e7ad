//! `POST /datasets`, `/datasets/byids`, `/datasets/list`, `/datasets/aggregate` and `/datasets/update`,
//! in CDF's shapes. There is no delete, as in CDF.
//!
//! Access: creating needs `datasetsAcl:WRITE` on `all`; updating needs WRITE covering every target
//! (`all` or an `idScope` listing it) and, for a write-protected target, OWNER covering it; reading needs
//! READ, and a caller whose READ is an `idScope` sees only the data sets it lists (byids of another is a
//! 403). Open mode allows everything.

use crate::api::model::check_item_count;
use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::iam_common::require;
use super::visible_pages::{fingerprint, page_json, page_limit, parse_items, visible_page};
use crate::api::error::ApiError;
use crate::api::extract::CdfJson;
use crate::api::model::{check_identifiers, IdentifierItems};
use crate::api::AppState;
use crate::auth::{Principal, ScopeNeed};
use crate::domain::{
    check_external_id, check_metadata, Identifier, Invalid, ProjectName, TimeRange, MAX_ITEMS,
};
use crate::store::datasets::{DataSet, DataSetFields, DataSetFilter, DataSetPatch, MetadataChange};

/// The ACL of data sets.
pub const ACL: &str = "datasetsAcl";
/// Most data sets in one create (CDF's limit).
pub const MAX_CREATE: usize = 10;
/// Longest name and description, in characters (CDF's limits).
const MAX_NAME: usize = 50;
const MAX_DESCRIPTION: usize = 255;
/// Default and largest page of `/datasets/list`.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 1000;

/// A data set as CDF returns it.
pub fn view(d: &DataSet) -> Value {
    let mut v = json!({
        "id": d.id,
        "metadata": d.fields.metadata,
        "writeProtected": d.fields.write_protected,
        "createdTime": d.created_time,
        "lastUpdatedTime": d.last_updated_time,
    });
    for (key, value) in [
        ("externalId", &d.fields.external_id),
        ("name", &d.fields.name),
        ("description", &d.fields.description),
    ] {
        if let Some(value) = value {
            v[key] = json!(value);
        }
    }
    v
}

fn max_chars(field: &str, v: &str, max: usize) -> Result<(), Invalid> {
    if v.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

fn string_map(field: &str, v: &Value) -> Result<BTreeMap<String, String>, Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::new(field, "must be an object of strings"))?;
    obj.iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|s| (k.clone(), s.to_string()))
                .ok_or_else(|| Invalid::new(format!("{field}.{k}"), "must be a string"))
        })
        .collect()
}

fn text(field: &str, v: &Value) -> Result<String, Invalid> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| Invalid::new(field, "must be a string"))
}

/// One item of a create.
fn fields(v: &Value) -> Result<DataSetFields, Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::new("", "must be an object"))?;
    let mut f = DataSetFields::default();
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "externalId" => {
                let x = text(key, value)?;
                check_external_id(key, &x)?;
                f.external_id = Some(x);
            }
            "name" => {
                let x = text(key, value)?;
                max_chars(key, &x, MAX_NAME)?;
                f.name = Some(x);
            }
            "description" => {
                let x = text(key, value)?;
                max_chars(key, &x, MAX_DESCRIPTION)?;
                f.description = Some(x);
            }
            "metadata" => {
                f.metadata = string_map(key, value)?;
                check_metadata(&f.metadata)?;
            }
            "writeProtected" => {
                f.write_protected = value
                    .as_bool()
                    .ok_or_else(|| Invalid::new(key.as_str(), "must be true or false"))?
            }
            _ => return Err(Invalid::new(key.as_str(), "is not a field of a data set")),
        }
    }
    Ok(f)
}

/// The body of a create.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    items: Vec<Value>,
}

/// `POST /datasets`: 1 to 10 data sets; 201 with them. An externalId the project has (or one given
/// twice) is a 409 with `duplicated`, and nothing is created.
pub async fn create_data_sets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<CreateBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require(&principal, &project, ACL, "WRITE", ScopeNeed::All)?;
    check_item_count(body.items.len(), MAX_CREATE, "data sets")?;
    let items = parse_items(&body.items, fields)?;
    let created = app
        .data_sets
        .create_data_sets(project.as_str(), items, crate::clock::now_ms())
        .await?;
    let items: Vec<Value> = created.iter().map(view).collect();
    Ok((StatusCode::CREATED, Json(json!({ "items": items }))))
}

/// Whether the caller may read data set `id` (open mode, `all`, or an `idScope` listing it).
fn readable(principal: &Principal, project: &ProjectName, id: i64) -> bool {
    principal.allows(project.as_str(), ACL, "READ", ScopeNeed::Ids(&[id]))
}

/// `POST /datasets/byids`: in request order; unknown ones are a 400 with `missing` unless
/// `ignoreUnknownIds`.
pub async fn retrieve_data_sets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<IdentifierItems>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, &project, ACL, "READ", ScopeNeed::Any)?;
    check_identifiers(&body.items, 1, MAX_ITEMS)?;
    if body
        .items
        .iter()
        .any(|i| matches!(i, Identifier::InstanceId { .. }))
    {
        return Err(ApiError::bad_request(
            "items: data sets are named by id or externalId",
        ));
    }
    let found = app
        .data_sets
        .retrieve_data_sets(
            project.as_str(),
            &body.items,
            body.ignore_unknown_ids.unwrap_or(false),
        )
        .await?;
    for d in &found {
        require(&principal, &project, ACL, "READ", ScopeNeed::Ids(&[d.id]))?;
    }
    let items: Vec<Value> = found.iter().map(view).collect();
    Ok(Json(json!({ "items": items })))
}

fn time_range(field: &str, v: &Value) -> Result<TimeRange, Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::new(field, "must be {\"min\": ms, \"max\": ms}"))?;
    let mut r = TimeRange::default();
    for (k, bound) in obj {
        if bound.is_null() {
            continue;
        }
        let n = bound
            .as_i64()
            .ok_or_else(|| Invalid::new(format!("{field}.{k}"), "must be an integer"))?;
        match k.as_str() {
            "min" => r.min = Some(n),
            "max" => r.max = Some(n),
            _ => return Err(Invalid::new(format!("{field}.{k}"), "must be min or max")),
        }
    }
    Ok(r)
}

/// The `filter` of list and aggregate.
pub fn parse_filter(filter: &Map<String, Value>) -> Result<DataSetFilter, Invalid> {
    let mut f = DataSetFilter::default();
    for (key, value) in filter {
        if value.is_null() {
            continue;
        }
        let field = key.as_str();
        match field {
            "metadata" => f.metadata = string_map(field, value)?,
            "createdTime" => f.created_time = Some(time_range(field, value)?),
            "lastUpdatedTime" => f.last_updated_time = Some(time_range(field, value)?),
            "externalIdPrefix" => {
                let x = text(field, value)?;
                max_chars(field, &x, crate::domain::MAX_EXTERNAL_ID)?;
                f.external_id_prefix = Some(x);
            }
            "writeProtected" => {
                f.write_protected = Some(
                    value
                        .as_bool()
                        .ok_or_else(|| Invalid::new(field, "must be true or false"))?,
                )
            }
            _ => {
                return Err(Invalid::new(
                    field,
                    "is not a field of the data sets filter",
                ))
            }
        }
    }
    Ok(f)
}

/// The body of `/datasets/list`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListBody {
    filter: Option<Map<String, Value>>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `POST /datasets/list`: by increasing id, `limit` 1 to 1000 (default 25), with a sealed cursor. A caller
/// whose READ is an `idScope` sees only the listed data sets.
pub async fn list_data_sets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ListBody>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, &project, ACL, "READ", ScopeNeed::Any)?;
    let raw = body.filter.unwrap_or_default();
    let filter = parse_filter(&raw).map_err(|e| e.within("filter"))?;
    let limit = page_limit(body.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    // A scoped caller's invisible data sets are skipped; pages stay full where there are more.
    let (items, next) = visible_page(
        &app,
        body.cursor.as_deref(),
        fingerprint(project.as_str(), "datasets", &raw),
        limit,
        |after, n| {
            app.data_sets
                .list_data_sets(project.as_str(), &filter, after, n)
        },
        |d| d.id,
        |d| readable(&principal, &project, d.id),
    )
    .await?;
    Ok(Json(page_json(items.iter().map(view).collect(), next)))
}

/// The body of `/datasets/aggregate`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AggregateBody {
    filter: Option<Map<String, Value>>,
}

/// `POST /datasets/aggregate`: `{"items": [{"count": n}]}`, counting only what the caller may read.
pub async fn aggregate_data_sets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<AggregateBody>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, &project, ACL, "READ", ScopeNeed::Any)?;
    let filter = parse_filter(&body.filter.unwrap_or_default()).map_err(|e| e.within("filter"))?;
    let count = if principal.allows(project.as_str(), ACL, "READ", ScopeNeed::All) {
        app.data_sets
            .count_data_sets(project.as_str(), &filter)
            .await?
    } else {
        let (all, _) = app
            .data_sets
            .list_data_sets(project.as_str(), &filter, 0, usize::MAX)
            .await?;
        all.iter()
            .filter(|d| readable(&principal, &project, d.id))
            .count() as u64
    };
    Ok(Json(json!({ "items": [{ "count": count }] })))
}

/// `{"set": x}` or `{"setNull": true}` of an optional string; `Ok(None)` for a clear.
fn set_or_null(field: &str, v: &Value, max: usize) -> Result<Option<String>, Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::new(field, "must be {\"set\": …} or {\"setNull\": true}"))?;
    match (obj.get("set"), obj.get("setNull"), obj.len()) {
        (Some(x), None, 1) => {
            let x = text(&format!("{field}.set"), x)?;
            max_chars(&format!("{field}.set"), &x, max)?;
            Ok(Some(x))
        }
        (None, Some(Value::Bool(true)), 1) => Ok(None),
        _ => Err(Invalid::new(
            field,
            "must be {\"set\": …} or {\"setNull\": true}",
        )),
    }
}

fn patch(update: &Value) -> Result<DataSetPatch, Invalid> {
    let obj = update
        .as_object()
        .ok_or_else(|| Invalid::new("update", "must be an object"))?;
    let mut p = DataSetPatch::default();
    for (key, value) in obj {
        let field = format!("update.{key}");
        match key.as_str() {
            "externalId" => {
                let x = set_or_null(&field, value, crate::domain::MAX_EXTERNAL_ID)?;
                if let Some(x) = &x {
                    check_external_id(&format!("{field}.set"), x)?;
                }
                p.external_id = Some(x);
            }
            "name" => p.name = Some(set_or_null(&field, value, MAX_NAME)?),
            "description" => p.description = Some(set_or_null(&field, value, MAX_DESCRIPTION)?),
            "writeProtected" => {
                p.write_protected = Some(
                    value
                        .as_object()
                        .filter(|o| o.len() == 1)
                        .and_then(|o| o.get("set"))
                        .and_then(Value::as_bool)
                        .ok_or_else(|| Invalid::new(&*field, "must be {\"set\": true|false}"))?,
                )
            }
            "metadata" => {
                let o = value.as_object().ok_or_else(|| {
                    Invalid::new(
                        &*field,
                        "must be {\"set\": {…}} or {\"add\": {…}, \"remove\": […]}",
                    )
                })?;
                p.metadata = if let Some(set) = o.get("set") {
                    if o.len() != 1 {
                        return Err(Invalid::new(
                            &*field,
                            "set cannot be combined with add or remove",
                        ));
                    }
                    MetadataChange::Set(string_map(&format!("{field}.set"), set)?)
                } else {
                    let mut add = BTreeMap::new();
                    let mut remove = Vec::new();
                    for (k, v) in o {
                        match k.as_str() {
                            "add" => add = string_map(&format!("{field}.add"), v)?,
                            "remove" => {
                                remove = v
                                    .as_array()
                                    .and_then(|keys| {
                                        keys.iter()
                                            .map(|k| k.as_str().map(str::to_string))
                                            .collect::<Option<Vec<_>>>()
                                    })
                                    .ok_or_else(|| {
                                        Invalid::new(
                                            format!("{field}.remove"),
                                            "must be an array of keys",
                                        )
                                    })?
                            }
                            _ => {
                                return Err(Invalid::new(
                                    format!("{field}.{k}"),
                                    "must be set, add or remove",
                                ))
                            }
                        }
                    }
                    MetadataChange::Change { add, remove }
                };
            }
            _ => {
                return Err(Invalid::new(
                    field,
                    "is not an updatable field of a data set",
                ))
            }
        }
    }
    Ok(p)
}

/// The body of `/datasets/update`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    items: Vec<Value>,
}

/// `POST /datasets/update`: all or nothing; unknown targets are a 400 with `missing`, an externalId
/// another data set holds a 409 with `duplicated`, a result over a limit a 400.
pub async fn update_data_sets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<UpdateBody>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, &project, ACL, "WRITE", ScopeNeed::Any)?;
    check_item_count(body.items.len(), MAX_ITEMS, "items")?;
    let mut items = Vec::with_capacity(body.items.len());
    for (i, item) in body.items.iter().enumerate() {
        let at = format!("items[{i}]");
        let obj = item
            .as_object()
            .ok_or_else(|| Invalid::new(&*at, "must be an object"))?;
        let ident = match (obj.get("id"), obj.get("externalId")) {
            (Some(id), None) => Identifier::Id(
                id.as_i64()
                    .ok_or_else(|| Invalid::new(format!("{at}.id"), "must be an integer id"))?,
            ),
            (None, Some(x)) => Identifier::ExternalId(text(&format!("{at}.externalId"), x)?),
            _ => return Err(Invalid::new(at, "must name the data set by id or externalId").into()),
        };
        ident.check().map_err(|e| e.within(&at))?;
        if let Some(key) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "id" | "externalId" | "update"))
        {
            return Err(
                Invalid::new(format!("{at}.{key}"), "is not a field of an update item").into(),
            );
        }
        let update = obj
            .get("update")
            .ok_or_else(|| Invalid::new(format!("{at}.update"), "is required"))?;
        items.push((ident, patch(update).map_err(|e| e.within(&at))?));
    }
    let idents: Vec<Identifier> = items.iter().map(|(i, _)| i.clone()).collect();
    check_identifiers(&idents, 1, MAX_ITEMS)?;
    for (_, p) in &items {
        if let MetadataChange::Set(m) = &p.metadata {
            check_metadata(m)?;
        }
    }
    // Access is checked against the data sets as stored now; in open mode nothing needs reading.
    if !matches!(principal, Principal::Open) {
        let targets = app
            .data_sets
            .retrieve_data_sets(project.as_str(), &idents, false)
            .await?;
        for d in &targets {
            require(&principal, &project, ACL, "WRITE", ScopeNeed::Ids(&[d.id]))?;
            if d.fields.write_protected {
                require(&principal, &project, ACL, "OWNER", ScopeNeed::Ids(&[d.id]))?;
            }
        }
    }
    let updated = app
        .data_sets
        .update_data_sets(project.as_str(), items, crate::clock::now_ms())
        .await?;
    let items: Vec<Value> = updated.iter().map(view).collect();
    Ok(Json(json!({ "items": items })))
}
