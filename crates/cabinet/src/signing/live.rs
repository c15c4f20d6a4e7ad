//! The keys a running server signs and verifies with: the ring as last read from its store, refreshed
//! without a restart. A rotation reaches a server in two ways:
//! - a background task ([`LiveKeys::watch`]) looks at the store's version every [`CHECK_INTERVAL`] and
//!   reloads when it changed, so new URLs carry the new key id at most that long after `keys rotate`;
//! - a URL naming a key id the server does not know makes it reload at once (at most once every
//!   [`UNKNOWN_KEY_RELOAD_INTERVAL`], so forged ids cost at most one read a second), so a URL signed by a
//!   node that saw the rotation first verifies everywhere.
//!
//! A store that cannot be read, or holds a broken ring, leaves the loaded keys in place (and is logged).

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::ring::{KeyRing, UrlKey};
use super::store::{KeyRingStore, RingVersion};

/// How often a server looks for a rotated ring: the bound on how long new URLs may still carry the
/// previous key id after `cabinet keys rotate`.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Least time between two reloads caused by URLs with unknown key ids.
pub const UNKNOWN_KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The key a URL is to be signed or verified with.
pub(super) enum Key<'a> {
    /// A ring key: URLs name its id.
    Ring(&'a UrlKey),
    /// The key derived from the installation secret: URLs without a key id.
    Legacy(&'a [u8; 32]),
}

/// The current keys of a server; shared by every clone of its [`super::UrlSigner`].
pub struct LiveKeys {
    /// The key derived from the installation secret, for URLs without a key id.
    legacy: [u8; 32],
    /// Where the ring is kept; `None` for a signer that uses only the derived key (tests, tools).
    store: Option<Arc<dyn KeyRingStore>>,
    /// The ring as last read, and the store version it was read at.
    loaded: RwLock<Loaded>,
    /// When a URL with an unknown key id last caused a reload.
    last_unknown_reload: Mutex<Option<Instant>>,
}

#[derive(Clone)]
struct Loaded {
    ring: Option<Arc<KeyRing>>,
    version: Option<RingVersion>,
}

impl std::fmt::Debug for LiveKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveKeys(<redacted>)")
    }
}

impl LiveKeys {
    /// Keys that are only the derived one: URLs carry no key id. What servers did before the ring.
    pub fn legacy_only(legacy: [u8; 32]) -> Self {
        Self {
            legacy,
            store: None,
            loaded: RwLock::new(Loaded {
                ring: None,
                version: None,
            }),
            last_unknown_reload: Mutex::new(None),
        }
    }

    /// The ring in `store`, made there first (with a fresh current key) if the store holds none. Blocks
    /// on the store: call it at start-up.
    pub fn open(legacy: [u8; 32], store: Arc<dyn KeyRingStore>, now: i64) -> std::io::Result<Self> {
        let version_before = store.version()?;
        let ring = store.update(&mut |old| old.is_none().then(|| KeyRing::new(now)))?;
        // Read after the ring exists, so a changed version later means a change after this read (or,
        // at worst, one more reload).
        let version = store.version()?.or(version_before);
        Ok(Self {
            legacy,
            store: Some(store),
            loaded: RwLock::new(Loaded {
                ring: Some(Arc::new(ring)),
                version,
            }),
            last_unknown_reload: Mutex::new(None),
        })
    }

