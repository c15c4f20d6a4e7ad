//! The at-scale population (the same files as workload 6, from [`scale_data::generate`]) written straight
//! into cabinet's PostgreSQL schema, as a migration tool would: the schema from cabinet's own migrations,
//! then in one transaction the secondary indexes of `files` dropped, the rows streamed in with `COPY`, the
//! indexes built again from their own definitions, and the id counter moved past the rows; `VACUUM
//! ANALYZE` afterwards, so that the planner knows the data and the table is as autovacuum keeps one in
//! service (hint bits set, the visibility map that index-only scans read) before the first query.
//!
//! Rows are what `PgStore` writes (crates/cabinet/src/store/postgres/files.rs): `seq` is the counter,
//! `id` its image under the database's id permutation, empty lists and maps are NULL, and a file with
//! content has `uploaded_time`, `content_key` and `content_size` set and its upload session completed.

use std::fmt::Write as _;
use std::time::Instant;

use ::cabinet::domain::FileSpec;
use ::cabinet::store::ids::IdPermutation;
use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use futures_util::SinkExt;

use super::scale::{session_id, Loaded};
use super::scale_data::{self, Tally, DAY};
use crate::peers::{cabinet, postgres};

/// What the load did.
pub struct LoadStats {
    /// Rows in `files` afterwards (counted, not assumed).
    pub files: u64,
    /// Rows in `upload_sessions` afterwards.
    pub sessions: u64,
    /// Files given content.
    pub uploaded: u64,
    /// Seconds spent in `COPY`.
    pub copy_secs: f64,
    /// Seconds spent building the indexes.
    pub index_secs: f64,
    /// Seconds of `VACUUM ANALYZE`.
    pub analyze_secs: f64,
    /// The database's size afterwards, MiB.
    pub db_mib: f64,
}

/// The columns of `files` the load writes, in the order of each `COPY` line.
const FILE_COLUMNS: &str = "seq, project_id, id, external_id, name, directory, source, mime_type, \
     metadata, asset_ids, data_set_id, source_created_time, source_modified_time, \
     security_categories, labels, created_time, last_updated_time, uploaded_time, content_key, \
     content_size";

/// Bytes of `COPY` text sent per message.
const CHUNK: usize = 1 << 20;

/// One file of a population: what to create, its createdTime, and when its content was uploaded and
/// how big it is (for the files that get content).
pub(super) type GenFile = (FileSpec, i64, Option<(i64, u64)>);

/// Loads `n` generated files into the (empty) database at `url`.
pub async fn bulk_load(url: &str, n: u64) -> anyhow::Result<(Loaded, LoadStats)> {
    let mut tally = Tally::default();
    let (ids, now, stats) = load_files(url, n, |i, now| {
        let g = scale_data::generate(i, now);
        tally.add(&g);
        (g.spec, g.created, g.uploaded)
    })
    .await?;
    tally.finish();
    Ok((Loaded { tally, ids, now }, stats))
}

