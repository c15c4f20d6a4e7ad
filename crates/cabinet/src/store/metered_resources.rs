//! Wrappers that time every call of the IAM, data-set, label and asset stores into
//! `cabinet_metadata_store_duration_seconds{operation,outcome}`, as [`super::metered::MeteredMetadata`]
//! does for the files store; answers are passed through unchanged.
//!
//! Each wrapper forwards every method of its trait, default ones included (a backend may override a
//! default, and the override must still be the one called): a method added to one of these traits must
//! be forwarded here too. The operation label is the method's name, which no two traits share.
//!
//! Outcome: a call counts as `error` only when the backend failed (`StoreError::Internal` or
//! `NoSpace`, also inside `IamError::Store` and `AssetError::Store`); unknown ids, taken names and
//! refused changes are answers of a working store and count as `ok`, so the error series says whether
//! the database is healthy, not whether clients send good requests.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::assets::{
    Asset, AssetError, AssetFilter, AssetPage, AssetPatch, AssetStore, NewAsset, ParentRef,
};
use super::datasets::{DataSet, DataSetFields, DataSetFilter, DataSetPatch, DataSetStore};
use super::iam::{CategoryPage, IamError, IamStore, NewGroup, SecurityCategory, StoredGroup};
use super::labels::{Label, LabelFilter, LabelStore, NewLabel};
use super::StoreError;
use crate::domain::Identifier;
use crate::metrics::SharedMetrics;

/// Whether an error is the backend's fault rather than an answer to the request.
trait Failure {
    fn is_backend_failure(&self) -> bool;
}

impl Failure for StoreError {
    fn is_backend_failure(&self) -> bool {
        matches!(
            self,
            StoreError::Internal { .. } | StoreError::NoSpace { .. }
        )
    }
}

impl Failure for IamError {
    fn is_backend_failure(&self) -> bool {
        matches!(self, IamError::Store(e) if e.is_backend_failure())
    }
}

impl Failure for AssetError {
    fn is_backend_failure(&self) -> bool {
        matches!(self, AssetError::Store(e) if e.is_backend_failure())
    }
}

/// Times the calls of the store `inner` (any of the four traits).
pub struct Metered<S: ?Sized> {
    inner: Arc<S>,
    metrics: SharedMetrics,
}

impl<S: ?Sized> Metered<S> {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(inner: Arc<S>, metrics: SharedMetrics) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T, E: Failure>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let start = Instant::now();
        let result = call.await;
        let ok = result
            .as_ref()
            .map_or_else(|e| !e.is_backend_failure(), |_| true);
        self.metrics.metadata_call(operation, ok, start.elapsed());
        result
    }
}

#[async_trait]
impl<S: IamStore + ?Sized> IamStore for Metered<S> {
    async fn all_groups(&self) -> Result<Vec<StoredGroup>, IamError> {
        self.timed("all_groups", self.inner.all_groups()).await
    }

    async fn create_groups(
        &self,
        project: &str,
        groups: Vec<NewGroup>,
        max_groups: usize,
    ) -> Result<Vec<StoredGroup>, IamError> {
        self.timed(
            "create_groups",
            self.inner.create_groups(project, groups, max_groups),
        )
        .await
    }

    async fn delete_groups(&self, project: &str, ids: &[i64]) -> Result<(), IamError> {
        self.timed("delete_groups", self.inner.delete_groups(project, ids))
            .await
    }

    async fn security_categories(
        &self,
        project: &str,
        page: CategoryPage,
    ) -> Result<Vec<SecurityCategory>, IamError> {
        self.timed(
            "security_categories",
            self.inner.security_categories(project, page),
        )
        .await
    }

    async fn create_security_categories(
        &self,
        project: &str,
        names: Vec<String>,
    ) -> Result<Vec<SecurityCategory>, IamError> {
        self.timed(
            "create_security_categories",
            self.inner.create_security_categories(project, names),
        )
        .await
    }

    async fn delete_security_categories(&self, project: &str, ids: &[i64]) -> Result<(), IamError> {
        self.timed(
            "delete_security_categories",
            self.inner.delete_security_categories(project, ids),
        )
        .await
    }
}

#[async_trait]
impl<S: DataSetStore + ?Sized> DataSetStore for Metered<S> {
    async fn create_data_sets(
        &self,
        project: &str,
        items: Vec<DataSetFields>,
        now: i64,
    ) -> Result<Vec<DataSet>, StoreError> {
        self.timed(
            "create_data_sets",
            self.inner.create_data_sets(project, items, now),
        )
        .await
    }

    async fn retrieve_data_sets(
        &self,
        project: &str,
        ids: &[Identifier],
        ignore_unknown: bool,
    ) -> Result<Vec<DataSet>, StoreError> {
        self.timed(
            "retrieve_data_sets",
            self.inner.retrieve_data_sets(project, ids, ignore_unknown),
        )
        .await
    }

