//! Workload 10: files and assets at scale (issue 11's benchmark), on both metadata backends. The
//! population of [`assets_data`] (1,000,000 files, ~100,000 assets in hierarchies of depth 6; a tenth
//! of both in `--quick`) is bulk-loaded into SQLite and into PostgreSQL ([`assets_load`]); the server
//! then runs on each, and one request at a time the workload measures
//!
//! - a files list page (`POST /files/list`, limit 1000) filtered by `assetSubtreeIds` of a 1,011-asset
//!   subtree (a different one each request), by `rootAssetIds` and by 100 `assetExternalIds`;
//! - the retrieval of a ~10,000-asset subtree as a client does it: `POST /assets/list` with
//!   `assetSubtreeIds` and limit 1000, following `nextCursor` to the end, timed as a whole.
//!
//! Before anything is measured, one subtree's files (every page) and one subtree's assets are compared
//! with what the generator produced, so a loader or a filter that is wrong fails the workload instead of
//! giving fast figures for wrong answers.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::assets_data::{self, Forest};
use super::assets_load::{self, AssetLoad};
use super::scale_data::Mix;
use super::Ctx;
use crate::peers::{cabinet, postgres};
use crate::results::{Figure, Target, Unit};
use crate::stats::Latencies;

/// Section title.
pub const SECTION: &str = "10. Assets at scale";

/// The measured requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `assetSubtreeIds` of a root's child (1,011 assets).
    FilesSubtree,
    /// `rootAssetIds` of a root.
    FilesRoot,
    /// 100 random `assetExternalIds`.
    FilesExternalIds,
    /// The whole `/assets/list` walk of a root's subtree.
    SubtreeWalk,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::FilesSubtree,
        Kind::FilesRoot,
        Kind::FilesExternalIds,
        Kind::SubtreeWalk,
    ];

    fn label(self) -> String {
        match self {
            Kind::FilesSubtree => format!(
                "files list 1000, assetSubtreeIds ({} assets)",
                assets_data::PER_CHILD
            ),
            Kind::FilesRoot => "files list 1000, rootAssetIds".into(),
            Kind::FilesExternalIds => "files list 1000, 100 assetExternalIds".into(),
            Kind::SubtreeWalk => format!(
                "assets subtree walk ({} assets, limit 1000, all pages)",
                assets_data::PER_ROOT
            ),
        }
    }

    fn target_p99(self) -> Option<f64> {
        match self {
            Kind::FilesSubtree => Some(20.0),
            Kind::SubtreeWalk => Some(100.0),
            Kind::FilesRoot | Kind::FilesExternalIds => None,
        }
    }
}

/// Runs the workload on SQLite, then on PostgreSQL; a backend that fails is recorded as an error figure
/// of its own and the other still runs.
pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    let forest = Forest::about(ctx.profile.assets);
    let files = ctx.profile.asset_files;
    for backend in ["SQLite", "PostgreSQL"] {
        crate::log(&format!(
            "  {backend}: {files} files, {} assets",
            forest.len()
        ));
        let r = match backend {
            "SQLite" => on_sqlite(ctx, forest, files).await,
            _ => on_postgres(ctx, forest, files).await,
        };
        if let Err(e) = r {
            crate::log(&format!("  {backend} failed: {e:#}"));
            ctx.push(Figure::failed(
                SECTION,
                &format!("{backend}: workload"),
                "cabinet",
                Unit::Secs,
                format!("{e:#}"),
            ));
        }
    }
    Ok(())
}

async fn on_sqlite(ctx: &mut Ctx, forest: Forest, files: u64) -> anyhow::Result<()> {
    let dir = ctx.fresh_dir("assets-sqlite")?.join("data");
    let load = assets_load::load_sqlite(&dir, forest, files).await?;
    push_load(ctx, "SQLite", &load);
    let c = cabinet::start(&ctx.cabinet_bin, &dir, &ctx.client).await?;
    let r = measure_all(ctx, &c, forest, files, "SQLite", "SQLite (embedded)").await;
    c.proc.stop().await?;
    r
}

