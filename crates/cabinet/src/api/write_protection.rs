//! Write-protected data sets: writing a file into one, or changing or deleting a file in one, needs
//! `datasetsAcl:OWNER` covering that data set, on top of `filesAcl:WRITE` (spec/auth.md §6). Open mode
//! has no principal and no capabilities, so nothing is write-protected there.
//!
//! The check reads the data sets and files as they are just before the write; a data set made
//! write-protected between the check and the write is not seen by that one request.

use crate::api::error::{ApiError, ErrorKind};
use crate::api::AppState;
use crate::auth::{Principal, ScopeNeed};
use crate::domain::{Identifier, ProjectName};

/// A 403 unless the caller owns every write-protected data set among `data_sets` (unknown ones are
/// not write-protected).
pub async fn require_owner(
    app: &AppState,
    principal: &Principal,
    project: &ProjectName,
    data_sets: impl IntoIterator<Item = i64>,
) -> Result<(), ApiError> {
    if matches!(principal, Principal::Open) {
        return Ok(());
    }
    let mut ids: Vec<i64> = data_sets.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let idents: Vec<Identifier> = ids.into_iter().map(Identifier::Id).collect();
    let found = app
        .data_sets
        .retrieve_data_sets(project.as_str(), &idents, true)
        .await?;
    for d in found.iter().filter(|d| d.fields.write_protected) {
        if !principal.allows(
            project.as_str(),
            crate::api::routes::datasets::ACL,
            "OWNER",
            ScopeNeed::Ids(&[d.id]),
        ) {
            tracing::info!(
                project = project.as_str(),
                data_set = d.id,
                "403: the data set is write-protected and the caller does not own it"
            );
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                crate::api::access::FORBIDDEN_MESSAGE,
            ));
        }
    }
    Ok(())
}

/// [`require_owner`] for the data sets the files `targets` are in now (unknown files are skipped: the
/// write reports them), plus `more` (data sets files are moved into).
pub async fn require_owner_of_files(
    app: &AppState,
    principal: &Principal,
    project: &ProjectName,
    targets: &[Identifier],
    more: impl IntoIterator<Item = i64>,
) -> Result<(), ApiError> {
    if matches!(principal, Principal::Open) {
        return Ok(());
    }
    let files = if targets.is_empty() {
        Vec::new()
    } else {
        app.meta.retrieve(project, targets, true).await?
    };
    let current = files.iter().filter_map(|f| f.data_set_id);
    require_owner(app, principal, project, current.chain(more)).await
}
