//! `dataSetIds` conditions that name data sets by externalId (`[{"externalId": "x"}]`, as the SDKs send
//! `data_set_external_ids`): resolved here, before a filter is parsed, into `{"id": n}`, so that
//! `domain::filter` and the stores' filter SQL only ever see ids. An unknown externalId is a 400 with
//! `missing`, as CDF answers it.

use serde_json::{json, Map, Value};

use crate::api::error::ApiError;
use crate::api::AppState;
use crate::domain::{Identifier, ProjectName};

/// Rewrites the `{"externalId"}` items of the array `value` into `{"id"}` items. Anything that is not
/// an array of such objects is left for the filter's parser to judge.
pub async fn resolve(
    app: &AppState,
    project: &ProjectName,
    value: &mut Value,
) -> Result<(), ApiError> {
    let Some(items) = value.as_array_mut() else {
        return Ok(());
    };
    let wanted: Vec<Identifier> = items
        .iter()
        .filter_map(external_id_of)
        .map(Identifier::ExternalId)
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let found = app
        .data_sets
        .retrieve_data_sets(project.as_str(), &wanted, false)
        .await?;
    for item in items.iter_mut() {
        let Some(x) = external_id_of(item) else {
            continue;
        };
        if let Some(d) = found
            .iter()
            .find(|d| d.fields.external_id.as_deref() == Some(x.as_str()))
        {
            *item = json!({ "id": d.id });
        }
    }
    Ok(())
}

/// [`resolve`] on the `dataSetIds` key of a filter object, when present.
pub async fn resolve_in_filter(
    app: &AppState,
    project: &ProjectName,
    filter: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    match filter.get_mut("dataSetIds") {
        Some(value) => resolve(app, project, value).await,
        None => Ok(()),
    }
}

/// [`resolve`] on the `dataSetIds` query parameter of `GET /files` (JSON text), when present.
pub async fn resolve_in_query(
    app: &AppState,
    project: &ProjectName,
    params: &mut std::collections::BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let Some(raw) = params.get_mut("dataSetIds") else {
        return Ok(());
    };
    let Ok(mut value) = serde_json::from_str::<Value>(raw) else {
        return Ok(());
    };
    resolve(app, project, &mut value).await?;
    *raw = value.to_string();
    Ok(())
}

fn external_id_of(item: &Value) -> Option<String> {
    let obj = item.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    obj.get("externalId")?.as_str().map(str::to_string)
}
