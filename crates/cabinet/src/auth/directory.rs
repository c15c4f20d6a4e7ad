//! The access rules a request is checked against: the configured projects with their configured groups,
//! plus the groups created through the API, which live in the metadata store.
//!
//! Reading the store on every request would put a query on every request path, so each node keeps a
//! snapshot of the stored groups merged into the configuration. A write through this node's API
//! replaces the snapshot before the write is answered (a deleted group stops granting on this node at
//! once); otherwise the snapshot is reloaded when older than [`SNAPSHOT_MAX_AGE`], so nodes sharing one
//! store converge within that bound.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::{AccessConfig, Capability, Group};
use crate::store::iam::{IamError, IamStore, Members, StoredGroup};

/// How stale a node's view of the groups created on another node may be.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(2);

/// Configured access plus stored groups, as one [`AccessConfig`] that authentication reads.
pub struct GroupDirectory {
    configured: Arc<AccessConfig>,
    store: Arc<dyn IamStore>,
    max_age: Duration,
    snapshot: RwLock<Option<(Instant, Arc<AccessConfig>)>>,
    reloading: tokio::sync::Mutex<()>,
}

impl GroupDirectory {
    /// A directory over `configured` and the groups of `store`, reloaded when older than `max_age`.
    pub fn new(configured: Arc<AccessConfig>, store: Arc<dyn IamStore>, max_age: Duration) -> Self {
        Self {
            configured,
            store,
            max_age,
            snapshot: RwLock::new(None),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The configuration file's rules alone.
    pub fn configured(&self) -> &AccessConfig {
        &self.configured
    }

    /// The current rules: the snapshot, reloaded first when it is older than the bound. A failed reload
    /// is an error (never a silently stale view that could keep a deleted group granting).
    pub async fn current(&self) -> Result<Arc<AccessConfig>, IamError> {
        if let Some(access) = self.fresh() {
            return Ok(access);
        }
        let _one_at_a_time = self.reloading.lock().await;
        if let Some(access) = self.fresh() {
            return Ok(access);
        }
        self.load().await
    }

    /// Reloads now: after a write through this node, so that the next request sees it.
    /// On failure the snapshot is dropped, so that no request is served from the rules before the write.
    pub async fn reload(&self) -> Result<Arc<AccessConfig>, IamError> {
        let _one_at_a_time = self.reloading.lock().await;
        let loaded = self.load().await;
        if loaded.is_err() {
            if let Ok(mut snapshot) = self.snapshot.write() {
                *snapshot = None;
            }
        }
        loaded
    }

    fn fresh(&self) -> Option<Arc<AccessConfig>> {
        let snapshot = self.snapshot.read().ok()?;
        match &*snapshot {
            Some((taken, access)) if taken.elapsed() < self.max_age => Some(access.clone()),
            _ => None,
        }
    }

    async fn load(&self) -> Result<Arc<AccessConfig>, IamError> {
        let taken = Instant::now();
        let stored = self.store.all_groups().await?;
        let access = Arc::new(merge(&self.configured, stored));
        if let Ok(mut snapshot) = self.snapshot.write() {
            *snapshot = Some((taken, access.clone()));
        }
        Ok(access)
    }
}

/// The configuration with each stored group added to its project, after the configured ones. Groups of
/// projects the configuration does not have are left out (such a project answers 401 anyway).
pub fn merge(configured: &AccessConfig, stored: Vec<StoredGroup>) -> AccessConfig {
    let mut access = configured.clone();
    for stored in stored {
        let Some(project) = access.projects.get_mut(&stored.project) else {
            continue;
        };
        project.groups.push(to_group(stored));
    }
    access
}

/// A stored group as the authentication code sees it. Its capabilities were validated when it was
/// created; one that no longer parses (a stricter release) grants nothing, and is logged.
pub fn to_group(stored: StoredGroup) -> Group {
    let StoredGroup { id, group, .. } = stored;
    let capabilities = group
        .capabilities
        .into_iter()
        .filter_map(|raw| match Capability::parse(raw) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(group = id, error = %e, "a stored capability is invalid; it grants nothing");
                None
            }
        })
        .collect();
    let (members, all_user_accounts) = match group.members {
        Some(Members::Subjects(subjects)) => (subjects, false),
        Some(Members::All(_)) => (Vec::new(), true),
        None => (Vec::new(), false),
    };
    Group {
        id,
        name: group.name,
        source_id: group.source_id,
        members,
        capabilities,
        all_user_accounts,
        app_ids: group.app_ids,
    }
}
