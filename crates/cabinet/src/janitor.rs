//! The janitor: once at start-up and then every interval (an hour by default), removes what outlived its
//! week (files that never got content, expired upload sessions) and the bytes they left in the blob
//! store, then runs the orphan collector ([`crate::collector`]). Between runs it takes the disk's space
//! reserve back once there is room ([`crate::disk::DiskGuard`]). Every node may run it; the work is
//! idempotent.

use std::sync::Arc;
use std::time::Duration;

use crate::blob::BlobStore;
use crate::clock::now_ms;
use crate::collector::InFlight;
use crate::disk::DiskGuard;
use crate::store::MetadataStore;

/// How often the space reserve is checked.
const RESERVE_CHECK: Duration = Duration::from_secs(10);

/// What the janitor works on.
pub struct Janitor {
    /// The metadata store.
    pub meta: Arc<dyn MetadataStore>,
    /// The blob store.
    pub blobs: Arc<dyn BlobStore>,
    /// Publishes under way, which the collector leaves alone.
    pub in_flight: Arc<InFlight>,
    /// The disk's free space and reserve, where the content is on a local disk.
    pub disk: Option<Arc<DiskGuard>>,
    /// Time between runs.
    pub interval: Duration,
    /// Age below which nothing is collected.
    pub orphan_grace: Duration,
    /// Where runs are counted (`cabinet_janitor_runs_total`, `cabinet_collector_runs_total`).
    pub metrics: Option<crate::metrics::SharedMetrics>,
}

impl Janitor {
    /// Runs forever; drop (abort) the task to stop it.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(self.interval);
        let mut reserve_tick = tokio::time::interval(RESERVE_CHECK);
        loop {
            tokio::select! {
                _ = tick.tick() => self.run_once().await,
                _ = reserve_tick.tick() => {
                    if let Some(disk) = self.disk.clone() {
                        let _ = tokio::task::spawn_blocking(move || disk.restore_reserve()).await;
                    }
                }
            }
        }
    }

    /// One run: expiry, then the collector.
    pub async fn run_once(&self) {
        let swept = sweep(self.meta.as_ref(), self.blobs.as_ref()).await;
        if let Some(metrics) = &self.metrics {
            let outcome = crate::metrics::outcome(swept.is_ok());
            metrics
                .janitor_runs
                .get_or_create(&crate::metrics::OutcomeLabels { outcome })
                .inc();
        }
        match swept {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                "janitor removed expired files and upload sessions"
            ),
            Err(e) => tracing::warn!(error = %e, "janitor sweep failed; retrying at the next run"),
        }
        let collected = crate::collector::collect(
            self.meta.as_ref(),
            self.blobs.as_ref(),
            &self.in_flight,
            self.orphan_grace,
        )
        .await;
        if let Some(metrics) = &self.metrics {
            let outcome = crate::metrics::outcome(collected.is_ok());
            metrics
                .collector_runs
                .get_or_create(&crate::metrics::OutcomeLabels { outcome })
                .inc();
        }
        match collected {
            Ok(c) if c.objects + c.uploads > 0 => tracing::info!(
                objects = c.objects,
                uploads = c.uploads,
                "orphan collector removed content no file refers to"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "orphan collection failed; retrying at the next run")
            }
        }
    }
}

/// One full sweep as of now; returns how many files and sessions it removed.
pub async fn sweep(
    meta: &dyn MetadataStore,
    blobs: &dyn BlobStore,
) -> Result<usize, crate::store::StoreError> {
    let mut removed = 0;
    loop {
        let expired = meta.expire(now_ms()).await?;
        if expired.files.is_empty() && expired.sessions.is_empty() {
            return Ok(removed);
        }
        removed += expired.files.len() + expired.sessions.len();
        let sessions = expired
            .files
            .iter()
            .flat_map(|f| f.sessions.iter())
            .chain(expired.sessions.iter());
        for session in sessions {
            if let Err(e) = blobs.delete_parts(session).await {
                tracing::warn!(error = %e, "could not remove the parts of an expired upload");
            }
        }
    }
}
