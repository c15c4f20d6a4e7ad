//! Workload 7: the cluster set-up, cabinet on PostgreSQL metadata and S3 content (SeaweedFS).
//!
//! - Section 7, large transfers: one file PUT and GET back through cabinet with `--content-transfer proxy` (the
//!   bytes pass through cabinet) and `direct` (cabinet hands out presigned S3 URLs), against the same
//!   bytes PUT and GET straight to the bucket with presigned URLs ([`crate::sigv4`]). Direct should come
//!   out at about 1.0× the S3 server alone.
//! - Section 8, metadata rates: durable creates and one-id byids, cabinet on PostgreSQL against cabinet on
//!   SQLite, with workload 5's code and settings.
//! - Section 9, at scale: workload 6's population loaded straight into the PostgreSQL schema
//!   ([`super::cluster_load`]), then workload 6's queries through the server, against the same targets.
//!
//! Both servers are durable: PostgreSQL keeps `fsync` on, and SeaweedFS fsyncs every object under
//! `/buckets/`. Each step that cannot run (a server that does not start, a `cabinet serve` that refuses a
//! flag) becomes error rows, and the other steps go on.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};

use super::metadata::{self, Api};
use super::{cluster_load, mbps, rate, scale, Ctx};
use crate::client;
use crate::peers::cabinet::{self, Cabinet};
use crate::peers::postgres::{self, Postgres};
use crate::peers::seaweedfs::{self, SeaweedFs};
use crate::results::{Figure, Target, Unit};
use crate::stats;

/// Section of the transfers (and of an error that stops the workload as a whole).
pub const SECTION: &str = "7. Cluster: large transfers through S3";
/// Section of the metadata rates.
pub const RATES: &str = "8. Cluster: metadata rates, PostgreSQL vs SQLite";
/// Section of the at-scale queries.
pub const SCALE: &str = "9. Cluster: at scale on PostgreSQL";

/// Set to `sqlite` to run the transfer nodes on SQLite metadata (content still on S3): for a build whose
/// `serve` does not take `--metadata postgres://` yet. The metadata store plays no part in a transfer's
/// throughput beyond two small requests.
pub const METADATA_VAR: &str = "CABINET_BENCH_CLUSTER_METADATA";

/// The S3 server's name in the tables.
const S3_ALONE: &str = "seaweedfs";

/// How cabinet moves content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transfer {
    Proxy,
    Direct,
}

impl Transfer {
    fn name(self) -> &'static str {
        match self {
            Transfer::Proxy => "cabinet proxy",
            Transfer::Direct => "cabinet direct",
        }
    }

    /// `--content-transfer`: proxy is the default and is left out, so a build without the flag still
    /// runs the proxy figures.
    fn args(self) -> Vec<String> {
        match self {
            Transfer::Proxy => Vec::new(),
            Transfer::Direct => vec!["--content-transfer".into(), "direct".into()],
        }
    }
}

/// The servers the workload shares between its steps.
struct Servers {
    pg: Result<Postgres, String>,
    s3: Result<SeaweedFs, String>,
}

impl Servers {
    fn s3(&self) -> anyhow::Result<&SeaweedFs> {
        self.s3
            .as_ref()
            .map_err(|e| anyhow!("SeaweedFS unavailable: {e}"))
    }

    fn pg(&self) -> anyhow::Result<&Postgres> {
        self.pg
            .as_ref()
            .map_err(|e| anyhow!("PostgreSQL unavailable: {e}"))
    }
}

