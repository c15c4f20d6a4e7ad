//! The assets endpoints (`/assets`, `/assets/byids`, `/assets/list`, `/assets/search`,
//! `/assets/aggregate`, `/assets/update`, `/assets/delete`) in CDF's shapes. Reading needs `assetsAcl`
//! READ, writing `assetsAcl` WRITE. A READ `datasetScope` narrows list, search and aggregate to its data
//! sets, and byids naming an asset outside them is a 403; a WRITE `datasetScope` may create assets in
//! its data sets, and update and delete only assets in them (routes/assets_scope.rs).
//!
//! Also the resolution of the files filter's asset references (`assetExternalIds`, `rootAssetIds`,
//! `assetSubtreeIds`) into id sets, [`resolve_file_asset_refs`].

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::assets_json::{AssetItem, AssetPageBody};
use super::iam_common::require;
use crate::api::cursor::CursorCodec;
use crate::api::error::{ApiError, ErrorKind};
use crate::api::extract::{CdfJson, CdfQuery};
use crate::api::AppState;
use crate::auth::{Principal, ScopeNeed};
use crate::domain::{
    check_metadata, FileFilter, Identifier, ProjectName, MAX_EXTERNAL_ID, MAX_ID, MAX_LABELS,
    MAX_SOURCE,
};
use crate::store::assets::{
    Asset, AssetError, AssetFields, AssetFilter, AssetPage, AssetPatch, NewAsset, ParentRef, Set,
    MAX_SUBTREE_ASSETS,
};

const ACL: &str = "assetsAcl";
/// Most assets per create, byids, update or delete (CDF's limit).
pub const MAX_ITEMS: usize = 1000;
/// Longest name, in characters (CDF: 140).
const MAX_ASSET_NAME: usize = 140;
/// Longest description, in characters (CDF: 500).
const MAX_DESCRIPTION: usize = 500;
/// Default and largest page of list (CDF: 100 and 1000).
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
/// Most ids in one list filter condition (CDF: 100).
const MAX_FILTER_REFS: usize = 100;

/// The data sets `action` of assetsAcl covers for the caller: `None` with scope `all` (every asset),
/// else the union of its `datasetScope` ids; a 403 when it holds neither.
fn scope_of(
    principal: &Principal,
    project: &ProjectName,
    action: &str,
) -> Result<Option<std::collections::BTreeSet<i64>>, ApiError> {
    if principal.allows(project.as_str(), ACL, action, ScopeNeed::All) {
        return Ok(None);
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut scoped = false;
    if let Principal::Known { grants, .. } = principal {
        for c in grants
            .iter()
            .filter(|g| g.project == project.as_str())
            .flat_map(|g| &g.capabilities)
            .filter(|c| c.acl == ACL && c.actions.iter().any(|a| a == action))
            .filter(|c| c.scope == "datasetScope")
        {
            scoped = true;
            let listed = c.raw[ACL]["scope"]["datasetScope"]["ids"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            ids.extend(listed.iter().filter_map(|v| match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }));
        }
    }
    if !scoped {
        // The 403 with CDF's text.
        require(principal, project, ACL, action, ScopeNeed::All)?;
    }
    Ok(Some(ids))
}

/// Reading: assetsAcl READ; a `datasetScope` narrows what is read to its data sets.
fn read(
    principal: &Principal,
    project: &ProjectName,
) -> Result<Option<std::collections::BTreeSet<i64>>, ApiError> {
    scope_of(principal, project, "READ")
}

/// Narrows a filter to the data sets a scoped reader may read.
fn restrict(filter: &mut AssetFilter, scope: &Option<std::collections::BTreeSet<i64>>) {
    if let Some(allowed) = scope {
        filter.data_set_ids = Some(match filter.data_set_ids.take() {
            Some(wanted) => wanted.into_iter().filter(|d| allowed.contains(d)).collect(),
            None => allowed.iter().copied().collect(),
        });
    }
}

pub(super) fn asset_error(e: AssetError) -> ApiError {
    match e {
        AssetError::Store(e) => e.into(),
        AssetError::Missing(ids) => ApiError::missing(&ids),
        AssetError::Duplicated(ids) => ApiError {
            duplicated: ids.iter().map(Identifier::to_json).collect(),
            ..ApiError::new(
                ErrorKind::Conflict,
                "The externalId is already used by another asset",
            )
        },
        AssetError::Invalid(m) => ApiError::bad_request(m),
    }
}

fn bad(field: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("{field}: {why}"))
}

fn text(field: &str, v: &Value, max: usize) -> Result<String, ApiError> {
    let s = v.as_str().ok_or_else(|| bad(field, "must be a string"))?;
    if s.chars().count() > max {
        return Err(bad(field, &format!("must be at most {max} characters")));
    }
    Ok(s.to_string())
}

