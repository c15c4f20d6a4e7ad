//! Metadata storage: files, their upload sessions and projects. The API layer talks only to the
//! [`MetadataStore`] trait, so a backend (SQLite now, PostgreSQL later) plugs in without touching a handler.
#![warn(missing_docs)]

pub mod assets;
pub mod backend;
mod batch;
pub mod datasets;
mod error;
mod filter_sql;
pub mod iam;
pub mod ids;
pub mod labels;
pub mod metered;
pub mod metered_resources;
pub mod name_search;
pub mod postgres;
mod query;
pub mod sqlite;

use async_trait::async_trait;

use crate::auth::FileScope;

pub use error::StoreError;

use crate::domain::{
    ContentRef, FileFilter, FileRecord, FileSpec, FileUpdate, Identifier, ProjectName,
};

/// An upload session to open together with a create or an upload-link request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Random, unguessable, unique: it is the `uploadId` of multipart uploads and part of every upload URL.
    pub id: String,
    /// `None` for a single-PUT upload, `Some(n)` for a multipart upload of n parts.
    pub parts: Option<u32>,
    /// After this time (ms since epoch) the session no longer accepts content.
    pub expires_time: i64,
}

/// An upload session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// See [`NewSession::id`].
    pub id: String,
    /// The file the content is for.
    pub file_id: i64,
    /// See [`NewSession::parts`].
    pub parts: Option<u32>,
    /// See [`NewSession::expires_time`].
    pub expires_time: i64,
    /// Set once a multipart session completed; a completed session accepts nothing more.
    pub completed_time: Option<i64>,
}

/// What [`MetadataStore::publish_content`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The content is now the file's; the previous content, if any, is no longer referenced and may be
    /// deleted from the blob store.
    Replaced {
        /// The content that was current before.
        previous: Option<ContentRef>,
    },
    /// The multipart session had completed before: nothing changed, and the given content is not referenced.
    AlreadyCompleted,
}

/// A deleted file's leftovers in the blob store, for the caller to remove after the delete committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedFile {
    /// The deleted file.
    pub id: i64,
    /// Its content, if it had any.
    pub content: Option<ContentRef>,
    /// Its upload sessions, whose staged parts may be removed.
    pub sessions: Vec<String>,
}

/// What [`MetadataStore::expire`] removed, for the caller to clean out of the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expired {
    /// Files deleted because no content arrived within a week.
    pub files: Vec<DeletedFile>,
    /// Upload sessions deleted because they expired; their staged parts may be removed.
    pub sessions: Vec<String>,
}

/// One of `count` disjoint parts of a listing, which together hold every file once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// Which part, from 0.
    pub index: u32,
    /// How many parts, at least 1.
    pub count: u32,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    /// Only files matching this filter.
    pub filter: FileFilter,
    /// Most files to return.
    pub limit: usize,
    /// Continue after this position (from [`Page::next`] of the previous page).
    pub after: Option<i64>,
    /// Only the files of this partition.
    pub partition: Option<Partition>,
}

/// The answer to a [`PageRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Files in listing order: the order they were created in.
    pub items: Vec<FileRecord>,
    /// Where the next page starts, when files beyond the last item exist. Positions are the store's own
    /// (opaque, increasing in listing order); a file keeps its position for life, so a walk that resumes
    /// from one returns every file that existed throughout exactly once.
    pub next: Option<i64>,
}