    fn snapshot(&self) -> Loaded {
        match self.loaded.read() {
            Ok(l) => l.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Calls `f` with the key new URLs are signed with.
    pub(super) fn with_signing_key<T>(&self, f: impl FnOnce(Key<'_>) -> T) -> T {
        match self.snapshot().ring {
            Some(ring) => f(Key::Ring(ring.current())),
            None => f(Key::Legacy(&self.legacy)),
        }
    }

    /// Calls `f` with the key that verifies a URL naming `kid` (no id: the derived key, while the ring
    /// keeps it), or `None` when no key of the loaded ring fits.
    pub(super) fn with_verifying_key<T>(
        &self,
        kid: Option<&str>,
        f: impl FnOnce(Option<Key<'_>>) -> T,
    ) -> T {
        let ring = self.snapshot().ring;
        match (kid, ring.as_deref()) {
            (None, None) => f(Some(Key::Legacy(&self.legacy))),
            (None, Some(ring)) if ring.legacy_retired_ms.is_some() => {
                f(Some(Key::Legacy(&self.legacy)))
            }
            (None, Some(_)) => f(None),
            (Some(id), Some(ring)) => f(ring.get(id).map(Key::Ring)),
            (Some(_), None) => f(None),
        }
    }

    /// The id of the current key (`None` without a ring).
    pub fn current_id(&self) -> Option<String> {
        self.snapshot().ring.map(|r| r.current().id.clone())
    }

    /// Reloads the ring if the store's version changed since the last load. Blocks on the store.
    /// Returns whether a new ring was loaded.
    pub fn refresh(&self) -> std::io::Result<bool> {
        let Some(store) = &self.store else {
            return Ok(false);
        };
        let version = store.version()?;
        if version.is_none() || version == self.snapshot().version {
            return Ok(false);
        }
        let Some(ring) = store.load()? else {
            return Ok(false);
        };
        let mut loaded = match self.loaded.write() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        let changed = loaded.ring.as_deref() != Some(&ring);
        *loaded = Loaded {
            ring: Some(Arc::new(ring)),
            version,
        };
        Ok(changed)
    }

    /// After a URL named a key id the loaded ring does not hold: reloads, unless a reload for that
    /// reason happened less than [`UNKNOWN_KEY_RELOAD_INTERVAL`] ago. Returns whether it reloaded.
    pub async fn reload_for_unknown_key(self: &Arc<Self>) -> bool {
        if self.store.is_none() {
            return false;
        }
        {
            let mut last = match self.last_unknown_reload.lock() {
                Ok(l) => l,
                Err(poisoned) => poisoned.into_inner(),
            };
            let now = Instant::now();
            if last.is_some_and(|t| now.duration_since(t) < UNKNOWN_KEY_RELOAD_INTERVAL) {
                return false;
            }
            *last = Some(now);
        }
        self.refresh_in_background().await
    }

    async fn refresh_in_background(self: &Arc<Self>) -> bool {
        let keys = Arc::clone(self);
        match tokio::task::spawn_blocking(move || keys.refresh()).await {
            Ok(Ok(changed)) => {
                if changed {
                    tracing::info!(
                        current = self.current_id().unwrap_or_default(),
                        "URL signing keys reloaded"
                    );
                }
                changed
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the URL signing keys; keeping the loaded ones");
                false
            }
            Err(_) => false,
        }
    }

    /// Looks for a rotated ring every `interval`, forever (the server aborts it when it stops).
    pub async fn watch(self: Arc<Self>, interval: Duration) {
        if self.store.is_none() {
            return;
        }
        loop {
            tokio::time::sleep(interval).await;
            self.refresh_in_background().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::FileKeyRingStore;
    use super::*;

    fn rotate(store: &FileKeyRingStore, now: i64) -> String {
        store
            .update(&mut |old| {
                let mut ring = old.cloned()?;
                ring.rotate(now);
                Some(ring)
            })
            .unwrap()
            .current()
            .id
            .clone()
    }

    #[tokio::test]
    async fn a_rotation_is_picked_up_by_refresh_and_by_an_unknown_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyRingStore::new(dir.path());
        let keys = Arc::new(LiveKeys::open([1; 32], Arc::new(store.clone()), 0).unwrap());
        let first = keys.current_id().unwrap();
        assert!(!keys.refresh().unwrap(), "nothing changed");

        let second = rotate(&store, 1);
        assert!(keys.refresh().unwrap());
        assert_eq!(keys.current_id(), Some(second.clone()));
        assert!(keys.with_verifying_key(Some(&first), |k| k.is_some()));

        // An unknown key id reloads at once, then not again within the interval.
        let third = rotate(&store, 2);
        assert!(!keys.with_verifying_key(Some(&third), |k| k.is_some()));
        assert!(keys.reload_for_unknown_key().await);
        assert!(keys.with_verifying_key(Some(&third), |k| k.is_some()));
        rotate(&store, 3);
        assert!(!keys.reload_for_unknown_key().await, "rate-limited");
        assert_eq!(keys.current_id(), Some(third));
    }

    #[tokio::test]
    async fn a_broken_store_keeps_the_loaded_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyRingStore::new(dir.path());
        let keys = Arc::new(LiveKeys::open([1; 32], Arc::new(store.clone()), 0).unwrap());
        let first = keys.current_id().unwrap();
        std::fs::write(store.path(), b"not json").unwrap();
        assert!(keys.refresh().is_err());
        assert!(!keys.reload_for_unknown_key().await);
        assert_eq!(keys.current_id(), Some(first));
    }

    #[test]
    fn urls_without_a_key_id_verify_while_the_ring_keeps_the_derived_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyRingStore::new(dir.path());
        let keys = LiveKeys::open([1; 32], Arc::new(store.clone()), 0).unwrap();
        assert!(keys.with_verifying_key(None, |k| matches!(k, Some(Key::Legacy(_)))));
        let far = super::super::ring::kept_until(0) + 1;
        rotate(&store, far);
        keys.refresh().unwrap();
        assert!(keys.with_verifying_key(None, |k| k.is_none()));
    }
}
