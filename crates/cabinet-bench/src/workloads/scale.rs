//! Workload 6: cabinet at scale. A bulk load of many files with varied metadata straight through the
//! metadata store (as a migration tool would), then the real server on that data directory: start-up
//! time, memory, and the latency of everyday queries, one request at a time.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::cabinet::domain::{ContentRef, ProjectName};
use ::cabinet::store::{MetadataStore, NewSession};
use anyhow::{anyhow, bail, Context};
use futures_util::{stream, StreamExt};
use serde_json::{json, Value};

use super::scale_data::{self, FilterKind, Mix, Tally, DAY};
use super::Ctx;
use crate::client::CabinetApi;
use crate::peers::cabinet;
use crate::results::{Figure, Target, Unit};
use crate::stats::Latencies;

/// Section title.
pub const SECTION: &str = "6. At scale";

/// What the bulk load left behind for the queries.
pub(super) struct Loaded {
    /// How many files carry each value.
    pub(super) tally: Tally,
    /// The ids of the files.
    pub(super) ids: Vec<i64>,
    /// The time the population was generated for.
    pub(super) now: i64,
}

/// Runs the workload and records its figures.
pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    let n = ctx.profile.scale_files;
    let data_dir = ctx.fresh_dir("scale")?.join("data");
    let loaded = bulk_load(ctx, &data_dir, n).await?;
    startup(ctx, &data_dir).await;
    queries(ctx, &data_dir, &loaded).await
}

/// The upload session of generated file `i`.
pub(super) fn session_id(i: u64) -> String {
    format!("bulk{i:012x}")
}

