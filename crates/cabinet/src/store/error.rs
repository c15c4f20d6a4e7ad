use std::sync::Arc;

use crate::domain::Identifier;

/// What a metadata store operation can fail with. Callers branch on every variant but `Internal`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// These identifiers name no file of the project.
    #[error("{} identifier(s) not found", .0.len())]
    Missing(Vec<Identifier>),
    /// These externalIds are taken by other files.
    #[error("{} identifier(s) already exist", .0.len())]
    Duplicated(Vec<Identifier>),
    /// A change would break a limit (for example an update that leaves a file with 1001 assets).
    #[error("{0}")]
    Invalid(crate::domain::Invalid),
    /// The upload session, or its file, no longer exists, or the session expired.
    #[error("the upload session no longer exists")]
    SessionGone,
    /// A newer upload session of the file has already published content; this older session may no
    /// longer replace it (a stale upload URL must never overwrite newer content).
    #[error("a newer upload of the file has completed")]
    Superseded,
    /// The caller's data-set scope does not cover a file it names (or would create, move or overwrite); an
    /// unknown file is reported the same way to a scoped caller, so the answer does not tell whether it
    /// exists.
    #[error("outside the caller's data-set scope")]
    OutOfScope,
    /// The backend is out of space (the disk, or a quota). Nothing was changed; deleting may still work.
    #[error("{backend} is out of space")]
    NoSpace {
        /// Which backend is full.
        backend: &'static str,
    },
    /// A fault of the backend; the message goes to the log, never to a client.
    #[error("{backend} failed: {source}")]
    Internal {
        /// Which backend failed.
        backend: &'static str,
        /// The underlying error.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// Wraps a backend fault.
    pub fn internal(
        backend: &'static str,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Internal {
            backend,
            source: Arc::new(e),
        }
    }
}
