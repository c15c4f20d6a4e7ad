//! Property tests of the asset stores, on SQLite and on a real PostgreSQL server: random hierarchies (created
//! in one call, children before parents), random moves within a root, then every subtree, root and parent
//! condition must select exactly what a brute force over the parent links selects, in list (page by page),
//! count and `subtree_ids`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use cabinet::domain::Identifier;
use cabinet::store::assets::{
    Asset, AssetFields, AssetFilter, AssetPage, AssetPatch, AssetStore, NewAsset, ParentRef, Set,
};
use cabinet::store::postgres::{PgOptions, PgStore};
use cabinet::store::sqlite::SqliteStore;
use proptest::prelude::*;

/// A shape: per asset, the index of an earlier asset as parent (or none: a root), and moves (asset,
/// new parent) tried afterwards.
#[derive(Debug, Clone)]
struct Case {
    parents: Vec<Option<usize>>,
    moves: Vec<(usize, usize)>,
    tops: Vec<usize>,
    page: usize,
}

fn gen_case() -> impl Strategy<Value = Case> {
    (1usize..30).prop_flat_map(|n| {
        let parents = (0..n)
            .map(|i| {
                if i == 0 {
                    Just(None).boxed()
                } else {
                    prop_oneof![1 => Just(None), 4 => (0..i).prop_map(Some)].boxed()
                }
            })
            .collect::<Vec<_>>();
        (
            parents,
            proptest::collection::vec((0..n, 0..n), 0..6),
            proptest::collection::vec(0..n, 1..4),
            1usize..9,
        )
            .prop_map(|(parents, moves, tops, page)| Case {
                parents,
                moves,
                tops,
                page,
            })
    })
}

fn root_of(parents: &[Option<usize>], mut i: usize) -> usize {
    while let Some(p) = parents[i] {
        i = p;
    }
    i
}

fn subtree(parents: &[Option<usize>], top: usize) -> BTreeSet<usize> {
    (0..parents.len())
        .filter(|i| {
            let mut at = Some(*i);
            while let Some(a) = at {
                if a == top {
                    return true;
                }
                at = parents[a];
            }
            false
        })
        .collect()
}

async fn list_all(store: &dyn AssetStore, project: &str, f: &AssetFilter, page: usize) -> Vec<i64> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let got = store
            .list_assets(
                project,
                f,
                AssetPage {
                    after,
                    limit: page,
                    partition: None,
                },
            )
            .await
            .unwrap();
        out.extend(got.iter().map(|a| a.id));
        if got.len() < page {
            return out;
        }
        after = got.last().map(|a| a.id);
    }
}