    async fn scan_data_sets(
        &self,
        project: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<DataSet>, StoreError> {
        self.timed(
            "scan_data_sets",
            self.inner.scan_data_sets(project, after, limit),
        )
        .await
    }

    async fn update_data_sets(
        &self,
        project: &str,
        items: Vec<(Identifier, DataSetPatch)>,
        now: i64,
    ) -> Result<Vec<DataSet>, StoreError> {
        self.timed(
            "update_data_sets",
            self.inner.update_data_sets(project, items, now),
        )
        .await
    }

    async fn list_data_sets(
        &self,
        project: &str,
        filter: &DataSetFilter,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<DataSet>, bool), StoreError> {
        self.timed(
            "list_data_sets",
            self.inner.list_data_sets(project, filter, after, limit),
        )
        .await
    }

    async fn count_data_sets(
        &self,
        project: &str,
        filter: &DataSetFilter,
    ) -> Result<u64, StoreError> {
        self.timed(
            "count_data_sets",
            self.inner.count_data_sets(project, filter),
        )
        .await
    }
}

#[async_trait]
impl<S: LabelStore + ?Sized> LabelStore for Metered<S> {
    async fn create_labels(
        &self,
        project: &str,
        items: Vec<NewLabel>,
        now: i64,
    ) -> Result<Vec<Label>, StoreError> {
        self.timed(
            "create_labels",
            self.inner.create_labels(project, items, now),
        )
        .await
    }

    async fn retrieve_labels(
        &self,
        project: &str,
        external_ids: &[String],
        ignore_unknown: bool,
    ) -> Result<Vec<Label>, StoreError> {
        self.timed(
            "retrieve_labels",
            self.inner
                .retrieve_labels(project, external_ids, ignore_unknown),
        )
        .await
    }

    async fn scan_labels(
        &self,
        project: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Label>, StoreError> {
        self.timed("scan_labels", self.inner.scan_labels(project, after, limit))
            .await
    }

    async fn delete_labels(
        &self,
        project: &str,
        external_ids: &[String],
    ) -> Result<(), StoreError> {
        self.timed(
            "delete_labels",
            self.inner.delete_labels(project, external_ids),
        )
        .await
    }

    async fn list_labels(
        &self,
        project: &str,
        filter: &LabelFilter,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<Label>, bool), StoreError> {
        self.timed(
            "list_labels",
            self.inner.list_labels(project, filter, after, limit),
        )
        .await
    }
}

#[async_trait]
impl<S: AssetStore + ?Sized> AssetStore for Metered<S> {
    async fn create_assets(
        &self,
        project: &str,
        assets: Vec<NewAsset>,
    ) -> Result<Vec<Asset>, AssetError> {
        self.timed("create_assets", self.inner.create_assets(project, assets))
            .await
    }

    async fn assets_by_refs(
        &self,
        project: &str,
        refs: &[ParentRef],
    ) -> Result<Vec<Asset>, AssetError> {
        self.timed("assets_by_refs", self.inner.assets_by_refs(project, refs))
            .await
    }

    async fn list_assets(
        &self,
        project: &str,
        filter: &AssetFilter,
        page: AssetPage,
    ) -> Result<Vec<Asset>, AssetError> {
        self.timed("list_assets", self.inner.list_assets(project, filter, page))
            .await
    }

    async fn count_assets(&self, project: &str, filter: &AssetFilter) -> Result<u64, AssetError> {
        self.timed("count_assets", self.inner.count_assets(project, filter))
            .await
    }

    async fn child_counts(
        &self,
        project: &str,
        ids: &[i64],
    ) -> Result<HashMap<i64, u64>, AssetError> {
        self.timed("child_counts", self.inner.child_counts(project, ids))
            .await
    }

    async fn subtree_ids(
        &self,
        project: &str,
        roots: &[Asset],
        by_root: bool,
        cap: usize,
    ) -> Result<Vec<i64>, AssetError> {
        self.timed(
            "subtree_ids",
            self.inner.subtree_ids(project, roots, by_root, cap),
        )
        .await
    }

    async fn update_assets(
        &self,
        project: &str,
        patches: Vec<AssetPatch>,
    ) -> Result<Vec<Asset>, AssetError> {
        self.timed("update_assets", self.inner.update_assets(project, patches))
            .await
    }

    async fn delete_assets(
        &self,
        project: &str,
        refs: &[ParentRef],
        recursive: bool,
        ignore_unknown: bool,
    ) -> Result<(), AssetError> {
        self.timed(
            "delete_assets",
            self.inner
                .delete_assets(project, refs, recursive, ignore_unknown),
        )
        .await
    }
}
