//! Workloads 1 and 2: one large file PUT to each server, then GET back, each measurement in a fresh server
//! process so its VmHWM is the peak memory of exactly that transfer.
//!
//! Runs interleave the servers (run 1 of every server, then run 2, ...) so background noise on this shared
//! machine spreads over all of them.

use anyhow::bail;

use super::{mbps, sync_disks, Ctx};
use crate::client;
use crate::peers::{Kind, Peer};
use crate::results::{Figure, Target, Unit};

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
    for run in 0..ctx.profile.runs {
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
                peer: "nginx".into(),
                metric: "throughput".into(),
                ratio: 1.5,
            });
            down = down.with_target(Target::RatioAtLeast {
                peer: "nginx".into(),
                metric: "throughput".into(),
                ratio: 0.9,
            });
            up_rss = up_rss.with_target(Target::Below(64.0));
            down_rss = down_rss.with_target(Target::Below(64.0));
        }
        for f in [up, up_rss, down, down_rss] {
            ctx.push(f);
        }
    }
    Ok(())
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
