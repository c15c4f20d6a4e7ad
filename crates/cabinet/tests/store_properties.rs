//! Property tests of the SQLite store's queries: for random files and random filters, list (walked page by
//! page with random page sizes, and by partitions) and count must return exactly the files that the
//! reference evaluator `FileFilter::matches` accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use cabinet::domain::{ContentRef, FileFilter, FileRecord, FileSpec, GeoLocation, ProjectName};
use cabinet::store::sqlite::{SqliteStore, SqliteTuning};
use cabinet::store::{MetadataStore, NewSession, PageRequest, Partition};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone)]
struct GenFile {
    spec: FileSpec,
    created: i64,
    uploaded_at: Option<i64>,
}

fn opt<T: Clone + std::fmt::Debug + 'static>(values: Vec<T>) -> impl Strategy<Value = Option<T>> {
    prop_oneof![Just(None), proptest::sample::select(values).prop_map(Some)]
}

fn subset(values: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(values.to_vec(), 0..=values.len())
        .prop_map(|v| v.into_iter().map(String::from).collect())
}

fn gen_file(index: usize) -> impl Strategy<Value = GenFile> {
    let strings = (
        proptest::sample::select(vec!["a", "b", "pump", "pump.pdf", "x y"]),
        opt(vec!["/a", "/a/b", "/ab", "/b", "/"]),
        opt(vec!["text/plain", "application/pdf"]),
        opt(vec!["s1", "s2"]),
        opt(vec!["ab", "abc", "b", "c"]),
    );
    let lists = (
        proptest::collection::btree_map(
            proptest::sample::select(vec!["k1", "k2"]),
            proptest::sample::select(vec!["v1", "v2"]),
            0..=2,
        ),
        proptest::sample::subsequence(vec![1i64, 2, 3], 0..=3),
        subset(&["L1", "L2", "L3"]),
        opt(vec![1i64, 2]),
        opt(vec![(0.0, 0.0), (1.0, 1.0), (2.5, 2.5), (5.0, 1.0)]),
        proptest::sample::subsequence(vec![1i64, 2, 3], 0..=2),
    );
    let times = (
        0i64..10,
        opt((0i64..10).collect()),
        opt((0i64..10).collect()),
        opt((0i64..10).collect()),
    );
    (strings, lists, times).prop_map(move |(s, l, t)| {
        let (name, directory, mime, source, xid) = s;
        let (metadata, assets, labels, data_set, point, categories) = l;
        let (created, source_created, source_modified, uploaded_at) = t;
        GenFile {
            spec: FileSpec {
                name: name.to_string(),
                external_id: xid.map(|p| format!("{p}{index}")),
                directory: directory.map(String::from),
                source: source.map(String::from),
                mime_type: mime.map(String::from),
                metadata: Some(metadata.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                asset_ids: if assets.is_empty() { None } else { Some(assets) },
                data_set_id: data_set,
                source_created_time: source_created,
                source_modified_time: source_modified,
                security_categories: if categories.is_empty() { None } else { Some(categories) },
                labels: Some(labels),
                geo_location: point.map(|(x, y)| GeoLocation::parse(&json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}})).expect("a point")),
            },
            created,
            uploaded_at,
        }
    })
}

fn gen_range() -> impl Strategy<Value = Value> {
    (opt((0i64..10).collect()), opt((0i64..10).collect())).prop_map(|(min, max)| {
        let mut o = Map::new();
        if let Some(m) = min {
            o.insert("min".into(), json!(m));
        }
        if let Some(m) = max {
            o.insert("max".into(), json!(m));
        }
        Value::Object(o)
    })
}

