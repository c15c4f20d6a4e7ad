//! The workloads. Each measures cabinet and its peer in one run and records [`Figure`]s; a failure of one
//! server or one endpoint becomes an error figure, and the run goes on.

mod assets;
mod assets_data;
mod assets_load;
mod cluster;
mod cluster_load;
mod disk_limit;
mod large;
mod metadata;
mod multipart;
mod rate;
mod scale;
mod scale_data;
mod small;

use std::path::PathBuf;

use anyhow::Context;

use crate::peers::nginx::NginxInstall;
use crate::peers::s3s::S3sInstall;
use crate::peers::seaweedfs::WeedInstall;
use crate::profile::{Profile, Workload};
use crate::results::{Figure, Unit};

/// The durable write limit's server name in the tables and charts.
pub use disk_limit::NAME as LIMIT_NAME;

/// What every workload needs.
pub struct Ctx {
    /// Sizes.
    pub profile: Profile,
    /// The one HTTP client.
    pub client: reqwest::Client,
    /// The release-built server.
    pub cabinet_bin: PathBuf,
    /// nginx, or why it is unavailable.
    pub nginx: Result<NginxInstall, String>,
    /// s3s-fs, or why it is unavailable.
    pub s3s: Result<S3sInstall, String>,
    /// SeaweedFS (the cluster workload's S3 server), or why it is unavailable.
    pub weed: Result<WeedInstall, String>,
    /// Parent of every data directory of this run.
    pub work: PathBuf,
    /// Keep the data directories after each workload.
    pub keep_data: bool,
    /// What was measured so far.
    pub figures: Vec<Figure>,
}

impl Ctx {
    /// An empty directory `name` under the work directory (removed first if a previous step left it).
    pub fn fresh_dir(&self, name: &str) -> anyhow::Result<PathBuf> {
        let d = self.work.join(name);
        if d.exists() {
            std::fs::remove_dir_all(&d).with_context(|| format!("cannot clear {}", d.display()))?;
        }
        std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
        Ok(d)
    }

    /// Records a figure.
    pub fn push(&mut self, f: Figure) {
        self.figures.push(f);
    }
}

/// Runs one workload; an error that stops it as a whole is recorded as an error figure.
pub async fn run(ctx: &mut Ctx, w: Workload) {
    let (section, r) = match w {
        Workload::UploadDownload => (large::UPLOAD, large::run(ctx).await),
        Workload::Multipart => (multipart::SECTION, multipart::run(ctx).await),
        Workload::SmallFiles => (small::SECTION, small::run(ctx).await),
        Workload::Metadata => (metadata::SECTION, metadata::run(ctx).await),
        Workload::Scale => (scale::SECTION, scale::run(ctx).await),
        Workload::Cluster => (cluster::SECTION, cluster::run(ctx).await),
        Workload::Assets => (assets::SECTION, assets::run(ctx).await),
    };
    if let Err(e) = r {
        crate::log(&format!("workload {} failed: {e:#}", w.title()));
        ctx.push(Figure::failed(
            section,
            "workload",
            "cabinet",
            Unit::Secs,
            format!("{e:#}"),
        ));
    }
    // Every server of the workload has stopped: give its disk space back before the next one.
    if !ctx.keep_data {
        if let Ok(entries) = std::fs::read_dir(&ctx.work) {
            for e in entries.flatten() {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
}

/// Flushes dirty pages so one measurement's write-back does not slow the next one down (nginx and s3s-fs
/// do not fsync; cabinet does, inside its measurement).
pub async fn sync_disks() {
    let _ = tokio::process::Command::new("sync").status().await;
}

/// MB/s (10^6 bytes per second).
pub fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs.max(1e-9) / 1e6
}