/// Creates `n` files through the store, 256 (or as configured) in flight so group commit batches them,
/// then publishes content for three quarters of them.
async fn bulk_load(ctx: &mut Ctx, dir: &Path, n: u64) -> anyhow::Result<Loaded> {
    let in_flight = ctx.profile.scale_in_flight;
    let store = Arc::new(
        ::cabinet::app::open_data_dir_metadata(dir).context("cannot open the metadata store")?,
    );
    let project = ProjectName::parse(cabinet::PROJECT).map_err(|e| anyhow!("{e}"))?;
    let now = ::cabinet::clock::now_ms();
    let mut tally = Tally::default();
    let mut ids = Vec::with_capacity(n as usize);
    let mut to_publish = Vec::new();
    crate::log(&format!(
        "  bulk-loading {n} files ({in_flight} creates in flight)"
    ));
    let mut disk = DiskWatch::new(dir);
    let t0 = Instant::now();
    {
        let creates = stream::iter(0..n)
            .map(|i| {
                let g = scale_data::generate(i, now);
                tally.add(&g);
                let (store, project) = (store.clone(), project.clone());
                async move {
                    let session = NewSession {
                        id: session_id(i),
                        parts: None,
                        // Open sessions at query time, so the server's janitor has no backlog of expired
                        // sessions to sweep while latencies are measured.
                        expires_time: now + 7 * DAY,
                    };
                    let rec = store
                        .create_file(&project, g.spec, false, session, g.created)
                        .await?;
                    Ok::<_, ::cabinet::store::StoreError>((rec.id, i, g.uploaded))
                }
            })
            .buffer_unordered(in_flight);
        tokio::pin!(creates);
        while let Some(r) = creates.next().await {
            let (id, i, uploaded) = r.map_err(|e| anyhow!("create_file failed: {e}"))?;
            ids.push(id);
            if let Some(u) = uploaded {
                to_publish.push((id, i, u));
            }
            if (ids.len() as u64).is_multiple_of((n / 5).max(1)) {
                crate::log(&format!("  {} files created", ids.len()));
            }
            if ids.len() % 10_000 == 0 {
                disk.check()?;
            }
        }
    }
    let create_secs = t0.elapsed().as_secs_f64();
    tally.finish();
    let t1 = Instant::now();
    let published = to_publish.len();
    let mut publishes = stream::iter(to_publish)
        .map(|(id, i, (at, size))| {
            let (store, project) = (store.clone(), project.clone());
            async move {
                let content = ContentRef {
                    key: format!(
                        "{}/{:03x}/{id}/{}-bulk",
                        cabinet::PROJECT,
                        id & 0xfff,
                        session_id(i)
                    ),
                    size,
                };
                store
                    .publish_content(&project, id, &session_id(i), content, at)
                    .await
            }
        })
        .buffer_unordered(in_flight);
    let mut done = 0u64;
    while let Some(r) = publishes.next().await {
        r.map_err(|e| anyhow!("publish_content failed: {e}"))?;
        done += 1;
        if done.is_multiple_of(10_000) {
            disk.check()?;
        }
    }
    drop(publishes);
    let publish_secs = t1.elapsed().as_secs_f64();
    drop(store);
    wait_for_store_threads().await;
    let db_mib = dir_size(dir) as f64 / (1 << 20) as f64;
    crate::log(&format!(
        "  loaded in {:.1} s ({:.0} creates/s, {:.0} publishes/s), data directory {db_mib:.0} MiB",
        create_secs + publish_secs,
        n as f64 / create_secs,
        published as f64 / publish_secs
    ));
    let note = format!("{n} files, {in_flight} in flight, through SqliteStore in-process; 1 run");
    ctx.push(
        Figure::new(
            SECTION,
            "bulk load: creates",
            "cabinet",
            Unit::FilesPerSec,
            vec![n as f64 / create_secs],
        )
        .with_note(note.clone()),
    );
    ctx.push(
        Figure::new(
            SECTION,
            "bulk load: publish content",
            "cabinet",
            Unit::FilesPerSec,
            vec![published as f64 / publish_secs],
        )
        .with_note(format!(
            "{published} files ({}%) made uploaded; 1 run",
            scale_data::UPLOADED_PERCENT
        )),
    );
    ctx.push(
        Figure::new(
            SECTION,
            "bulk load: total time",
            "cabinet",
            Unit::Secs,
            vec![create_secs + publish_secs],
        )
        .with_note(format!(
            "data directory {db_mib:.0} MiB afterwards; the WAL peaked at {:.0} MiB during the load",
            disk.peak_wal as f64 / (1 << 20) as f64
        )),
    );
    Ok(Loaded { tally, ids, now })
}

/// Watches the bulk load's disk use: the WAL's peak size for the report, and the free space, so a load
/// that would fill the disk (shared with other work) stops with a clear error first.
struct DiskWatch {
    dir: std::path::PathBuf,
    peak_wal: u64,
}

/// The bulk load stops when less than this is left on the disk.
const MIN_FREE_BYTES: u64 = 5 << 30;

impl DiskWatch {
    fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            peak_wal: 0,
        }
    }

    fn check(&mut self) -> anyhow::Result<()> {
        let wal = std::fs::metadata(self.dir.join("metadata.sqlite3-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
        self.peak_wal = self.peak_wal.max(wal);
        let out = std::process::Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&self.dir)
            .output();
        let free = out.ok().and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .nth(1)
                .and_then(|l| l.trim().parse::<u64>().ok())
        });
        if let Some(free) = free.filter(|f| *f < MIN_FREE_BYTES) {
            bail!(
                "stopped the bulk load: only {:.1} GiB left on the disk (the WAL is {:.1} GiB)",
                free as f64 / (1u64 << 30) as f64,
                wal as f64 / (1u64 << 30) as f64
            );
        }
        Ok(())
    }
}

