//! The janitor: once at start-up and then every hour, removes what outlived its week (files that never
//! got content, expired upload sessions) and the bytes they left in the blob store. Every node may run
//! it; the work is idempotent.

use std::sync::Arc;
use std::time::Duration;

use crate::blob::BlobStore;
use crate::clock::now_ms;
use crate::store::MetadataStore;

/// How often the janitor runs.
pub const INTERVAL: Duration = Duration::from_secs(3600);

/// Runs forever; drop (abort) the task to stop it.
pub async fn run(meta: Arc<dyn MetadataStore>, blobs: Arc<dyn BlobStore>) {
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tick.tick().await;
        match sweep(meta.as_ref(), blobs.as_ref()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                "janitor removed expired files and upload sessions"
            ),
            Err(e) => tracing::warn!(error = %e, "janitor sweep failed; retrying in an hour"),
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