fn external_id(field: &str, v: &Value) -> Result<String, ApiError> {
    let s = text(field, v, MAX_EXTERNAL_ID)?;
    if s.is_empty() {
        return Err(bad(field, "must not be empty"));
    }
    Ok(s)
}

fn id(field: &str, v: &Value) -> Result<i64, ApiError> {
    v.as_i64()
        .filter(|i| (1..=MAX_ID).contains(i))
        .ok_or_else(|| bad(field, &format!("must be an id (1 to {MAX_ID})")))
}

fn metadata(field: &str, v: &Value) -> Result<BTreeMap<String, String>, ApiError> {
    let o = v
        .as_object()
        .ok_or_else(|| bad(field, "must be an object of strings"))?;
    let mut m = BTreeMap::new();
    for (k, v) in o {
        let v = v
            .as_str()
            .ok_or_else(|| bad(&format!("{field}.{k}"), "must be a string"))?;
        m.insert(k.clone(), v.to_string());
    }
    check_metadata(&m)?;
    Ok(m)
}

fn labels(field: &str, v: &Value) -> Result<Vec<String>, ApiError> {
    let arr = v
        .as_array()
        .ok_or_else(|| bad(field, "must be an array of {\"externalId\": ...}"))?;
    let mut out = Vec::new();
    for (i, l) in arr.iter().enumerate() {
        let x = l
            .get("externalId")
            .ok_or_else(|| bad(&format!("{field}[{i}]"), "must be {\"externalId\": ...}"))?;
        let x = external_id(&format!("{field}[{i}].externalId"), x)?;
        if !out.contains(&x) {
            out.push(x);
        }
    }
    Ok(out)
}

/// An `{"id": n}` or `{"externalId": "..."}` item.
fn reference(field: &str, v: &Value) -> Result<ParentRef, ApiError> {
    let o = v
        .as_object()
        .ok_or_else(|| bad(field, "must be {\"id\": n} or {\"externalId\": \"...\"}"))?;
    match (o.get("id"), o.get("externalId")) {
        (Some(i), None) => Ok(ParentRef::Id(id(&format!("{field}.id"), i)?)),
        (None, Some(x)) => Ok(ParentRef::ExternalId(external_id(
            &format!("{field}.externalId"),
            x,
        )?)),
        _ => Err(bad(
            field,
            "must be {\"id\": n} or {\"externalId\": \"...\"}",
        )),
    }
}

fn references(field: &str, v: &Value, max: usize) -> Result<Vec<ParentRef>, ApiError> {
    let arr = v.as_array().ok_or_else(|| bad(field, "must be an array"))?;
    if arr.is_empty() || arr.len() > max {
        return Err(bad(field, &format!("must hold 1 to {max} items")));
    }
    arr.iter()
        .enumerate()
        .map(|(i, v)| reference(&format!("{field}[{i}]"), v))
        .collect()
}

fn optional_text(
    o: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => text(key, v, max).map(Some),
    }
}

fn new_asset(i: usize, v: &Value) -> Result<NewAsset, ApiError> {
    let at = |k: &str| format!("items[{i}].{k}");
    let o = v
        .as_object()
        .ok_or_else(|| bad(&format!("items[{i}]"), "must be an object"))?;
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "externalId"
                | "name"
                | "parentId"
                | "parentExternalId"
                | "description"
                | "dataSetId"
                | "metadata"
                | "source"
                | "labels"
                | "geoLocation"
        ) {
            return Err(bad(&at(k), "is not a field of an asset"));
        }
    }
    if o.get("geoLocation").is_some_and(|g| !g.is_null()) {
        return Err(bad(
            &at("geoLocation"),
            "the geoLocation of assets is not supported yet",
        ));
    }
    let name = o
        .get("name")
        .ok_or_else(|| bad(&at("name"), "is required"))?;
    let name = text(&at("name"), name, MAX_ASSET_NAME)?;
    if name.is_empty() {
        return Err(bad(&at("name"), "must not be empty"));
    }
    let parent = match (
        o.get("parentId").filter(|v| !v.is_null()),
        o.get("parentExternalId").filter(|v| !v.is_null()),
    ) {
        (None, None) => None,
        (Some(p), None) => Some(ParentRef::Id(id(&at("parentId"), p)?)),
        (None, Some(x)) => Some(ParentRef::ExternalId(external_id(
            &at("parentExternalId"),
            x,
        )?)),
        (Some(_), Some(_)) => {
            return Err(bad(
                &at("parentId"),
                "parentId and parentExternalId are exclusive",
            ))
        }
    };
    let fields = AssetFields {
        external_id: match o.get("externalId").filter(|v| !v.is_null()) {
            None => None,
            Some(x) => Some(external_id(&at("externalId"), x)?),
        },
        name,
        description: optional_text(o, "description", MAX_DESCRIPTION)
            .map_err(|e| bad(&at("description"), &e.message))?,
        data_set_id: match o.get("dataSetId").filter(|v| !v.is_null()) {
            None => None,
            Some(d) => Some(id(&at("dataSetId"), d)?),
        },
        source: optional_text(o, "source", MAX_SOURCE)
            .map_err(|e| bad(&at("source"), &e.message))?,
        metadata: match o.get("metadata").filter(|v| !v.is_null()) {
            None => BTreeMap::new(),
            Some(m) => metadata(&at("metadata"), m)?,
        },
        labels: match o.get("labels").filter(|v| !v.is_null()) {
            None => Vec::new(),
            Some(l) => labels(&at("labels"), l)?,
        },
    };
    if fields.labels.len() > MAX_LABELS {
        return Err(bad(&at("labels"), &format!("at most {MAX_LABELS} labels")));
    }
    Ok(NewAsset { fields, parent })
}