/// Runs the three steps and records their figures.
pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    let pg = match ctx.fresh_dir("cluster-pg") {
        Ok(d) => postgres::start(&d.join("data"))
            .await
            .map_err(|e| format!("{e:#}")),
        Err(e) => Err(format!("{e:#}")),
    };
    match &pg {
        Ok(p) => crate::log(&format!("  {} on port {}", p.version, p.port)),
        Err(e) => crate::log(&format!("  PostgreSQL unavailable: {e}")),
    }
    let s3 = match (&ctx.weed, ctx.fresh_dir("cluster-s3")) {
        (Ok(w), Ok(d)) => seaweedfs::start(w, &d.join("data"))
            .await
            .map_err(|e| format!("{e:#}")),
        (Err(e), _) => Err(e.clone()),
        (_, Err(e)) => Err(format!("{e:#}")),
    };
    match (&s3, &ctx.weed) {
        (Ok(s), Ok(w)) => crate::log(&format!("  {} (fsync on) at {}", w.version, s.endpoint)),
        (Err(e), _) | (_, Err(e)) => crate::log(&format!("  SeaweedFS unavailable: {e}")),
    }
    let servers = Servers { pg, s3 };
    let versions = format!(
        "{}; {}",
        servers
            .pg
            .as_ref()
            .map(|p| p.version.as_str())
            .unwrap_or("no PostgreSQL"),
        ctx.weed
            .as_ref()
            .map(|w| w.version.as_str())
            .unwrap_or("no SeaweedFS")
    );

    transfers(ctx, &servers, &versions).await;
    rates(ctx, &servers).await;
    if let Err(e) = at_scale(ctx, &servers).await {
        crate::log(&format!("  at scale on PostgreSQL failed: {e:#}"));
        ctx.push(Figure::failed(
            SCALE,
            "workload",
            "cabinet",
            Unit::Secs,
            format!("{e:#}"),
        ));
    }

    if let Ok(s3) = servers.s3 {
        let _ = s3.proc.stop().await;
    }
    if let Ok(pg) = servers.pg {
        let _ = pg.proc.stop().await;
    }
    Ok(())
}

/// Starts a cabinet node with content under `prefix` of the bucket and metadata in `metadata` (a
/// `postgres://` URL), or in SQLite in `dir` when `metadata` is `None`.
async fn start_node(
    ctx: &Ctx,
    s3: &SeaweedFs,
    metadata: Option<&str>,
    prefix: &str,
    transfer: Transfer,
    dir: &Path,
) -> anyhow::Result<Cabinet> {
    let mut args = Vec::new();
    if let Some(url) = metadata {
        args.extend(["--metadata".to_string(), url.to_string()]);
    }
    args.extend(s3.serve_args(prefix));
    args.extend(transfer.args());
    cabinet::start_with(
        &ctx.cabinet_bin,
        dir,
        &ctx.client,
        &args,
        &SeaweedFs::serve_env(),
    )
    .await
}

#[derive(Default)]
struct Series {
    up: Vec<f64>,
    down: Vec<f64>,
    rss: Vec<f64>,
    /// Direct transfer only: milliseconds from the PUT's answer to the file counting as uploaded.
    settle: Vec<f64>,
    error: Option<String>,
}

impl Series {
    fn result(&self, v: &[f64]) -> Result<Vec<f64>, String> {
        match &self.error {
            Some(e) if v.is_empty() => Err(e.clone()),
            _ => Ok(v.to_vec()),
        }
    }
}

