//! `GET /files` and `POST /files/list`: pages in id order, with keyset cursors and partitions.

use axum::extract::State;
use axum::Extension;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::api::access::narrow_to_readable;
use crate::api::cursor::CursorCodec;
use crate::api::error::ApiError;
use crate::api::extract::{CdfJson, CdfQuery};
use crate::api::page::FilesJson;
use crate::api::AppState;
use crate::auth::Principal;
use crate::domain::{FileFilter, ProjectName};
use crate::store::{PageRequest, Partition};

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

/// `POST /files/list`.
pub async fn list_files(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfJson(body): CdfJson<ListBody>,
) -> Result<FilesJson, ApiError> {
    let mut raw = body.filter.unwrap_or_default();
    super::data_set_refs::resolve_in_filter(&app, &project, &mut raw).await?;
    let mut filter = FileFilter::from_json(&raw)?;
    super::assets::resolve_file_asset_refs(&app, &project, &mut filter).await?;
    narrow_to_readable(&principal, &project, &mut filter);
    let fingerprint = Value::Object(raw).to_string();
    list(
        &app,
        &project,
        filter,
        &fingerprint,
        body.limit,
        body.cursor,
        body.partition,
    )
    .await
}

/// `GET /files`.
pub async fn list_files_get(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
    CdfQuery(mut query): CdfQuery<ListQuery>,
) -> Result<FilesJson, ApiError> {
    super::data_set_refs::resolve_in_query(&app, &project, &mut query.filter).await?;
    let mut filter = FileFilter::from_query(&query.filter)?;
    super::assets::resolve_file_asset_refs(&app, &project, &mut filter).await?;
    narrow_to_readable(&principal, &project, &mut filter);
    let fingerprint = serde_json::to_string(&query.filter).unwrap_or_default();
    let limit = match query.limit {
        None => None,
        Some(l) => Some(
            l.parse::<i64>()
                .map_err(|_| ApiError::bad_request("limit: must be an integer"))?,
        ),
    };
    list(
        &app,
        &project,
        filter,
        &fingerprint,
        limit,
        query.cursor,
        query.partition,
    )
    .await
}

async fn list(
    app: &AppState,
    project: &ProjectName,
    filter: FileFilter,
    filter_fingerprint: &str,
    limit: Option<i64>,
    cursor: Option<String>,
    partition: Option<String>,
) -> Result<FilesJson, ApiError> {
    let limit = super::page_limit(limit)?;
    let partition = partition.as_deref().map(parse_partition).transpose()?;
    let fingerprint = CursorCodec::fingerprint(
        project.as_str(),
        &format!("list|{partition:?}|{filter_fingerprint}"),
    );
    let after = match cursor.as_deref() {
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
                after,
                partition,
            },
        )
        .await?;
    let next_cursor = page
        .next
        .map(|position| app.cursors.seal(position, fingerprint));
    // A page and the cursor of the next one; `nextCursor` is absent on the last page, never empty.
    let items = crate::direct::settle(app, project, page.items).await?;
    Ok(FilesJson::new(items, next_cursor))
}

/// Most partitions a listing may be split into.
pub const MAX_PARTITIONS: u32 = 10;

/// Parses partition `"M/N"` (1-based, N at most 10).
pub fn parse_partition(partition: &str) -> Result<Partition, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "partition: must be \"M/N\" with 1 <= M <= N <= {MAX_PARTITIONS}"
        ))
    };
    let (m, n) = partition.split_once('/').ok_or_else(bad)?;
    let (m, n): (u32, u32) = (
        m.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if !(1..=MAX_PARTITIONS).contains(&n) || !(1..=n).contains(&m) {
        return Err(bad());
    }
    Ok(Partition {
        index: m - 1,
        count: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_parse_one_based() {
        assert_eq!(
            parse_partition("1/3").ok(),
            Some(Partition { index: 0, count: 3 })
        );
        assert_eq!(
            parse_partition("10/10").ok(),
            Some(Partition {
                index: 9,
                count: 10
            })
        );
    }

    #[test]
    fn malformed_partitions_are_refused() {
        for p in ["0/3", "4/3", "1/11", "1-3", "a/b", "", "1/0", "-1/2"] {
            assert!(parse_partition(p).is_err(), "{p}");
        }
    }
}
