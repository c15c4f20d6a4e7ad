//! The URL-signing keys: a small ring of random keys, each with a short id, exactly one of them current.
//! New URLs are signed with the current key and name its id; a key that is no longer current is kept
//! while URLs it signed may still be valid, so rotating never breaks a URL before it expires.
//!
//! Before the ring existed, URLs were signed (without a key id) with a key derived from the installation
//! secret. That key is the ring's *legacy* key: it verifies URLs without a key id until every URL it can
//! have signed has expired, and is then pruned like any other retired key. The ring holds only the URL
//! keys; the secret and the keys derived from it for cursors and file ids never change.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::domain::{DOWNLOAD_URL_TTL_MS, EXTENDED_DOWNLOAD_URL_TTL_MS, UPLOAD_URL_TTL_MS};

/// The longest a URL the server hands out stays valid, from the moment it is signed: upload URLs (one
/// week) outlive every download URL.
pub const MAX_URL_LIFETIME_MS: i64 = max3(
    UPLOAD_URL_TTL_MS,
    DOWNLOAD_URL_TTL_MS,
    EXTENDED_DOWNLOAD_URL_TTL_MS,
);

/// How long after a rotation a running server may still sign with the key it replaced, with a wide
/// margin: servers look for a new ring every [`super::live::CHECK_INTERVAL`].
pub const RELOAD_MARGIN_MS: i64 = 10 * 60 * 1000;

const fn max3(a: i64, b: i64, c: i64) -> i64 {
    let ab = if a > b { a } else { b };
    if ab > c {
        ab
    } else {
        c
    }
}

/// When a key retired at `retired_ms` may be pruned: after the last URL it can have signed has expired.
pub const fn kept_until(retired_ms: i64) -> i64 {
    retired_ms + MAX_URL_LIFETIME_MS + RELOAD_MARGIN_MS
}

/// One signing key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlKey {
    /// Short and unique in the ring; it goes into every URL signed with the key.
    pub id: String,
    /// When the key was made (ms since epoch).
    pub created_ms: i64,
    /// When it stopped being current; `None` for the current key.
    pub retired_ms: Option<i64>,
    /// The HMAC-SHA256 key, base64 in the file.
    #[serde(with = "key_bytes")]
    pub(super) key: [u8; 32],
}

impl std::fmt::Debug for UrlKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlKey")
            .field("id", &self.id)
            .field("created_ms", &self.created_ms)
            .field("retired_ms", &self.retired_ms)
            .finish_non_exhaustive()
    }
}

impl UrlKey {
    /// The key bytes, for signing and verifying.
    pub(super) fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

/// The ring as stored (see [`super::store::KeyRingStore`]). Read only through [`KeyRing::from_json`],
/// which checks that exactly one key is current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRing {
    /// Format version of the stored ring.
    version: u32,
    /// When the derived key stopped signing (the ring's creation); `None` once pruned, and from then on
    /// a URL without a key id is refused.
    pub legacy_retired_ms: Option<i64>,
    /// The keys, oldest first; exactly one is current.
    keys: Vec<UrlKey>,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The new current key's id.
    pub current: String,
    /// The ids of keys removed because nothing they signed can still be valid (`"legacy"` for the
    /// derived key).
    pub pruned: Vec<String>,
}

/// The name under which the derived key of URLs without a key id is reported.
pub const LEGACY_ID: &str = "legacy";

const FORMAT_VERSION: u32 = 1;

/// The stored form before its invariants are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    version: u32,
    legacy_retired_ms: Option<i64>,
    keys: Vec<UrlKey>,
}

impl KeyRing {
    /// A fresh ring made at `now`: one new current key; the derived key retires now.
    pub fn new(now: i64) -> Self {
        let mut ring = Self {
            version: FORMAT_VERSION,
            legacy_retired_ms: Some(now),
            keys: Vec::new(),
        };
        ring.keys.push(ring.fresh_key(now));
        ring
    }

