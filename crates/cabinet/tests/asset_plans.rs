//! The plans PostgreSQL picks for a page of `/assets/list` filtered by `assetSubtreeIds`, on ten
//! hierarchies of 1,111 assets (ids given level by level across all roots, as cabinet-bench's forest):
//! a root's subtree walks `assets_by_root` in id order and reads only its own rows; a subtree below a
//! root reads no other hierarchy. The answers themselves are checked against `AssetFilter::matches` by
//! tests/asset_properties.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cabinet::store::assets::{AssetFilter, AssetPage, Dialect, Where};
use cabinet::store::postgres::{PgOptions, PgStore};
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;

const ROOTS: i64 = 10;

/// `(id, parent, root, path)` of ten hierarchies with fan-outs 10, 10, 10 (1,111 assets each).
fn forest() -> Vec<(i64, Option<i64>, i64, String)> {
    let mut out: Vec<(i64, Option<i64>, i64, String)> = Vec::new();
    let mut level: Vec<usize> = Vec::new();
    for r in 0..ROOTS {
        out.push((r + 1, None, r + 1, "/".into()));
        level.push(out.len() - 1);
    }
    for _ in 0..3 {
        let mut next = Vec::new();
        for &p in &level {
            for _ in 0..10 {
                let (pid, _, root, path) = out[p].clone();
                let id = out.len() as i64 + 1;
                out.push((id, Some(pid), root, format!("{path}{pid}/")));
                next.push(out.len() - 1);
            }
        }
        level = next;
    }
    out
}

async fn plan(
    client: &tokio_postgres::Client,
    project: &str,
    top: (i64, &str),
    after: i64,
) -> String {
    let filter = AssetFilter {
        subtrees: Some(vec![(top.0, top.1.to_string())]),
        ..AssetFilter::default()
    };
    let mut w = Where::new(Dialect::Postgres, project);
    w.filter(project, &filter);
    let tail = w.page(AssetPage {
        after: Some(after),
        limit: 1001,
        partition: None,
    });
    let sql = format!(
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM assets WHERE {} {tail}",
        w.clause()
    );
    let args: Vec<Box<dyn ToSql + Sync + Send>> = w
        .args
        .into_iter()
        .map(|a| -> Box<dyn ToSql + Sync + Send> {
            match a {
                cabinet::store::assets::Arg::Int(i) => Box::new(i),
                cabinet::store::assets::Arg::Text(t) => Box::new(t),
            }
        })
        .collect();
    let refs: Vec<&(dyn ToSql + Sync)> = args
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = client.query(&sql, &refs).await.unwrap();
    rows.iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rows a plan read and threw away.
fn removed(plan: &str) -> u64 {
    plan.lines()
        .filter_map(|l| l.trim().strip_prefix("Rows Removed by Filter: "))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn a_subtree_page_reads_only_its_hierarchy() {
    tokio::time::timeout(std::time::Duration::from_secs(120), async {
        let url = common::postgres::fresh_database().await;
        drop(PgStore::connect(&url, PgOptions::default()).await.unwrap());
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        let driver = tokio::spawn(connection);
        let project = "plans";
        let all = forest();
        let ids: Vec<i64> = all.iter().map(|a| a.0).collect();
        let parents: Vec<Option<i64>> = all.iter().map(|a| a.1).collect();
        let roots: Vec<i64> = all.iter().map(|a| a.2).collect();
        let paths: Vec<String> = all.iter().map(|a| a.3.clone()).collect();
        client
            .execute(
                "INSERT INTO assets (id, project, external_id, name, parent_id, root_id, depth, path, \
                 metadata, labels, created_time, last_updated_time) \
                 SELECT i, $1, NULL, 'a', p, r, length(pa) - length(replace(pa, '/', '')) - 1, pa, \
                 '{}', '[]', 1, 1 FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[]) \
                 AS t (i, p, r, pa)",
                &[&project, &ids, &parents, &roots, &paths],
            )
            .await
            .unwrap();
        client.batch_execute("VACUUM ANALYZE assets").await.unwrap();
        // The last root: its rows come last on every level, after nine other hierarchies'.
        let root = plan(&client, project, (ROOTS, &format!("/{ROOTS}/")), -1).await;
        assert!(root.contains("assets_by_root"), "{root}");
        assert_eq!(removed(&root), 0, "{root}");
        assert!(!root.contains("Sort"), "{root}");
        let later = plan(&client, project, (ROOTS, &format!("/{ROOTS}/")), 5000).await;
        assert!(later.contains("assets_by_root"), "{later}");
        assert_eq!(removed(&later), 0, "{later}");
        // A child of the last root (its children are ids 101..=110).
        let child = plan(&client, project, (110, &format!("/{ROOTS}/110/")), -1).await;
        assert!(removed(&child) < 1111, "{child}");
        assert!(!child.contains("Seq Scan"), "{child}");
        drop(client);
        driver.abort();
    })
    .await
    .expect("bounded");
}
