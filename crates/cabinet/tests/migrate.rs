//! `cabinet migrate`, end to end with the real binary: a data directory filled through the real server's
//! HTTP API, moved into a throwaway PostgreSQL (common/postgres.rs) and SeaweedFS (common/s3.rs),
//! interrupted once and resumed, then compared file by file, byte by byte, and group by group.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/s3.rs"]
mod s3_server;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use cabinet::auth::FileScope;
use cabinet::blob::local::LocalBlobs;
use cabinet::blob::s3::S3Blobs;
use cabinet::blob::BlobStore;
use cabinet::domain::{FileSpec, Identifier, ProjectName};
use cabinet::store::datasets::DataSetStore;
use cabinet::store::iam::{CategoryPage, IamStore};
use cabinet::store::labels::LabelStore;
use cabinet::store::postgres::{PgOptions, PgStore};
use cabinet::store::sqlite::export::SqliteExport;
use cabinet::store::NewSession;
use common::postgres::fresh_database;
use common::server::Server;
use s3_server::SeaweedFs;

const MAIN: &str = "proc-test";
const SECOND: &str = "second";
/// Files with content in the main project; more than the pause point, so the first run stops half way.
const SMALL_FILES: usize = 48;
const PAUSE_AFTER: usize = 12;

/// POSTs `body` to `path` of `project`; asserts success.
async fn post(server: &Server, project: &str, path: &str, body: Value) -> Value {
    let resp = server
        .client
        .post(format!("{}/api/v1/projects/{project}{path}", server.base))
        .bearer_auth("migrate-test-token")
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "POST {project}{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn create_with_content(server: &Server, project: &str, spec: Value, content: Vec<u8>) -> i64 {
    let created = post(server, project, "/files", spec).await;
    let url = created["uploadUrl"].as_str().unwrap();
    assert_eq!(server.put(url, content).await, StatusCode::OK);
    created["id"].as_i64().unwrap()
}

fn content_of(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
}