    /// Reads a stored ring, refusing one that breaks an invariant (so a hand-edited file is caught at
    /// load, not at the first URL).
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let stored: Stored = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let ring = Self {
            version: stored.version,
            legacy_retired_ms: stored.legacy_retired_ms,
            keys: stored.keys,
        };
        if ring.version != FORMAT_VERSION {
            return Err(format!("unknown format version {}", ring.version));
        }
        let current = ring.keys.iter().filter(|k| k.retired_ms.is_none()).count();
        if current != 1 {
            return Err(format!("{current} current keys; exactly one must be"));
        }
        for (i, k) in ring.keys.iter().enumerate() {
            if !valid_id(&k.id) {
                return Err(format!(
                    "key id {:?} is not 1 to 16 letters or digits",
                    k.id
                ));
            }
            if ring.keys[..i].iter().any(|o| o.id == k.id) {
                return Err(format!("key id {:?} appears twice", k.id));
            }
        }
        Ok(ring)
    }

    /// The stored form.
    pub fn to_json(&self) -> Vec<u8> {
        // A ring of plain strings and numbers always serializes.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// The key new URLs are signed with.
    pub fn current(&self) -> &UrlKey {
        // `new` and `from_json` guarantee one current key, and `rotate` keeps it so.
        self.keys
            .iter()
            .find(|k| k.retired_ms.is_none())
            .unwrap_or(&self.keys[0])
    }

    /// The key named `id`, current or retired.
    pub fn get(&self, id: &str) -> Option<&UrlKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> &[UrlKey] {
        &self.keys
    }

    /// Makes a new current key at `now`, retires the previous one, and prunes what can go.
    pub fn rotate(&mut self, now: i64) -> Rotation {
        for k in self.keys.iter_mut().filter(|k| k.retired_ms.is_none()) {
            k.retired_ms = Some(now);
        }
        let key = self.fresh_key(now);
        let current = key.id.clone();
        self.keys.push(key);
        let pruned = self.prune(now);
        Rotation { current, pruned }
    }

    /// Removes the retired keys (and the legacy key) whose URLs have all expired at `now`; returns their
    /// ids.
    pub fn prune(&mut self, now: i64) -> Vec<String> {
        let mut pruned = Vec::new();
        if self.legacy_retired_ms.is_some_and(|r| kept_until(r) < now) {
            self.legacy_retired_ms = None;
            pruned.push(LEGACY_ID.to_string());
        }
        self.keys.retain(|k| match k.retired_ms {
            Some(r) if kept_until(r) < now => {
                pruned.push(k.id.clone());
                false
            }
            _ => true,
        });
        pruned
    }

    fn fresh_key(&self, now: i64) -> UrlKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let id = loop {
            let id = format!("{:08x}", rand::rngs::OsRng.next_u32());
            if self.get(&id).is_none() && id != LEGACY_ID {
                break id;
            }
        };
        UrlKey {
            id,
            created_ms: now,
            retired_ms: None,
            key,
        }
    }
}

/// A key id as it may appear in a URL: 1 to 16 ASCII letters or digits.
pub fn valid_id(id: &str) -> bool {
    (1..=16).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

mod key_bytes {
    use super::*;

    pub fn serialize<S: serde::Serializer>(key: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(key))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| serde::de::Error::custom("a key must be 32 bytes in base64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3600 * 1000;

    #[test]
    fn the_longest_lifetime_is_the_largest_of_the_three() {
        assert_eq!(max3(3, 1, 2), 3);
        assert_eq!(max3(1, 3, 2), 3);
        assert_eq!(max3(1, 2, 3), 3);
        assert_eq!(MAX_URL_LIFETIME_MS, UPLOAD_URL_TTL_MS);
    }

    #[test]
    fn rotation_keeps_keys_until_their_urls_have_expired() {
        let mut ring = KeyRing::new(0);
        let first = ring.current().id.clone();
        assert_eq!(ring.legacy_retired_ms, Some(0));

        let r = ring.rotate(DAY);
        assert_ne!(r.current, first);
        assert_eq!(ring.current().id, r.current);
        assert!(r.pruned.is_empty(), "nothing expired yet: {r:?}");
        assert_eq!(ring.get(&first).and_then(|k| k.retired_ms), Some(DAY));

        // Just before the first key's last URL can expire, it stays; just after, it goes.
        let second = r.current.clone();
        let r = ring.rotate(kept_until(DAY) - 1);
        assert_eq!(r.pruned, vec![LEGACY_ID.to_string()]);
        assert!(ring.get(&first).is_some());
        let r = ring.rotate(kept_until(DAY) + 1);
        assert_eq!(r.pruned, vec![first.clone()]);
        assert!(ring.get(&first).is_none());
        assert!(ring.get(&second).is_some(), "retired later, still kept");
        assert_eq!(ring.legacy_retired_ms, None);
        assert_eq!(
            ring.keys()
                .iter()
                .filter(|k| k.retired_ms.is_none())
                .count(),
            1
        );
    }

    #[test]
    fn the_stored_form_round_trips_and_broken_rings_are_refused() {
        let mut ring = KeyRing::new(5);
        ring.rotate(6);
        let back = KeyRing::from_json(&ring.to_json()).unwrap();
        assert_eq!(back, ring);

        let text = String::from_utf8(ring.to_json()).unwrap();
        let no_current = text.replace("\"retired_ms\": null", "\"retired_ms\": 7");
        assert!(KeyRing::from_json(no_current.as_bytes())
            .unwrap_err()
            .contains("0 current keys"));
        let first = ring.keys()[0].id.clone();
        let second = ring.keys()[1].id.clone();
        let twice = text.replace(&second, &first);
        assert!(KeyRing::from_json(twice.as_bytes())
            .unwrap_err()
            .contains("twice"));
        let bad_id = text.replace(&first, "a/b");
        assert!(KeyRing::from_json(bad_id.as_bytes()).is_err());
        assert!(KeyRing::from_json(b"{}").is_err());
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let ring = KeyRing::new(0);
        let key = STANDARD.encode(ring.current().bytes());
        assert!(!format!("{ring:?}").contains(&key));
    }
}
