//! A list page whose whole filter is one asset set (assetIds, or a resolved subtree, roots or
//! externalIds), when the set has few enough entries to collect: the page's positions come from
//! `file_assets` alone and only the page's files are read.
//!
//! The general collecting plan (`files.seq IN (SELECT file_seq FROM file_assets …)`) checks each entry
//! against `files` for the project condition, one b-tree search per entry in a 1,000,000-file table:
//! 52 ms for a 1,011-asset subtree's 20,000 entries, where reading the entries themselves takes 3.5 ms.
//! An entry already names its project, and the entries are kept exact by triggers (the count of a lone
//! index-table condition relies on the same), so nothing needs checking: the entries after the cursor
//! are read through the primary key `(project_id, asset_id, file_seq)`, deduplicated and sorted here,
//! and the first `limit` are the page.

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;

use super::rows::{file_from_row, sql_err, FILE_COLUMNS};
use crate::domain::{FileFilter, FileRecord};
use crate::store::{Partition, StoreError};

/// The asset ids of `filter` when they are its only condition: one list, from `assetIds` or one
/// resolved set.
pub(super) fn lone_set(filter: &FileFilter) -> Option<&[i64]> {
    let rest = FileFilter {
        asset_ids: None,
        asset_refs: Vec::new(),
        asset_sets: Vec::new(),
        ..filter.clone()
    };
    if rest != FileFilter::default() || !filter.asset_refs.is_empty() {
        return None;
    }
    match (&filter.asset_ids, filter.asset_sets.as_slice()) {
        (Some(ids), []) => Some(ids),
        (None, [ids]) => Some(ids),
        _ => None,
    }
}

/// Up to `limit` files linked to one of `ids`, after position `after` and inside `partition`, in listing
/// order, as `(seq, file)`.
pub(super) fn fetch_set_page(
    conn: &Connection,
    project_id: i64,
    ids: &[i64],
    after: i64,
    partition: Option<Partition>,
    limit: usize,
) -> Result<Vec<(i64, FileRecord)>, StoreError> {
    let list = json_list(ids);
    let mut seqs: Vec<i64> = conn
        .prepare_cached(
            "SELECT file_seq FROM file_assets WHERE project_id = ?1 \
             AND asset_id IN (SELECT value FROM json_each(?2)) AND file_seq > ?3",
        )
        .and_then(|mut st| {
            st.query_map(rusqlite::params![project_id, list, after], |r| {
                r.get::<_, i64>(0)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sql_err)?;
    if let Some(p) = partition {
        let (count, index) = (i64::from(p.count), i64::from(p.index));
        seqs.retain(|s| s % count == index);
    }
    seqs.sort_unstable();
    seqs.dedup();
    seqs.truncate(limit);
    if seqs.is_empty() {
        return Ok(vec![]);
    }
    let wanted = json_list(&seqs);
    let sql = format!(
        "SELECT {FILE_COLUMNS}, files.seq FROM files \
         WHERE files.seq IN (SELECT value FROM json_each(?1)) ORDER BY files.seq"
    );
    let mut st = conn.prepare_cached(&sql).map_err(sql_err)?;
    let rows = st
        .query_map([SqlValue::Text(wanted)], |row| {
            Ok((row.get::<_, i64>(19)?, file_from_row(row)?))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(sql_err)?;
    Ok(rows)
}

/// A JSON array of integers, bound as one parameter (SQLite caps the number of parameters).
fn json_list(values: &[i64]) -> String {
    let items: Vec<String> = values.iter().map(i64::to_string).collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_filter_of_one_asset_list_is_a_lone_set() {
        let ids = FileFilter {
            asset_ids: Some(vec![1, 2]),
            ..FileFilter::default()
        };
        assert_eq!(lone_set(&ids), Some(&[1, 2][..]));
        let subtree = FileFilter {
            asset_sets: vec![vec![3, 4, 5]],
            ..FileFilter::default()
        };
        assert_eq!(lone_set(&subtree), Some(&[3, 4, 5][..]));
        let both = FileFilter {
            asset_ids: Some(vec![1]),
            asset_sets: vec![vec![3]],
            ..FileFilter::default()
        };
        assert_eq!(lone_set(&both), None);
        let two_sets = FileFilter {
            asset_sets: vec![vec![3], vec![4]],
            ..FileFilter::default()
        };
        assert_eq!(lone_set(&two_sets), None);
        let with_more = FileFilter {
            asset_sets: vec![vec![3]],
            mime_type: Some("text/plain".into()),
            ..FileFilter::default()
        };
        assert_eq!(lone_set(&with_more), None);
        assert_eq!(lone_set(&FileFilter::default()), None);
    }
}