/// Step 1: the transfers, runs interleaved (run 1 of every server, then run 2, ...).
async fn transfers(ctx: &mut Ctx, servers: &Servers, versions: &str) {
    let len = ctx.profile.large_bytes;
    let on_sqlite = std::env::var(METADATA_VAR).is_ok_and(|v| v == "sqlite");
    // One database for both modes: the files of a run are deleted before the next.
    let metadata: Result<Option<String>, String> = if on_sqlite {
        Ok(None)
    } else {
        match servers.pg() {
            Ok(pg) => pg
                .create_database("transfers")
                .await
                .map(Some)
                .map_err(|e| format!("{e:#}")),
            Err(e) => Err(format!("{e:#}")),
        }
    };
    let modes = [Transfer::Proxy, Transfer::Direct];
    let mut alone = Series::default();
    let mut nodes: Vec<Series> = modes.iter().map(|_| Series::default()).collect();
    if let Err(e) = &metadata {
        for s in &mut nodes {
            s.error = Some(e.clone());
        }
    }
    for run in 0..ctx.profile.runs {
        if alone.error.is_none() {
            match alone_run(ctx, servers, run, len).await {
                Ok((up, down)) => {
                    crate::log(&format!(
                        "  {S3_ALONE}: up {up:.0} MB/s, down {down:.0} MB/s"
                    ));
                    alone.up.push(up);
                    alone.down.push(down);
                }
                Err(e) => {
                    crate::log(&format!("  {S3_ALONE} failed: {e:#}"));
                    alone.error = Some(format!("{e:#}"));
                }
            }
        }
        for (mode, s) in modes.iter().zip(nodes.iter_mut()) {
            let Ok(metadata) = &metadata else { continue };
            if s.error.is_some() {
                continue;
            }
            match node_run(ctx, servers, metadata.as_deref(), *mode, run, len).await {
                Ok((up, down, rss, settle)) => {
                    crate::log(&format!(
                        "  {}: up {up:.0} MB/s, down {down:.0} MB/s ({rss:.1} MiB)",
                        mode.name()
                    ));
                    s.up.push(up);
                    s.down.push(down);
                    s.rss.push(rss);
                    s.settle.extend(settle);
                }
                Err(e) => {
                    crate::log(&format!("  {} failed: {e:#}", mode.name()));
                    s.error = Some(format!("{e:#}"));
                }
            }
        }
    }
    let size = format!("{} MiB file", len >> 20);
    let meta_note = if on_sqlite {
        format!("SQLite metadata ({METADATA_VAR}=sqlite), content in SeaweedFS")
    } else {
        "PostgreSQL metadata, content in SeaweedFS".to_string()
    };
    for (metric, pick) in [("upload", 0usize), ("download", 1)] {
        let of = |s: &Series| {
            if pick == 0 {
                s.up.clone()
            } else {
                s.down.clone()
            }
        };
        let peer_median = stats::median(&of(&alone));
        ctx.push(
            Figure::from_result(
                SECTION,
                metric,
                S3_ALONE,
                Unit::MBps,
                &alone.result(&of(&alone)),
            )
            .with_note(format!(
                "{size}; presigned PUT/GET straight to the bucket; {versions}"
            )),
        );
        for (mode, s) in modes.iter().zip(&nodes) {
            let v = of(s);
            let ratio = match (stats::median(&v), peer_median) {
                (Some(m), Some(p)) if p > 0.0 => format!("{:.2}× {S3_ALONE}; ", m / p),
                _ => String::new(),
            };
            let mut f =
                Figure::from_result(SECTION, metric, mode.name(), Unit::MBps, &s.result(&v))
                    .with_note(format!("{ratio}{size}; {meta_note}"));
            if *mode == Transfer::Direct {
                f = f.with_target(Target::RatioAtLeast {
                    peer: S3_ALONE.into(),
                    metric: metric.into(),
                    ratio: 0.9,
                });
            }
            ctx.push(f);
        }
    }
    for (mode, s) in modes.iter().zip(&nodes) {
        ctx.push(
            Figure::from_result(
                SECTION,
                "server peak RSS (upload and download)",
                mode.name(),
                Unit::MiB,
                &s.result(&s.rss),
            )
            .with_target(Target::Below(64.0)),
        );
    }
    if let Some((_, s)) = modes
        .iter()
        .zip(&nodes)
        .find(|(m, _)| **m == Transfer::Direct)
    {
        ctx.push(
            Figure::from_result(
                SECTION,
                "PUT answer to uploaded (reconciler)",
                Transfer::Direct.name(),
                Unit::Ms,
                &s.result(&s.settle),
            )
            .with_note(
                "polled by aggregate count (which, unlike reads, does not publish the object itself) \
                 every 5 ms"
                    .to_string(),
            )
            .with_target(Target::Below(1000.0)),
        );
    }
}

/// One PUT and one GET straight to the bucket: (upload MB/s, download MB/s).
async fn alone_run(
    ctx: &Ctx,
    servers: &Servers,
    run: usize,
    len: u64,
) -> anyhow::Result<(f64, f64)> {
    let s3 = servers.s3()?;
    let key = format!("alone/large-{run}.bin");
    let took = client::put_generated(&ctx.client, &s3.url("PUT", &key)?, len).await?;
    super::sync_disks().await;
    let (n, down) = client::get_discard(&ctx.client, &s3.url("GET", &key)?).await?;
    if n != len {
        bail!("downloaded {n} bytes, expected {len}");
    }
    let url = s3.url("DELETE", &key)?;
    let resp = ctx
        .client
        .delete(&url)
        .send()
        .await
        .context("DELETE from the bucket")?;
    client::ok_or_body(resp, "DELETE", &url).await?;
    super::sync_disks().await;
    Ok((mbps(len, took.as_secs_f64()), mbps(len, down.as_secs_f64())))
}

