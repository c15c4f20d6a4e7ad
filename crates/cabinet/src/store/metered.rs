//! A [`MetadataStore`] that times every call of the store it wraps into
//! `cabinet_metadata_store_duration_seconds{operation,outcome}`; answers are passed through unchanged.

use std::future::Future;
use std::time::Instant;

use async_trait::async_trait;

use super::{
    DeletedFile, Expired, MetadataStore, NewSession, Page, PageRequest, Published, SessionRecord,
    StoreError,
};
use crate::auth::FileScope;
use crate::domain::{
    ContentRef, FileFilter, FileRecord, FileSpec, FileUpdate, Identifier, ProjectName,
};
use crate::metrics::SharedMetrics;

/// Times the calls of `inner`.
pub struct MeteredMetadata<S: ?Sized> {
    inner: std::sync::Arc<S>,
    metrics: SharedMetrics,
}

impl<S: ?Sized> MeteredMetadata<S> {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(inner: std::sync::Arc<S>, metrics: SharedMetrics) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let start = Instant::now();
        let result = call.await;
        self.metrics
            .metadata_call(operation, result.is_ok(), start.elapsed());
        result
    }
}

#[async_trait]
impl<S: MetadataStore + ?Sized> MetadataStore for MeteredMetadata<S> {
    async fn create_file(
        &self,
        project: &ProjectName,
        spec: FileSpec,
        overwrite: bool,
        session: NewSession,
        now: i64,
    ) -> Result<FileRecord, StoreError> {
        self.timed(
            "create_file",
            self.inner
                .create_file(project, spec, overwrite, session, now),
        )
        .await
    }

    async fn create_file_in_scope(
        &self,
        project: &ProjectName,
        spec: FileSpec,
        overwrite: bool,
        session: NewSession,
        now: i64,
        scope: &FileScope,
    ) -> Result<FileRecord, StoreError> {
        self.timed(
            "create_file",
            self.inner
                .create_file_in_scope(project, spec, overwrite, session, now, scope),
        )
        .await
    }

    async fn open_session(
        &self,
        project: &ProjectName,
        file: &Identifier,
        session: NewSession,
    ) -> Result<FileRecord, StoreError> {
        self.timed(
            "open_session",
            self.inner.open_session(project, file, session),
        )
        .await
    }

    async fn open_session_in_scope(
        &self,
        project: &ProjectName,
        file: &Identifier,
        session: NewSession,
        scope: &FileScope,
    ) -> Result<FileRecord, StoreError> {
        self.timed(
            "open_session",
            self.inner
                .open_session_in_scope(project, file, session, scope),
        )
        .await
    }

    async fn session(
        &self,
        project: &ProjectName,
        file_id: i64,
        session_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.timed("session", self.inner.session(project, file_id, session_id))
            .await
    }

    async fn publish_content(
        &self,
        project: &ProjectName,
        file_id: i64,
        session_id: &str,
        content: ContentRef,
        now: i64,
    ) -> Result<Published, StoreError> {
        self.timed(
            "publish_content",
            self.inner
                .publish_content(project, file_id, session_id, content, now),
        )
        .await
    }

    async fn retrieve(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.timed(
            "retrieve",
            self.inner.retrieve(project, ids, ignore_unknown),
        )
        .await
    }

    async fn list(&self, project: &ProjectName, page: PageRequest) -> Result<Page, StoreError> {
        self.timed("list", self.inner.list(project, page)).await
    }

    async fn count(&self, project: &ProjectName, filter: &FileFilter) -> Result<u64, StoreError> {
        self.timed("count", self.inner.count(project, filter)).await
    }

    async fn search(
        &self,
        project: &ProjectName,
        filter: &FileFilter,
        name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.timed("search", self.inner.search(project, filter, name, limit))
            .await
    }

    async fn update(
        &self,
        project: &ProjectName,
        items: Vec<FileUpdate>,
        now: i64,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.timed("update", self.inner.update(project, items, now))
            .await
    }

    async fn update_in_scope(
        &self,
        project: &ProjectName,
        items: Vec<FileUpdate>,
        now: i64,
        scope: &FileScope,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.timed(
            "update",
            self.inner.update_in_scope(project, items, now, scope),
        )
        .await
    }

    async fn delete(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
    ) -> Result<Vec<DeletedFile>, StoreError> {
        self.timed("delete", self.inner.delete(project, ids, ignore_unknown))
            .await
    }

    async fn delete_in_scope(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
        scope: &FileScope,
    ) -> Result<Vec<DeletedFile>, StoreError> {
        self.timed(
            "delete",
            self.inner
                .delete_in_scope(project, ids, ignore_unknown, scope),
        )
        .await
    }

    async fn content_keys(&self, file_ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
        self.timed("content_keys", self.inner.content_keys(file_ids))
            .await
    }

    async fn open_sessions(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        self.timed("open_sessions", self.inner.open_sessions(ids))
            .await
    }

    async fn projects_with_files(&self) -> Result<Vec<String>, StoreError> {
        self.timed("projects_with_files", self.inner.projects_with_files())
            .await
    }

    async fn expire(&self, now: i64) -> Result<Expired, StoreError> {
        self.timed("expire", self.inner.expire(now)).await
    }
}
