//! [`AssetStore`] on PostgreSQL: the `assets` table (migration 0006). Each write is one transaction that
//! first takes a transaction-level advisory lock on the project's assets, so that the writes of a project
//! are serialized across nodes and the checks see the rows the change applies to. Reads take no lock.

use std::collections::HashMap;

use async_trait::async_trait;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use super::{pg_err, PgStore};
use crate::domain::Identifier;
use crate::store::assets::{
    apply_patch, create_lookups, json_columns, parse_json_columns, plan_create, split_refs,
    unknown_refs, Arg, Asset, AssetError, AssetFields, AssetFilter, AssetPage, AssetPatch,
    AssetStore, Dialect, NewAsset, ParentRef, Set, Where, COLUMNS, MAX_DEPTH,
};
use crate::store::StoreError;

const LOCK_PROJECT: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('cabinet-assets:' || $1::text, 0))";

type Params = Vec<Box<dyn ToSql + Sync + Send>>;

fn pg_args(args: Vec<Arg>) -> Params {
    args.into_iter()
        .map(|a| -> Box<dyn ToSql + Sync + Send> {
            match a {
                Arg::Int(i) => Box::new(i),
                Arg::Text(t) => Box::new(t),
            }
        })
        .collect()
}

fn refs_of(p: &Params) -> Vec<&(dyn ToSql + Sync)> {
    p.iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

fn decode(r: &Row) -> Result<Asset, StoreError> {
    let metadata: String = r.try_get("metadata").map_err(pg_err)?;
    let labels: String = r.try_get("labels").map_err(pg_err)?;
    let (metadata, labels) = parse_json_columns(&metadata, &labels)?;
    let depth: i32 = r.try_get("depth").map_err(pg_err)?;
    Ok(Asset {
        id: r.try_get("id").map_err(pg_err)?,
        fields: AssetFields {
            external_id: r.try_get("external_id").map_err(pg_err)?,
            name: r.try_get("name").map_err(pg_err)?,
            description: r.try_get("description").map_err(pg_err)?,
            data_set_id: r.try_get("data_set_id").map_err(pg_err)?,
            source: r.try_get("source").map_err(pg_err)?,
            metadata,
            labels,
        },
        parent_id: r.try_get("parent_id").map_err(pg_err)?,
        root_id: r.try_get("root_id").map_err(pg_err)?,
        depth: depth.into(),
        path: r.try_get("path").map_err(pg_err)?,
        created_time: r.try_get("created_time").map_err(pg_err)?,
        last_updated_time: r.try_get("last_updated_time").map_err(pg_err)?,
    })
}

/// `query_typed` of the pool's client and transaction (deadpool's `GenericClient` lacks it).
#[async_trait]
trait TypedQuery: Sync {
    async fn typed(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, tokio_postgres::Error>;
}

#[async_trait]
impl TypedQuery for deadpool_postgres::Client {
    async fn typed(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        self.query_typed(sql, params).await
    }
}

#[async_trait]
impl TypedQuery for deadpool_postgres::Transaction<'_> {
    async fn typed(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        self.query_typed(sql, params).await
    }
}

/// One statement in one round trip: parse, bind and execute go out together (`query_typed`), where
/// `query` with a text first prepares (a round trip of its own) and then closes the statement. A page
/// of the subtree walk made four round trips; each waits for the server process to be scheduled, which
/// on a busy machine costs more than the statement.
async fn query<C: TypedQuery>(c: &C, sql: &str, args: Vec<Arg>) -> Result<Vec<Asset>, StoreError> {
    // Every placeholder of `Where` is cast to its type: bigint or text.
    let types: Vec<Type> = args
        .iter()
        .map(|a| match a {
            Arg::Int(_) => Type::INT8,
            Arg::Text(_) => Type::TEXT,
        })
        .collect();
    let p = pg_args(args);
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = refs_of(&p).into_iter().zip(types).collect();
    c.typed(sql, &typed)
        .await
        .map_err(pg_err)?
        .iter()
        .map(decode)
        .collect()
}

async fn by_refs<C: TypedQuery>(
    c: &C,
    project: &str,
    refs: &[ParentRef],
) -> Result<Vec<Asset>, StoreError> {
    let (ids, xids) = split_refs(refs);
    let sql = format!(
        "SELECT {COLUMNS} FROM assets WHERE project = $1 AND (id = ANY($2) OR external_id = ANY($3))"
    );
    c.typed(
        &sql,
        &[
            (&project, Type::TEXT),
            (&ids, Type::INT8_ARRAY),
            (&xids, Type::TEXT_ARRAY),
        ],
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(decode)
    .collect()
}

pub(crate) async fn insert(
    tx: &deadpool_postgres::Transaction<'_>,
    project: &str,
    a: &Asset,
) -> Result<(), StoreError> {
    let (metadata, labels) = json_columns(&a.fields)?;
    let f = &a.fields;
    let depth = a.depth as i32;
    tx.execute(
        "INSERT INTO assets (id, project, external_id, name, parent_id, root_id, depth, path, description, \
         data_set_id, source, metadata, labels, created_time, last_updated_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            &a.id,
            &project,
            &f.external_id,
            &f.name,
            &a.parent_id,
            &a.root_id,
            &depth,
            &a.path,
            &f.description,
            &f.data_set_id,
            &f.source,
            &metadata,
            &labels,
            &a.created_time,
            &a.last_updated_time,
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

async fn rewrite(
    tx: &deadpool_postgres::Transaction<'_>,
    project: &str,
    a: &Asset,
) -> Result<(), StoreError> {
    let (metadata, labels) = json_columns(&a.fields)?;
    let f = &a.fields;
    let depth = a.depth as i32;
    tx.execute(
        "UPDATE assets SET external_id = $3, name = $4, parent_id = $5, depth = $6, path = $7, \
         description = $8, data_set_id = $9, source = $10, metadata = $11, labels = $12, \
         last_updated_time = $13 WHERE project = $1 AND id = $2",
        &[
            &project,
            &a.id,
            &f.external_id,
            &f.name,
            &a.parent_id,
            &depth,
            &a.path,
            &f.description,
            &f.data_set_id,
            &f.source,
            &metadata,
            &labels,
            &a.last_updated_time,
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

fn target_ref(i: &Identifier) -> Result<ParentRef, AssetError> {
    match i {
        Identifier::Id(id) => Ok(ParentRef::Id(*id)),
        Identifier::ExternalId(x) => Ok(ParentRef::ExternalId(x.clone())),
        Identifier::InstanceId { .. } => Err(AssetError::Invalid(
            "Assets are named by id or externalId".into(),
        )),
    }
}

async fn update_one(
    tx: &deadpool_postgres::Transaction<'_>,
    project: &str,
    patch: &AssetPatch,
    now: i64,
) -> Result<Asset, AssetError> {
    let target = target_ref(&patch.target)?;
    let Some(mut asset) = by_refs(tx, project, std::slice::from_ref(&target))
        .await?
        .pop()
    else {
        return Err(AssetError::Missing(unknown_refs(&[target], &[])));
    };
    let parent = match &patch.parent {
        None => None,
        Some(r) => match by_refs(tx, project, std::slice::from_ref(r)).await?.pop() {
            Some(p) => Some(p),
            None => {
                return Err(AssetError::Missing(unknown_refs(
                    std::slice::from_ref(r),
                    &[],
                )))
            }
        },
    };
    if let Set::To(x) = &patch.external_id {
        let holder = by_refs(tx, project, &[ParentRef::ExternalId(x.clone())]).await?;
        if holder.iter().any(|h| h.id != asset.id) {
            return Err(AssetError::Duplicated(vec![Identifier::ExternalId(
                x.clone(),
            )]));
        }
    }
    let old_prefix = asset.subtree_prefix();
    let old_depth = asset.depth;
    let moved = apply_patch(&mut asset, patch, parent.as_ref(), now)?;
    if moved {
        // The deepest asset of the moved subtree must stay within the depth limit.
        let mut w = Where::new(Dialect::Postgres, project);
        let below = w.below(&old_prefix);
        w.parts.push(below);
        let sql = format!("SELECT MAX(depth) FROM assets WHERE {}", w.clause());
        let p = pg_args(w.args);
        let deepest: Option<i32> = tx
            .query_one(&sql, &refs_of(&p))
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)?;
        let deepest = deepest.map_or(old_depth, i64::from);
        if deepest + asset.depth - old_depth > MAX_DEPTH {
            return Err(AssetError::Invalid(format!(
                "An asset hierarchy may be at most {MAX_DEPTH} levels deep"
            )));
        }
    }
    rewrite(tx, project, &asset).await?;
    if moved {
        let mut w = Where::new(Dialect::Postgres, project);
        let new_prefix = w.bind(Arg::Text(asset.subtree_prefix()));
        let from = w.bind(Arg::Int(old_prefix.len() as i64 + 1));
        let delta = w.bind(Arg::Int(asset.depth - old_depth));
        let below = w.below(&old_prefix);
        w.parts.push(below);
        let p = pg_args(w.args.clone());
        tx.execute(
            &format!(
                "UPDATE assets SET path = {new_prefix} || substr(path, ({from})::int), \
                 depth = depth + ({delta})::int WHERE {}",
                w.clause()
            ),
            &refs_of(&p),
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(asset)
}

#[async_trait]
impl AssetStore for PgStore {
    async fn create_assets(
        &self,
        project: &str,
        assets: Vec<NewAsset>,
    ) -> Result<Vec<Asset>, AssetError> {
        let now = crate::clock::now_ms();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(LOCK_PROJECT, &[&project])
            .await
            .map_err(pg_err)?;
        let existing = by_refs(&tx, project, &create_lookups(&assets)).await?;
        let n = assets.len() as i64;
        let ids: Vec<i64> = tx
            .query(
                "SELECT nextval('assets_id_seq') FROM generate_series(1, $1::bigint)",
                &[&n],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(pg_err)?;
        let planned = plan_create(assets, &existing, &ids, now)?;
        for a in &planned {
            insert(&tx, project, a).await?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(planned)
    }

    async fn assets_by_refs(
        &self,
        project: &str,
        refs: &[ParentRef],
    ) -> Result<Vec<Asset>, AssetError> {
        let client = self.client().await?;
        Ok(by_refs(&client, project, refs).await?)
    }

    async fn list_assets(
        &self,
        project: &str,
        filter: &AssetFilter,
        page: AssetPage,
    ) -> Result<Vec<Asset>, AssetError> {
        let mut w = Where::new(Dialect::Postgres, project);
        w.filter(project, filter);
        let tail = w.page(page);
        let sql = format!("SELECT {COLUMNS} FROM assets WHERE {} {tail}", w.clause());
        let client = self.client().await?;
        Ok(query(&client, &sql, w.args).await?)
    }

    async fn count_assets(&self, project: &str, filter: &AssetFilter) -> Result<u64, AssetError> {
        let mut w = Where::new(Dialect::Postgres, project);
        w.filter(project, filter);
        let sql = format!("SELECT COUNT(*) FROM assets WHERE {}", w.clause());
        let client = self.client().await?;
        let p = pg_args(w.args);
        let n: i64 = client
            .query_one(&sql, &refs_of(&p))
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)?;
        Ok(n.max(0) as u64)
    }

    async fn child_counts(
        &self,
        project: &str,
        ids: &[i64],
    ) -> Result<HashMap<i64, u64>, AssetError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT parent_id, COUNT(*) FROM assets WHERE project = $1 AND parent_id = ANY($2) \
                 GROUP BY parent_id",
                &[&project, &ids],
            )
            .await
            .map_err(pg_err)?;
        let mut out: HashMap<i64, u64> = ids.iter().map(|id| (*id, 0)).collect();
        for r in rows {
            let id: i64 = r.try_get(0).map_err(pg_err)?;
            let n: i64 = r.try_get(1).map_err(pg_err)?;
            out.insert(id, n.max(0) as u64);
        }
        Ok(out)
    }

    async fn subtree_ids(
        &self,
        project: &str,
        roots: &[Asset],
        by_root: bool,
        cap: usize,
    ) -> Result<Vec<i64>, AssetError> {
        let client = self.client().await?;
        let mut out: Vec<i64> = Vec::new();
        for r in roots {
            let mut w = Where::new(Dialect::Postgres, project);
            let p = w.bind(Arg::Int(r.id));
            let cond = if by_root {
                format!("root_id = {p}")
            } else {
                let below = w.below(&r.subtree_prefix());
                format!("(id = {p} OR {below})")
            };
            w.parts.push(cond);
            let l = w.bind(Arg::Int(cap as i64 + 1));
            let sql = format!("SELECT id FROM assets WHERE {} LIMIT {l}", w.clause());
            let p = pg_args(w.args);
            for row in client.query(&sql, &refs_of(&p)).await.map_err(pg_err)? {
                out.push(row.try_get(0).map_err(pg_err)?);
            }
            out.sort_unstable();
            out.dedup();
            if out.len() > cap {
                return Err(AssetError::Invalid(format!(
                    "The asset subtrees of the filter hold more than {cap} assets"
                )));
            }
        }
        Ok(out)
    }

    async fn update_assets(
        &self,
        project: &str,
        patches: Vec<AssetPatch>,
    ) -> Result<Vec<Asset>, AssetError> {
        let now = crate::clock::now_ms();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(LOCK_PROJECT, &[&project])
            .await
            .map_err(pg_err)?;
        let mut out = Vec::with_capacity(patches.len());
        for patch in &patches {
            out.push(update_one(&tx, project, patch, now).await?);
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(out)
    }

    async fn delete_assets(
        &self,
        project: &str,
        refs: &[ParentRef],
        recursive: bool,
        ignore_unknown: bool,
    ) -> Result<(), AssetError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(LOCK_PROJECT, &[&project])
            .await
            .map_err(pg_err)?;
        let found = by_refs(&tx, project, refs).await?;
        let missing = unknown_refs(refs, &found);
        if !missing.is_empty() && !ignore_unknown {
            return Err(AssetError::Missing(missing));
        }
        let ids: Vec<i64> = found.iter().map(|a| a.id).collect();
        if !recursive {
            let left = tx
                .query(
                    "SELECT parent_id FROM assets WHERE project = $1 AND parent_id = ANY($2) \
                     AND NOT (id = ANY($2)) LIMIT 1",
                    &[&project, &ids],
                )
                .await
                .map_err(pg_err)?;
            if let Some(row) = left.first() {
                let parent: i64 = row.try_get(0).map_err(pg_err)?;
                return Err(AssetError::Invalid(format!(
                    "Asset {parent} has children; delete them first or set recursive"
                )));
            }
        }
        for a in &found {
            let mut w = Where::new(Dialect::Postgres, project);
            let p = w.bind(Arg::Int(a.id));
            let below = w.below(&a.subtree_prefix());
            w.parts.push(format!("(id = {p} OR {below})"));
            let sql = format!("DELETE FROM assets WHERE {}", w.clause());
            let p = pg_args(w.args);
            tx.execute(&sql, &refs_of(&p)).await.map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(())
    }
}