/// The body of the writes: items plus the flags some of them take.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemsBody {
    items: Vec<Value>,
    #[serde(default)]
    ignore_unknown_ids: Option<bool>,
    #[serde(default)]
    recursive: Option<bool>,
    #[serde(default)]
    aggregated_properties: Option<Vec<String>>,
}

/// 1 to [`MAX_ITEMS`] items, with the message every other endpoint gives.
fn check_count(items: &[Value]) -> Result<(), ApiError> {
    crate::api::model::check_item_count(items.len(), MAX_ITEMS, "assets")
}

/// `POST /assets`: creates up to 1000 assets, parents in any order; 201 with them in request order.
pub async fn create_assets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ItemsBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let scope = scope_of(&principal, &project, "WRITE")?;
    check_count(&body.items)?;
    let assets = body
        .items
        .iter()
        .enumerate()
        .map(|(i, v)| new_asset(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = HashSet::new();
    let repeated: Vec<Identifier> = assets
        .iter()
        .filter_map(|a| a.fields.external_id.clone())
        .filter(|x| !seen.insert(x.clone()))
        .map(Identifier::ExternalId)
        .collect();
    if !repeated.is_empty() {
        return Err(ApiError::duplicated_in_request(&repeated));
    }
    if let Some(allowed) = &scope {
        if assets
            .iter()
            .any(|a| a.fields.data_set_id.is_none_or(|d| !allowed.contains(&d)))
        {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                crate::api::access::FORBIDDEN_MESSAGE,
            ));
        }
    }
    let created = app
        .assets
        .create_assets(project.as_str(), assets)
        .await
        .map_err(asset_error)?;
    let items: Vec<Value> = created.iter().map(Asset::to_json).collect();
    Ok((StatusCode::CREATED, Json(json!({ "items": items }))))
}

/// Adds the `aggregates` CDF computes on request (`childCount`, `depth`, `path`).
async fn with_aggregates(
    app: &AppState,
    project: &ProjectName,
    assets: Vec<Asset>,
    wanted: Option<&[String]>,
) -> Result<Vec<AssetItem>, ApiError> {
    let wanted = wanted.unwrap_or_default();
    for w in wanted {
        if !matches!(w.as_str(), "childCount" | "depth" | "path") {
            return Err(bad(
                "aggregatedProperties",
                "must hold childCount, depth or path",
            ));
        }
    }
    let counts = if wanted.iter().any(|w| w == "childCount") {
        let ids: Vec<i64> = assets.iter().map(|a| a.id).collect();
        app.assets
            .child_counts(project.as_str(), &ids)
            .await
            .map_err(asset_error)?
    } else {
        HashMap::new()
    };
    Ok(assets
        .into_iter()
        .map(|a| {
            if wanted.is_empty() {
                return AssetItem {
                    asset: a,
                    aggregates: None,
                };
            }
            let mut agg = Map::new();
            for w in wanted {
                match w.as_str() {
                    "childCount" => {
                        agg.insert(w.clone(), json!(counts.get(&a.id).copied().unwrap_or(0)));
                    }
                    "depth" => {
                        agg.insert(w.clone(), json!(a.depth));
                    }
                    _ => {
                        let mut path: Vec<Value> =
                            a.ancestors().iter().map(|id| json!({ "id": id })).collect();
                        path.push(json!({ "id": a.id }));
                        agg.insert(w.clone(), Value::Array(path));
                    }
                }
            }
            AssetItem {
                asset: a,
                aggregates: Some(agg),
            }
        })
        .collect())
}

