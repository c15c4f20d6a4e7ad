//! One module per endpoint (or per closely related group of endpoints), and the helpers they share.

pub mod aggregate;
pub mod assets;
mod assets_json;
mod assets_scope;
mod conditional;
pub mod content;
pub mod create;
mod data_set_refs;
pub mod datasets;
pub mod delete;
pub mod download_link;
pub mod groups;
mod iam_common;
pub mod labels;
pub mod list;
pub mod multipart;
pub mod project;
pub mod projects;
pub mod retrieve;
pub mod search;
pub mod security_categories;
pub mod token;
pub mod update;
pub mod upload_link;
mod visible_pages;

use serde::Deserialize;

use super::extract::UrlBase;
use super::model::FileView;
use super::AppState;
use crate::clock::now_ms;
use crate::domain::{FileRecord, ProjectName, UPLOAD_URL_TTL_MS};
use crate::signing::Grant;
use crate::store::NewSession;

/// A fresh upload session: single-PUT when `parts` is `None`. Its id is the creation time (12 hex digits)
/// followed by 128 random bits: unguessable, and new ids sort after older ones, so the sessions table grows
/// at its end rather than on random pages.
pub fn new_session(parts: Option<u32>) -> NewSession {
    NewSession {
        id: format!("{:012x}{}", now_ms().max(0), uuid::Uuid::new_v4().simple()),
        parts,
        expires_time: now_ms() + UPLOAD_URL_TTL_MS,
    }
}

/// A blob key for one completed upload of a file ([`crate::domain::new_content_key`]).
pub fn content_key(project: &ProjectName, file_id: i64, session: &str) -> String {
    crate::domain::new_content_key(project, file_id, session)
}

impl AppState {
    /// 507 when `incoming` more bytes would leave less than the free-space watermark: new uploads are
    /// refused up front instead of failing at their end.
    pub fn check_room(&self, incoming: u64) -> Result<(), super::error::ApiError> {
        let Some(disk) = &self.disk else {
            return Ok(());
        };
        disk.check_room(incoming).map_err(|no_room| {
            super::error::ApiError::new(
                super::error::ErrorKind::InsufficientStorage,
                format!(
                    "The server's disk is nearly full ({} bytes free, {} announced, {} kept free): new uploads are refused until space is freed. Deleting files still works",
                    no_room.free, no_room.incoming, no_room.min_free
                ),
            )
        })
    }

    /// The file as returned by create and uploadlink: with its single-PUT upload URL.
    pub fn with_upload_url(
        &self,
        base: &UrlBase,
        project: &ProjectName,
        file: FileRecord,
        session: &NewSession,
    ) -> FileView {
        let grant = Grant::Upload {
            project: project.to_string(),
            file_id: file.id,
            session: session.id.clone(),
            part: None,
        };
        let mut view = FileView::from(file);
        view.upload_url = Some(self.signer.url_at(&base.0, &grant, session.expires_time));
        view
    }

    /// [`AppState::with_upload_url`], or in direct transfer the file with a presigned S3 PUT URL.
    pub async fn upload_view(
        &self,
        base: &UrlBase,
        project: &ProjectName,
        file: FileRecord,
        session: &NewSession,
    ) -> Result<FileView, super::error::ApiError> {
        let Some(direct) = &self.direct else {
            return Ok(self.with_upload_url(base, project, file, session));
        };
        let url = direct
            .upload_url(project, file.id, &session.id, session.expires_time)
            .await?;
        let mut view = FileView::from(file);
        view.upload_url = Some(url);
        Ok(view)
    }

    /// [`AppState::with_part_urls`], or in direct transfer the file with presigned UploadPart URLs of
    /// the session's S3 multipart upload (opened already).
    pub async fn part_urls_view(
        &self,
        base: &UrlBase,
        project: &ProjectName,
        file: FileRecord,
        session: &NewSession,
    ) -> Result<FileView, super::error::ApiError> {
        let Some(direct) = &self.direct else {
            return Ok(self.with_part_urls(base, project, file, session));
        };
        let urls = direct
            .part_urls(
                &session.id,
                session.parts.unwrap_or(1),
                session.expires_time,
            )
            .await?;
        let mut view = FileView::from(file);
        view.upload_id = Some(session.id.clone());
        view.upload_urls = Some(urls);
        Ok(view)
    }

    /// The file as returned by initmultipartupload and multiuploadlink: with `uploadId` and part URLs.
    pub fn with_part_urls(
        &self,
        base: &UrlBase,
        project: &ProjectName,
        file: FileRecord,
        session: &NewSession,
    ) -> FileView {
        let parts = session.parts.unwrap_or(1);
        let urls = (0..parts)
            .map(|part| {
                let grant = Grant::Upload {
                    project: project.to_string(),
                    file_id: file.id,
                    session: session.id.clone(),
                    part: Some(part),
                };
                self.signer.url_at(&base.0, &grant, session.expires_time)
            })
            .collect();
        let mut view = FileView::from(file);
        view.upload_id = Some(session.id.clone());
        view.upload_urls = Some(urls);
        view
    }
}

/// `?overwrite=` of create and initmultipartupload.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OverwriteQuery {
    /// Replace the fields of the file holding the body's externalId instead of failing with 409.
    #[serde(default)]
    pub overwrite: bool,
}

/// `?parts=` of multiuploadlink.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartsQuery {
    /// How many parts the upload has: 1..=250.
    pub parts: Option<u32>,
}

/// Checks `parts`: present and in 1..=250.
pub fn check_parts(parts: Option<u32>) -> Result<u32, super::error::ApiError> {
    match parts {
        Some(p) if (1..=crate::domain::MAX_PARTS).contains(&p) => Ok(p),
        Some(_) => Err(super::error::ApiError::bad_request(format!(
            "parts: must be between 1 and {}",
            crate::domain::MAX_PARTS
        ))),
        None => Err(super::error::ApiError::bad_request(
            "parts: the query parameter is required",
        )),
    }
}

/// `limit` of list and search: 100 when absent; above 1000 it is 1000, as CDF documents ("at most 1000
/// even if you specify a higher limit"; the JS SDK passes a caller's limit through); below 1 a 400.
pub fn page_limit(limit: Option<i64>) -> Result<usize, super::error::ApiError> {
    use crate::domain::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
    match limit {
        None => Ok(DEFAULT_LIST_LIMIT),
        Some(l) if l >= 1 => Ok((l as u64).min(MAX_LIST_LIMIT as u64) as usize),
        Some(_) => Err(super::error::ApiError::bad_request(
            "limit: must be at least 1",
        )),
    }
}