/// One upload and one download through a fresh cabinet node: (upload MB/s, download MB/s, its peak RSS,
/// and in direct transfer the milliseconds from the PUT's answer to the file counting as uploaded).
async fn node_run(
    ctx: &Ctx,
    servers: &Servers,
    metadata: Option<&str>,
    mode: Transfer,
    run: usize,
    len: u64,
) -> anyhow::Result<(f64, f64, f64, Option<f64>)> {
    let s3 = servers.s3()?;
    let dir = ctx.work.join(format!("cluster-node-{run}"));
    let prefix = if mode == Transfer::Proxy {
        "proxy"
    } else {
        "direct"
    };
    let node = start_node(ctx, s3, metadata, prefix, mode, &dir).await?;
    let r = async {
        let (id, url) = node
            .api
            .create(&serde_json::json!({
                "name": format!("large-{run}.bin"),
                "externalId": format!("large-{run}"),
                "mimeType": "application/octet-stream"
            }))
            .await?;
        let took = client::put_generated(&ctx.client, &url, len).await?;
        let settle = match mode {
            Transfer::Direct => Some(uploaded_after(&node.api, &format!("large-{run}")).await?),
            Transfer::Proxy => None,
        };
        super::sync_disks().await;
        let url = node.api.download_url(id).await?;
        let (n, down) = client::get_discard(&ctx.client, &url).await?;
        if n != len {
            bail!("downloaded {n} bytes, expected {len}");
        }
        let rss = node.proc.peak_rss_mib()?;
        node.api.delete(&[id]).await?;
        Ok((
            mbps(len, took.as_secs_f64()),
            mbps(len, down.as_secs_f64()),
            rss,
            settle,
        ))
    }
    .await;
    node.proc.stop().await?;
    let _ = std::fs::remove_dir_all(&dir);
    super::sync_disks().await;
    r
}

