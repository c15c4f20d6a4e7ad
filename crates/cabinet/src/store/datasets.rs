//! Data sets: CDF's containers that files (and other resources) belong to through `dataSetId`. cabinet
//! keeps them so that files can be filtered by a data set's externalId and so that `writeProtected` can
//! be enforced; there is no delete (as in CDF).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{Identifier, TimeRange};

/// The client-controlled fields of a data set, as the API validated them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSetFields {
    /// Unique within the project when set.
    pub external_id: Option<String>,
    /// At most 50 characters.
    pub name: Option<String>,
    /// At most 255 characters.
    pub description: Option<String>,
    /// String pairs, with the limits of files' metadata.
    pub metadata: BTreeMap<String, String>,
    /// Writes into the data set need `datasetsAcl:OWNER` on it.
    pub write_protected: bool,
}

/// A stored data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSet {
    /// In 1..=2^53−1; never reused.
    pub id: i64,
    /// What the client set.
    pub fields: DataSetFields,
    /// Milliseconds since the epoch.
    pub created_time: i64,
    /// Milliseconds since the epoch; the creation time until the first update.
    pub last_updated_time: i64,
}

/// A change of metadata in an update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MetadataChange {
    /// Left as it is.
    #[default]
    Keep,
    /// Replaced whole.
    Set(BTreeMap<String, String>),
    /// Keys added (or overwritten), then keys removed.
    Change {
        /// Pairs to add.
        add: BTreeMap<String, String>,
        /// Keys to remove.
        remove: Vec<String>,
    },
}

/// One data set's update; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSetPatch {
    /// New externalId, or cleared.
    pub external_id: Option<Option<String>>,
    /// New name, or cleared.
    pub name: Option<Option<String>>,
    /// New description, or cleared.
    pub description: Option<Option<String>>,
    /// The metadata change.
    pub metadata: MetadataChange,
    /// New write protection.
    pub write_protected: Option<bool>,
}

impl DataSetPatch {
    /// The fields after this patch; metadata over the limits of files' metadata is
    /// [`StoreError::Invalid`].
    pub fn apply(&self, fields: &DataSetFields) -> Result<DataSetFields, StoreError> {
        let mut out = fields.clone();
        if let Some(x) = &self.external_id {
            out.external_id = x.clone();
        }
        if let Some(x) = &self.name {
            out.name = x.clone();
        }
        if let Some(x) = &self.description {
            out.description = x.clone();
        }
        match &self.metadata {
            MetadataChange::Keep => {}
            MetadataChange::Set(m) => out.metadata = m.clone(),
            MetadataChange::Change { add, remove } => {
                out.metadata
                    .extend(add.iter().map(|(k, v)| (k.clone(), v.clone())));
                for key in remove {
                    out.metadata.remove(key);
                }
            }
        }
        if let Some(x) = self.write_protected {
            out.write_protected = x;
        }
        crate::domain::check_metadata(&out.metadata).map_err(StoreError::Invalid)?;
        Ok(out)
    }
}

/// The filter of `/datasets/list` and `/datasets/aggregate`. An empty filter matches every data set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSetFilter {
    /// Every key present with exactly this value.
    pub metadata: BTreeMap<String, String>,
    /// Created within.
    pub created_time: Option<TimeRange>,
    /// Last updated within.
    pub last_updated_time: Option<TimeRange>,
    /// Case-sensitive prefix of the externalId (data sets without one never match).
    pub external_id_prefix: Option<String>,
    /// Write protection equal to this.
    pub write_protected: Option<bool>,
}

impl DataSetFilter {
    /// Whether `d` matches: the meaning of the filter, which every store applies.
    pub fn matches(&self, d: &DataSet) -> bool {
        self.metadata
            .iter()
            .all(|(k, v)| d.fields.metadata.get(k) == Some(v))
            && self
                .created_time
                .as_ref()
                .is_none_or(|r| r.contains(Some(d.created_time)))
            && self
                .last_updated_time
                .as_ref()
                .is_none_or(|r| r.contains(Some(d.last_updated_time)))
            && self.external_id_prefix.as_ref().is_none_or(|p| {
                d.fields
                    .external_id
                    .as_ref()
                    .is_some_and(|x| x.starts_with(p.as_str()))
            })
            && self
                .write_protected
                .is_none_or(|w| d.fields.write_protected == w)
    }
}

