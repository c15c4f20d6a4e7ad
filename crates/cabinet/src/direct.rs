//! Direct transfer (`cabinet serve --content s3://… --content-transfer direct`): clients upload to and
//! download from the bucket itself through presigned S3 URLs, so content never passes through a node.
//!
//! - Single-PUT uploads (`POST /files`, `uploadlink`): the upload URL is a presigned PUT of the object the
//!   session will publish, and a marker ([`S3Blobs::mark_direct`]) records the open session in the bucket,
//!   where every node sees it. Nothing tells cabinet when the client's PUT ends, so the object is
//!   published ([`MetadataStore::publish_content`], which keeps a stale session from overwriting newer
//!   content and makes concurrent publishers on several nodes safe) by whichever comes first: a read of
//!   the file (byids, `GET /files/{id}`, list and search pages, downloadlink: [`settle`]) or the
//!   reconciler ([`DirectTransfer::run`]), which looks at recent sessions every [`TICK`].
//! - Multipart uploads: the part URLs are presigned UploadPart URLs of the one S3 multipart upload that
//!   [`crate::blob::BlobStore::begin_parts`] opened; `completemultipartupload` completes it as in proxy
//!   transfer.
//! - Downloads: presigned GETs, valid as long as cabinet's own download URLs.
//!
//! HEAD requests are bounded: only objects of open direct single-PUT sessions are looked at, recent
//! sessions at every tick, older ones less often ([`check_interval`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::api::error::ApiError;
use crate::api::AppState;
use crate::blob::s3::S3Blobs;
use crate::blob::{BlobError, BlobStore};
use crate::clock::now_ms;
use crate::collector::InFlight;
use crate::domain::{
    content_key_file_id, content_key_session, new_content_key, ContentRef, FileRecord, Identifier,
    ProjectName, MAX_SINGLE_UPLOAD_BYTES,
};
use crate::store::{MetadataStore, Published, StoreError};

/// How often the reconciler lists the open sessions and looks at the recent ones: a single PUT is
/// published within about this long of its answer (the target is 1 s).
pub const TICK: Duration = Duration::from_millis(250);
/// Objects looked at concurrently by one reconciler pass or one read.
const CONCURRENT_CHECKS: usize = 16;
/// A marker written by this node stays known this long even when a listing does not show it yet.
const LOCAL_MARK_GRACE: Duration = Duration::from_secs(10);

/// How content travels between clients and the content store (`--content-transfer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentTransfer {
    /// Through cabinet: upload and download URLs are cabinet's own signed URLs.
    #[default]
    Proxy,
    /// Straight to and from S3 through presigned URLs.
    Direct,
}

impl std::str::FromStr for ContentTransfer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "proxy" => Ok(Self::Proxy),
            "direct" => Ok(Self::Direct),
            other => Err(format!(
                "unknown content transfer '{other}' (expected proxy or direct)"
            )),
        }
    }
}

impl std::fmt::Display for ContentTransfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Proxy => "proxy",
            Self::Direct => "direct",
        })
    }
}

/// An open direct single-PUT session, as its marker names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    project: ProjectName,
    file_id: i64,
    session: String,
    key: String,
}

impl Mark {
    /// The mark of a content key ([`new_content_key`]: `{project}/…/{file id}/{session}-{nonce}`).
    fn parse(key: &str) -> Option<Self> {
        let project = ProjectName::parse(key.split('/').next()?).ok()?;
        Some(Self {
            project,
            file_id: content_key_file_id(key)?,
            session: content_key_session(key)?.to_string(),
            key: key.to_string(),
        })
    }

    /// When the session was opened: its id starts with the time in 12 hex digits (ms).
    fn opened_ms(&self) -> i64 {
        self.session
            .get(..12)
            .and_then(|t| i64::from_str_radix(t, 16).ok())
            .unwrap_or(0)
    }
}

/// How long the reconciler waits between two looks at a session opened `age` ago: a client usually
/// PUTs within seconds of asking for the URL, rarely days later.
fn check_interval(age: Duration) -> Duration {
    if age < Duration::from_secs(10 * 60) {
        TICK
    } else if age < Duration::from_secs(3600) {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(60)
    }
}