/// Where the metadata of every project lives.
///
/// # Contract
/// - Every method is scoped to one project; no method ever returns or touches another project's data.
///   Reading an unknown project behaves like reading an empty one; writing creates it.
/// - A method that returns `Ok` has made its change durable (committed and synced) before returning.
/// - Multi-item methods are all or nothing: on error nothing was changed.
/// - Ids are assigned by the store, lie in 1..=2^53−1, and are never reused, not even after a delete.
/// - `externalId` is unique within a project; a clash is [`StoreError::Duplicated`].
/// - Unknown identifiers are reported all at once, in the form the caller gave them, as
///   [`StoreError::Missing`].
///
/// The server wraps its store in [`metered::MeteredMetadata`], which forwards every method, default ones
/// included: a method added here must be forwarded there too.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// Creates a file from `spec` and opens `session` for its content. With `overwrite`, when a file with
    /// the spec's externalId exists, that file is updated instead ([`FileRecord::overwrite_with`]): its id,
    /// createdTime and current content are kept. Without `overwrite`, an existing externalId is
    /// [`StoreError::Duplicated`].
    async fn create_file(
        &self,
        project: &ProjectName,
        spec: FileSpec,
        overwrite: bool,
        session: NewSession,
        now: i64,
    ) -> Result<FileRecord, StoreError> {
        self.create_file_in_scope(project, spec, overwrite, session, now, &FileScope::all())
            .await
    }

    /// [`MetadataStore::create_file`] for a caller whose WRITE access is `scope`, checked inside the same
    /// write: the new file (its data set and security categories) must be covered, and with `overwrite`
    /// the replaced file too; otherwise [`StoreError::OutOfScope`] and nothing changes.
    async fn create_file_in_scope(
        &self,
        project: &ProjectName,
        spec: FileSpec,
        overwrite: bool,
        session: NewSession,
        now: i64,
        scope: &FileScope,
    ) -> Result<FileRecord, StoreError>;

    /// Opens `session` for new content of an existing file.
    async fn open_session(
        &self,
        project: &ProjectName,
        file: &Identifier,
        session: NewSession,
    ) -> Result<FileRecord, StoreError> {
        self.open_session_in_scope(project, file, session, &FileScope::all())
            .await
    }

    /// [`MetadataStore::open_session`] for a caller whose WRITE access is `scope`: a file outside it, and
    /// for a data-set-scoped caller ([`FileScope::hides_unknown`]) an unknown one, is
    /// [`StoreError::OutOfScope`].
    async fn open_session_in_scope(
        &self,
        project: &ProjectName,
        file: &Identifier,
        session: NewSession,
        scope: &FileScope,
    ) -> Result<FileRecord, StoreError>;

    /// Looks up an upload session of a file. `None` when the session or the file no longer exists.
    async fn session(
        &self,
        project: &ProjectName,
        file_id: i64,
        session_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Makes `content` the file's content, marks the file uploaded at `now`, and for a multipart session
    /// marks the session completed. Fails with [`StoreError::SessionGone`] when the file or the session no
    /// longer exists or the session expired, and with [`StoreError::Superseded`] when the file's current
    /// content came from a newer session ([`crate::domain::is_newer_session`]): a stale upload URL never
    /// overwrites newer content. On failure the caller must delete `content` from the blob store.
    async fn publish_content(
        &self,
        project: &ProjectName,
        file_id: i64,
        session_id: &str,
        content: ContentRef,
        now: i64,
    ) -> Result<Published, StoreError>;

    /// Returns the files in the order of `ids`; a file named twice (in two forms) comes back twice.
    /// Unknown identifiers are skipped with `ignore_unknown`, else they fail the call.
    async fn retrieve(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
    ) -> Result<Vec<FileRecord>, StoreError>;

    /// Lists files matching the page's filter in listing (creation) order.
    async fn list(&self, project: &ProjectName, page: PageRequest) -> Result<Page, StoreError>;

    /// Counts the files matching `filter`.
    async fn count(&self, project: &ProjectName, filter: &FileFilter) -> Result<u64, StoreError>;

    /// At most `limit` files matching `filter`, best match of `name` first (exact, then prefix, then whole
    /// word, then typo-tolerant); without `name`, in listing order.
    async fn search(
        &self,
        project: &ProjectName,
        filter: &FileFilter,
        name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError>;

    /// Applies every update, all or nothing, and returns the updated files in request order. Unknown
    /// targets are [`StoreError::Missing`], an externalId taken by another file is
    /// [`StoreError::Duplicated`], a result over a limit is [`StoreError::Invalid`].
    async fn update(
        &self,
        project: &ProjectName,
        items: Vec<FileUpdate>,
        now: i64,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.update_in_scope(project, items, now, &FileScope::all())
            .await
    }

    /// [`MetadataStore::update`] for a caller whose WRITE access is `scope`: every target must be covered
    /// before and after its patch (moving a file needs WRITE on both data sets, and adding or removing a
    /// security category needs membership of it); for a data-set-scoped caller an unknown target is
    /// [`StoreError::OutOfScope`] too. Nothing changes on failure.
    async fn update_in_scope(
        &self,
        project: &ProjectName,
        items: Vec<FileUpdate>,
        now: i64,
        scope: &FileScope,
    ) -> Result<Vec<FileRecord>, StoreError>;

    /// Deletes files and their upload sessions; unknown identifiers are skipped with `ignore_unknown`,
    /// else they fail the call and nothing is deleted.
    async fn delete(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
    ) -> Result<Vec<DeletedFile>, StoreError> {
        self.delete_in_scope(project, ids, ignore_unknown, &FileScope::all())
            .await
    }

    /// [`MetadataStore::delete`] for a caller whose WRITE access is `scope`: a file outside it is treated
    /// like an unknown one (skipped with `ignore_unknown`), and for a data-set-scoped caller an unknown
    /// file that is not ignored is [`StoreError::OutOfScope`].
    async fn delete_in_scope(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
        scope: &FileScope,
    ) -> Result<Vec<DeletedFile>, StoreError>;

    /// For the orphan collector: the current content key of each file of `file_ids` that exists and has
    /// content, in any project. Ids without a file (or without content) are left out.
    async fn content_keys(&self, file_ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError>;

    /// For the orphan collector: which of the upload sessions `ids` still exist and have not completed,
    /// in any project (the parts of the others are of no use any more).
    async fn open_sessions(&self, ids: &[String]) -> Result<Vec<String>, StoreError>;

    /// For the console's project picker (`GET /api/v1/projects` in open mode): the names of the projects
    /// that hold at least one file (uploaded or not), in name order. The one method that spans projects
    /// and returns their names; it reads the projects table and asks per project whether one file exists
    /// (an index probe), so it costs the number of projects, not of files.
    async fn projects_with_files(&self) -> Result<Vec<String>, StoreError>;

    /// Removes, as of `now`, files that got no content within a week of their creation and have no
    /// session left that could still deliver some, and upload sessions past their expiry (spec §7.1).
    /// Removes at most a batch per call; callers repeat until nothing is returned.
    async fn expire(&self, now: i64) -> Result<Expired, StoreError>;
}
