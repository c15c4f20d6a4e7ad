//! The sizes of a run: `--quick` for a minute or two, the full mode for the figures the targets are about.

use serde::Serialize;

/// Sizes and counts of every workload.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// `quick` or `full`.
    pub name: &'static str,
    /// Repetitions of each measurement: the tables give min / median / max over them.
    pub runs: usize,
    /// Size of the large upload/download file.
    pub large_bytes: u64,
    /// Size of the multipart file.
    pub multipart_bytes: u64,
    /// Part size of the multipart upload.
    pub part_bytes: u64,
    /// Parts in flight during the multipart upload.
    pub parts_in_flight: usize,
    /// Number of small files per run.
    pub small_files: u64,
    /// Size of each small file.
    pub small_bytes: u64,
    /// Small-file uploads in flight.
    pub small_in_flight: usize,
    /// How long each metadata rate is measured, per run.
    pub rate_secs: f64,
    /// Requests in flight for the metadata rates.
    pub rate_in_flight: usize,
    /// Files bulk-loaded for the at-scale workload.
    pub scale_files: u64,
    /// Creates in flight during the bulk load.
    pub scale_in_flight: usize,
    /// Requests per query kind per run in the at-scale latency measurements.
    pub scale_requests: usize,
    /// Pages of the cursor walk.
    pub cursor_pages: usize,
    /// Files linked to assets in the assets workload.
    pub asset_files: u64,
    /// Assets of the assets workload (rounded to whole hierarchies of about 10,000).
    pub assets: u64,
    /// Requests per query kind per run in the assets workload (subtree walks: a tenth of it, at least 10).
    pub asset_requests: usize,
}

const MIB: u64 = 1024 * 1024;

impl Profile {
    /// The run the targets are stated for: 1 GiB transfers, 1,000,000 files.
    pub fn full() -> Self {
        Self {
            name: "full",
            runs: 5,
            large_bytes: 1024 * MIB,
            multipart_bytes: 2048 * MIB,
            part_bytes: 50 * MIB,
            parts_in_flight: 4,
            small_files: 10_000,
            small_bytes: 4096,
            small_in_flight: 32,
            rate_secs: 5.0,
            rate_in_flight: 64,
            scale_files: 1_000_000,
            scale_in_flight: 256,
            scale_requests: 100,
            cursor_pages: 100,
            asset_files: 1_000_000,
            assets: 100_000,
            asset_requests: 200,
        }
    }

    /// A run of a minute or two: the same workloads, smaller.
    pub fn quick() -> Self {
        Self {
            name: "quick",
            runs: 3,
            large_bytes: 256 * MIB,
            multipart_bytes: 512 * MIB,
            small_files: 3_000,
            rate_secs: 2.0,
            scale_files: 100_000,
            scale_requests: 40,
            asset_files: 100_000,
            assets: 10_000,
            asset_requests: 100,
            ..Self::full()
        }
    }
}

/// The workloads, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// 1. and 2.: one large file up and down.
    UploadDownload,
    /// 3. A multipart upload.
    Multipart,
    /// 4. Many small files.
    SmallFiles,
    /// 5. Metadata request rates.
    Metadata,
    /// 6. Queries over a large bulk-loaded store.
    Scale,
    /// 7.–9. PostgreSQL metadata and S3 content: transfers, metadata rates, queries at scale.
    Cluster,
    /// 10. Files and assets at scale on SQLite and PostgreSQL: subtree filters and subtree walks.
    Assets,
}

impl Workload {
    /// Every workload, in run order.
    pub const ALL: [Workload; 7] = [
        Workload::UploadDownload,
        Workload::Multipart,
        Workload::SmallFiles,
        Workload::Metadata,
        Workload::Scale,
        Workload::Cluster,
        Workload::Assets,
    ];

    /// The name in progress messages.
    pub fn title(self) -> &'static str {
        match self {
            Workload::UploadDownload => "upload-download",
            Workload::Multipart => "multipart",
            Workload::SmallFiles => "small-files",
            Workload::Metadata => "metadata",
            Workload::Scale => "scale",
            Workload::Cluster => "cluster",
            Workload::Assets => "assets",
        }
    }
}