/// Loads the `n` files `generate(i, now)` gives into the (empty) database at `url`, after applying
/// cabinet's migrations and creating the project; returns the files' ids (in `i` order) and the time
/// the population was generated for.
pub(super) async fn load_files(
    url: &str,
    n: u64,
    mut generate: impl FnMut(u64, i64) -> GenFile,
) -> anyhow::Result<(Vec<i64>, i64, LoadStats)> {
    let config: tokio_postgres::Config = url.parse().context("bad PostgreSQL URL")?;
    ::cabinet::store::postgres::migrate::migrate(&config)
        .await
        .map_err(|e| anyhow!("cannot apply cabinet's migrations: {e}"))?;
    let mut client = postgres::connect(url).await?;
    let seed: i64 = client
        .query_one("SELECT value FROM settings WHERE key = 'file_id_seed'", &[])
        .await
        .and_then(|r| r.try_get(0))
        .context("cannot read the file id seed")?;
    let ids_of = IdPermutation::new(seed as u64);
    let now = ::cabinet::clock::now_ms();

    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL maintenance_work_mem = '512MB'")
        .await?;
    let project: i64 = tx
        .query_one(
            "INSERT INTO projects (name) VALUES ($1) RETURNING id",
            &[&cabinet::PROJECT],
        )
        .await
        .context("cannot create the project")?
        .try_get(0)?;
    // Every index of files that no constraint owns: built once at the end instead of row by row.
    let indexes: Vec<(String, String)> = tx
        .query(
            "SELECT indexname::text, indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename = 'files' \
             AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'files'::regclass)",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    for (name, _) in &indexes {
        tx.batch_execute(&format!("DROP INDEX {name}")).await?;
    }

    crate::log(&format!(
        "  COPY of {n} files into PostgreSQL (indexes built afterwards)"
    ));
    let t0 = Instant::now();
    let mut ids = Vec::with_capacity(n as usize);
    let mut sessions = String::new();
    let mut uploaded = 0u64;
    {
        let sink = tx
            .copy_in(&format!("COPY files ({FILE_COLUMNS}) FROM STDIN"))
            .await?;
        tokio::pin!(sink);
        let mut buf = String::with_capacity(CHUNK + 4096);
        for i in 0..n {
            let (spec, created, uploaded_at) = generate(i, now);
            let id = ids_of.id_for(i);
            ids.push(id);
            file_line(&mut buf, i, project, id, &spec, created, uploaded_at)?;
            // Open sessions expire a week after the load, as in workload 6.
            let completed = uploaded_at.map(|(at, _)| at);
            uploaded += u64::from(completed.is_some());
            let _ = writeln!(
                sessions,
                "{}\t{project}\t{id}\t\\N\t{}\t{}\t{}",
                session_id(i),
                created,
                now + 7 * DAY,
                opt(completed)
            );
            if buf.len() >= CHUNK {
                sink.send(Bytes::from(std::mem::take(&mut buf))).await?;
            }
            if (i + 1).is_multiple_of((n / 5).max(1)) {
                crate::log(&format!("  {} files copied", i + 1));
            }
        }
        if !buf.is_empty() {
            sink.send(Bytes::from(buf)).await?;
        }
        sink.as_mut().finish().await.context("COPY files failed")?;
        let sink = tx
            .copy_in("COPY upload_sessions (id, project_id, file_id, parts, created_time, expires_time, completed_time) FROM STDIN")
            .await?;
        tokio::pin!(sink);
        sink.send(Bytes::from(sessions)).await?;
        sink.as_mut()
            .finish()
            .await
            .context("COPY upload_sessions failed")?;
    }
    let copy_secs = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    for (name, def) in &indexes {
        tx.batch_execute(def)
            .await
            .with_context(|| format!("cannot build the index {name}"))?;
    }
    if n > 0 {
        // The next file created through the server takes the counter value after the loaded ones.
        tx.execute("SELECT setval('files_seq', $1)", &[&((n - 1) as i64)])
            .await?;
    }
    tx.commit().await.context("the load did not commit")?;
    let index_secs = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    // One statement per message: VACUUM refuses to run in the implicit transaction of several.
    // file_assets: filled by the COPY's trigger (migration 0008), read by the asset filters' plans.
    for table in ["files", "upload_sessions", "file_assets"] {
        client
            .batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await?;
    }
    let analyze_secs = t2.elapsed().as_secs_f64();

    let count = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(sql, &[])
                .await
                .and_then(|r| r.try_get::<_, i64>(0))
                .map(|c| c as u64)
        }
    };
    let files = count("SELECT count(*) FROM files").await?;
    let session_rows = count("SELECT count(*) FROM upload_sessions").await?;
    let db_bytes = count("SELECT pg_database_size(current_database())").await?;
    if files != n || session_rows != n {
        bail!("the load wrote {files} files and {session_rows} sessions, not {n}");
    }
    Ok((
        ids,
        now,
        LoadStats {
            files,
            sessions: session_rows,
            uploaded,
            copy_secs,
            index_secs,
            analyze_secs,
            db_mib: db_bytes as f64 / (1 << 20) as f64,
        },
    ))
}