/// What a look at one session did.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Nothing arrived yet.
    Waiting,
    /// The object was published as the file's content.
    Published,
    /// The session is over (published elsewhere, superseded, gone, or the object refused).
    Ended,
}

#[derive(Default)]
struct Known {
    /// Open sessions by key, with when this node last looked at each.
    marks: HashMap<String, (Mark, Option<Instant>)>,
    /// Markers this node wrote, by key, with when.
    local: HashMap<String, Instant>,
}

/// The direct transfer of one node.
pub struct DirectTransfer {
    s3: Arc<S3Blobs>,
    deployment: String,
    known: Mutex<Known>,
}

impl DirectTransfer {
    /// Direct transfer on the bucket of `s3` for the deployment named `deployment`: a name all its nodes
    /// share and no other deployment on the bucket has (derived from the shared secret), so that a
    /// node only ever judges sessions its own metadata store holds.
    pub fn new(s3: Arc<S3Blobs>, deployment: String) -> Self {
        Self {
            s3,
            deployment,
            known: Mutex::default(),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The upload URL of a new single-PUT session: a presigned PUT of the object it will publish, valid
    /// until the session expires.
    pub async fn upload_url(
        &self,
        project: &ProjectName,
        file_id: i64,
        session: &str,
        expires_ms: i64,
    ) -> Result<String, BlobError> {
        let key = new_content_key(project, file_id, session);
        self.s3.mark_direct(&self.deployment, &key).await?;
        if let Some(mark) = Mark::parse(&key) {
            let mut known = self.known();
            known.local.insert(key.clone(), Instant::now());
            known.marks.insert(key.clone(), (mark, None));
        }
        self.s3.presign_put(&key, until(expires_ms)).await
    }

    /// The part URLs of a multipart session whose S3 upload is open: presigned UploadPart URLs, valid
    /// until the session expires.
    pub async fn part_urls(
        &self,
        session: &str,
        parts: u32,
        expires_ms: i64,
    ) -> Result<Vec<String>, BlobError> {
        self.s3
            .presign_parts(session, parts, until(expires_ms))
            .await
    }

    /// A presigned GET of `content`, valid until `expires_ms`, answered with the file's mimeType as the
    /// Content-Type, like cabinet's own downloads.
    pub async fn download_url(
        &self,
        file: &FileRecord,
        content: &ContentRef,
        expires_ms: i64,
    ) -> Result<String, BlobError> {
        let mime = file
            .mime_type
            .as_deref()
            .unwrap_or("application/octet-stream");
        self.s3
            .presign_get(&content.key, until(expires_ms), Some(mime))
            .await
    }

    /// The URL of a presigned GET of `key` (nothing is read): the web console takes the origin of its
    /// presigned URLs from it, for the page's Content-Security-Policy.
    pub async fn sample_url(&self, key: &str) -> Option<String> {
        self.s3
            .presign_get(key, std::time::Duration::from_secs(60), None)
            .await
            .ok()
    }

    /// The open sessions of `project` among `file_ids`.
    fn marks_of(&self, project: &ProjectName, file_ids: &[i64]) -> Vec<Mark> {
        let known = self.known();
        if known.marks.is_empty() {
            return Vec::new();
        }
        known
            .marks
            .values()
            .filter(|(m, _)| &m.project == project && file_ids.contains(&m.file_id))
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// Looks at the object of `mark`: publishes it when it arrived, and ends what can no longer be
    /// published. Errors leave everything as it was, for the next look.
    async fn settle_mark(
        &self,
        meta: &dyn MetadataStore,
        in_flight: &Arc<InFlight>,
        mark: &Mark,
    ) -> Result<Outcome, ApiError> {
        if !self.known().marks.contains_key(&mark.key) {
            // Settled a moment ago by a read or the reconciler of this node.
            return Ok(Outcome::Ended);
        }
        let outcome = self.look(meta, in_flight, mark).await?;
        // Published or over: nothing more to look at (a later PUT to the same URL is not watched).
        if outcome != Outcome::Waiting {
            self.s3.unmark_direct(&self.deployment, &mark.key).await?;
            let mut known = self.known();
            known.marks.remove(&mark.key);
            known.local.remove(&mark.key);
        }
        Ok(outcome)
    }

    async fn look(
        &self,
        meta: &dyn MetadataStore,
        in_flight: &Arc<InFlight>,
        mark: &Mark,
    ) -> Result<Outcome, ApiError> {
        let session = meta
            .session(&mark.project, mark.file_id, &mark.session)
            .await?;
        let Some(session) = session else {
            tracing::info!(
                file_id = mark.file_id,
                "direct upload session gone (file deleted or expired)"
            );
            self.remove_unless_current(meta, mark).await?;
            return Ok(Outcome::Ended);
        };
        let Some(size) = self.s3.size_of(&mark.key).await? else {
            if session.expires_time < now_ms() {
                return Ok(Outcome::Ended);
            }
            return Ok(Outcome::Waiting);
        };
        if size > MAX_SINGLE_UPLOAD_BYTES {
            // S3 cannot hold a presigned PUT to our limit: the object is refused here, and the session
            // stays open for another attempt.
            tracing::warn!(
                file_id = mark.file_id,
                size,
                limit = MAX_SINGLE_UPLOAD_BYTES,
                "a direct upload is over the size limit: removed"
            );
            self.s3.delete(&mark.key).await?;
            return Ok(Outcome::Waiting);
        }
        let _in_flight = in_flight.begin(&mark.key);
        let content = ContentRef {
            key: mark.key.clone(),
            size,
        };
        match meta
            .publish_content(
                &mark.project,
                mark.file_id,
                &mark.session,
                content,
                now_ms(),
            )
            .await
        {
            Ok(Published::Replaced { previous }) => {
                // Another node may have published this very object a moment earlier.
                if let Some(previous) = previous.filter(|p| p.key != mark.key) {
                    if let Err(e) = self.s3.delete(&previous.key).await {
                        tracing::warn!(error = %e, "could not remove replaced content");
                    }
                }
                tracing::info!(file_id = mark.file_id, size, "direct upload published");
                Ok(Outcome::Published)
            }
            Ok(Published::AlreadyCompleted) => Ok(Outcome::Ended),
            Err(e @ (StoreError::Superseded | StoreError::SessionGone)) => {
                tracing::info!(file_id = mark.file_id, error = %e, "direct upload not published");
                self.remove_unless_current(meta, mark).await?;
                Ok(Outcome::Ended)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the object of an ended session, unless it is the file's content (published by another
    /// node just before its session ended).
    async fn remove_unless_current(
        &self,
        meta: &dyn MetadataStore,
        mark: &Mark,
    ) -> Result<(), ApiError> {
        let current = meta
            .retrieve(&mark.project, &[Identifier::Id(mark.file_id)], true)
            .await?
            .pop()
            .and_then(|f| f.content);
        if current.is_none_or(|c| c.key != mark.key) {
            self.s3.delete(&mark.key).await?;
        }
        Ok(())
    }

    /// One pass of the reconciler: lists the open sessions (any node's), then looks at those due.
    pub async fn reconcile_once(&self, meta: &dyn MetadataStore, in_flight: &Arc<InFlight>) {
        let listed = match self.s3.direct_marks(&self.deployment).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(error = %e, "could not list the open direct uploads");
                return;
            }
        };
        let due: Vec<Mark> = {
            let mut known = self.known();
            let Known { marks, local } = &mut *known;
            local.retain(|_, at| at.elapsed() < LOCAL_MARK_GRACE);
            let listed: std::collections::HashSet<String> = listed.into_iter().collect();
            marks.retain(|key, _| listed.contains(key) || local.contains_key(key));
            for key in &listed {
                if !marks.contains_key(key) {
                    if let Some(mark) = Mark::parse(key) {
                        marks.insert(key.clone(), (mark, None));
                    }
                }
            }
            let now = now_ms();
            let due: Vec<Mark> = marks
                .values_mut()
                .filter(|(mark, last)| {
                    let age = Duration::from_millis((now - mark.opened_ms()).max(0) as u64);
                    last.is_none_or(|at| at.elapsed() >= check_interval(age))
                })
                .map(|(mark, last)| {
                    *last = Some(Instant::now());
                    mark.clone()
                })
                .collect();
            due
        };
        futures_util::stream::iter(due)
            .for_each_concurrent(CONCURRENT_CHECKS, |mark| async move {
                if let Err(e) = self.settle_mark(meta, in_flight, &mark).await {
                    tracing::warn!(file_id = mark.file_id, error = ?e, "could not check a direct upload");
                }
            })
            .await;
    }

    /// Runs the reconciler forever; drop (abort) the task to stop it.
    pub async fn run(self: Arc<Self>, meta: Arc<dyn MetadataStore>, in_flight: Arc<InFlight>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.reconcile_once(meta.as_ref(), &in_flight).await;
        }
    }
}

/// The time left until `expires_ms`, at least a second.
fn until(expires_ms: i64) -> Duration {
    Duration::from_millis((expires_ms - now_ms()).max(1000) as u64)
}

/// `files` of `project` as they are once the direct uploads that arrived for them are published: in
/// direct transfer, a file with an open single-PUT session is looked at (HEAD) and its object published
/// before it is answered, so `uploaded` turns true as soon as the client's PUT has returned. Otherwise
/// `files` unchanged.
pub async fn settle(
    app: &AppState,
    project: &ProjectName,
    mut files: Vec<FileRecord>,
) -> Result<Vec<FileRecord>, ApiError> {
    let Some(direct) = &app.direct else {
        return Ok(files);
    };
    let ids: Vec<i64> = files.iter().map(|f| f.id).collect();
    let marks = direct.marks_of(project, &ids);
    if marks.is_empty() {
        return Ok(files);
    }
    let outcomes: Vec<(i64, Result<Outcome, ApiError>)> = futures_util::stream::iter(marks)
        .map(|mark| async move {
            let outcome = direct
                .settle_mark(app.meta.as_ref(), &app.in_flight, &mark)
                .await;
            (mark.file_id, outcome)
        })
        .buffer_unordered(CONCURRENT_CHECKS)
        .collect()
        .await;
    let mut published = Vec::new();
    for (file_id, outcome) in outcomes {
        match outcome {
            Ok(Outcome::Published) => published.push(Identifier::Id(file_id)),
            Ok(_) => {}
            // The read still answers; the reconciler tries again.
            Err(e) => tracing::warn!(file_id, error = ?e, "could not check a direct upload"),
        }
    }
    if published.is_empty() {
        return Ok(files);
    }
    let fresh = app.meta.retrieve(project, &published, true).await?;
    for file in &mut files {
        if let Some(new) = fresh.iter().find(|f| f.id == file.id) {
            *file = new.clone();
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_name_their_session() {
        let project = ProjectName::parse("plant-a").unwrap_or_else(|_| unreachable!());
        let session = format!("{:012x}{}", 1_700_000_000_000i64, "ab".repeat(16));
        let key = new_content_key(&project, 77, &session);
        let mark = Mark::parse(&key).unwrap_or_else(|| unreachable!());
        assert_eq!(mark.file_id, 77);
        assert_eq!(mark.session, session);
        assert_eq!(mark.opened_ms(), 1_700_000_000_000);
        assert!(Mark::parse("nonsense").is_none());
    }

    #[test]
    fn older_sessions_are_looked_at_less_often() {
        assert_eq!(check_interval(Duration::from_secs(1)), TICK);
        assert!(check_interval(Duration::from_secs(1800)) > TICK);
        assert!(
            check_interval(Duration::from_secs(86_400)) > check_interval(Duration::from_secs(1800))
        );
    }

    #[test]
    fn transfer_modes_parse() {
        assert_eq!("proxy".parse(), Ok(ContentTransfer::Proxy));
        assert_eq!("direct".parse(), Ok(ContentTransfer::Direct));
        assert!("DIRECT".parse::<ContentTransfer>().is_err());
        assert_eq!(ContentTransfer::Direct.to_string(), "direct");
    }
}
