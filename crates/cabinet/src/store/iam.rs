//! Groups and security categories created through the IAM endpoints. The configuration file bootstraps
//! a project's groups; these are the ones clients add (and remove) later, kept in the metadata store so
//! that they survive a restart and every node sharing the store sees them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StoreError;

/// The first id a stored group may get: configured groups have ids below 2^48 ([`crate::auth::group_id`]),
/// so the two never collide.
pub const FIRST_STORED_GROUP_ID: i64 = 1 << 48;

/// Who is in a group managed in cabinet (rather than by the identity provider's `sourceId`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Members {
    /// These subjects (a token's `sub`, a service token's subject).
    Subjects(Vec<String>),
    /// `"allUserAccounts"`: every principal authenticated for the project.
    All(AllUserAccounts),
}

/// The literal `"allUserAccounts"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AllUserAccounts {
    /// The only value.
    #[serde(rename = "allUserAccounts")]
    AllUserAccounts,
}

/// A group as the API validated it, before it has an id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGroup {
    /// 1 to 255 characters; need not be unique (as in CDF).
    pub name: String,
    /// IdP group id matched against the access claims (exclusive with `members`).
    pub source_id: Option<String>,
    /// Members managed in cabinet (exclusive with `source_id`).
    pub members: Option<Members>,
    /// Capabilities in CDF's shape, each one validated and normalized.
    pub capabilities: Vec<Value>,
    /// Immutable string pairs.
    pub metadata: BTreeMap<String, String>,
    /// `attributes.token.appIds`: the applications whose tokens the group holds (`None`: every one).
    pub app_ids: Option<Vec<String>>,
}

/// A stored group.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredGroup {
    /// The project it belongs to.
    pub project: String,
    /// At least [`FIRST_STORED_GROUP_ID`], at most 2^53−1; never reused.
    pub id: i64,
    /// What was created.
    pub group: NewGroup,
}

/// A security category: a name unique in its project, and an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityCategory {
    /// In 1..=2^53−1; never reused.
    pub id: i64,
    /// Unique within the project.
    pub name: String,
}

/// One page of a project's security categories, ordered by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryPage {
    /// Highest id first when true.
    pub descending: bool,
    /// Continue after this id (in the page's order).
    pub after: Option<i64>,
    /// Most categories to return.
    pub limit: usize,
}

/// Why an IAM write was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IamError {
    /// The backend failed (or is out of space).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Security category names the project already has; nothing was created.
    #[error("{} name(s) already exist", .0.len())]
    NameTaken(Vec<String>),
    /// Ids that name no stored group (or category) of the project; nothing was deleted.
    #[error("{} id(s) not found", .0.len())]
    UnknownIds(Vec<i64>),
    /// A per-project limit would be exceeded; nothing was created.
    #[error("{0}")]
    Limit(String),
}

/// Most security categories per project (CDF's documented limit).
pub const MAX_SECURITY_CATEGORIES: usize = 1000;

/// Where groups and security categories created through the API live.
///
/// # Contract
/// - Every method but [`IamStore::all_groups`] is scoped to one project and never reads or changes
///   another's.
/// - A method that returns `Ok` has made its change durable before returning.
/// - Writes are all or nothing: on error nothing was changed.
/// - Group ids are at least [`FIRST_STORED_GROUP_ID`]; category ids at least 1; both at most 2^53−1 and
///   never reused, not even after a delete.
/// - Security category names are unique per project (compared exactly), at most
///   [`MAX_SECURITY_CATEGORIES`] per project.
#[async_trait]
pub trait IamStore: Send + Sync + 'static {
    /// Every stored group of every project, by project then id: the snapshot access control reads.
    async fn all_groups(&self) -> Result<Vec<StoredGroup>, IamError>;

    /// Stores `groups` in order and returns them with their ids. When the project would then hold more
    /// than `max_groups` stored groups, [`IamError::Limit`] and nothing is stored.
    async fn create_groups(
        &self,
        project: &str,
        groups: Vec<NewGroup>,
        max_groups: usize,
    ) -> Result<Vec<StoredGroup>, IamError>;

    /// Deletes the groups `ids`. Ids that name no stored group of the project are
    /// [`IamError::UnknownIds`] (all of them), and nothing is deleted.
    async fn delete_groups(&self, project: &str, ids: &[i64]) -> Result<(), IamError>;

    /// One page of the project's security categories.
    async fn security_categories(
        &self,
        project: &str,
        page: CategoryPage,
    ) -> Result<Vec<SecurityCategory>, IamError>;

    /// Creates a category per name (`names` holds no duplicate) and returns them in order. Names the
    /// project already has are [`IamError::NameTaken`] (all of them), going over the per-project limit
    /// is [`IamError::Limit`]; in both cases nothing is created.
    async fn create_security_categories(
        &self,
        project: &str,
        names: Vec<String>,
    ) -> Result<Vec<SecurityCategory>, IamError>;

    /// Deletes the categories `ids` (no duplicates). Unknown ids are [`IamError::UnknownIds`] (all of
    /// them), and nothing is deleted.
    async fn delete_security_categories(&self, project: &str, ids: &[i64]) -> Result<(), IamError>;
}