/// `POST /assets/byids`: in request order; unknown ones are a 400 with `missing` unless
/// `ignoreUnknownIds`.
pub async fn retrieve_assets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ItemsBody>,
) -> Result<Json<Value>, ApiError> {
    let scope = read(&principal, &project)?;
    check_count(&body.items)?;
    let refs = body
        .items
        .iter()
        .enumerate()
        .map(|(i, v)| reference(&format!("items[{i}]"), v))
        .collect::<Result<Vec<_>, _>>()?;
    let found = app
        .assets
        .assets_by_refs(project.as_str(), &refs)
        .await
        .map_err(asset_error)?;
    if let Some(allowed) = &scope {
        if found
            .iter()
            .any(|a| a.fields.data_set_id.is_none_or(|d| !allowed.contains(&d)))
        {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                crate::api::access::FORBIDDEN_MESSAGE,
            ));
        }
    }
    let missing = crate::store::assets::unknown_refs(&refs, &found);
    if !missing.is_empty() && !body.ignore_unknown_ids.unwrap_or(false) {
        return Err(ApiError::missing(&missing));
    }
    let mut ordered: Vec<Asset> = Vec::new();
    for r in &refs {
        if let Some(a) = found.iter().find(|a| match r {
            ParentRef::Id(id) => a.id == *id,
            ParentRef::ExternalId(x) => a.fields.external_id.as_ref() == Some(x),
        }) {
            if !ordered.iter().any(|o| o.id == a.id) {
                ordered.push(a.clone());
            }
        }
    }
    let items = with_aggregates(
        &app,
        &project,
        ordered,
        body.aggregated_properties.as_deref(),
    )
    .await?;
    Ok(Json(json!({ "items": items })))
}

fn time_range(field: &str, v: &Value) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let o = v
        .as_object()
        .ok_or_else(|| bad(field, "must be {\"min\": ms, \"max\": ms}"))?;
    let bound = |k: &str| -> Result<Option<i64>, ApiError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| bad(&format!("{field}.{k}"), "must be an integer")),
        }
    };
    Ok((bound("min")?, bound("max")?))
}

fn words(field: &str, v: &Value) -> Result<Vec<String>, ApiError> {
    Ok(text(field, v, 1000)?
        .split_whitespace()
        .map(str::to_lowercase)
        .collect())
}

/// The filter `raw` as parsed, narrowed to the data sets the caller may read: what every read of a list
/// of assets (list, search, aggregate) starts from.
async fn readable_filter(
    app: &AppState,
    project: &ProjectName,
    raw: &Map<String, Value>,
    scope: &Option<std::collections::BTreeSet<i64>>,
) -> Result<AssetFilter, ApiError> {
    let mut filter = parse_filter(app, project, raw).await?;
    restrict(&mut filter, scope);
    Ok(filter)
}

/// Parses an assets filter; `assetSubtreeIds` are resolved against the store (unknown ones: 400 with
/// `missing`).
async fn parse_filter(
    app: &AppState,
    project: &ProjectName,
    raw: &Map<String, Value>,
) -> Result<AssetFilter, ApiError> {
    let mut f = AssetFilter::default();
    for (key, v) in raw {
        if v.is_null() {
            continue;
        }
        let field = format!("filter.{key}");
        let field = field.as_str();
        match key.as_str() {
            "name" => f.name = Some(text(field, v, MAX_ASSET_NAME)?),
            "parentIds" => {
                let arr = v.as_array().ok_or_else(|| bad(field, "must be an array"))?;
                if arr.is_empty() || arr.len() > MAX_FILTER_REFS {
                    return Err(bad(field, "must hold 1 to 100 ids"));
                }
                f.parent_ids = Some(
                    arr.iter()
                        .enumerate()
                        .map(|(i, v)| id(&format!("{field}[{i}]"), v))
                        .collect::<Result<_, _>>()?,
                );
            }
            "parentExternalIds" => {
                let arr = v.as_array().ok_or_else(|| bad(field, "must be an array"))?;
                if arr.is_empty() || arr.len() > MAX_FILTER_REFS {
                    return Err(bad(field, "must hold 1 to 100 externalIds"));
                }
                f.parent_external_ids = Some(
                    arr.iter()
                        .enumerate()
                        .map(|(i, v)| external_id(&format!("{field}[{i}]"), v))
                        .collect::<Result<_, _>>()?,
                );
            }
            "rootIds" => {
                let (ids, xids) =
                    crate::store::assets::split_refs(&references(field, v, MAX_FILTER_REFS)?);
                // Both conditions must then hold of the root; one of them is empty unless both
                // kinds are given, in which case the root is one of either.
                f.root_ids = Some(ids.clone());
                f.root_external_ids = Some(xids.clone());
                if ids.is_empty() {
                    f.root_ids = None;
                } else if xids.is_empty() {
                    f.root_external_ids = None;
                } else {
                    let found = app
                        .assets
                        .assets_by_refs(project.as_str(), &references(field, v, MAX_FILTER_REFS)?)
                        .await
                        .map_err(asset_error)?;
                    f.root_ids = Some(found.iter().map(|a| a.id).collect());
                    f.root_external_ids = None;
                }
            }
            "assetSubtreeIds" => {
                let refs = references(field, v, MAX_FILTER_REFS)?;
                let found = app
                    .assets
                    .assets_by_refs(project.as_str(), &refs)
                    .await
                    .map_err(asset_error)?;
                let missing = crate::store::assets::unknown_refs(&refs, &found);
                if !missing.is_empty() {
                    return Err(ApiError::missing(&missing));
                }
                f.subtrees = Some(found.iter().map(|a| (a.id, a.subtree_prefix())).collect());
            }
            "externalIdPrefix" => f.external_id_prefix = Some(text(field, v, MAX_EXTERNAL_ID)?),
            "metadata" => f.metadata = metadata(field, v)?,
            "source" => f.source = Some(text(field, v, MAX_SOURCE)?),
            "dataSetIds" => {
                // Data sets named by externalId become `{"id": n}` (an unknown one is a 400 with
                // `missing`), as in the files filter.
                let mut v = v.clone();
                super::data_set_refs::resolve(app, project, &mut v).await?;
                let refs = references(field, &v, MAX_FILTER_REFS)?;
                let mut ids = Vec::new();
                for r in refs {
                    match r {
                        ParentRef::Id(i) => ids.push(i),
                        ParentRef::ExternalId(_) => {
                            return Err(bad(
                                field,
                                "each item must be {\"id\": n} or {\"externalId\": \"…\"}",
                            ))
                        }
                    }
                }
                f.data_set_ids = Some(ids);
            }
            "labels" => {
                let o = v.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
                    bad(
                        field,
                        "must be {\"containsAny\": [...]} or {\"containsAll\": [...]}",
                    )
                })?;
                if let Some(l) = o.get("containsAny") {
                    f.labels_any = Some(labels(&format!("{field}.containsAny"), l)?);
                } else if let Some(l) = o.get("containsAll") {
                    f.labels_all = Some(labels(&format!("{field}.containsAll"), l)?);
                } else {
                    return Err(bad(
                        field,
                        "must be {\"containsAny\": [...]} or {\"containsAll\": [...]}",
                    ));
                }
            }
            "createdTime" => f.created_time = Some(time_range(field, v)?),
            "lastUpdatedTime" => f.last_updated_time = Some(time_range(field, v)?),
            "root" => {
                f.root = Some(
                    v.as_bool()
                        .ok_or_else(|| bad(field, "must be true or false"))?,
                )
            }
            _ => return Err(bad(field, "is not a field of the assets filter")),
        }
    }
    Ok(f)
}