async fn on_postgres(ctx: &mut Ctx, forest: Forest, files: u64) -> anyhow::Result<()> {
    let dir = ctx.fresh_dir("assets-postgres")?;
    let pg = postgres::start(&dir.join("pg")).await?;
    let r = async {
        let url = pg.create_database("assets").await?;
        let load = assets_load::load_postgres(&url, forest, files).await?;
        push_load(ctx, "PostgreSQL", &load);
        let args = vec!["--metadata".to_string(), url];
        let c = cabinet::start_with(&ctx.cabinet_bin, &dir.join("node"), &ctx.client, &args, &[])
            .await?;
        let r = measure_all(ctx, &c, forest, files, "PostgreSQL", &pg.version).await;
        c.proc.stop().await?;
        r
    }
    .await;
    let _ = pg.proc.stop().await;
    r
}

fn push_load(ctx: &mut Ctx, backend: &str, load: &AssetLoad) {
    crate::log(&format!(
        "  {backend}: loaded {} files and {} assets in {:.1} s, database {:.0} MiB",
        load.files, load.assets, load.secs, load.db_mib
    ));
    ctx.push(
        Figure::new(
            SECTION,
            &format!("{backend}: bulk load, total time"),
            "cabinet",
            Unit::Secs,
            vec![load.secs],
        )
        .with_note(format!(
            "{} files and {} assets counted afterwards, straight into the schema; database {:.0} MiB; 1 run",
            load.files, load.assets, load.db_mib
        )),
    );
}

/// The API of the running server: `/files` and `/assets` of the project.
struct Api {
    client: reqwest::Client,
    files: String,
    assets: String,
}

impl Api {
    fn of(c: &cabinet::Cabinet) -> Self {
        let base = format!("{}/api/v1/projects/{}", c.api.base(), cabinet::PROJECT);
        Api {
            client: c.api.client().clone(),
            files: format!("{base}/files/list"),
            assets: format!("{base}/assets/list"),
        }
    }

    /// One POST, its latency to the last byte, and the parsed answer (parsed afterwards).
    async fn post(&self, url: &str, body: &Value) -> anyhow::Result<(Duration, Value)> {
        let t = Instant::now();
        let resp = self
            .client
            .post(url)
            .bearer_auth("bench")
            .timeout(Duration::from_secs(120))
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let resp = crate::client::ok_or_body(resp, "POST", url).await?;
        let bytes = resp.bytes().await?;
        let took = t.elapsed();
        let v = serde_json::from_slice(&bytes).context("the answer is not JSON")?;
        Ok((took, v))
    }

    /// Every page of a list: the items, the pages, and the time from the first request to the last
    /// answer.
    async fn walk(&self, url: &str, body: Value) -> anyhow::Result<(Vec<Value>, u64, Duration)> {
        let t = Instant::now();
        let mut items = Vec::new();
        let mut pages = 0u64;
        let mut cursor: Option<String> = None;
        loop {
            let mut b = body.clone();
            if let Some(c) = &cursor {
                b["cursor"] = json!(c);
            }
            let (_, v) = self.post(url, &b).await?;
            pages += 1;
            items.extend(v["items"].as_array().cloned().unwrap_or_default());
            cursor = v["nextCursor"].as_str().map(String::from);
            if cursor.is_none() {
                break;
            }
            if pages > 100_000 {
                bail!("more than 100,000 pages");
            }
        }
        Ok((items, pages, t.elapsed()))
    }
}