/// Waits until the store's threads in this process (writer, checkpointer) have exited, so the database is
/// closed and no checkpoint holds a lock when the server opens it.
pub(super) async fn wait_for_store_threads() {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let busy = std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks.flatten().any(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .map(|c| c.starts_with("sqlite"))
                        .unwrap_or(false)
                })
            })
            .unwrap_or(false);
        if !busy {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Reader connections close on blocking-pool threads; give them a moment too.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Starts the server on the loaded data directory several times: time to the listening line, time to the
/// first successful request, and the memory right after.
async fn startup(ctx: &mut Ctx, dir: &Path) {
    let mut listening = Vec::new();
    let mut first_ok = Vec::new();
    let mut rss = Vec::new();
    let mut error = None;
    for _ in 0..ctx.profile.runs {
        match one_start(ctx, dir).await {
            Ok((l, f, r)) => {
                crate::log(&format!("  start-up: listening after {l:.0} ms, first answer after {f:.0} ms, RSS {r:.1} MiB"));
                listening.push(l);
                first_ok.push(f);
                rss.push(r);
            }
            Err(e) => {
                crate::log(&format!("  start-up failed: {e:#}"));
                error = Some(format!("{e:#}"));
                break;
            }
        }
    }
    let r = |v: Vec<f64>| match &error {
        Some(e) if v.is_empty() => Err(e.clone()),
        _ => Ok(v),
    };
    ctx.push(Figure::from_result(
        SECTION,
        "start-up: spawn to listening line",
        "cabinet",
        Unit::Ms,
        &r(listening),
    ));
    ctx.push(
        Figure::from_result(
            SECTION,
            "start-up: spawn to first answer",
            "cabinet",
            Unit::Ms,
            &r(first_ok),
        )
        .with_target(Target::Below(300.0))
        .with_note("first successful POST /files/list"),
    );
    ctx.push(Figure::from_result(
        SECTION,
        "RSS after start-up",
        "cabinet",
        Unit::MiB,
        &r(rss),
    ));
}

async fn one_start(ctx: &Ctx, dir: &Path) -> anyhow::Result<(f64, f64, f64)> {
    let c = cabinet::start(&ctx.cabinet_bin, dir, &ctx.client).await?;
    let listening = c.to_listening.as_secs_f64() * 1000.0;
    loop {
        if c.api.post_raw("/list", &json!({"limit": 1})).await.is_ok() {
            break;
        }
        if c.spawned.elapsed() > Duration::from_secs(60) {
            bail!("no successful POST /files/list within 60 s of starting");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let first = c.spawned.elapsed().as_secs_f64() * 1000.0;
    let rss = c.proc.rss_mib()?;
    c.proc.stop().await?;
    Ok((listening, first, rss))
}

/// The query kinds measured.
#[derive(Debug, Clone, Copy)]
enum Query {
    List(FilterKind),
    CursorWalk,
    Search,
    CountAll,
    CountFiltered,
    ByIds,
}

impl Query {
    fn all() -> Vec<Query> {
        let mut q: Vec<Query> = FilterKind::ALL.iter().map(|k| Query::List(*k)).collect();
        q.extend([
            Query::CursorWalk,
            Query::Search,
            Query::CountAll,
            Query::CountFiltered,
            Query::ByIds,
        ]);
        q
    }

    fn label(self) -> String {
        match self {
            Query::List(k) => format!("list 1000, {}", k.label()),
            Query::CursorWalk => "list 1000, cursor walk (no filter)".into(),
            Query::Search => "search by name".into(),
            Query::CountAll => "aggregate count, no filter".into(),
            Query::CountFiltered => "aggregate count, with a filter".into(),
            Query::ByIds => "byids, 100 ids".into(),
        }
    }

    fn target_p99(self) -> Option<f64> {
        match self {
            Query::List(_) | Query::CursorWalk => Some(20.0),
            Query::Search | Query::CountAll | Query::CountFiltered => Some(50.0),
            Query::ByIds => None,
        }
    }
}

#[derive(Default)]
struct Series {
    p50: Vec<f64>,
    p99: Vec<f64>,
    error: Option<String>,
    requests: u64,
    items: u64,
    share: f64,
}

/// What one run of one query kind saw.
struct Sample {
    lat: Latencies,
    requests: u64,
    items: u64,
    share: f64,
}

async fn queries(ctx: &mut Ctx, dir: &Path, loaded: &Loaded) -> anyhow::Result<()> {
    let c = cabinet::start(&ctx.cabinet_bin, dir, &ctx.client).await?;
    query_figures(ctx, &c, loaded, SECTION).await;
    c.proc.stop().await?;
    Ok(())
}

/// Measures every query kind against the running server `c` and records the figures under `section`.
pub(super) async fn query_figures(
    ctx: &mut Ctx,
    c: &cabinet::Cabinet,
    loaded: &Loaded,
    section: &str,
) {
    let kinds = Query::all();
    let mut series: Vec<Series> = kinds.iter().map(|_| Series::default()).collect();
    let mut r = Mix::new(0xbe4c);
    // One unmeasured pass warms the server's caches the way a running server's would be.
    for q in &kinds {
        let _ = measure(&c.api, *q, 3, 3, &mut r, loaded).await;
    }
    for run in 0..ctx.profile.runs {
        for (i, q) in kinds.iter().enumerate() {
            if series[i].error.is_some() {
                continue;
            }
            match measure(
                &c.api,
                *q,
                ctx.profile.scale_requests,
                ctx.profile.cursor_pages,
                &mut r,
                loaded,
            )
            .await
            {
                Ok(s) => {
                    let (p50, p99) = (s.lat.quantile_ms(0.5), s.lat.quantile_ms(0.99));
                    if let (Some(p50), Some(p99)) = (p50, p99) {
                        let e = &mut series[i];
                        e.p50.push(p50);
                        e.p99.push(p99);
                        e.requests += s.requests;
                        e.items += s.items;
                        e.share += s.share;
                        if run == 0 {
                            crate::log(&format!(
                                "  {}: p50 {p50:.2} ms, p99 {p99:.2} ms",
                                q.label()
                            ));
                        }
                    }
                }
                Err(e) => {
                    crate::log(&format!("  {} failed: {e:#}", q.label()));
                    series[i].error = Some(format!("{e:#}"));
                }
            }
        }
    }
    let rss_after = c.proc.rss_mib();
    let peak = c.proc.peak_rss_mib();
    let files = loaded.ids.len();
    for (q, s) in kinds.iter().zip(series) {
        let label = q.label();
        let per = s.requests.max(1) as f64;
        let note = match q {
            Query::List(_) => format!(
                "{:.1}% of files match on average; {:.0} items per page",
                100.0 * s.share / per,
                s.items as f64 / per
            ),
            Query::CursorWalk => format!("{:.0} items per page", s.items as f64 / per),
            Query::Search => format!(
                "limit 100; words incl. misspellings ({}); {:.0} items per answer",
                scale_data::SEARCHES.join(", "),
                s.items as f64 / per
            ),
            Query::CountAll | Query::CountFiltered => {
                format!("mean count {:.0}", s.items as f64 / per)
            }
            Query::ByIds => "100 random ids per request".to_string(),
        };
        let (p50, p99) = match &s.error {
            Some(e) => (Err(e.clone()), Err(e.clone())),
            None => (Ok(s.p50), Ok(s.p99)),
        };
        ctx.push(Figure::from_result(
            section,
            &format!("{label}: p50"),
            "cabinet",
            Unit::Ms,
            &p50,
        ));
        let mut f =
            Figure::from_result(section, &format!("{label}: p99"), "cabinet", Unit::Ms, &p99)
                .with_note(format!("{note}; {files} files"));
        if let Some(t) = q.target_p99() {
            f = f.with_target(Target::Below(t));
        }
        ctx.push(f);
    }
    let mib = |r: anyhow::Result<f64>| r.map(|x| vec![x]).map_err(|e| format!("{e:#}"));
    ctx.push(Figure::from_result(
        section,
        "RSS after the queries",
        "cabinet",
        Unit::MiB,
        &mib(rss_after),
    ));
    ctx.push(Figure::from_result(
        section,
        "peak RSS while serving the queries",
        "cabinet",
        Unit::MiB,
        &mib(peak),
    ));
}

/// Sends `n` requests of kind `q` one after the other (a cursor walk: `pages` pages) and records each
/// latency, from sending the request to having read the whole answer.
async fn measure(
    api: &CabinetApi,
    q: Query,
    n: usize,
    pages: usize,
    r: &mut Mix,
    loaded: &Loaded,
) -> anyhow::Result<Sample> {
    let mut s = Sample {
        lat: Latencies::new()?,
        requests: 0,
        items: 0,
        share: 0.0,
    };
    let now = loaded.now;
    match q {
        Query::CursorWalk => {
            let mut cursor: Option<String> = None;
            for _ in 0..pages {
                let body = match &cursor {
                    Some(c) => json!({"limit": 1000, "cursor": c}),
                    None => json!({"limit": 1000}),
                };
                let (took, v) = timed(api, "/list", &body).await?;
                s.lat.record(took);
                s.requests += 1;
                s.items += items(&v);
                cursor = v["nextCursor"].as_str().map(String::from);
                if cursor.is_none() {
                    break;
                }
            }
        }
        _ => {
            for _ in 0..n {
                let (path, body, share) = match q {
                    Query::List(k) => {
                        let (f, share) = k.make(r, &loaded.tally, now);
                        ("/list", json!({"filter": f, "limit": 1000}), share)
                    }
                    Query::Search => {
                        let w = scale_data::SEARCHES
                            [r.below(scale_data::SEARCHES.len() as u64) as usize];
                        ("/search", json!({"search": {"name": w}, "limit": 100}), 0.0)
                    }
                    Query::CountAll => ("/aggregate", json!({"filter": {}}), 1.0),
                    Query::CountFiltered => {
                        let k = FilterKind::ALL[r.below(FilterKind::ALL.len() as u64) as usize];
                        let (f, share) = k.make(r, &loaded.tally, now);
                        ("/aggregate", json!({"filter": f}), share)
                    }
                    Query::ByIds => {
                        // Ids must be unique within a request.
                        let mut picked = std::collections::BTreeSet::new();
                        while picked.len() < 100.min(loaded.ids.len()) {
                            picked.insert(loaded.ids[r.below(loaded.ids.len() as u64) as usize]);
                        }
                        let ids: Vec<Value> = picked.iter().map(|id| json!({"id": id})).collect();
                        ("/byids", json!({"items": ids}), 0.0)
                    }
                    Query::CursorWalk => unreachable_query()?,
                };
                let (took, v) = timed(api, path, &body).await?;
                s.lat.record(took);
                s.requests += 1;
                s.share += share;
                s.items += match q {
                    Query::CountAll | Query::CountFiltered => v["items"][0]["count"]
                        .as_u64()
                        .context("the aggregate answer has no items[0].count")?,
                    _ => items(&v),
                };
            }
        }
    }
    Ok(s)
}

fn unreachable_query() -> anyhow::Result<(&'static str, Value, f64)> {
    bail!("the cursor walk is measured separately")
}

fn items(v: &Value) -> u64 {
    v["items"].as_array().map(|a| a.len() as u64).unwrap_or(0)
}

/// One request: its latency (to the last byte of the answer) and the parsed answer (parsed afterwards).
async fn timed(api: &CabinetApi, path: &str, body: &Value) -> anyhow::Result<(Duration, Value)> {
    let t = Instant::now();
    let bytes = api.post_raw(path, body).await?;
    let took = t.elapsed();
    let v = serde_json::from_slice(&bytes)
        .with_context(|| format!("the answer to POST /files{path} is not JSON"))?;
    Ok((took, v))
}