/// The body of `POST /assets/list`.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListBody {
    filter: Option<Map<String, Value>>,
    limit: Option<i64>,
    cursor: Option<String>,
    partition: Option<String>,
    aggregated_properties: Option<Vec<String>>,
}

fn partition(raw: Option<&str>) -> Result<Option<(i64, i64)>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let parsed = raw.split_once('/').and_then(|(k, n)| {
        let (k, n) = (k.trim().parse::<i64>().ok()?, n.trim().parse::<i64>().ok()?);
        (1..=10)
            .contains(&n)
            .then_some(())
            .filter(|_| (1..=n).contains(&k))?;
        Some((k, n))
    });
    parsed
        .map(Some)
        .ok_or_else(|| bad("partition", "must be k/n with 1 <= k <= n <= 10"))
}

#[allow(clippy::too_many_arguments)]
async fn list(
    app: &AppState,
    project: &ProjectName,
    scope: &Option<std::collections::BTreeSet<i64>>,
    raw: Map<String, Value>,
    limit: Option<i64>,
    cursor: Option<String>,
    part: Option<String>,
    aggregated: Option<&[String]>,
) -> Result<Json<AssetPageBody>, ApiError> {
    let filter = readable_filter(app, project, &raw, scope).await?;
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad("limit", &format!("must be 1 to {MAX_LIMIT}")));
    }
    let partition = partition(part.as_deref())?;
    let fingerprint = CursorCodec::fingerprint(
        project.as_str(),
        &format!("assets {} {:?}", Value::Object(raw), partition),
    );
    let after = match cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            app.cursors
                .open(c, fingerprint)
                .map_err(|_| ApiError::bad_request("The cursor is not valid for this listing"))?,
        ),
    };
    let mut page = app
        .assets
        .list_assets(
            project.as_str(),
            &filter,
            AssetPage {
                after,
                limit: limit as usize + 1,
                partition,
            },
        )
        .await
        .map_err(asset_error)?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next_cursor = match (more, page.last()) {
        (true, Some(last)) => Some(app.cursors.seal(last.id, fingerprint)),
        _ => None,
    };
    let items = with_aggregates(app, project, page, aggregated).await?;
    Ok(Json(AssetPageBody { items, next_cursor }))
}

