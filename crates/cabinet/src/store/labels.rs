//! Label definitions: the names files (and other resources) may carry in `labels`, each identified by
//! its externalId.

use async_trait::async_trait;

use super::StoreError;

/// A label definition as the API validated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLabel {
    /// Unique within the project; 1 to 255 characters.
    pub external_id: String,
    /// 1 to 140 characters.
    pub name: String,
    /// At most 500 characters.
    pub description: Option<String>,
    /// The data set it belongs to.
    pub data_set_id: Option<i64>,
}

/// A stored label definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Its position in listing (creation) order: increasing, never reused. Not on the wire; cursors
    /// carry it.
    pub seq: i64,
    /// What was created.
    pub label: NewLabel,
    /// Milliseconds since the epoch.
    pub created_time: i64,
}

/// The filter of `/labels/list`. An empty filter matches every label.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelFilter {
    /// Exact, case-sensitive name.
    pub name: Option<String>,
    /// Case-sensitive prefix of the externalId.
    pub external_id_prefix: Option<String>,
    /// In one of these data sets (externalIds resolved by the API).
    pub data_set_ids: Option<Vec<i64>>,
}

impl LabelFilter {
    /// Whether `l` matches: the meaning of the filter, which every store applies.
    pub fn matches(&self, l: &NewLabel) -> bool {
        self.name.as_ref().is_none_or(|n| *n == l.name)
            && self
                .external_id_prefix
                .as_ref()
                .is_none_or(|p| l.external_id.starts_with(p.as_str()))
            && self
                .data_set_ids
                .as_ref()
                .is_none_or(|ids| l.data_set_id.is_some_and(|d| ids.contains(&d)))
    }
}

/// How many labels a listing reads from the store at a time while it filters.
const SCAN_CHUNK: usize = 1000;

/// Where a project's label definitions live.
///
/// # Contract
/// - Every method is scoped to one project and never reads or changes another's.
/// - A method that returns `Ok` has made its change durable before returning.
/// - Writes are all or nothing: on error nothing was changed.
/// - externalIds are unique within a project: creating one the project has (or one twice in a
///   request) is [`StoreError::Duplicated`] naming them all.
/// - Positions ([`Label::seq`]) increase with creation and are never reused, not even after a delete.
/// - Unknown externalIds are reported all at once as [`StoreError::Missing`].
#[async_trait]
pub trait LabelStore: Send + Sync + 'static {
    /// Creates the labels in order at `now`.
    async fn create_labels(
        &self,
        project: &str,
        items: Vec<NewLabel>,
        now: i64,
    ) -> Result<Vec<Label>, StoreError>;

    /// The labels `external_ids` in the order given; unknown ones are skipped with `ignore_unknown`,
    /// else they fail the call.
    async fn retrieve_labels(
        &self,
        project: &str,
        external_ids: &[String],
        ignore_unknown: bool,
    ) -> Result<Vec<Label>, StoreError>;

    /// At most `limit` labels positioned after `after`, in listing order: the raw walk that
    /// [`LabelStore::list_labels`] filters.
    async fn scan_labels(
        &self,
        project: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Label>, StoreError>;

    /// Deletes the labels `external_ids` (no duplicates). Files that carry them keep them, as in CDF
    /// (a label on a resource is only its externalId).
    async fn delete_labels(&self, project: &str, external_ids: &[String])
        -> Result<(), StoreError>;

    /// At most `limit` labels matching `filter` positioned after `after`, and whether more may follow.
    /// Labels are few per project, so this filters a walk rather than keeping indexes per field.
    async fn list_labels(
        &self,
        project: &str,
        filter: &LabelFilter,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<Label>, bool), StoreError> {
        let mut out = Vec::new();
        let mut cursor = after;
        loop {
            let chunk = self.scan_labels(project, cursor, SCAN_CHUNK).await?;
            let done = chunk.len() < SCAN_CHUNK;
            for l in chunk {
                cursor = l.seq;
                if filter.matches(&l.label) {
                    if out.len() == limit {
                        return Ok((out, true));
                    }
                    out.push(l);
                }
            }
            if done {
                return Ok((out, false));
            }
        }
    }
}
