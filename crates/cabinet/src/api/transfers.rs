//! The cap on content transfers in progress. Each upload or download holds a slot from when it starts
//! until its body is done; with every slot taken, one more is answered 503 with `Retry-After` at once
//! (both SDKs retry it) rather than queued, so a crowd of stalled transfers costs the server a bounded
//! number of descriptors and buffers, and metadata requests keep their share of the machine.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use crate::blob::ByteStream;

/// Seconds a client is told to wait when every slot is taken: a stalled transfer is cut within a minute,
/// a working one usually ends sooner.
const RETRY_AFTER_SECS: u64 = 2;

/// The upload and download slots of a server.
#[derive(Debug, Clone)]
pub struct TransferSlots {
    uploads: Pool,
    downloads: Pool,
}

#[derive(Debug, Clone)]
struct Pool {
    free: Arc<Semaphore>,
    max: usize,
    what: &'static str,
}

/// A transfer in progress; its slot is free again when this is dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl TransferSlots {
    /// At most `max_uploads` content uploads and `max_downloads` content downloads at once.
    pub fn new(max_uploads: usize, max_downloads: usize) -> Self {
        Self {
            uploads: Pool::new(max_uploads, "uploads"),
            downloads: Pool::new(max_downloads, "downloads"),
        }
    }

    /// A slot for an upload, or the 503 to answer.
    pub fn upload(&self) -> Result<Slot, ApiError> {
        self.uploads.take()
    }

    /// A slot for a download, or the 503 to answer.
    pub fn download(&self) -> Result<Slot, ApiError> {
        self.downloads.take()
    }

    /// Uploads and downloads holding a slot now.
    pub fn in_use(&self) -> (usize, usize) {
        let used = |p: &Pool| p.max.saturating_sub(p.free.available_permits());
        (used(&self.uploads), used(&self.downloads))
    }
}

impl Pool {
    fn new(max: usize, what: &'static str) -> Self {
        let max = max.min(Semaphore::MAX_PERMITS);
        Self {
            free: Arc::new(Semaphore::new(max)),
            max,
            what,
        }
    }

    fn take(&self) -> Result<Slot, ApiError> {
        Arc::clone(&self.free)
            .try_acquire_owned()
            .map(|permit| Slot { _permit: permit })
            .map_err(|_| {
                ApiError::unavailable(
                    format!(
                        "The server is at its limit of {} concurrent {}; retry shortly",
                        self.max, self.what
                    ),
                    RETRY_AFTER_SECS,
                )
            })
    }
}

/// `stream`, holding `slot` until it is dropped: a download keeps its slot while its body is sent.
pub fn holding(stream: ByteStream, slot: Slot) -> ByteStream {
    Box::pin(stream.map(move |item| {
        let _held = &slot;
        item
    }))
}
