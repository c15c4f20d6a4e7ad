//! [`MetadataStore`] for [`PgStore`]: each method is the inherent method of the same name (files.rs,
//! writes.rs; list, count and search in their own files).

use async_trait::async_trait;

use super::PgStore;
use crate::auth::FileScope;
use crate::domain::{
    ContentRef, FileFilter, FileRecord, FileSpec, FileUpdate, Identifier, ProjectName,
};
use crate::store::{
    DeletedFile, Expired, MetadataStore, NewSession, Page, PageRequest, Published, SessionRecord,
    StoreError,
};

#[async_trait]
impl MetadataStore for PgStore {
    async fn create_file_in_scope(
        &self,
        project: &ProjectName,
        spec: FileSpec,
        overwrite: bool,
        session: NewSession,
        now: i64,
        scope: &FileScope,
    ) -> Result<FileRecord, StoreError> {
        PgStore::create_file_in_scope(self, project, spec, overwrite, session, now, scope).await
    }

    async fn open_session_in_scope(
        &self,
        project: &ProjectName,
        file: &Identifier,
        session: NewSession,
        scope: &FileScope,
    ) -> Result<FileRecord, StoreError> {
        PgStore::open_session_in_scope(self, project, file, session, scope).await
    }

    async fn session(
        &self,
        project: &ProjectName,
        file_id: i64,
        session_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        PgStore::session(self, project, file_id, session_id).await
    }

    async fn publish_content(
        &self,
        project: &ProjectName,
        file_id: i64,
        session_id: &str,
        content: ContentRef,
        now: i64,
    ) -> Result<Published, StoreError> {
        PgStore::publish_content(self, project, file_id, session_id, content, now).await
    }

    async fn retrieve(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
    ) -> Result<Vec<FileRecord>, StoreError> {
        PgStore::retrieve(self, project, ids, ignore_unknown).await
    }

    async fn list(&self, project: &ProjectName, page: PageRequest) -> Result<Page, StoreError> {
        self.list_files(project, page).await
    }

    async fn count(&self, project: &ProjectName, filter: &FileFilter) -> Result<u64, StoreError> {
        self.count_files(project, filter).await
    }

    async fn search(
        &self,
        project: &ProjectName,
        filter: &FileFilter,
        name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.search_files(project, filter, name, limit).await
    }

    async fn update_in_scope(
        &self,
        project: &ProjectName,
        items: Vec<FileUpdate>,
        now: i64,
        scope: &FileScope,
    ) -> Result<Vec<FileRecord>, StoreError> {
        PgStore::update_in_scope(self, project, items, now, scope).await
    }

    async fn delete_in_scope(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
        scope: &FileScope,
    ) -> Result<Vec<DeletedFile>, StoreError> {
        PgStore::delete_in_scope(self, project, ids, ignore_unknown, scope).await
    }

    async fn content_keys(&self, file_ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
        PgStore::content_keys(self, file_ids).await
    }

    async fn open_sessions(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        PgStore::open_sessions(self, ids).await
    }

    async fn projects_with_files(&self) -> Result<Vec<String>, StoreError> {
        PgStore::projects_with_files(self).await
    }

    async fn expire(&self, now: i64) -> Result<Expired, StoreError> {
        PgStore::expire(self, now).await
    }
}