async fn check(store: &dyn AssetStore, project: &str, case: Case) {
    let mut parents = case.parents.clone();
    let n = parents.len();
    // Children first.
    let items: Vec<NewAsset> = (0..n)
        .rev()
        .map(|i| NewAsset {
            fields: AssetFields {
                external_id: Some(format!("x{i}")),
                name: format!("n{i}"),
                ..Default::default()
            },
            parent: parents[i].map(|p| ParentRef::ExternalId(format!("x{p}"))),
        })
        .collect();
    let created = store.create_assets(project, items).await.unwrap();
    let id_of: HashMap<usize, i64> = created
        .iter()
        .map(|a| {
            let i: usize = a.fields.external_id.as_ref().unwrap()[1..].parse().unwrap();
            (i, a.id)
        })
        .collect();
    let index_of: HashMap<i64, usize> = id_of.iter().map(|(i, id)| (*id, *i)).collect();

    for (a, p) in case.moves {
        let allowed = parents[a].is_some()
            && root_of(&parents, a) == root_of(&parents, p)
            && !subtree(&parents, a).contains(&p);
        let patch = AssetPatch {
            target: Identifier::Id(id_of[&a]),
            external_id: Set::Keep,
            name: None,
            description: Set::Keep,
            data_set_id: Set::Keep,
            source: Set::Keep,
            metadata_set: None,
            metadata_add: Default::default(),
            metadata_remove: vec![],
            labels_add: vec![],
            labels_remove: vec![],
            parent: Some(ParentRef::Id(id_of[&p])),
        };
        let result = store.update_assets(project, vec![patch]).await;
        let unchanged = parents[a] == Some(p);
        assert_eq!(
            result.is_ok(),
            allowed || unchanged,
            "move a{a} under a{p}: {result:?}"
        );
        if allowed {
            parents[a] = Some(p);
        }
    }

    let all: Vec<Asset> = store
        .list_assets(
            project,
            &AssetFilter::default(),
            AssetPage {
                after: None,
                limit: 1000,
                partition: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), n);
    for a in &all {
        let i = index_of[&a.id];
        assert_eq!(a.parent_id, parents[i].map(|p| id_of[&p]), "parent of a{i}");
        assert_eq!(a.root_id, id_of[&root_of(&parents, i)], "root of a{i}");
    }
    let by_id: HashMap<i64, Asset> = all.iter().map(|a| (a.id, a.clone())).collect();

    let ids = |set: BTreeSet<usize>| -> Vec<i64> {
        let mut v: Vec<i64> = set.iter().map(|i| id_of[i]).collect();
        v.sort_unstable();
        v
    };
    for top in case.tops {
        let want = ids(subtree(&parents, top));
        let t = &by_id[&id_of[&top]];
        let f = AssetFilter {
            subtrees: Some(vec![(t.id, t.subtree_prefix())]),
            ..Default::default()
        };
        assert_eq!(
            list_all(store, project, &f, case.page).await,
            want,
            "subtree of a{top}"
        );
        assert_eq!(
            store.count_assets(project, &f).await.unwrap(),
            want.len() as u64
        );
        let mut got = store
            .subtree_ids(project, std::slice::from_ref(t), false, 100_000)
            .await
            .unwrap();
        got.sort_unstable();
        assert_eq!(got, want);

        let root = root_of(&parents, top);
        let want_root = ids((0..n).filter(|i| root_of(&parents, *i) == root).collect());
        let f = AssetFilter {
            root_ids: Some(vec![id_of[&root]]),
            ..Default::default()
        };
        assert_eq!(list_all(store, project, &f, case.page).await, want_root);
        let f = AssetFilter {
            parent_external_ids: Some(vec![format!("x{top}")]),
            ..Default::default()
        };
        let want_children = ids((0..n).filter(|i| parents[*i] == Some(top)).collect());
        assert_eq!(list_all(store, project, &f, case.page).await, want_children);
        // The reference evaluator agrees too.
        let xids: HashMap<String, i64> =
            id_of.iter().map(|(i, id)| (format!("x{i}"), *id)).collect();
        let by_ref: Vec<i64> = all
            .iter()
            .filter(|a| f.matches(a, &xids))
            .map(|a| a.id)
            .collect();
        assert_eq!(by_ref, want_children);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

static PROJECTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn next_project() -> String {
    format!(
        "p{}",
        PROJECTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_subtrees_roots_and_children_equal_brute_force(case in gen_case()) {
        let rt = runtime();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(&dir.path().join("m.sqlite3"), 1).unwrap();
            check(&store, &next_project(), case).await;
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn postgres_subtrees_roots_and_children_equal_brute_force(case in gen_case()) {
        let rt = runtime();
        rt.block_on(async {
            let store = postgres_store().await;
            tokio::time::timeout(std::time::Duration::from_secs(60), check(&*store, &next_project(), case))
                .await
                .expect("bounded");
        });
    }
}

/// One database for every case of the run (each case has its own project).
async fn postgres_store() -> Arc<PgStore> {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let url = match URL.get() {
        Some(u) => u.clone(),
        None => {
            let u = common::postgres::fresh_database().await;
            URL.get_or_init(|| u).clone()
        }
    };
    Arc::new(PgStore::connect(&url, PgOptions::default()).await.unwrap())
}