/// Compares one subtree's files and one subtree's assets with the generator's.
async fn check(api: &Api, forest: Forest, files: u64) -> anyhow::Result<String> {
    let head = forest.children_of_roots()[forest.children_of_roots().len() / 2];
    let subtree: BTreeSet<i64> = forest.subtree(head as u64).into_iter().collect();
    let expected: BTreeSet<u64> = (0..files)
        .filter(|i| {
            assets_data::file_links(*i, forest.len())
                .iter()
                .any(|a| subtree.contains(a))
        })
        .collect();
    let (items, pages, _) = api
        .walk(
            &api.files,
            json!({"filter": {"assetSubtreeIds": [{"id": head}]}, "limit": 1000}),
        )
        .await?;
    let got: BTreeSet<u64> = items
        .iter()
        .filter_map(|f| {
            f["name"]
                .as_str()?
                .strip_prefix("doc-")?
                .strip_suffix(".pdf")
        })
        .filter_map(|n| n.parse().ok())
        .collect();
    if got != expected || items.len() != expected.len() {
        bail!(
            "the files of asset {head}'s subtree: {} items ({} distinct) in {pages} pages, {} expected",
            items.len(),
            got.len(),
            expected.len()
        );
    }
    let root = forest.roots()[0];
    let (assets, _, _) = api
        .walk(
            &api.assets,
            json!({"filter": {"assetSubtreeIds": [{"id": root}]}, "limit": 1000}),
        )
        .await?;
    let mut ids: Vec<i64> = assets.iter().filter_map(|a| a["id"].as_i64()).collect();
    ids.sort_unstable();
    let want = forest.subtree(root as u64);
    if ids != want {
        bail!(
            "the subtree of asset {root}: {} assets, {} expected",
            ids.len(),
            want.len()
        );
    }
    let depth_ok = assets
        .iter()
        .any(|a| a["id"].as_i64() == Some(want[want.len() - 1]) && a["parentId"].is_i64());
    if !depth_ok {
        bail!("the deepest asset of subtree {root} came back without its parentId");
    }
    Ok(format!(
        "checked: the {} files of asset {head}'s subtree ({} pages) and the {} assets of root {root}'s",
        expected.len(),
        pages,
        want.len()
    ))
}

#[derive(Default)]
struct Series {
    p50: Vec<f64>,
    p99: Vec<f64>,
    requests: u64,
    items: u64,
    pages: u64,
    /// Runs that ended on the time budget.
    short_runs: u64,
    error: Option<String>,
}

async fn measure_all(
    ctx: &mut Ctx,
    c: &cabinet::Cabinet,
    forest: Forest,
    files: u64,
    backend: &str,
    version: &str,
) -> anyhow::Result<()> {
    let api = Api::of(c);
    let checked = check(&api, forest, files).await?;
    crate::log(&format!("  {checked}"));
    let n = ctx.profile.asset_requests;
    let walks = (n / 10).max(10);
    let mut r = Mix::new(0xa55e);
    let mut series: Vec<Series> = Kind::ALL.iter().map(|_| Series::default()).collect();
    // One unmeasured pass warms the server's caches the way a running server's would be.
    for k in Kind::ALL {
        let _ = one_run(&api, k, 3, forest, &mut r).await;
    }
    for run in 0..ctx.profile.runs {
        for (i, k) in Kind::ALL.iter().enumerate() {
            if series[i].error.is_some() {
                continue;
            }
            let count = if *k == Kind::SubtreeWalk { walks } else { n };
            match one_run(&api, *k, count, forest, &mut r).await {
                Ok((lat, sent, items, pages)) => {
                    if let (Some(p50), Some(p99)) = (lat.quantile_ms(0.5), lat.quantile_ms(0.99)) {
                        let s = &mut series[i];
                        s.p50.push(p50);
                        s.p99.push(p99);
                        s.requests += sent;
                        s.short_runs += u64::from(sent < count as u64);
                        s.items += items;
                        s.pages += pages;
                        if run == 0 {
                            crate::log(&format!(
                                "  {backend} {}: p50 {p50:.2} ms, p99 {p99:.2} ms",
                                k.label()
                            ));
                        }
                    }
                }
                Err(e) => {
                    crate::log(&format!("  {backend} {} failed: {e:#}", k.label()));
                    series[i].error = Some(format!("{e:#}"));
                }
            }
        }
    }
    let scale = format!(
        "{files} files, {} assets ({} hierarchies of depth 6){}",
        forest.len(),
        forest.roots,
        if ctx.profile.name == "quick" {
            " — quick mode, scaled down"
        } else {
            ""
        }
    );
    for (k, s) in Kind::ALL.iter().zip(series) {
        let per = s.requests.max(1) as f64;
        let budget = if s.short_runs > 0 {
            format!(
                " ({} requests in all: {} runs stopped after {} s)",
                s.requests,
                s.short_runs,
                RUN_BUDGET.as_secs()
            )
        } else {
            String::new()
        };
        let note = match k {
            Kind::FilesSubtree | Kind::FilesRoot | Kind::FilesExternalIds => format!(
                "{:.0} items per page; up to {n} requests per run{budget}",
                s.items as f64 / per
            ),
            Kind::SubtreeWalk => format!(
                "time of the whole walk: {:.0} assets in {:.1} pages per walk; up to {walks} walks per run{budget}",
                s.items as f64 / per,
                s.pages as f64 / per
            ),
        };
        let (p50, p99) = match &s.error {
            Some(e) => (Err(e.clone()), Err(e.clone())),
            None => (Ok(s.p50), Ok(s.p99)),
        };
        ctx.push(Figure::from_result(
            SECTION,
            &format!("{backend}: {}: p50", k.label()),
            "cabinet",
            Unit::Ms,
            &p50,
        ));
        let mut f = Figure::from_result(
            SECTION,
            &format!("{backend}: {}: p99", k.label()),
            "cabinet",
            Unit::Ms,
            &p99,
        )
        .with_note(if *k == Kind::FilesSubtree {
            format!("{note}; {scale}; {version}; {checked}")
        } else {
            format!("{note}; {scale}; {version}")
        });
        if let Some(t) = k.target_p99() {
            f = f.with_target(Target::Below(t));
        }
        ctx.push(f);
    }
    Ok(())
}