/// `POST /assets/list`: pages in id order, with keyset cursors and partitions.
pub async fn list_assets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ListBody>,
) -> Result<Json<AssetPageBody>, ApiError> {
    let scope = read(&principal, &project)?;
    list(
        &app,
        &project,
        &scope,
        body.filter.unwrap_or_default(),
        body.limit,
        body.cursor,
        body.partition,
        body.aggregated_properties.as_deref(),
    )
    .await
}

/// The query of `GET /assets`.
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    partition: Option<String>,
    #[serde(flatten)]
    filter: BTreeMap<String, String>,
}

/// `GET /assets`: the list with its filter as query parameters (arrays and objects as JSON text).
pub async fn list_assets_get(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfQuery(q): CdfQuery<ListQuery>,
) -> Result<Json<AssetPageBody>, ApiError> {
    let scope = read(&principal, &project)?;
    let mut raw = Map::new();
    for (k, v) in &q.filter {
        let value = match k.as_str() {
            "name" | "externalIdPrefix" | "source" => Value::String(v.clone()),
            "root" => Value::Bool(v == "true"),
            "parentIds" | "parentExternalIds" | "rootIds" | "assetSubtreeIds" | "metadata"
            | "dataSetIds" | "labels" => {
                serde_json::from_str(v).map_err(|_| bad(k, "must be JSON"))?
            }
            "assetSubtreeExternalIds" => {
                let xs: Vec<String> =
                    serde_json::from_str(v).map_err(|_| bad(k, "must be a JSON array"))?;
                raw.insert(
                    "assetSubtreeIds".into(),
                    xs.into_iter().map(|x| json!({ "externalId": x })).collect(),
                );
                continue;
            }
            "minCreatedTime" | "maxCreatedTime" | "minLastUpdatedTime" | "maxLastUpdatedTime" => {
                let n: i64 = v.parse().map_err(|_| bad(k, "must be an integer"))?;
                let (field, bound) = match k.as_str() {
                    "minCreatedTime" => ("createdTime", "min"),
                    "maxCreatedTime" => ("createdTime", "max"),
                    "minLastUpdatedTime" => ("lastUpdatedTime", "min"),
                    _ => ("lastUpdatedTime", "max"),
                };
                let e = raw.entry(field.to_string()).or_insert_with(|| json!({}));
                e[bound] = json!(n);
                continue;
            }
            "includeMetadata" => continue,
            _ => return Err(bad(k, "is not a query parameter of GET /assets")),
        };
        raw.insert(k.clone(), value);
    }
    let limit = match q.limit.as_deref() {
        None => None,
        Some(l) => Some(
            l.trim()
                .parse::<i64>()
                .map_err(|_| bad("limit", "must be an integer"))?,
        ),
    };
    list(
        &app,
        &project,
        &scope,
        raw,
        limit,
        q.cursor,
        q.partition,
        None,
    )
    .await
}

/// The body of `POST /assets/search`.
#[derive(Debug, Deserialize, Default)]
pub struct SearchBody {
    filter: Option<Map<String, Value>>,
    search: Option<Map<String, Value>>,
    limit: Option<i64>,
}

/// `POST /assets/search`: the filter, plus words of which one must be in the name (`name`), in the
/// description (`description`), or in either (`query`), compared in lower case. Best first: the more of
/// the words an asset holds, the earlier; then by id.
pub async fn search_assets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<SearchBody>,
) -> Result<Json<Value>, ApiError> {
    let scope = read(&principal, &project)?;
    let mut filter =
        readable_filter(&app, &project, &body.filter.unwrap_or_default(), &scope).await?;
    for (k, v) in body.search.unwrap_or_default() {
        if v.is_null() {
            continue;
        }
        let field = format!("search.{k}");
        match k.as_str() {
            "name" => filter.name_words = words(&field, &v)?,
            "description" => filter.description_words = words(&field, &v)?,
            "query" => filter.query_words = words(&field, &v)?,
            _ => return Err(bad(&field, "is not a field of the assets search")),
        }
    }
    let limit = body.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad("limit", &format!("must be 1 to {MAX_LIMIT}")));
    }
    // Rank a bounded candidate set: the first 1000 matches by id.
    let mut found = app
        .assets
        .list_assets(
            project.as_str(),
            &filter,
            AssetPage {
                after: None,
                limit: MAX_LIMIT as usize,
                partition: None,
            },
        )
        .await
        .map_err(asset_error)?;
    let all_words: Vec<&String> = filter
        .name_words
        .iter()
        .chain(&filter.description_words)
        .chain(&filter.query_words)
        .collect();
    let phrase = all_words
        .iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    // An exact name first, then whole words found, then words found inside longer words.
    let score = |a: &Asset| {
        let name = a.fields.name.to_lowercase();
        let text = format!(
            "{name} {}",
            a.fields
                .description
                .as_deref()
                .unwrap_or_default()
                .to_lowercase()
        );
        let whole: Vec<&str> = text.split_whitespace().collect();
        (
            name == phrase,
            all_words
                .iter()
                .filter(|w| whole.contains(&w.as_str()))
                .count(),
            all_words
                .iter()
                .filter(|w| text.contains(w.as_str()))
                .count(),
        )
    };
    found.sort_by_key(|a| (std::cmp::Reverse(score(a)), a.id));
    found.truncate(limit as usize);
    let items: Vec<Value> = found.iter().map(Asset::to_json).collect();
    Ok(Json(json!({ "items": items })))
}

