//! `GET /files` and `POST /files/list`: pages in id order, with keyset cursors and partitions.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::cursor::CursorCodec;
use crate::api::error::ApiError;
use crate::api::extract::{CdfJson, CdfQuery};
use crate::api::model::FileView;
use crate::api::AppState;
use crate::domain::{FileFilter, ProjectName};
use crate::store::PageRequest;

/// The body of `POST /files/list`; every member may be absent or null.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListBody {
    filter: Option<Map<String, Value>>,
    limit: Option<i64>,
    cursor: Option<String>,
    partition: Option<String>,
}

/// The query parameters of `GET /files`.
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    // A string: serde_urlencoded cannot parse numbers inside a struct with a flattened map.
    limit: Option<String>,
    cursor: Option<String>,
    partition: Option<String>,
    #[serde(flatten)]
    filter: std::collections::BTreeMap<String, String>,
}

/// A page, and the cursor of the next one; `nextCursor` is absent on the last page, never empty.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    items: Vec<FileView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// `POST /files/list`.
pub async fn list_files(
    State(app): State<AppState>,
    project: ProjectName,
    CdfJson(body): CdfJson<ListBody>,
) -> Result<Json<ListResponse>, ApiError> {
    let raw = body.filter.unwrap_or_default();
    let filter = FileFilter::from_json(&raw)?;
    let fingerprint = Value::Object(raw).to_string();
    list(&app, &project, filter, &fingerprint, body.limit, body.cursor, body.partition).await
}

/// `GET /files`.
pub async fn list_files_get(
    State(app): State<AppState>,
    project: ProjectName,
    CdfQuery(query): CdfQuery<ListQuery>,
) -> Result<Json<ListResponse>, ApiError> {
    let filter = FileFilter::from_query(&query.filter)?;
    let fingerprint = serde_json::to_string(&query.filter).unwrap_or_default();
    let limit = match query.limit {
        None => None,
        Some(l) => Some(
            l.parse::<i64>()
                .map_err(|_| ApiError::bad_request("limit: must be an integer"))?,
        ),
    };
    list(&app, &project, filter, &fingerprint, limit, query.cursor, query.partition).await
}

async fn list(
    app: &AppState,
    project: &ProjectName,
    filter: FileFilter,
    filter_fingerprint: &str,
    limit: Option<i64>,
    cursor: Option<String>,
    partition: Option<String>,
) -> Result<Json<ListResponse>, ApiError> {
    let limit = super::page_limit(limit)?;
    let id_range = partition.as_deref().map(partition_range).transpose()?;
    let fingerprint = CursorCodec::fingerprint(
        project.as_str(),
        &format!("list|{}|{filter_fingerprint}", partition.unwrap_or_default()),
    );
    let after_id = match cursor.as_deref() {
        None => None,
        Some(c) => Some(
            app.cursors
                .open(c, fingerprint)
                .map_err(|_| ApiError::bad_request("cursor: not a cursor of this query (the filter or partition changed, or it was altered)"))?,
        ),
    };
    let page = app
        .meta
        .list(
            project,
            PageRequest {
                filter,
                limit,
                after_id,
                id_range,
            },
        )
        .await?;
    let next_cursor = match (page.more, page.items.last()) {
        (true, Some(last)) => Some(app.cursors.seal(last.id, fingerprint)),
        _ => None,
    };
    Ok(Json(ListResponse {
        items: page.items.into_iter().map(FileView::from).collect(),
        next_cursor,
    }))
}

/// Most partitions a listing may be split into.
pub const MAX_PARTITIONS: i64 = 10;

/// Parses partition `"M/N"` (1-based, N at most 10) into its id range.
pub fn partition_range(partition: &str) -> Result<(i64, i64), ApiError> {
    let bad = || ApiError::bad_request(format!("partition: must be \"M/N\" with 1 <= M <= N <= {MAX_PARTITIONS}"));
    let (m, n) = partition.split_once('/').ok_or_else(bad)?;
    let (m, n): (i64, i64) = (m.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if !(1..=MAX_PARTITIONS).contains(&n) || !(1..=n).contains(&m) {
        return Err(bad());
    }
    Ok(crate::store::ids::partition_range(m, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_tile_the_id_space() {
        for n in 1..=10 {
            let mut next = 1;
            for m in 1..=n {
                let (low, high) = partition_range(&format!("{m}/{n}")).unwrap_or((0, 0));
                assert_eq!(low, next);
                assert!(high >= low);
                next = high + 1;
            }
            assert_eq!(next, crate::domain::MAX_ID + 1);
        }
    }

    #[test]
    fn malformed_partitions_are_refused() {
        for p in ["0/3", "4/3", "1/11", "1-3", "a/b", "", "1/0"] {
            assert!(partition_range(p).is_err(), "{p}");
        }
    }
}
