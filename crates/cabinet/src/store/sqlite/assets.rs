//! [`AssetStore`] on SQLite: the `assets` table (migration 0014). Writes go through the single writer, each
//! in its own savepoint (so the checks and the change see the same rows); reads through the reader pool.
//! Ids come from `meta.asset_id_counter`, so a deleted asset's id is never handed out again.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, Row};

use super::rows::sql_err;
use super::SqliteStore;
use crate::domain::{Identifier, MAX_ID};
use crate::store::assets::{
    apply_patch, create_lookups, json_columns, parse_json_columns, plan_create, split_refs,
    unknown_refs, Arg, Asset, AssetError, AssetFields, AssetFilter, AssetPage, AssetPatch,
    AssetStore, Dialect, NewAsset, ParentRef, Where, COLUMNS, MAX_DEPTH,
};
use crate::store::StoreError;

fn sql_args(args: Vec<Arg>) -> Vec<SqlValue> {
    args.into_iter()
        .map(|a| match a {
            Arg::Int(i) => SqlValue::Integer(i),
            Arg::Text(t) => SqlValue::Text(t),
        })
        .collect()
}

type RawRow = (
    i64,
    Option<String>,
    String,
    Option<i64>,
    i64,
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    String,
    String,
    i64,
    i64,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
    ))
}

fn decode(r: RawRow) -> Result<Asset, StoreError> {
    let (metadata, labels) = parse_json_columns(&r.10, &r.11)?;
    Ok(Asset {
        id: r.0,
        fields: AssetFields {
            external_id: r.1,
            name: r.2,
            description: r.7,
            data_set_id: r.8,
            source: r.9,
            metadata,
            labels,
        },
        parent_id: r.3,
        root_id: r.4,
        depth: r.5,
        path: r.6,
        created_time: r.12,
        last_updated_time: r.13,
    })
}

fn query(conn: &Connection, sql: &str, args: Vec<Arg>) -> Result<Vec<Asset>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(sql_err)?;
    let rows = st
        .query_map(params_from_iter(sql_args(args)), raw)
        .map_err(sql_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql_err)?;
    rows.into_iter().map(decode).collect()
}