/// Milliseconds until the file `external_id` counts as uploaded, from now (the PUT's answer). Asked by
/// aggregate count, because reads (byids, list, downloadlink) publish a direct upload themselves, and the
/// figure is the reconciler's.
async fn uploaded_after(api: &client::CabinetApi, external_id: &str) -> anyhow::Result<f64> {
    let started = std::time::Instant::now();
    let filter = serde_json::json!({"filter": {"uploaded": true, "externalIdPrefix": external_id}});
    loop {
        let v = api.post("/aggregate", &filter).await?;
        if v["items"][0]["count"].as_i64() == Some(1) {
            return Ok(started.elapsed().as_secs_f64() * 1000.0);
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            bail!("the direct upload was not marked uploaded within 60 s of its PUT");
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Step 2: workload 5's creates and byids on a PostgreSQL node and on a SQLite node, runs interleaved.
async fn rates(ctx: &mut Ctx, servers: &Servers) {
    let (secs, in_flight) = (ctx.profile.rate_secs, ctx.profile.rate_in_flight);
    let pg_node: anyhow::Result<Cabinet> = async {
        let url = servers.pg()?.create_database("rates").await?;
        let dir = ctx.work.join("cluster-rates-pg");
        start_node(
            ctx,
            servers.s3()?,
            Some(&url),
            "rates",
            Transfer::Proxy,
            &dir,
        )
        .await
    }
    .await;
    let sqlite_node = match ctx.fresh_dir("cluster-rates-sqlite") {
        Ok(d) => cabinet::start(&ctx.cabinet_bin, &d, &ctx.client).await,
        Err(e) => Err(e),
    };
    let nodes = [
        ("cabinet on PostgreSQL", pg_node),
        ("cabinet on SQLite", sqlite_node),
    ];
    let mut apis = Vec::new();
    for (_, node) in &nodes {
        let api = match node {
            Ok(c) => Api::of(c).map_err(|e| format!("{e:#}")),
            Err(e) => Err(format!("{e:#}")),
        };
        let ids = match &api {
            Ok(api) => metadata::seed_files(api, in_flight)
                .await
                .map_err(|e| format!("{e:#}")),
            Err(e) => Err(e.clone()),
        };
        apis.push((api, ids));
    }
    let mut creates: Vec<Result<Vec<f64>, String>> = apis
        .iter()
        .map(|(a, _)| a.as_ref().map(|_| Vec::new()).map_err(|e| e.clone()))
        .collect();
    let mut byids: Vec<Result<Vec<f64>, String>> = apis
        .iter()
        .map(|(_, ids)| ids.as_ref().map(|_| Vec::new()).map_err(|e| e.clone()))
        .collect();
    for run in 0..ctx.profile.runs {
        for (k, (api, ids)) in apis.iter().enumerate() {
            let name = nodes[k].0;
            if let (Ok(api), Ok(_)) = (api, &creates[k]) {
                let api = api.clone();
                let outcome = rate::for_duration(secs, in_flight, move |i| {
                    let api = api.clone();
                    async move {
                        let body = format!(
                            r#"{{"name":"note-{run}-{i}.txt","mimeType":"text/plain","directory":"/bench/notes","metadata":{{"kind":"note","run":"{run}"}}}}"#
                        );
                        api.post("", body).await.map(|_| ())
                    }
                })
                .await;
                metadata::record(
                    &mut creates[k],
                    outcome.per_sec(),
                    &format!("{name} creates"),
                );
            }
            if let (Ok(api), Ok(ids), Ok(_)) = (api, ids, &byids[k]) {
                let (api, ids): (Api, Arc<Vec<i64>>) = (api.clone(), ids.clone());
                let outcome = rate::for_duration(secs, in_flight, move |i| {
                    let api = api.clone();
                    let id =
                        ids[(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % ids.len() as u64) as usize];
                    async move {
                        api.post("/byids", format!(r#"{{"items":[{{"id":{id}}}]}}"#))
                            .await
                            .map(|_| ())
                    }
                })
                .await;
                metadata::record(&mut byids[k], outcome.per_sec(), &format!("{name} byids"));
            }
        }
    }
    let note = format!("{in_flight} in flight, {secs} s per run");
    for (metric, series) in [(metadata::CREATES, &creates), (metadata::BYIDS, &byids)] {
        let sqlite = series[1].as_ref().ok().and_then(|v| stats::median(v));
        for (k, s) in series.iter().enumerate() {
            let ratio = match (k, s.as_ref().ok().and_then(|v| stats::median(v)), sqlite) {
                (0, Some(m), Some(p)) if p > 0.0 => format!("{:.2}× SQLite; ", m / p),
                _ => String::new(),
            };
            ctx.push(
                Figure::from_result(RATES, metric, nodes[k].0, Unit::ReqPerSec, s)
                    .with_note(format!("{ratio}{note}")),
            );
        }
    }
    for (_, node) in nodes {
        if let Ok(c) = node {
            let _ = c.proc.stop().await;
        }
    }
}

/// Step 3: the population loaded into PostgreSQL, then the queries through a node.
async fn at_scale(ctx: &mut Ctx, servers: &Servers) -> anyhow::Result<()> {
    let n = ctx.profile.scale_files;
    let pg = servers.pg()?;
    let url = pg.create_database("scale").await?;
    let t = std::time::Instant::now();
    let (loaded, load) = cluster_load::bulk_load(&url, n).await?;
    let total = t.elapsed().as_secs_f64();
    crate::log(&format!(
        "  loaded {} files and {} sessions in {total:.1} s (COPY {:.1} s, indexes {:.1} s, VACUUM ANALYZE {:.1} s), database {:.0} MiB",
        load.files, load.sessions, load.copy_secs, load.index_secs, load.analyze_secs, load.db_mib
    ));
    ctx.push(
        Figure::new(
            SCALE,
            "bulk load: files",
            "cabinet",
            Unit::FilesPerSec,
            vec![n as f64 / total.max(1e-9)],
        )
        .with_note(format!(
            "{} files ({} with content) and {} sessions counted afterwards; COPY {:.1} s, indexes {:.1} s, \
             VACUUM ANALYZE {:.1} s; straight into the schema, one transaction; 1 run",
            load.files, load.uploaded, load.sessions, load.copy_secs, load.index_secs, load.analyze_secs
        )),
    );
    ctx.push(
        Figure::new(
            SCALE,
            "bulk load: total time",
            "cabinet",
            Unit::Secs,
            vec![total],
        )
        .with_note(format!("database {:.0} MiB afterwards", load.db_mib)),
    );
    let dir = ctx.work.join("cluster-scale-node");
    let node = start_node(
        ctx,
        servers.s3()?,
        Some(&url),
        "scale",
        Transfer::Proxy,
        &dir,
    )
    .await
    .context("cannot start cabinet on the loaded database")?;
    scale::query_figures(ctx, &node, &loaded, SCALE).await;
    node.proc.stop().await?;
    Ok(())
}
