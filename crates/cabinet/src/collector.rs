//! The orphan collector: removes content, parts and staged files that no file or upload session refers
//! to any more, such as what a crash between writing content and committing its metadata leaves behind.
//!
//! It never races a publish in flight: a publish registers its key in [`InFlight`] before it writes the
//! first byte and removes it only after its metadata committed (or failed), and the collector checks that
//! registry *before* it asks the metadata store. A key that is not in flight then cannot become referenced
//! later (keys are never reused), so an unreferenced one is garbage. Only entries older than the grace
//! period are weighed at all, which also covers publishes of other nodes sharing the store.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;

use crate::blob::{BlobStore, Stored};
use crate::domain::content_key_file_id;
use crate::store::{MetadataStore, StoreError};

/// Entries weighed per metadata lookup.
const BATCH: usize = 500;

/// Blob keys whose publish is under way in this process.
#[derive(Debug, Default)]
pub struct InFlight {
    keys: Mutex<HashSet<String>>,
}

/// Holds a key in [`InFlight`] until dropped.
#[derive(Debug)]
pub struct InFlightKey {
    registry: Arc<InFlight>,
    key: String,
}

impl InFlight {
    /// Registers `key` until the returned guard is dropped: call it before writing the object, and drop
    /// the guard once the metadata commit that refers to it has returned.
    pub fn begin(self: &Arc<Self>, key: &str) -> InFlightKey {
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(key.to_string());
        }
        InFlightKey {
            registry: self.clone(),
            key: key.to_string(),
        }
    }

    fn contains(&self, key: &str) -> bool {
        // A poisoned lock protects nothing any more: treat everything as in flight.
        self.keys.lock().map(|k| k.contains(key)).unwrap_or(true)
    }
}

impl Drop for InFlightKey {
    fn drop(&mut self) {
        if let Ok(mut keys) = self.registry.keys.lock() {
            keys.remove(&self.key);
        }
    }
}

/// What one collection removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// Objects no file refers to.
    pub objects: usize,
    /// Multipart uploads whose session is gone or completed.
    pub uploads: usize,
}

/// One pass over the blob store: removes every object and multipart upload older than `grace` that the
/// metadata store does not know.
pub async fn collect(
    meta: &dyn MetadataStore,
    blobs: &dyn BlobStore,
    in_flight: &InFlight,
    grace: Duration,
) -> Result<Collected, StoreError> {
    let cutoff = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut stale = blobs.stale(cutoff);
    let mut collected = Collected::default();
    let (mut objects, mut uploads) = (Vec::new(), Vec::new());
    let mut done = false;
    while !done {
        match stale.next().await {
            Some(Ok(Stored::Object(key))) => {
                if !in_flight.contains(&key) {
                    objects.push(key);
                }
            }
            Some(Ok(Stored::Upload(id))) => uploads.push(id),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "the orphan collector could not walk the blob store");
                done = true;
            }
            None => done = true,
        }
        if objects.len() >= BATCH || done {
            collected.objects +=
                remove_unreferenced(meta, blobs, std::mem::take(&mut objects)).await?;
        }
        if uploads.len() >= BATCH || done {
            collected.uploads +=
                remove_abandoned(meta, blobs, std::mem::take(&mut uploads)).await?;
        }
    }
    Ok(collected)
}

async fn remove_unreferenced(
    meta: &dyn MetadataStore,
    blobs: &dyn BlobStore,
    keys: Vec<String>,
) -> Result<usize, StoreError> {
    if keys.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = keys.iter().filter_map(|k| content_key_file_id(k)).collect();
    let current: HashSet<String> = meta
        .content_keys(&ids)
        .await?
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    let mut removed = 0;
    for key in keys {
        // A key of another shape was not made by us: leave it alone.
        if content_key_file_id(&key).is_none() || current.contains(&key) {
            continue;
        }
        match blobs.delete(&key).await {
            Ok(()) => {
                tracing::info!(key, "removed content no file refers to");
                removed += 1;
            }
            Err(e) => tracing::warn!(key, error = %e, "could not remove orphaned content"),
        }
    }
    Ok(removed)
}

async fn remove_abandoned(
    meta: &dyn MetadataStore,
    blobs: &dyn BlobStore,
    uploads: Vec<String>,
) -> Result<usize, StoreError> {
    if uploads.is_empty() {
        return Ok(0);
    }
    let live: HashSet<String> = meta.open_sessions(&uploads).await?.into_iter().collect();
    let mut removed = 0;
    for upload in uploads.into_iter().filter(|u| !live.contains(u)) {
        match blobs.delete_parts(&upload).await {
            Ok(()) => {
                tracing::info!(upload, "removed parts of an upload that no longer exists");
                removed += 1;
            }
            Err(e) => tracing::warn!(upload, error = %e, "could not remove orphaned parts"),
        }
    }
    Ok(removed)
}