fn gen_full_filter() -> impl Strategy<Value = Value> {
    let a = (
        opt(vec!["a", "pump", "pump.pdf", "zzz"]),
        opt(vec!["/a", "/ab", "/", "/c", ""]),
        opt(vec!["text/plain", "application/pdf"]),
        opt(vec!["s1", "s2"]),
        opt(vec!["a", "ab", "abc", "b", "x", ""]),
        opt(vec![true, false]),
    );
    let b = (
        proptest::collection::btree_map(
            proptest::sample::select(vec!["k1", "k2"]),
            proptest::sample::select(vec!["v1", "v2"]),
            0..=2,
        ),
        opt(vec![vec![1i64], vec![2, 3], vec![3]]),
        opt(vec![vec![1i64], vec![2], vec![1, 2]]),
        opt(vec![vec!["L1"], vec!["L2", "L3"]]),
        opt(vec![vec!["L1"], vec!["L1", "L2"]]),
        opt(vec!["INTERSECTS", "within", "Disjoint"]),
    );
    let c = (
        opt(vec![0u8]).prop_flat_map(|_| Just(())),
        gen_range(),
        gen_range(),
        gen_range(),
        proptest::collection::vec(any::<bool>(), 4),
    );
    (a, b, c).prop_map(|(a, b, c)| {
        let mut f = Map::new();
        let (name, dir, mime, source, xid, uploaded) = a;
        let (metadata, assets, data_sets, any, all, relation) = b;
        let (_, created, source_created, uploaded_time, use_ranges) = c;
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                f.insert(k.to_string(), v);
            }
        };
        put("name", name.map(|v| json!(v)));
        put("directoryPrefix", dir.map(|v| json!(v)));
        put("mimeType", mime.map(|v| json!(v)));
        put("source", source.map(|v| json!(v)));
        put("externalIdPrefix", xid.map(|v| json!(v)));
        put("uploaded", uploaded.map(|v| json!(v)));
        if !metadata.is_empty() {
            put("metadata", Some(json!(metadata)));
        }
        put("assetIds", assets.map(|v| json!(v)));
        put("dataSetIds", data_sets.map(|v| json!(v.iter().map(|id| json!({"id": id})).collect::<Vec<_>>())));
        let mut labels = Map::new();
        if let Some(any) = any {
            labels.insert("containsAny".into(), json!(any.iter().map(|l| json!({"externalId": l})).collect::<Vec<_>>()));
        }
        if let Some(all) = all {
            labels.insert("containsAll".into(), json!(all.iter().map(|l| json!({"externalId": l})).collect::<Vec<_>>()));
        }
        if !labels.is_empty() {
            put("labels", Some(Value::Object(labels)));
        }
        put(
            "geoLocation",
            relation.map(|r| json!({"relation": r, "shape": {"type": "Polygon", "coordinates": [[[-0.5, -0.5], [3.0, -0.5], [3.0, 3.0], [-0.5, 3.0], [-0.5, -0.5]]]}})),
        );
        if use_ranges[0] {
            put("createdTime", Some(created));
        }
        if use_ranges[1] {
            put("sourceCreatedTime", Some(source_created));
        }
        if use_ranges[2] {
            put("uploadedTime", Some(uploaded_time));
        }
        if use_ranges[3] {
            put("lastUpdatedTime", Some(json!({"min": 3})));
        }
        Value::Object(f)
    })
}

/// A filter of one to three conditions: with more, almost every filter would match nothing.
fn gen_filter() -> impl Strategy<Value = Value> {
    (
        gen_full_filter(),
        proptest::collection::vec(any::<proptest::sample::Index>(), 1..=3),
    )
        .prop_map(|(full, picks)| {
            let full = full.as_object().cloned().unwrap_or_default();
            if full.is_empty() {
                return Value::Object(full);
            }
            let keys: Vec<&String> = full.keys().collect();
            let kept: Map<String, Value> = picks
                .iter()
                .map(|i| keys[i.index(keys.len())])
                .map(|k| (k.clone(), full[k].clone()))
                .collect();
            Value::Object(kept)
        })
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    project: ProjectName,
    all: Vec<FileRecord>,
}