/// How long one run of one kind may take: a kind far over its target stops after this many seconds
/// (and at least [`MIN_REQUESTS`] requests), so that a slow plan is reported instead of stalling the run.
const RUN_BUDGET: Duration = Duration::from_secs(10);
/// Requests of a run that ends on [`RUN_BUDGET`].
const MIN_REQUESTS: usize = 5;

/// Up to `count` requests of kind `k` one after the other (fewer when [`RUN_BUDGET`] runs out): their
/// latencies (a walk's: the whole walk), the requests sent, the items they returned and the pages they
/// took.
async fn one_run(
    api: &Api,
    k: Kind,
    count: usize,
    forest: Forest,
    r: &mut Mix,
) -> anyhow::Result<(Latencies, u64, u64, u64)> {
    let mut lat = Latencies::new()?;
    let (mut items, mut pages) = (0u64, 0u64);
    let children = forest.children_of_roots();
    let roots = forest.roots();
    let started = Instant::now();
    let mut sent = 0u64;
    for n in 0..count {
        if n >= MIN_REQUESTS && started.elapsed() > RUN_BUDGET {
            break;
        }
        sent += 1;
        let pick = |r: &mut Mix, v: &[i64]| v[r.below(v.len() as u64) as usize];
        match k {
            Kind::SubtreeWalk => {
                let root = pick(r, &roots);
                let (got, p, took) = api
                    .walk(
                        &api.assets,
                        json!({"filter": {"assetSubtreeIds": [{"id": root}]}, "limit": 1000}),
                    )
                    .await?;
                if got.len() as u64 != assets_data::PER_ROOT {
                    bail!(
                        "the subtree of {root} came back with {} assets, not {}",
                        got.len(),
                        assets_data::PER_ROOT
                    );
                }
                lat.record(took);
                items += got.len() as u64;
                pages += p;
            }
            _ => {
                let filter = match k {
                    Kind::FilesSubtree => json!({"assetSubtreeIds": [{"id": pick(r, &children)}]}),
                    Kind::FilesRoot => json!({"rootAssetIds": [{"id": pick(r, &roots)}]}),
                    _ => {
                        let mut ext = BTreeSet::new();
                        while ext.len() < 100 {
                            ext.insert(format!("a{}", 1 + r.below(forest.len())));
                        }
                        json!({"assetExternalIds": ext})
                    }
                };
                let (took, v) = api
                    .post(&api.files, &json!({"filter": filter, "limit": 1000}))
                    .await?;
                lat.record(took);
                items += v["items"].as_array().map(|a| a.len() as u64).unwrap_or(0);
                pages += 1;
            }
        }
    }
    Ok((lat, sent, items, pages))
}