fn by_refs(conn: &Connection, project: &str, refs: &[ParentRef]) -> Result<Vec<Asset>, StoreError> {
    let (ids, xids) = split_refs(refs);
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let mut w = Where::new(Dialect::Sqlite, project);
        let l: Vec<String> = chunk.iter().map(|i| w.bind(Arg::Int(*i))).collect();
        w.parts.push(format!("id IN ({})", l.join(", ")));
        let sql = format!("SELECT {COLUMNS} FROM assets WHERE {}", w.clause());
        out.extend(query(conn, &sql, w.args)?);
    }
    for chunk in xids.chunks(500) {
        let mut w = Where::new(Dialect::Sqlite, project);
        let l: Vec<String> = chunk.iter().map(|x| w.bind(Arg::Text(x.clone()))).collect();
        w.parts.push(format!("external_id IN ({})", l.join(", ")));
        let sql = format!("SELECT {COLUMNS} FROM assets WHERE {}", w.clause());
        for a in query(conn, &sql, w.args)? {
            if !out.iter().any(|o| o.id == a.id) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

fn allocate(conn: &Connection, n: usize) -> Result<Vec<i64>, StoreError> {
    let last: i64 = conn
        .query_row(
            "SELECT coalesce((SELECT value FROM meta WHERE key = 'asset_id_counter'), 0)",
            [],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    let next = last + n as i64;
    if next > MAX_ID {
        return Err(StoreError::internal(
            "assets",
            std::io::Error::other("asset ids are exhausted"),
        ));
    }
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('asset_id_counter', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [next],
    )
    .map_err(sql_err)?;
    Ok((last + 1..=next).collect())
}

fn insert(conn: &Connection, project: &str, a: &Asset) -> Result<(), StoreError> {
    let (metadata, labels) = json_columns(&a.fields)?;
    let f = &a.fields;
    conn.prepare_cached(
        "INSERT INTO assets (id, project, external_id, name, parent_id, root_id, depth, path, description, \
         data_set_id, source, metadata, labels, created_time, last_updated_time) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )
    .map_err(sql_err)?
    .execute(params![
        a.id,
        project,
        f.external_id,
        f.name,
        a.parent_id,
        a.root_id,
        a.depth,
        a.path,
        f.description,
        f.data_set_id,
        f.source,
        metadata,
        labels,
        a.created_time,
        a.last_updated_time
    ])
    .map_err(sql_err)?;
    Ok(())
}

fn rewrite(conn: &Connection, project: &str, a: &Asset) -> Result<(), StoreError> {
    let (metadata, labels) = json_columns(&a.fields)?;
    let f = &a.fields;
    conn.prepare_cached(
        "UPDATE assets SET external_id = ?3, name = ?4, parent_id = ?5, depth = ?6, path = ?7, \
         description = ?8, data_set_id = ?9, source = ?10, metadata = ?11, labels = ?12, \
         last_updated_time = ?13 WHERE project = ?1 AND id = ?2",
    )
    .map_err(sql_err)?
    .execute(params![
        project,
        a.id,
        f.external_id,
        f.name,
        a.parent_id,
        a.depth,
        a.path,
        f.description,
        f.data_set_id,
        f.source,
        metadata,
        labels,
        a.last_updated_time
    ])
    .map_err(sql_err)?;
    Ok(())
}

fn identifier_ref(i: &Identifier) -> Result<ParentRef, AssetError> {
    match i {
        Identifier::Id(id) => Ok(ParentRef::Id(*id)),
        Identifier::ExternalId(x) => Ok(ParentRef::ExternalId(x.clone())),
        Identifier::InstanceId { .. } => Err(AssetError::Invalid(
            "Assets are named by id or externalId".into(),
        )),
    }
}

/// Runs the update of one asset inside the writer's savepoint.
fn update_one(
    conn: &Connection,
    project: &str,
    patch: &AssetPatch,
    now: i64,
) -> Result<Result<Asset, AssetError>, StoreError> {
    let target = match identifier_ref(&patch.target) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let Some(mut asset) = by_refs(conn, project, std::slice::from_ref(&target))?.pop() else {
        return Ok(Err(AssetError::Missing(unknown_refs(&[target], &[]))));
    };
    let parent = match &patch.parent {
        None => None,
        Some(r) => match by_refs(conn, project, std::slice::from_ref(r))?.pop() {
            Some(p) => Some(p),
            None => {
                return Ok(Err(AssetError::Missing(unknown_refs(
                    std::slice::from_ref(r),
                    &[],
                ))))
            }
        },
    };
    if let crate::store::assets::Set::To(x) = &patch.external_id {
        let holder = by_refs(conn, project, &[ParentRef::ExternalId(x.clone())])?;
        if holder.iter().any(|h| h.id != asset.id) {
            return Ok(Err(AssetError::Duplicated(vec![Identifier::ExternalId(
                x.clone(),
            )])));
        }
    }
    let old_prefix = asset.subtree_prefix();
    let old_depth = asset.depth;
    let moved = match apply_patch(&mut asset, patch, parent.as_ref(), now) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    if moved {
        // The deepest asset of the moved subtree must stay within the depth limit.
        let mut w = Where::new(Dialect::Sqlite, project);
        let below = w.below(&old_prefix);
        w.parts.push(below);
        let deepest: Option<i64> = conn
            .query_row(
                &format!("SELECT MAX(depth) FROM assets WHERE {}", w.clause()),
                params_from_iter(sql_args(w.args)),
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        if deepest.unwrap_or(old_depth) + asset.depth - old_depth > MAX_DEPTH {
            return Ok(Err(AssetError::Invalid(format!(
                "An asset hierarchy may be at most {MAX_DEPTH} levels deep"
            ))));
        }
    }
    rewrite(conn, project, &asset)?;
    if moved {
        let mut w = Where::new(Dialect::Sqlite, project);
        let below = w.below(&old_prefix);
        w.parts.push(below);
        let new_prefix = asset.subtree_prefix();
        let mut args = vec![
            Arg::Text(new_prefix),
            Arg::Int(old_prefix.len() as i64 + 1),
            Arg::Int(asset.depth - old_depth),
        ];
        args.extend(w.args.clone());
        conn.execute(
            &format!(
                "UPDATE assets SET path = ? || substr(path, ?), depth = depth + ? WHERE {}",
                w.clause()
            ),
            params_from_iter(sql_args(args)),
        )
        .map_err(sql_err)?;
    }
    Ok(Ok(asset))
}

#[async_trait]
impl AssetStore for SqliteStore {
    async fn create_assets(
        &self,
        project: &str,
        assets: Vec<NewAsset>,
    ) -> Result<Vec<Asset>, AssetError> {
        let project = project.to_string();
        let now = crate::clock::now_ms();
        self.writer
            .write_atomic(move |ctx| {
                let existing = by_refs(ctx.conn, &project, &create_lookups(&assets))?;
                let ids = allocate(ctx.conn, assets.len())?;
                let planned = match plan_create(assets, &existing, &ids, now) {
                    Ok(p) => p,
                    // Nothing written but the counter, which the savepoint's rollback does not need:
                    // skipping ids is harmless.
                    Err(e) => return Ok(Err(e)),
                };
                for a in &planned {
                    insert(ctx.conn, &project, a)?;
                }
                Ok(Ok(planned))
            })
            .await?
    }

    async fn assets_by_refs(
        &self,
        project: &str,
        refs: &[ParentRef],
    ) -> Result<Vec<Asset>, AssetError> {
        let project = project.to_string();
        let refs = refs.to_vec();
        Ok(self
            .readers
            .read(move |conn| by_refs(conn, &project, &refs))
            .await?)
    }

    async fn list_assets(
        &self,
        project: &str,
        filter: &AssetFilter,
        page: AssetPage,
    ) -> Result<Vec<Asset>, AssetError> {
        let mut w = Where::new(Dialect::Sqlite, project);
        w.filter(project, filter);
        let tail = w.page(page);
        let sql = format!("SELECT {COLUMNS} FROM assets WHERE {} {tail}", w.clause());
        let args = w.args;
        Ok(self
            .readers
            .read(move |conn| query(conn, &sql, args))
            .await?)
    }

    async fn count_assets(&self, project: &str, filter: &AssetFilter) -> Result<u64, AssetError> {
        let mut w = Where::new(Dialect::Sqlite, project);
        w.filter(project, filter);
        let sql = format!("SELECT COUNT(*) FROM assets WHERE {}", w.clause());
        let args = sql_args(w.args);
        Ok(self
            .readers
            .read(move |conn| {
                conn.query_row(&sql, params_from_iter(args), |r| r.get::<_, i64>(0))
                    .map(|n| n.max(0) as u64)
                    .map_err(sql_err)
            })
            .await?)
    }

    async fn child_counts(
        &self,
        project: &str,
        ids: &[i64],
    ) -> Result<HashMap<i64, u64>, AssetError> {
        let project = project.to_string();
        let ids = ids.to_vec();
        Ok(self
            .readers
            .read(move |conn| {
                let mut st = conn
                    .prepare_cached(
                        "SELECT COUNT(*) FROM assets WHERE project = ?1 AND parent_id = ?2",
                    )
                    .map_err(sql_err)?;
                let mut out = HashMap::new();
                for id in ids {
                    let n: i64 = st
                        .query_row(params![project, id], |r| r.get(0))
                        .map_err(sql_err)?;
                    out.insert(id, n.max(0) as u64);
                }
                Ok(out)
            })
            .await?)
    }

    async fn subtree_ids(
        &self,
        project: &str,
        roots: &[Asset],
        by_root: bool,
        cap: usize,
    ) -> Result<Vec<i64>, AssetError> {
        let project = project.to_string();
        let roots = roots.to_vec();
        self.readers
            .read(move |conn| {
                let mut out: Vec<i64> = Vec::new();
                for r in &roots {
                    let mut w = Where::new(Dialect::Sqlite, &project);
                    let cond = if by_root {
                        let p = w.bind(Arg::Int(r.id));
                        format!("root_id = {p}")
                    } else {
                        let p = w.bind(Arg::Int(r.id));
                        let below = w.below(&r.subtree_prefix());
                        format!("(id = {p} OR {below})")
                    };
                    w.parts.push(cond);
                    let l = w.bind(Arg::Int(cap as i64 + 1));
                    let sql = format!("SELECT id FROM assets WHERE {} LIMIT {l}", w.clause());
                    let mut st = conn.prepare_cached(&sql).map_err(sql_err)?;
                    let ids = st
                        .query_map(params_from_iter(sql_args(w.args)), |r| r.get::<_, i64>(0))
                        .map_err(sql_err)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                        .map_err(sql_err)?;
                    out.extend(ids);
                    out.sort_unstable();
                    out.dedup();
                    if out.len() > cap {
                        return Ok(Err(AssetError::Invalid(format!(
                            "The asset subtrees of the filter hold more than {cap} assets"
                        ))));
                    }
                }
                Ok(Ok(out))
            })
            .await?
    }

    async fn update_assets(
        &self,
        project: &str,
        patches: Vec<AssetPatch>,
    ) -> Result<Vec<Asset>, AssetError> {
        let project = project.to_string();
        let now = crate::clock::now_ms();
        self.writer
            .write_atomic(move |ctx| {
                let mut out = Vec::with_capacity(patches.len());
                for patch in &patches {
                    match update_one(ctx.conn, &project, patch, now)? {
                        Ok(a) => out.push(a),
                        // Undo the earlier items of the request: the savepoint rolls back on Err.
                        Err(e) => return Err(e.into_store()),
                    }
                }
                Ok(out)
            })
            .await
            .map_err(AssetError::from_store)
    }

    async fn delete_assets(
        &self,
        project: &str,
        refs: &[ParentRef],
        recursive: bool,
        ignore_unknown: bool,
    ) -> Result<(), AssetError> {
        let project = project.to_string();
        let refs = refs.to_vec();
        self.writer
            .write_atomic(move |ctx| {
                let found = by_refs(ctx.conn, &project, &refs)?;
                let missing = unknown_refs(&refs, &found);
                if !missing.is_empty() && !ignore_unknown {
                    return Ok(Err(AssetError::Missing(missing)));
                }
                if !recursive {
                    let ids: Vec<i64> = found.iter().map(|a| a.id).collect();
                    let mut st = ctx
                        .conn
                        .prepare_cached(
                            "SELECT id FROM assets WHERE project = ?1 AND parent_id = ?2",
                        )
                        .map_err(sql_err)?;
                    for a in &found {
                        let children = st
                            .query_map(params![project, a.id], |r| r.get::<_, i64>(0))
                            .map_err(sql_err)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                            .map_err(sql_err)?;
                        if children.iter().any(|c| !ids.contains(c)) {
                            return Ok(Err(AssetError::Invalid(format!(
                                "Asset {} has children; delete them first or set recursive",
                                a.id
                            ))));
                        }
                    }
                }
                for a in &found {
                    let mut w = Where::new(Dialect::Sqlite, &project);
                    let p = w.bind(Arg::Int(a.id));
                    let below = w.below(&a.subtree_prefix());
                    w.parts.push(format!("(id = {p} OR {below})"));
                    ctx.conn
                        .execute(
                            &format!("DELETE FROM assets WHERE {}", w.clause()),
                            params_from_iter(sql_args(w.args)),
                        )
                        .map_err(sql_err)?;
                }
                Ok(Ok(()))
            })
            .await?
    }
}

/// Every asset of every project, by id, and the last id handed out (for `cabinet migrate`).
pub(crate) fn export_all(conn: &Connection) -> Result<(Vec<(String, Asset)>, i64), StoreError> {
    let mut st = conn
        .prepare(&format!(
            "SELECT {COLUMNS}, project FROM assets ORDER BY id"
        ))
        .map_err(sql_err)?;
    let rows = st
        .query_map([], |r| Ok((raw(r)?, r.get::<_, String>(14)?)))
        .map_err(sql_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql_err)?;
    let assets = rows
        .into_iter()
        .map(|(row, project)| Ok((project, decode(row)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let last: i64 = conn
        .query_row(
            "SELECT coalesce((SELECT value FROM meta WHERE key = 'asset_id_counter'), 0)",
            [],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    Ok((assets, last))
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    /// The plan of a page of `/assets/list` by `assetSubtreeIds` of `top`, after `after`.
    fn plan(conn: &Connection, top: (i64, &str), after: i64) -> String {
        let filter = AssetFilter {
            subtrees: Some(vec![(top.0, top.1.to_string())]),
            ..AssetFilter::default()
        };
        let mut w = Where::new(Dialect::Sqlite, "p");
        w.filter("p", &filter);
        let tail = w.page(AssetPage {
            after: Some(after),
            limit: 1001,
            partition: None,
        });
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT {COLUMNS} FROM assets WHERE {} {tail}",
            w.clause()
        );
        let mut st = conn.prepare(&sql).unwrap();
        let rows = st
            .query_map(params_from_iter(sql_args(w.args)), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("\n")
    }

    /// A root's subtree is walked through `assets_by_root` in id order, reading only its own rows (not
    /// the primary key, skipping every other hierarchy's); below a root, the hierarchy's rows are tested.
    #[test]
    fn a_subtree_page_walks_its_hierarchy_in_id_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.sqlite3");
        drop(SqliteStore::open(&path, 1).unwrap());
        let conn = Connection::open(&path).unwrap();
        let root = plan(&conn, (10, "/10/"), -1);
        assert!(
            root.contains("USING INDEX assets_by_root (project=? AND root_id=? AND id>?)"),
            "{root}"
        );
        assert!(!root.contains("TEMP B-TREE"), "{root}");
        let child = plan(&conn, (110, "/10/110/"), 5000);
        assert!(
            !child.starts_with("SCAN") && !child.contains("\nSCAN"),
            "{child}"
        );
    }
}