/// The body of `POST /assets/aggregate`.
#[derive(Debug, Deserialize, Default)]
pub struct AggregateBody {
    filter: Option<Map<String, Value>>,
    aggregate: Option<String>,
}

/// `POST /assets/aggregate`: `count` (the default) of the assets matching the filter.
pub async fn aggregate_assets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<AggregateBody>,
) -> Result<Json<Value>, ApiError> {
    let scope = read(&principal, &project)?;
    if body.aggregate.as_deref().is_some_and(|a| a != "count") {
        return Err(bad("aggregate", "only count is supported"));
    }
    let filter = readable_filter(&app, &project, &body.filter.unwrap_or_default(), &scope).await?;
    let n = app
        .assets
        .count_assets(project.as_str(), &filter)
        .await
        .map_err(asset_error)?;
    Ok(Json(json!({ "items": [{ "count": n }] })))
}

fn set_text(field: &str, op: &Value, max: usize, nullable: bool) -> Result<Set<String>, ApiError> {
    let o = op
        .as_object()
        .ok_or_else(|| bad(field, "must be {\"set\": ...} or {\"setNull\": true}"))?;
    if let Some(v) = o.get("set") {
        let s = text(&format!("{field}.set"), v, max)?;
        if s.is_empty() && field.ends_with("name") {
            return Err(bad(field, "must not be empty"));
        }
        return Ok(Set::To(s));
    }
    if nullable && o.get("setNull") == Some(&Value::Bool(true)) {
        return Ok(Set::Null);
    }
    Err(bad(field, "must be {\"set\": ...} or {\"setNull\": true}"))
}

fn patch(i: usize, v: &Value) -> Result<AssetPatch, ApiError> {
    let at = format!("items[{i}]");
    let o = v.as_object().ok_or_else(|| bad(&at, "must be an object"))?;
    let target = match (o.get("id"), o.get("externalId")) {
        (Some(i), None) => Identifier::Id(id(&format!("{at}.id"), i)?),
        (None, Some(x)) => Identifier::ExternalId(external_id(&format!("{at}.externalId"), x)?),
        _ => return Err(bad(&at, "must name the asset by id or externalId")),
    };
    let update = o
        .get("update")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(&format!("{at}.update"), "is required"))?;
    let mut p = AssetPatch {
        target,
        external_id: Set::Keep,
        name: None,
        description: Set::Keep,
        data_set_id: Set::Keep,
        source: Set::Keep,
        metadata_set: None,
        metadata_add: BTreeMap::new(),
        metadata_remove: Vec::new(),
        labels_add: Vec::new(),
        labels_remove: Vec::new(),
        parent: None,
    };
    for (k, op) in update {
        let field = format!("{at}.update.{k}");
        match k.as_str() {
            "externalId" => p.external_id = set_text(&field, op, MAX_EXTERNAL_ID, true)?,
            "name" => match set_text(&field, op, MAX_ASSET_NAME, false)? {
                Set::To(n) => p.name = Some(n),
                _ => return Err(bad(&field, "must be {\"set\": ...}")),
            },
            "description" => p.description = set_text(&field, op, MAX_DESCRIPTION, true)?,
            "source" => p.source = set_text(&field, op, MAX_SOURCE, true)?,
            "dataSetId" => {
                p.data_set_id = match (op.get("set"), op.get("setNull")) {
                    (Some(v), _) => Set::To(id(&format!("{field}.set"), v)?),
                    (None, Some(Value::Bool(true))) => Set::Null,
                    _ => return Err(bad(&field, "must be {\"set\": id} or {\"setNull\": true}")),
                }
            }
            "metadata" => {
                if let Some(m) = op.get("set") {
                    p.metadata_set = Some(metadata(&format!("{field}.set"), m)?);
                }
                if let Some(m) = op.get("add") {
                    p.metadata_add = metadata(&format!("{field}.add"), m)?;
                }
                if let Some(r) = op.get("remove") {
                    p.metadata_remove = serde_json::from_value(r.clone())
                        .map_err(|_| bad(&format!("{field}.remove"), "must be an array of keys"))?;
                }
            }
            "labels" => {
                if let Some(l) = op.get("add") {
                    p.labels_add = labels(&format!("{field}.add"), l)?;
                }
                if let Some(l) = op.get("remove") {
                    p.labels_remove = labels(&format!("{field}.remove"), l)?;
                }
            }
            "parentId" => {
                let v = op
                    .get("set")
                    .ok_or_else(|| bad(&field, "must be {\"set\": id}"))?;
                p.parent = Some(ParentRef::Id(id(&format!("{field}.set"), v)?));
            }
            "parentExternalId" => {
                let v = op
                    .get("set")
                    .ok_or_else(|| bad(&field, "must be {\"set\": externalId}"))?;
                p.parent = Some(ParentRef::ExternalId(external_id(
                    &format!("{field}.set"),
                    v,
                )?));
            }
            _ => return Err(bad(&field, "is not an updatable field of an asset")),
        }
    }
    Ok(p)
}

