//! A [`BlobStore`] that times every call of the store it wraps into
//! `cabinet_blob_store_duration_seconds{operation,outcome}`; answers are passed through unchanged.
//! `NotFound` counts as `ok`: asking for something absent is a normal answer, not a fault of the store.

use std::future::Future;
use std::time::Instant;

use async_trait::async_trait;

use super::{Assembled, BlobError, BlobStore, ByteStream, StoredStream};
use crate::metrics::SharedMetrics;

/// Times the calls of `inner`.
pub struct MeteredBlobs {
    inner: std::sync::Arc<dyn BlobStore>,
    metrics: SharedMetrics,
}

impl MeteredBlobs {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(inner: std::sync::Arc<dyn BlobStore>, metrics: SharedMetrics) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, BlobError>>,
    ) -> Result<T, BlobError> {
        let start = Instant::now();
        let result = call.await;
        let ok = matches!(result, Ok(_) | Err(BlobError::NotFound));
        self.metrics.blob_call(operation, ok, start.elapsed());
        result
    }
}

#[async_trait]
impl BlobStore for MeteredBlobs {
    async fn put(&self, key: &str, body: ByteStream, max_bytes: u64) -> Result<u64, BlobError> {
        self.timed("put", self.inner.put(key, body, max_bytes))
            .await
    }

    async fn begin_parts(&self, upload: &str, key: &str) -> Result<(), BlobError> {
        self.timed("begin_parts", self.inner.begin_parts(upload, key))
            .await
    }

    async fn put_part(
        &self,
        upload: &str,
        index: u32,
        body: ByteStream,
        max_bytes: u64,
    ) -> Result<u64, BlobError> {
        self.timed(
            "put_part",
            self.inner.put_part(upload, index, body, max_bytes),
        )
        .await
    }

    async fn part_sizes(&self, upload: &str, parts: u32) -> Result<Vec<Option<u64>>, BlobError> {
        self.timed("part_sizes", self.inner.part_sizes(upload, parts))
            .await
    }

    async fn assemble(&self, upload: &str, parts: u32, key: &str) -> Result<Assembled, BlobError> {
        self.timed("assemble", self.inner.assemble(upload, parts, key))
            .await
    }

    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<ByteStream, BlobError> {
        self.timed("get", self.inner.get(key, range)).await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.timed("delete", self.inner.delete(key)).await
    }

    async fn delete_parts(&self, upload: &str) -> Result<(), BlobError> {
        self.timed("delete_parts", self.inner.delete_parts(upload))
            .await
    }

    fn stale(&self, older_than: std::time::SystemTime) -> StoredStream {
        self.inner.stale(older_than)
    }
}