/// Fills the data directory through the API: several projects, files with and without content, a
/// multipart upload, every field, an update, deletes, security categories (one deleted) and groups (one
/// deleted).
async fn fill(server: &Server) {
    let cats = post(
        server,
        MAIN,
        "/securitycategories",
        json!({"items": [{"name": "secret"}, {"name": "gone"}, {"name": "open"}]}),
    )
    .await;
    let cat = |i: usize| cats["items"][i]["id"].as_i64().unwrap();
    post(
        server,
        MAIN,
        "/securitycategories/delete",
        json!({"items": [cat(1)]}),
    )
    .await;
    let groups = post(
        server,
        MAIN,
        "/groups",
        json!({"items": [
            {"name": "readers", "sourceId": "idp-readers",
             "capabilities": [{"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}}],
             "metadata": {"team": "ops"}},
            {"name": "short-lived", "sourceId": "idp-x",
             "capabilities": [{"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}}]},
            {"name": "writers", "members": ["alice", "bob"],
             "capabilities": [{"filesAcl": {"actions": ["READ", "WRITE"], "scope": {"all": {}}}}]}
        ]}),
    )
    .await;
    post(
        server,
        MAIN,
        "/groups/delete",
        json!({"items": [groups["items"][1]["id"]]}),
    )
    .await;
    post(
        server,
        SECOND,
        "/securitycategories",
        json!({"items": [{"name": "secret"}]}),
    )
    .await;
    for project in [MAIN, SECOND] {
        post(
            server,
            project,
            "/datasets",
            json!({"items": [
                {"externalId": "plant", "name": "Plant", "metadata": {"k": "v"}, "writeProtected": true},
                {"description": "no externalId"}
            ]}),
        )
        .await;
        post(
            server,
            project,
            "/labels",
            json!({"items": [
                {"externalId": "label-a", "name": "A", "dataSetId": 1},
                {"externalId": "gone", "name": "G"},
                {"externalId": "label-b", "name": "B", "description": "b"}
            ]}),
        )
        .await;
        post(
            server,
            project,
            "/labels/delete",
            json!({"items": [{"externalId": "gone"}]}),
        )
        .await;
    }
    let assets = post(
        server,
        MAIN,
        "/assets",
        json!({"items": [
            {"externalId": "leaf", "name": "leaf", "parentExternalId": "mid", "metadata": {"k": "v"}},
            {"externalId": "mid", "name": "mid", "parentExternalId": "root", "labels": [{"externalId": "L"}]},
            {"externalId": "root", "name": "root", "description": "the plant", "dataSetId": 77},
            {"externalId": "gone", "name": "gone"}
        ]}),
    )
    .await;
    post(
        server,
        MAIN,
        "/assets/delete",
        json!({"items": [{"id": assets["items"][3]["id"]}]}),
    )
    .await;

    for i in 0..SMALL_FILES {
        let mut spec = json!({
            "name": format!("file-{i}.bin"),
            "externalId": format!("x-{i}"),
            "directory": format!("/dir/{}", i % 3),
            "source": "migrate-test",
            "mimeType": "application/octet-stream",
            "metadata": {"i": i.to_string(), "kind": "small"},
            "assetIds": [i as i64 + 1, 1000],
            "dataSetId": 77,
            "sourceCreatedTime": 1_000 + i as i64,
            "sourceModifiedTime": 2_000 + i as i64,
            "labels": [{"externalId": "label-a"}],
        });
        if i % 4 == 0 {
            spec["securityCategories"] = json!([cat(0), cat(2)]);
        }
        if i % 5 == 0 {
            spec["geoLocation"] = json!({"type": "Feature",
                "geometry": {"type": "Point", "coordinates": [10.0 + i as f64, 59.5]}});
        }
        let len = if i == 3 { 0 } else { 100 + i * 37 };
        create_with_content(server, MAIN, spec, content_of(i, len)).await;
    }
    // Without content: created, never uploaded.
    post(
        server,
        MAIN,
        "/files",
        json!({"name": "never.bin", "externalId": "never"}),
    )
    .await;
    // A multipart upload of two parts, completed; and one left open (its file has no content).
    let init = post(
        server,
        MAIN,
        "/files/initmultipartupload?parts=2",
        json!({"name": "big.bin", "externalId": "big"}),
    )
    .await;
    let big = content_of(99, 5 * 1024 * 1024 + 1234);
    let (first, second) = big.split_at(5 * 1024 * 1024);
    for (i, part) in [first, second].into_iter().enumerate() {
        let url = init["uploadUrls"][i].as_str().unwrap();
        assert_eq!(server.put(url, part.to_vec()).await, StatusCode::OK);
    }
    post(
        server,
        MAIN,
        "/files/completemultipartupload",
        json!({"externalId": "big", "uploadId": init["uploadId"]}),
    )
    .await;
    post(
        server,
        MAIN,
        "/files/initmultipartupload?parts=2",
        json!({"name": "open.bin", "externalId": "open-upload"}),
    )
    .await;
    // An update (lastUpdatedTime moves) and deletes (their ids must never come back).
    post(
        server,
        MAIN,
        "/files/update",
        json!({"items": [{"externalId": "x-7", "update": {"metadata": {"set": {"changed": "yes"}}}}]})
    )
    .await;
    post(
        server,
        MAIN,
        "/files/delete",
        json!({"items": [{"externalId": "x-8"}, {"externalId": "x-9"}]}),
    )
    .await;
    // Another project, with an externalId the first one uses too.
    for i in 0..6 {
        create_with_content(
            server,
            SECOND,
            json!({"name": format!("second-{i}"), "externalId": format!("x-{i}")}),
            content_of(200 + i, 64 + i),
        )
        .await;
    }
}

fn migrate_command(data: &Path, db: &str, location: &str, s3: &SeaweedFs) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cabinet"));
    command
        .arg("migrate")
        .arg("--from")
        .arg(data)
        .args(["--metadata", db, "--content", location])
        .args(["--s3-endpoint", &s3.endpoint, "--s3-region", "us-east-1"])
        .args(["--s3-path-style", "--concurrency", "4"])
        .env_remove("CABINET_METADATA")
        .env_remove("CABINET_CONTENT")
        .env_remove(cabinet::migrate::PAUSE_AFTER_ENV)
        .env("AWS_ACCESS_KEY_ID", s3_server::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", s3_server::SECRET_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs a migration to its end: (success, stdout, stderr).
async fn migrate(mut command: Command) -> (bool, String, String) {
    let out = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the migration ends within 120 s")
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn pg_rows(db: &str, sql: &str) -> Vec<tokio_postgres::Row> {
    let (client, connection) = tokio_postgres::connect(db, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let rows = client.query(sql, &[]).await.unwrap();
    drop(client);
    let _ = driver.await;
    rows
}

async fn read_all(mut stream: cabinet::blob::ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_moves_whole_through_an_interruption() {
    let s3 = SeaweedFs::shared();
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path()).await;
    fill(&server).await;
    let data = server.data_dir.clone();
    let db = fresh_database().await;
    let location = s3.location();

    // Refused while a server has the data directory open.
    let (ok, _, err) = migrate(migrate_command(&data, &db, &location, s3)).await;
    assert!(!ok, "migrated under a running server: {err}");
    assert!(err.contains("stop the server"), "{err}");
    // What the embedded server lists, and a cursor it handed out, to compare with a cluster node's.
    let listed =
        |project: &'static str| post(&server, project, "/files/list", json!({"limit": 1000}));
    let (before_main, before_second) = (listed(MAIN).await, listed(SECOND).await);
    let assets_before = post(
        &server,
        MAIN,
        "/assets/list",
        json!({"limit": 1000, "aggregatedProperties": ["path"]}),
    )
    .await;
    let first_page = post(&server, MAIN, "/files/list", json!({"limit": 5})).await;
    let cursor = first_page["nextCursor"].as_str().unwrap().to_string();
    server.stop().await;

    // The first run stops after PAUSE_AFTER files (a hidden test switch) and is killed there.
    let mut first = migrate_command(&data, &db, &location, s3);
    first.env(cabinet::migrate::PAUSE_AFTER_ENV, PAUSE_AFTER.to_string());
    let mut child = first.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let paused = tokio::time::timeout(Duration::from_secs(60), async {
        let mut seen = String::new();
        while let Some(line) = stderr.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("paused after") {
                return seen;
            }
        }
        panic!("the first run ended without pausing:\n{seen}");
    })
    .await
    .expect("the first run pauses within 60 s");
    child.kill().await.unwrap();
    let copied = pg_rows(&db, "SELECT count(*) FROM migration_progress").await[0].get::<_, i64>(0);
    let in_target = pg_rows(&db, "SELECT count(*) FROM files").await[0].get::<_, i64>(0);
    assert!(
        (PAUSE_AFTER as i64..PAUSE_AFTER as i64 + 4).contains(&copied),
        "{copied} files recorded before the kill; stderr:\n{paused}"
    );
    assert_eq!(
        in_target, copied,
        "a row without its record, or the reverse"
    );

    // The second run finishes, skipping what the first did; a third finds nothing to do.
    let (ok, out, err) = migrate(migrate_command(&data, &db, &location, s3)).await;
    assert!(ok, "the resumed migration failed:\n{err}");
    assert!(out.contains(&format!("{copied} already there")), "{out}");
    let (ok, out, err) = migrate(migrate_command(&data, &db, &location, s3)).await;
    assert!(ok, "the third run failed:\n{err}");
    assert!(out.contains(" 0 copied now"), "{out}");

    // A database holding files from elsewhere is refused, untouched.
    let other = fresh_database().await;
    let foreign = PgStore::connect(&other, PgOptions::default())
        .await
        .unwrap();
    foreign
        .create_file_in_scope(
            &ProjectName::parse(MAIN).unwrap(),
            FileSpec {
                name: "elsewhere".into(),
                ..FileSpec::default()
            },
            false,
            NewSession {
                id: uuid::Uuid::new_v4().to_string(),
                parts: None,
                expires_time: i64::MAX,
            },
            1,
            &FileScope::all(),
        )
        .await
        .unwrap();
    let (ok, _, err) = migrate(migrate_command(&data, &other, &s3.location(), s3)).await;
    assert!(!ok);
    assert!(err.contains("migrate into an empty database"), "{err}");
    let count = pg_rows(&other, "SELECT count(*) FROM files").await[0].get::<_, i64>(0);
    assert_eq!(count, 1);

    // A node serving the migrated database and bucket lists exactly what the embedded server listed,
    // in the same order, continues its cursor, and serves the content.
    let node_root = root.path().join("node");
    std::fs::create_dir_all(&node_root).unwrap();
    std::env::set_var("AWS_ACCESS_KEY_ID", s3_server::ACCESS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", s3_server::SECRET_KEY);
    let mut node_args = vec!["--metadata".to_string(), db.clone()];
    node_args.extend(s3.serve_args(&location));
    let node_args: Vec<&str> = node_args.iter().map(String::as_str).collect();
    let node = Server::start_with(&node_root, &node_args, None).await;
    let node_listed =
        |project: &'static str| post(&node, project, "/files/list", json!({"limit": 1000}));
    assert_eq!(node_listed(MAIN).await["items"], before_main["items"]);
    assert_eq!(node_listed(SECOND).await["items"], before_second["items"]);
    // Assets keep their ids, fields and places; a new one gets an id above every migrated one.
    let assets_after = post(
        &node,
        MAIN,
        "/assets/list",
        json!({"limit": 1000, "aggregatedProperties": ["path"]}),
    )
    .await;
    assert_eq!(assets_after["items"], assets_before["items"]);
    assert_eq!(assets_after["items"].as_array().unwrap().len(), 3);
    let new_asset = post(&node, MAIN, "/assets", json!({"items": [{"name": "new"}]})).await;
    let highest = assets_before["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(new_asset["items"][0]["id"].as_i64().unwrap() > highest + 1);
    let rest = post(
        &node,
        MAIN,
        "/files/list",
        json!({"limit": 1000, "cursor": cursor}),
    )
    .await;
    let all = before_main["items"].as_array().unwrap();
    assert_eq!(rest["items"].as_array().unwrap()[..], all[5..]);
    assert_eq!(
        node.download("big").await,
        content_of(99, 5 * 1024 * 1024 + 1234)
    );
    node.stop().await;

    // Every file, field by field, in the same order, and every byte of content.
    let export = SqliteExport::open(&data.join("metadata.sqlite3")).unwrap();
    let files = export.files_after(i64::MIN, 10_000).unwrap();
    assert_eq!(files.len(), SMALL_FILES - 2 + 3 + 6, "the source's files");
    let target = PgStore::connect(&db, PgOptions::default()).await.unwrap();
    let local = LocalBlobs::open(&data).unwrap();
    let mut settings = s3.settings();
    settings.prefix = location
        .strip_prefix(&format!("s3://{}/", s3_server::BUCKET))
        .unwrap()
        .to_string();
    let bucket = S3Blobs::open(&settings, &root.path().join("spool")).unwrap();
    let mut with_content = 0;
    for f in &files {
        let project = ProjectName::parse(&f.project).unwrap();
        let got = target
            .retrieve(&project, &[Identifier::Id(f.file.id)], false)
            .await
            .unwrap();
        assert_eq!(
            got,
            vec![f.file.clone()],
            "file {} of {}",
            f.file.id,
            f.project
        );
        if let Some(content) = &f.file.content {
            with_content += 1;
            let want = read_all(local.get(&content.key, None).await.unwrap()).await;
            let have = read_all(bucket.get(&content.key, None).await.unwrap()).await;
            assert_eq!(have.len() as u64, content.size);
            assert!(have == want, "the content of file {} differs", f.file.id);
        }
    }
    assert_eq!(with_content, SMALL_FILES - 2 + 1 + 6, "uploaded files");
    let order: Vec<(i64, i64)> = pg_rows(&db, "SELECT seq, id FROM files ORDER BY seq")
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let want: Vec<(i64, i64)> = files.iter().map(|f| (f.seq, f.file.id)).collect();
    assert_eq!(order, want, "listing order");

    // The root secret and the URL signing keys now live in the database, for every node.
    let secret_bytes: [u8; 32] = std::fs::read(data.join("secret.key"))
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        target.shared_secret().await.unwrap().as_bytes(),
        &secret_bytes
    );
    let ring = cabinet::signing::store::FileKeyRingStore::new(&data);
    let ring = cabinet::signing::store::KeyRingStore::load(&ring)
        .unwrap()
        .expect("the server made a key ring");
    let stored: Vec<u8> =
        pg_rows(&db, "SELECT ring FROM url_key_ring WHERE id = 1").await[0].get(0);
    assert_eq!(stored, ring.to_json());
    assert!(out.contains("secret: already in the database"), "{out}");

    // Groups and categories, with their ids; ids deleted in the source are not handed out again.
    let sqlite = cabinet::app::open_data_dir_metadata(&data).unwrap();
    assert_eq!(
        target.all_groups().await.unwrap(),
        sqlite.all_groups().await.unwrap()
    );
    let page = CategoryPage {
        descending: false,
        after: None,
        limit: 1000,
    };
    for project in [MAIN, SECOND] {
        assert_eq!(
            target.security_categories(project, page).await.unwrap(),
            sqlite.security_categories(project, page).await.unwrap(),
            "{project}"
        );
    }
    let last_category = export.last_handed_out("iam_security_categories").unwrap();
    let new_category = target
        .create_security_categories(MAIN, vec!["after-migration".into()])
        .await
        .unwrap();
    assert!(new_category[0].id > last_category, "{new_category:?}");

    // Data sets and labels, with their ids and positions; neither is handed out again.
    for project in [MAIN, SECOND] {
        let want = sqlite.scan_data_sets(project, 0, 1000).await.unwrap();
        assert_eq!(want.len(), 2);
        assert_eq!(target.scan_data_sets(project, 0, 1000).await.unwrap(), want);
        let want = sqlite.scan_labels(project, 0, 1000).await.unwrap();
        assert_eq!(want.len(), 2);
        assert_eq!(target.scan_labels(project, 0, 1000).await.unwrap(), want);
    }
    let made = target
        .create_data_sets(MAIN, vec![Default::default()], 1)
        .await
        .unwrap();
    assert!(made[0].id > export.last_handed_out("data_sets").unwrap());
    let made = target
        .create_labels(
            MAIN,
            vec![cabinet::store::labels::NewLabel {
                external_id: "new".into(),
                name: "n".into(),
                description: None,
                data_set_id: None,
            }],
            1,
        )
        .await
        .unwrap();
    assert!(made[0].seq > export.last_handed_out("labels").unwrap());

    // A file created on the cluster gets an id (and seq) no migrated file has or ever had.
    let counter = export.id_counter().unwrap();
    let seed = {
        let secret = cabinet::secret::Secret::from_bytes(secret_bytes);
        u64::from_le_bytes(secret.derive("file-ids")[..8].try_into().unwrap())
    };
    let ever: HashSet<i64> = {
        let p = cabinet::store::ids::IdPermutation::new(seed);
        (0..counter).map(|n| p.id_for(n)).collect()
    };
    let migrated: HashMap<i64, ()> = files.iter().map(|f| (f.file.id, ())).collect();
    assert!(
        migrated.keys().all(|id| ever.contains(id)),
        "the seed matches"
    );
    let project = ProjectName::parse(MAIN).unwrap();
    for i in 0..20 {
        let new = target
            .create_file_in_scope(
                &project,
                FileSpec {
                    name: format!("cluster-{i}"),
                    ..FileSpec::default()
                },
                false,
                NewSession {
                    id: uuid::Uuid::new_v4().to_string(),
                    parts: None,
                    expires_time: i64::MAX,
                },
                1,
                &FileScope::all(),
            )
            .await
            .unwrap();
        assert!(!ever.contains(&new.id), "new file {} reuses an id", new.id);
    }
    let last_seq = files.last().unwrap().seq;
    let min_new: i64 = pg_rows(
        &db,
        "SELECT min(seq) FROM files WHERE name LIKE 'cluster-%'",
    )
    .await[0]
        .get(0);
    assert!(min_new > last_seq && min_new as u64 >= counter);
}

/// SIGKILL at moments the test does not choose (a few delays into each run, no pause switch), then a run
/// to the end: every file and every byte is there once, whatever the kills cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_at_any_moment_lose_and_duplicate_nothing() {
    let s3 = SeaweedFs::shared();
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path()).await;
    for i in 0..60 {
        create_with_content(
            &server,
            MAIN,
            json!({"name": format!("k-{i}"), "externalId": format!("k-{i}")}),
            content_of(i, 2000 + i * 300),
        )
        .await;
    }
    let data = server.data_dir.clone();
    server.stop().await;
    let db = fresh_database().await;
    let location = s3.location();
    // Each run is killed as soon as it has recorded this many files, while others are in flight.
    let mut last = 0;
    for threshold in [1, 10, 20] {
        let mut child = migrate_command(&data, &db, &location, s3).spawn().unwrap();
        let copied = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let table = pg_rows(
                    &db,
                    "SELECT count(*) FROM pg_tables WHERE tablename = 'migration_progress'",
                )
                .await[0]
                    .get::<_, i64>(0);
                if table == 1 {
                    let copied = pg_rows(&db, "SELECT count(*) FROM migration_progress").await[0]
                        .get::<_, i64>(0);
                    if copied >= threshold {
                        return copied;
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await
        .expect("the run makes progress within 60 s");
        child.kill().await.unwrap();
        let after =
            pg_rows(&db, "SELECT count(*) FROM migration_progress").await[0].get::<_, i64>(0);
        assert!(
            after >= copied && after >= last,
            "records lost: {last} -> {after}"
        );
        assert!(
            after < 60,
            "the run finished before it was killed ({after} files)"
        );
        last = after;
    }
    let (ok, out, err) = migrate(migrate_command(&data, &db, &location, s3)).await;
    assert!(ok, "the final run failed:\n{err}");
    assert!(out.contains("60 file(s)"), "{out}");

    let export = SqliteExport::open(&data.join("metadata.sqlite3")).unwrap();
    let files = export.files_after(i64::MIN, 10_000).unwrap();
    assert_eq!(files.len(), 60);
    let target = PgStore::connect(&db, PgOptions::default()).await.unwrap();
    let local = LocalBlobs::open(&data).unwrap();
    let mut settings = s3.settings();
    settings.prefix = location
        .strip_prefix(&format!("s3://{}/", s3_server::BUCKET))
        .unwrap()
        .to_string();
    let bucket = S3Blobs::open(&settings, &root.path().join("spool")).unwrap();
    let project = ProjectName::parse(MAIN).unwrap();
    for f in &files {
        let got = target
            .retrieve(&project, &[Identifier::Id(f.file.id)], false)
            .await
            .unwrap();
        assert_eq!(got, vec![f.file.clone()]);
        let key = &f.file.content.as_ref().unwrap().key;
        let want = read_all(local.get(key, None).await.unwrap()).await;
        let have = read_all(bucket.get(key, None).await.unwrap()).await;
        assert!(have == want, "the content of file {} differs", f.file.id);
    }
    let rows = pg_rows(&db, "SELECT count(*), count(DISTINCT id) FROM files").await;
    assert_eq!(
        (rows[0].get::<_, i64>(0), rows[0].get::<_, i64>(1)),
        (60, 60)
    );
    let recorded =
        pg_rows(&db, "SELECT count(*) FROM migration_progress").await[0].get::<_, i64>(0);
    assert_eq!(recorded, 60);
}
