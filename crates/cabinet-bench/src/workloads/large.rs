//! Workloads 1 and 2: one large file PUT to each server, then GET back, each measurement in a fresh server
//! process so its VmHWM is the peak memory of exactly that transfer.
//!
//! Runs interleave the servers (run 1 of every server, then run 2, ...) so background noise on this shared
//! machine spreads over all of them. Each run starts with the disk's durable write limit
//! ([`super::disk_limit`]) right before cabinet's upload, because this disk's speed drifts within minutes
//! and cabinet's upload is judged as a share of that limit. The durable peer, SeaweedFS with fsync on,
//! runs as one process for the whole workload (its start takes seconds), so its memory is not compared.

use anyhow::bail;

use super::{disk_limit, mbps, sync_disks, Ctx};
use crate::client;
use crate::peers::{Kind, Peer, WEED_NAME};
use crate::results::{Figure, Target, Unit};
use crate::stats;

/// Section title of the upload figures.
pub const UPLOAD: &str = "1. Large upload";
/// Section title of the download figures.
pub const DOWNLOAD: &str = "2. Large download";

const KINDS: [Kind; 3] = [Kind::Cabinet, Kind::Nginx, Kind::S3s];

#[derive(Default)]
struct Series {
    up: Vec<f64>,
    up_rss: Vec<f64>,
    down: Vec<f64>,
    down_rss: Vec<f64>,
    error: Option<String>,
}

/// Runs both workloads and records their figures.
pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    let len = ctx.profile.large_bytes;
    let mut series: Vec<Series> = KINDS.iter().map(|_| Series::default()).collect();
    let mut dirs = Vec::new();
    for k in KINDS {
        dirs.push(ctx.fresh_dir(&format!("large-{}", k.name()))?);
    }
    let limit_dir = ctx.fresh_dir("large-limit")?;
    let mut limits: Vec<disk_limit::Limit> = Vec::new();
    let mut weed = Series::default();
    let weed_peer = match ctx.fresh_dir("large-seaweedfs") {
        Ok(d) => Peer::start(ctx, Kind::Weed, &d.join("data"))
            .await
            .map_err(|e| format!("{e:#}")),
        Err(e) => Err(format!("{e:#}")),
    };
    if let Err(e) = &weed_peer {
        crate::log(&format!("  {WEED_NAME} unavailable: {e}"));
        weed.error = Some(e.clone());
    }
    for run in 0..ctx.profile.runs {
        let limit = disk_limit::measure(&limit_dir, len).await;
        crate::log(&format!(
            "  {}: O_DIRECT {}, buffered + fdatasync {}",
            disk_limit::NAME,
            show_mbps(&limit.direct),
            show_mbps(&limit.buffered)
        ));
        limits.push(limit);
        for (i, kind) in KINDS.iter().enumerate() {
            if series[i].error.is_some() {
                continue;
            }
            match one_run(ctx, *kind, &dirs[i], run, len).await {
                Ok((up, up_rss, down, down_rss)) => {
                    crate::log(&format!(
                        "  {}: up {up:.0} MB/s ({up_rss:.1} MiB), down {down:.0} MB/s ({down_rss:.1} MiB)",
                        kind.name()
                    ));
                    let s = &mut series[i];
                    s.up.push(up);
                    s.up_rss.push(up_rss);
                    s.down.push(down);
                    s.down_rss.push(down_rss);
                }
                Err(e) => {
                    crate::log(&format!("  {} failed: {e:#}", kind.name()));
                    series[i].error = Some(format!("{e:#}"));
                }
            }
        }
        if let (Ok(peer), None) = (&weed_peer, &weed.error) {
            match durable_peer_run(ctx, peer, run, len).await {
                Ok((up, down)) => {
                    crate::log(&format!(
                        "  {WEED_NAME}: up {up:.0} MB/s, down {down:.0} MB/s"
                    ));
                    weed.up.push(up);
                    weed.down.push(down);
                }
                Err(e) => {
                    crate::log(&format!("  {WEED_NAME} failed: {e:#}"));
                    weed.error = Some(format!("{e:#}"));
                }
            }
        }
    }
    if let Ok(p) = weed_peer {
        let _ = p.stop().await;
    }
    let size = format!("{} MiB file", len >> 20);
    for (kind, s) in KINDS.iter().zip(series) {
        let name = kind.name();
        let r = |v: Vec<f64>| match &s.error {
            Some(e) if v.is_empty() => Err(e.clone()),
            _ => Ok(v),
        };
        let mut up = Figure::from_result(UPLOAD, "throughput", name, Unit::MBps, &r(s.up.clone()))
            .with_note(size.clone());
        let mut up_rss = Figure::from_result(
            UPLOAD,
            "server peak RSS",
            name,
            Unit::MiB,
            &r(s.up_rss.clone()),
        );
        let mut down =
            Figure::from_result(DOWNLOAD, "throughput", name, Unit::MBps, &r(s.down.clone()))
                .with_note(size.clone());
        let mut down_rss = Figure::from_result(
            DOWNLOAD,
            "server peak RSS",
            name,
            Unit::MiB,
            &r(s.down_rss.clone()),
        );
        if *kind == Kind::Cabinet {
            up = up.with_target(Target::RatioAtLeast {
                peer: disk_limit::NAME.into(),
                metric: "throughput".into(),
                ratio: 0.9,
            });
            down = down.with_target(Target::RatioAtLeast {
                peer: "nginx".into(),
                metric: "throughput".into(),
                ratio: 1.0,
            });
            up_rss = up_rss.with_target(Target::Below(64.0));
            down_rss = down_rss.with_target(Target::Below(64.0));
        }
        for f in [up, up_rss, down, down_rss] {
            ctx.push(f);
        }
    }
    ctx.push(limit_figure(&limits, &size));
    let weed_note = format!(
        "{size}; presigned PUT/GET; one `weed mini` process for all runs, every object fsynced before \
         the PUT is answered"
    );
    let r = |v: &Vec<f64>| match &weed.error {
        Some(e) if v.is_empty() => Err(e.clone()),
        _ => Ok(v.clone()),
    };
    ctx.push(
        Figure::from_result(UPLOAD, "throughput", WEED_NAME, Unit::MBps, &r(&weed.up))
            .with_note(weed_note.clone()),
    );
    ctx.push(
        Figure::from_result(
            DOWNLOAD,
            "throughput",
            WEED_NAME,
            Unit::MBps,
            &r(&weed.down),
        )
        .with_note(weed_note),
    );
    Ok(())
}

