//! `assetsAcl` WRITE with `datasetScope` on asset update and delete: what a writer scoped to some data
//! sets may change. The checks read the assets just before the write (not in the write's transaction),
//! like the write-protection check of files; docs/decisions.md ("Access control: assetsAcl datasetScope on
//! update and delete") records why and what that leaves open.

use std::collections::BTreeSet;

use super::assets::asset_error;
use crate::api::error::{ApiError, ErrorKind};
use crate::api::AppState;
use crate::domain::{Identifier, ProjectName};
use crate::store::assets::{Asset, AssetFilter, AssetPatch, ParentRef, Set};

/// CDF's 403, the answer to every write outside the scope: the whole request is refused.
fn forbidden() -> ApiError {
    ApiError::new(ErrorKind::Forbidden, crate::api::access::FORBIDDEN_MESSAGE)
}

fn in_scope(a: &Asset, allowed: &BTreeSet<i64>) -> bool {
    a.fields.data_set_id.is_some_and(|d| allowed.contains(&d))
}

/// An update by a writer scoped to `allowed`: every asset it names must be in one of those data sets
/// (an asset without a data set is outside every scope), and no patch may move an asset into a data set
/// outside them or out of every data set (`setNull`). Targets that do not exist are left to the store,
/// which answers them with `missing`. A move under another parent is allowed: it changes the moved asset
/// only (moves stay within a root, so the descendants' fields are unchanged).
pub(super) async fn check_update(
    app: &AppState,
    project: &ProjectName,
    allowed: &BTreeSet<i64>,
    patches: &[AssetPatch],
) -> Result<(), ApiError> {
    for p in patches {
        match &p.data_set_id {
            Set::To(d) if !allowed.contains(d) => return Err(forbidden()),
            Set::Null => return Err(forbidden()),
            _ => {}
        }
    }
    let refs: Vec<ParentRef> = patches
        .iter()
        .filter_map(|p| match &p.target {
            Identifier::Id(id) => Some(ParentRef::Id(*id)),
            Identifier::ExternalId(x) => Some(ParentRef::ExternalId(x.clone())),
            Identifier::InstanceId { .. } => None,
        })
        .collect();
    let found = app
        .assets
        .assets_by_refs(project.as_str(), &refs)
        .await
        .map_err(asset_error)?;
    if found.iter().any(|a| !in_scope(a, allowed)) {
        return Err(forbidden());
    }
    Ok(())
}

/// A delete by a writer scoped to `allowed`: every asset it names must be in one of those data sets and,
/// with `recursive`, so must every descendant that would go with it; otherwise the whole request is a 403
/// and nothing is deleted. Unknown refs are left to the store (`missing` or `ignoreUnknownIds`).
pub(super) async fn check_delete(
    app: &AppState,
    project: &ProjectName,
    allowed: &BTreeSet<i64>,
    refs: &[ParentRef],
    recursive: bool,
) -> Result<(), ApiError> {
    let found = app
        .assets
        .assets_by_refs(project.as_str(), refs)
        .await
        .map_err(asset_error)?;
    if found.iter().any(|a| !in_scope(a, allowed)) {
        return Err(forbidden());
    }
    if !recursive || found.is_empty() {
        return Ok(());
    }
    // The subtrees counted twice, once whole and once narrowed to the scope, both served by the path
    // index: any difference is a descendant outside the scope.
    let whole = AssetFilter {
        subtrees: Some(found.iter().map(|a| (a.id, a.subtree_prefix())).collect()),
        ..AssetFilter::default()
    };
    let narrowed = AssetFilter {
        data_set_ids: Some(allowed.iter().copied().collect()),
        ..whole.clone()
    };
    let all = app
        .assets
        .count_assets(project.as_str(), &whole)
        .await
        .map_err(asset_error)?;
    let inside = app
        .assets
        .count_assets(project.as_str(), &narrowed)
        .await
        .map_err(asset_error)?;
    if all != inside {
        return Err(forbidden());
    }
    Ok(())
}