/// `POST /assets/update`: all or nothing, in request order.
pub async fn update_assets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ItemsBody>,
) -> Result<Json<Value>, ApiError> {
    let scope = scope_of(&principal, &project, "WRITE")?;
    check_count(&body.items)?;
    let patches = body
        .items
        .iter()
        .enumerate()
        .map(|(i, v)| patch(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(allowed) = &scope {
        super::assets_scope::check_update(&app, &project, allowed, &patches).await?;
    }
    let updated = app
        .assets
        .update_assets(project.as_str(), patches)
        .await
        .map_err(asset_error)?;
    let items: Vec<Value> = updated.iter().map(Asset::to_json).collect();
    Ok(Json(json!({ "items": items })))
}

/// `POST /assets/delete`: `recursive` deletes the subtrees; without it, an asset with children is a
/// 400. Unknown ones are a 400 with `missing` unless `ignoreUnknownIds`.
pub async fn delete_assets(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ItemsBody>,
) -> Result<Json<Value>, ApiError> {
    let scope = scope_of(&principal, &project, "WRITE")?;
    check_count(&body.items)?;
    let refs = body
        .items
        .iter()
        .enumerate()
        .map(|(i, v)| reference(&format!("items[{i}]"), v))
        .collect::<Result<Vec<_>, _>>()?;
    let recursive = body.recursive.unwrap_or(false);
    if let Some(allowed) = &scope {
        super::assets_scope::check_delete(&app, &project, allowed, &refs, recursive).await?;
    }
    app.assets
        .delete_assets(
            project.as_str(),
            &refs,
            recursive,
            body.ignore_unknown_ids.unwrap_or(false),
        )
        .await
        .map_err(asset_error)?;
    Ok(Json(json!({})))
}

/// Resolves the asset references of a files filter into id sets the stores serve with their file→asset
/// index: each of `assetExternalIds`, `rootAssetIds` and `assetSubtreeIds` becomes one more any-of
/// condition on the file's assets (all of them must hold, as in CDF). Unknown assets in `rootAssetIds`
/// and `assetSubtreeIds` are a 400 with `missing`; unknown externalIds in `assetExternalIds` match
/// nothing. More than [`MAX_SUBTREE_ASSETS`] assets in one condition is a 400.
pub async fn resolve_file_asset_refs(
    app: &AppState,
    project: &ProjectName,
    filter: &mut FileFilter,
) -> Result<(), ApiError> {
    let refs = std::mem::take(&mut filter.asset_refs);
    for r in refs {
        let ids = match r {
            crate::domain::AssetRefs::ExternalIds(xs) => {
                let refs: Vec<ParentRef> = xs.into_iter().map(ParentRef::ExternalId).collect();
                let found = app
                    .assets
                    .assets_by_refs(project.as_str(), &refs)
                    .await
                    .map_err(asset_error)?;
                found.iter().map(|a| a.id).collect()
            }
            crate::domain::AssetRefs::Roots(ids) => subtree(app, project, &ids, true).await?,
            crate::domain::AssetRefs::Subtrees(ids) => subtree(app, project, &ids, false).await?,
        };
        filter.asset_sets.push(ids);
    }
    Ok(())
}

async fn subtree(
    app: &AppState,
    project: &ProjectName,
    ids: &[Identifier],
    by_root: bool,
) -> Result<Vec<i64>, ApiError> {
    let refs: Vec<ParentRef> = ids
        .iter()
        .filter_map(|i| match i {
            Identifier::Id(id) => Some(ParentRef::Id(*id)),
            Identifier::ExternalId(x) => Some(ParentRef::ExternalId(x.clone())),
            Identifier::InstanceId { .. } => None,
        })
        .collect();
    let found = app
        .assets
        .assets_by_refs(project.as_str(), &refs)
        .await
        .map_err(asset_error)?;
    let missing = crate::store::assets::unknown_refs(&refs, &found);
    if !missing.is_empty() {
        return Err(ApiError::missing(&missing));
    }
    app.assets
        .subtree_ids(project.as_str(), &found, by_root, MAX_SUBTREE_ASSETS)
        .await
        .map_err(asset_error)
}