fn show_mbps(r: &Result<f64, String>) -> String {
    match r {
        Ok(v) => format!("{v:.0} MB/s"),
        Err(e) => format!("failed ({e})"),
    }
}

/// The limit's row: per run the faster of the two ways; the note gives each way's median.
fn limit_figure(limits: &[disk_limit::Limit], size: &str) -> Figure {
    let best: Vec<f64> = limits.iter().filter_map(disk_limit::Limit::best).collect();
    if best.is_empty() {
        let why = limits
            .first()
            .map(disk_limit::Limit::error)
            .unwrap_or_else(|| "no runs".into());
        return Figure::failed(UPLOAD, "throughput", disk_limit::NAME, Unit::MBps, why);
    }
    let way = |pick: fn(&disk_limit::Limit) -> &Result<f64, String>, what: &str| {
        let v: Vec<f64> = limits
            .iter()
            .filter_map(|l| pick(l).as_ref().ok().copied())
            .collect();
        match stats::median(&v) {
            Some(m) => format!("{what} median {m:.0} MB/s"),
            None => {
                let e = limits
                    .iter()
                    .find_map(|l| pick(l).as_ref().err().cloned())
                    .unwrap_or_default();
                format!("{what} failed: {e}")
            }
        }
    };
    let wins = limits
        .iter()
        .filter(|l| matches!((&l.direct, &l.buffered), (Ok(a), Ok(b)) if a >= b))
        .count();
    Figure::new(UPLOAD, "throughput", disk_limit::NAME, Unit::MBps, best).with_note(format!(
        "{size} written to the data directories' filesystem, no server; per run the faster of \
         {}, {} (O_DIRECT faster in {wins} of {} runs); measured right before cabinet's upload of each run",
        way(|l| &l.direct, "O_DIRECT (4 MiB writes) + fdatasync"),
        way(|l| &l.buffered, "buffered 1 MiB writes + one fdatasync"),
        limits.len()
    ))
}

/// One upload and one download on the durable peer, which keeps running between runs: (upload MB/s,
/// download MB/s).
async fn durable_peer_run(
    ctx: &Ctx,
    peer: &Peer,
    run: usize,
    len: u64,
) -> anyhow::Result<(f64, f64)> {
    let (url, obj) = peer.upload_url(&format!("large-{run}.bin")).await?;
    let took = client::put_generated(&ctx.client, &url, len).await?;
    sync_disks().await;
    let url = peer.download_url(&obj).await?;
    let (n, down_took) = client::get_discard(&ctx.client, &url).await?;
    if n != len {
        bail!("downloaded {n} bytes, expected {len}");
    }
    peer.delete(&ctx.client, &obj).await?;
    sync_disks().await;
    Ok((
        mbps(len, took.as_secs_f64()),
        mbps(len, down_took.as_secs_f64()),
    ))
}

/// One upload and one download against `kind`, each in a fresh server process: (upload MB/s, its peak RSS
/// MiB, download MB/s, its peak RSS MiB).
async fn one_run(
    ctx: &Ctx,
    kind: Kind,
    dir: &std::path::Path,
    run: usize,
    len: u64,
) -> anyhow::Result<(f64, f64, f64, f64)> {
    let peer = Peer::start(ctx, kind, dir).await?;
    let (url, obj) = peer.upload_url(&format!("large-{run}.bin")).await?;
    let took = client::put_generated(&ctx.client, &url, len).await?;
    let up_rss = peer.proc().peak_rss_mib()?;
    peer.stop().await?;
    sync_disks().await;

    let peer = Peer::start(ctx, kind, dir).await?;
    let url = peer.download_url(&obj).await?;
    let (n, down_took) = client::get_discard(&ctx.client, &url).await?;
    let down_rss = peer.proc().peak_rss_mib()?;
    if n != len {
        bail!("downloaded {n} bytes, expected {len}");
    }
    peer.delete(&ctx.client, &obj).await?;
    peer.stop().await?;
    sync_disks().await;
    Ok((
        mbps(len, took.as_secs_f64()),
        up_rss,
        mbps(len, down_took.as_secs_f64()),
        down_rss,
    ))
}