/// How many data sets a listing reads from the store at a time while it filters.
const SCAN_CHUNK: usize = 1000;

/// Where a project's data sets live.
///
/// # Contract
/// - Every method is scoped to one project and never reads or changes another's.
/// - A method that returns `Ok` has made its change durable before returning.
/// - Writes are all or nothing: on error nothing was changed.
/// - Ids lie in 1..=2^53−1, increase with creation, and are never reused (there is no delete).
/// - `externalId` is unique within a project: a create or update that would give one to two data sets
///   (two items of the request, or an item and a stored data set) is [`StoreError::Duplicated`] naming
///   those externalIds, and nothing changes.
/// - Unknown identifiers are reported all at once, in the form the caller gave them, as
///   [`StoreError::Missing`].
#[async_trait]
pub trait DataSetStore: Send + Sync + 'static {
    /// Creates the data sets in order, with `now` as their created and last updated time.
    async fn create_data_sets(
        &self,
        project: &str,
        items: Vec<DataSetFields>,
        now: i64,
    ) -> Result<Vec<DataSet>, StoreError>;

    /// The data sets `ids` (by id or externalId) in the order given; unknown ones are skipped with
    /// `ignore_unknown`, else they fail the call.
    async fn retrieve_data_sets(
        &self,
        project: &str,
        ids: &[Identifier],
        ignore_unknown: bool,
    ) -> Result<Vec<DataSet>, StoreError>;

    /// At most `limit` data sets with an id above `after`, by increasing id: the raw walk that
    /// [`DataSetStore::list_data_sets`] and [`DataSetStore::count_data_sets`] filter.
    async fn scan_data_sets(
        &self,
        project: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<DataSet>, StoreError>;

    /// Applies every patch (targets named by id or externalId, each at most once), sets their last
    /// updated time to `now`, and returns them in request order.
    async fn update_data_sets(
        &self,
        project: &str,
        items: Vec<(Identifier, DataSetPatch)>,
        now: i64,
    ) -> Result<Vec<DataSet>, StoreError>;

    /// At most `limit` data sets matching `filter` with an id above `after`, by increasing id, and
    /// whether more may follow the last one. Data sets are few per project (CDF projects hold hundreds),
    /// so this filters a walk of them rather than keeping indexes per field.
    async fn list_data_sets(
        &self,
        project: &str,
        filter: &DataSetFilter,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<DataSet>, bool), StoreError> {
        let mut out = Vec::new();
        let mut cursor = after;
        loop {
            let chunk = self.scan_data_sets(project, cursor, SCAN_CHUNK).await?;
            let done = chunk.len() < SCAN_CHUNK;
            for d in chunk {
                cursor = d.id;
                if filter.matches(&d) {
                    if out.len() == limit {
                        return Ok((out, true));
                    }
                    out.push(d);
                }
            }
            if done {
                return Ok((out, false));
            }
        }
    }

    /// How many data sets match `filter`.
    async fn count_data_sets(
        &self,
        project: &str,
        filter: &DataSetFilter,
    ) -> Result<u64, StoreError> {
        let mut count = 0;
        let mut cursor = 0;
        loop {
            let chunk = self.scan_data_sets(project, cursor, SCAN_CHUNK).await?;
            let done = chunk.len() < SCAN_CHUNK;
            for d in &chunk {
                cursor = d.id;
                count += u64::from(filter.matches(d));
            }
            if done {
                return Ok(count);
            }
        }
    }
}

/// The externalIds that two of `wanted` share, or that one of them shares with a data set outside the
/// request (`taken`: the externalIds among `wanted` held by data sets that are not targets of it), in
/// request order: what [`DataSetStore`] refuses as [`StoreError::Duplicated`]. Shared by the backends so
/// that they refuse alike.
pub fn clashing_external_ids<'a>(
    wanted: impl Iterator<Item = Option<&'a str>>,
    taken: &std::collections::BTreeSet<String>,
) -> Vec<Identifier> {
    let mut seen = std::collections::BTreeSet::new();
    let mut clashes = Vec::new();
    for x in wanted.flatten() {
        let clash = !seen.insert(x) || taken.contains(x);
        let id = Identifier::ExternalId(x.to_string());
        if clash && !clashes.contains(&id) {
            clashes.push(id);
        }
    }
    clashes
}