/// Appends the `COPY` line (text format) of generated file `seq` to `buf`.
fn file_line(
    buf: &mut String,
    seq: u64,
    project: i64,
    id: i64,
    f: &FileSpec,
    created: i64,
    uploaded: Option<(i64, u64)>,
) -> anyhow::Result<()> {
    let text = |s: &Option<String>| s.as_deref().map(copy_escape);
    let metadata = match &f.metadata {
        Some(m) if !m.is_empty() => Some(copy_escape(&serde_json::to_string(m)?)),
        _ => None,
    };
    let asset_ids = f
        .asset_ids
        .as_ref()
        .filter(|a| !a.is_empty())
        .map(|a| int_array(a));
    let security = f
        .security_categories
        .as_ref()
        .filter(|a| !a.is_empty())
        .map(|a| int_array(a));
    let labels = f
        .labels
        .as_ref()
        .filter(|l| !l.is_empty())
        .map(|l| copy_escape(&text_array(l)));
    let (uploaded_time, key, size) = match uploaded {
        Some((at, size)) => (
            Some(at),
            Some(format!(
                "{}/{:03x}/{id}/{}-bulk",
                cabinet::PROJECT,
                id & 0xfff,
                session_id(seq)
            )),
            Some(size as i64),
        ),
        None => (None, None, None),
    };
    let fields: [Option<String>; 20] = [
        Some(seq.to_string()),
        Some(project.to_string()),
        Some(id.to_string()),
        text(&f.external_id),
        Some(copy_escape(&f.name)),
        text(&f.directory),
        text(&f.source),
        text(&f.mime_type),
        metadata,
        asset_ids,
        f.data_set_id.map(|v| v.to_string()),
        f.source_created_time.map(|v| v.to_string()),
        f.source_modified_time.map(|v| v.to_string()),
        security,
        labels,
        Some(created.to_string()),
        Some(uploaded_time.unwrap_or(created).to_string()),
        uploaded_time.map(|v| v.to_string()),
        key,
        size.map(|v| v.to_string()),
    ];
    for (k, v) in fields.iter().enumerate() {
        if k > 0 {
            buf.push('\t');
        }
        buf.push_str(v.as_deref().unwrap_or("\\N"));
    }
    buf.push('\n');
    Ok(())
}

pub(super) fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "\\N".into())
}

/// Escapes a value for `COPY`'s text format: backslash, tab, newline and carriage return.
pub(super) fn copy_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// A `bigint[]` literal: `{1,2,3}`.
fn int_array(a: &[i64]) -> String {
    let items: Vec<String> = a.iter().map(|v| v.to_string()).collect();
    format!("{{{}}}", items.join(","))
}

/// A `text[]` literal with every element quoted: `{"a","b \"c\""}`.
fn text_array(a: &[String]) -> String {
    let items: Vec<String> = a
        .iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads a small population into a throwaway PostgreSQL and reads rows back: the counts, the ids of the
    /// permutation, the columns of one file, and the counter moved past the loaded rows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loads_the_population_into_postgresql() {
        let dir =
            std::env::temp_dir().join(format!("cabinet-bench-load-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pg = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            postgres::start(&dir.join("data")),
        )
        .await
        .expect("PostgreSQL did not start within 120 s")
        .expect("PostgreSQL did not start (scripts/install-postgres)");
        let result = async {
            let url = pg.create_database("load").await.unwrap();
            let (loaded, stats) = bulk_load(&url, 3000).await.unwrap();
            assert_eq!((stats.files, stats.sessions), (3000, 3000));
            assert_eq!(loaded.ids.len(), 3000);
            let client = postgres::connect(&url).await.unwrap();
            let seed: i64 = client
                .query_one("SELECT value FROM settings WHERE key = 'file_id_seed'", &[])
                .await
                .unwrap()
                .get(0);
            let perm = IdPermutation::new(seed as u64);
            let g = scale_data::generate(7, loaded.now);
            let row = client
                .query_one(
                    "SELECT id, external_id, name, metadata->>'site', uploaded, \
                     (SELECT count(*) FROM pg_indexes WHERE tablename = 'files') \
                     FROM files WHERE seq = 7",
                    &[],
                )
                .await
                .unwrap();
            assert_eq!(row.get::<_, i64>(0), perm.id_for(7));
            assert_eq!(row.get::<_, Option<String>>(1), g.spec.external_id);
            assert_eq!(row.get::<_, String>(2), g.spec.name);
            assert_eq!(
                row.get::<_, Option<String>>(3).as_ref(),
                g.spec.metadata.as_ref().and_then(|m| m.get("site"))
            );
            assert_eq!(row.get::<_, bool>(4), g.uploaded.is_some());
            assert!(row.get::<_, i64>(5) > 20, "the indexes were built again");
            let next: i64 = client
                .query_one("SELECT nextval('files_seq')", &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(next, 3000);
            let with_content: i64 = client
                .query_one("SELECT count(*) FROM files WHERE uploaded", &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(with_content as u64, stats.uploaded);
        };
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(120), result).await;
        let _ = pg.proc.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
        outcome.expect("the load and its checks took more than 120 s");
    }

    #[test]
    fn copy_text_and_array_literals() {
        assert_eq!(copy_escape("a\tb\\c\nd"), "a\\tb\\\\c\\nd");
        assert_eq!(int_array(&[1, 22, 333]), "{1,22,333}");
        assert_eq!(
            text_array(&["plain".into(), "with \"quote\"".into()]),
            r#"{"plain","with \"quote\""}"#
        );
    }
}