/// `probe_limit` decides the list plan: 1 makes every filtered page walk files in id order, `i64::MAX` makes
/// every one drive from the filter's index; both must give the same answers.
async fn load(files: Vec<GenFile>, probe_limit: i64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let tuning = SqliteTuning {
        list_probe_limit: probe_limit,
        list_set_probe_limit: probe_limit,
    };
    let store = SqliteStore::open_tuned(&dir.path().join("m.sqlite3"), 7, tuning).unwrap();
    let project = ProjectName::parse("prop").unwrap();
    // Another project's files must never show up.
    let other = ProjectName::parse("other").unwrap();
    let session = |id: &str| NewSession {
        id: id.to_string(),
        parts: None,
        expires_time: i64::MAX,
    };
    store
        .create_file(
            &other,
            FileSpec {
                name: "a".into(),
                ..Default::default()
            },
            false,
            session("o"),
            1,
        )
        .await
        .unwrap();
    let mut created_order = Vec::new();
    for (i, f) in files.into_iter().enumerate() {
        let s = format!("s{i}");
        let created = store
            .create_file(&project, f.spec, false, session(&s), f.created)
            .await
            .unwrap();
        created_order.push(created.id);
        if let Some(at) = f.uploaded_at {
            let content = ContentRef {
                key: format!("k{i}"),
                size: 1,
            };
            store
                .publish_content(&project, created.id, &s, content, at)
                .await
                .unwrap();
        }
    }
    let all = store
        .list(
            &project,
            PageRequest {
                filter: FileFilter::default(),
                limit: 1000,
                after: None,
                partition: None,
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(
        all.iter().map(|f| f.id).collect::<Vec<_>>(),
        created_order,
        "listing order is creation order"
    );
    assert_eq!(
        store.count(&project, &FileFilter::default()).await.unwrap() as usize,
        all.len()
    );
    Fixture {
        _dir: dir,
        store,
        project,
        all,
    }
}

/// No restriction, or the security categories a caller is a member of (possibly none).
fn gen_membership() -> impl Strategy<Value = Option<BTreeSet<i64>>> {
    prop_oneof![
        Just(None),
        proptest::sample::subsequence(vec![1i64, 2, 3], 0..=3)
            .prop_map(|v| Some(v.into_iter().collect())),
    ]
}

/// The filter of `raw`, narrowed to `member_of` as the API narrows it for a caller.
fn filter_for(raw: &Value, member_of: &Option<BTreeSet<i64>>) -> FileFilter {
    let mut filter = FileFilter::from_json(raw.as_object().unwrap()).unwrap();
    if let Some(ids) = member_of {
        filter.restrict_categories(ids);
    }
    filter
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn walk(
    fx: &Fixture,
    filter: &FileFilter,
    page_size: usize,
    partition: Option<Partition>,
) -> Vec<i64> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = fx
            .store
            .list(
                &fx.project,
                PageRequest {
                    filter: filter.clone(),
                    limit: page_size,
                    after,
                    partition,
                },
            )
            .await
            .unwrap();
        out.extend(page.items.iter().map(|f| f.id));
        match page.next {
            None => return out,
            next => after = next,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn list_and_count_agree_with_the_reference_evaluator(
        files in (0usize..40).prop_flat_map(|n| (0..n).map(gen_file).collect::<Vec<_>>()),
        filters in proptest::collection::vec(gen_filter(), 1..6),
        page_size in 1usize..8,
        probe_limit in prop_oneof![Just(1i64), Just(i64::MAX), 1i64..20],
        member_of in gen_membership(),
    ) {
        runtime().block_on(async {
            let fx = load(files, probe_limit).await;
            for raw in filters {
                let filter = filter_for(&raw, &member_of);
                let expected: Vec<i64> = fx.all.iter().filter(|f| filter.matches(f)).map(|f| f.id).collect();
                let walked = walk(&fx, &filter, page_size, None).await;
                prop_assert_eq!(&walked, &expected, "filter {} within {:?}", raw, member_of);
                let count = fx.store.count(&fx.project, &filter).await.unwrap();
                prop_assert_eq!(count as usize, expected.len(), "count of {} within {:?}", raw, member_of);
            }
            Ok(())
        })?;
    }

    #[test]
    fn partitions_are_disjoint_and_cover_the_filtered_set(
        files in (0usize..40).prop_flat_map(|n| (0..n).map(gen_file).collect::<Vec<_>>()),
        raw in gen_filter(),
        partitions in 1u32..=10,
        page_size in 1usize..5,
        probe_limit in prop_oneof![Just(1i64), Just(i64::MAX)],
        member_of in gen_membership(),
    ) {
        runtime().block_on(async {
            let fx = load(files, probe_limit).await;
            let filter = filter_for(&raw, &member_of);
            let expected: BTreeSet<i64> = fx.all.iter().filter(|f| filter.matches(f)).map(|f| f.id).collect();
            let mut union = Vec::new();
            for index in 0..partitions {
                let partition = Partition { index, count: partitions };
                union.extend(walk(&fx, &filter, page_size, Some(partition)).await);
            }
            prop_assert_eq!(union.len(), expected.len(), "no file in two partitions");
            prop_assert_eq!(union.into_iter().collect::<BTreeSet<_>>(), expected);
            Ok(())
        })?;
    }
}

/// With a spent budget for exact geometry tests, a list page ends after the first file it tests, with a
/// cursor; walking the cursors still gives exactly the matching files. Search returns what it found, and a
/// count that cannot finish is refused.
#[test]
fn an_exhausted_geometry_budget_cuts_pages_short_but_stays_exact() {
    runtime().block_on(async {
        let files: Vec<GenFile> = (0..30)
            .map(|i| {
                let (x, y) = ((i % 6) as f64, (i / 6) as f64);
                GenFile {
                    spec: FileSpec {
                        name: format!("f{i}"),
                        geo_location: Some(
                            GeoLocation::parse(&json!({"type": "Feature",
                                "geometry": {"type": "Point", "coordinates": [x, y]}}))
                            .unwrap(),
                        ),
                        ..Default::default()
                    },
                    created: i,
                    uploaded_at: None,
                }
            })
            .collect();
        let fx = load(files, 1).await;
        let triangle = json!({"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [0, 10], [0, 0]]]});
        let mut filter = FileFilter::from_json(
            json!({"geoLocation": {"relation": "within", "shape": triangle}})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        let expected: Vec<i64> = fx
            .all
            .iter()
            .filter(|f| filter.matches(f))
            .map(|f| f.id)
            .collect();
        assert!(expected.len() > 5 && expected.len() < fx.all.len());
        assert_eq!(walk(&fx, &filter, 10, None).await, expected);
        assert_eq!(
            fx.store.count(&fx.project, &filter).await.unwrap() as usize,
            expected.len()
        );

        filter.geo_location.as_mut().unwrap().budget = std::time::Duration::from_nanos(1);
        let first = fx
            .store
            .list(
                &fx.project,
                PageRequest {
                    filter: filter.clone(),
                    limit: 10,
                    after: None,
                    partition: None,
                },
            )
            .await
            .unwrap();
        assert!(first.items.len() <= 1, "{} files", first.items.len());
        assert!(first.next.is_some());
        assert_eq!(walk(&fx, &filter, 10, None).await, expected);
        let found = fx
            .store
            .search(&fx.project, &filter, Some("f"), 100)
            .await
            .unwrap();
        assert!(found.len() <= 1, "{} files", found.len());
        let refused = fx.store.count(&fx.project, &filter).await.unwrap_err();
        assert!(
            matches!(&refused, cabinet::store::StoreError::Invalid(e) if e.field == "filter.geoLocation"),
            "{refused:?}"
        );
    });
}
