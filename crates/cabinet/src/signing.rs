//! Signed capability URLs for content, the way CDF hands out cloud-storage URLs: whoever holds the URL may
//! do exactly one thing (PUT this upload session's content, or one part of it; GET this file's content)
//! until it expires, with no bearer token. The signature is HMAC-SHA256 over every field that the URL
//! grants, so changing any of them (or the expiry) invalidates it.
//!
//! The key is one of a rotating ring ([`ring`]): each URL names the key that signed it (`kid`), and the
//! signature covers that id too. URLs handed out before the ring existed name no key and are checked with
//! the key derived from the installation secret, until they have all expired.

pub mod admin;
pub mod live;
pub mod ring;
pub mod store;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::Mac;

use crate::secret::{hmac_sha256, Secret};
use live::{Key, LiveKeys};

/// What a signed URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// PUT the content (or, with `part`, one part) of upload session `session` of file `file_id`.
    Upload {
        /// The project.
        project: String,
        /// The file.
        file_id: i64,
        /// The upload session.
        session: String,
        /// The part index of a multipart upload; `None` for a single-PUT upload.
        part: Option<u32>,
    },
    /// GET the current content of file `file_id`.
    Download {
        /// The project.
        project: String,
        /// The file.
        file_id: i64,
    },
}

impl Grant {
    /// What is signed: the grant and the expiry, after the key id for a ring key (`cabinet-v2`), alone
    /// for the derived key (`cabinet-v1`, the form of URLs handed out before the ring).
    fn canonical(&self, expires: i64, kid: Option<&str>) -> String {
        let fields = match self {
            Grant::Upload {
                project,
                file_id,
                session,
                part,
            } => {
                let part = part.map_or("-".to_string(), |p| p.to_string());
                format!("PUT\n{project}\n{file_id}\n{session}\n{part}\n{expires}")
            }
            Grant::Download { project, file_id } => {
                format!("GET\n{project}\n{file_id}\n-\n-\n{expires}")
            }
        };
        match kid {
            Some(kid) => format!("cabinet-v2\n{kid}\n{fields}"),
            None => format!("cabinet-v1\n{fields}"),
        }
    }

    /// The URL path of the grant, below the public base URL.
    pub fn path(&self) -> String {
        match self {
            Grant::Upload {
                project,
                file_id,
                session,
                ..
            } => {
                format!("/blob/v1/{project}/files/{file_id}/uploads/{session}")
            }
            Grant::Download { project, file_id } => {
                format!("/blob/v1/{project}/files/{file_id}/content")
            }
        }
    }
}

/// Why a signed URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The signature does not match the URL: it was altered or forged.
    BadSignature,
    /// The URL names a key the server does not hold (forged, or signed before a rotation the server
    /// has not seen yet: see [`UrlSigner::reload_for_unknown_key`]).
    UnknownKey,
    /// The URL's time is up.
    Expired,
}

/// Signs and checks content URLs. Clones share one set of keys, so a reload is seen by all.
#[derive(Clone)]
pub struct UrlSigner {
    keys: Arc<LiveKeys>,
    public_url: String,
    /// Whether URLs start with the request's `Host` when it is a valid one (else with `public_url`).
    from_request_host: bool,
}

impl UrlSigner {
    /// A signer with only the key derived from `secret` (URLs without a key id, as before the ring),
    /// whose URLs start with `public_url` (no trailing slash needed).
    pub fn new(secret: &Secret, public_url: &str) -> Self {
        Self::with_keys(
            Arc::new(LiveKeys::legacy_only(legacy_key(secret))),
            public_url,
        )
    }

    /// A signer using `keys`, whose URLs start with `public_url` (no trailing slash needed).
    pub fn with_keys(keys: Arc<LiveKeys>, public_url: &str) -> Self {
        Self {
            keys,
            public_url: public_url.trim_end_matches('/').to_string(),
            from_request_host: false,
        }
    }

    /// This signer, with URLs that start with `http://` and the `Host` the client reached the server
    /// under, so that a client on another machine is handed URLs it can reach; the public URL when the
    /// request has no valid `Host`. The signature does not cover the host, so any of them verifies.
    pub fn from_request_host(self) -> Self {
        Self {
            from_request_host: true,
            ..self
        }
    }

    /// The keys, shared by every clone (the server refreshes them in the background).
    pub fn keys(&self) -> &Arc<LiveKeys> {
        &self.keys
    }

    /// The base of the URLs handed to a request that came with `host` (its `Host` header).
    pub fn base_for(&self, host: Option<&str>) -> String {
        match host.filter(|_| self.from_request_host).and_then(authority) {
            Some(authority) => format!("http://{authority}"),
            None => self.public_url.clone(),
        }
    }

    /// The absolute URL under the public URL granting `grant` until `expires` (ms since epoch).
    pub fn url(&self, grant: &Grant, expires: i64) -> String {
        self.url_at(&self.public_url, grant, expires)
    }

    /// The absolute URL under `base` (from [`UrlSigner::base_for`]) granting `grant` until `expires`
    /// (ms since epoch), signed with the current key.
    pub fn url_at(&self, base: &str, grant: &Grant, expires: i64) -> String {
        let (kid, signature) = self.keys.with_signing_key(|key| {
            let kid = match &key {
                Key::Ring(k) => Some(k.id.clone()),
                Key::Legacy(_) => None,
            };
            (kid.clone(), sign(&key, grant, expires, kid.as_deref()))
        });
        let part = match grant {
            Grant::Upload { part: Some(p), .. } => format!("part={p}&"),
            _ => String::new(),
        };
        let kid = kid.map_or(String::new(), |k| format!("kid={k}&"));
        format!(
            "{base}{}?{part}expires={expires}&{kid}signature={}",
            grant.path(),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// Checks a URL's signature (made with the key `kid` names, or the derived key without one) and
    /// expiry at time `now`. A URL signed with a retired key verifies as long as the ring keeps it,
    /// which is at least until every URL it signed has expired.
    pub fn verify(
        &self,
        grant: &Grant,
        expires: i64,
        kid: Option<&str>,
        signature: &str,
        now: i64,
    ) -> Result<(), Refusal> {
        if kid.is_some_and(|k| !ring::valid_id(k)) {
            return Err(Refusal::BadSignature);
        }
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Refusal::BadSignature)?;
        self.keys.with_verifying_key(kid, |key| match key {
            Some(key) => mac(&key, grant, expires, kid)
                .verify_slice(&given)
                .map_err(|_| Refusal::BadSignature),
            None if kid.is_some() => Err(Refusal::UnknownKey),
            None => Err(Refusal::BadSignature),
        })?;
        if now > expires {
            return Err(Refusal::Expired);
        }
        Ok(())
    }

    /// [`UrlSigner::verify`], reloading the keys once first if the URL names a key the server does not
    /// hold yet (rate-limited: see [`LiveKeys::reload_for_unknown_key`]).
    pub async fn verify_fresh(
        &self,
        grant: &Grant,
        expires: i64,
        kid: Option<&str>,
        signature: &str,
        now: i64,
    ) -> Result<(), Refusal> {
        match self.verify(grant, expires, kid, signature, now) {
            Err(Refusal::UnknownKey) if self.reload_for_unknown_key().await => {
                self.verify(grant, expires, kid, signature, now)
            }
            result => result,
        }
    }

    /// Reloads the keys after a URL named an unknown one; whether anything new was loaded.
    pub async fn reload_for_unknown_key(&self) -> bool {
        self.keys.reload_for_unknown_key().await
    }
}

/// The key derived from the installation secret, which signed every URL before the ring.
pub fn legacy_key(secret: &Secret) -> [u8; 32] {
    secret.derive("content-urls")
}

fn mac(key: &Key<'_>, grant: &Grant, expires: i64, kid: Option<&str>) -> hmac::Hmac<sha2::Sha256> {
    let bytes: &[u8; 32] = match key {
        Key::Ring(k) => k.bytes(),
        Key::Legacy(b) => b,
    };
    let mut mac = hmac_sha256(bytes);
    mac.update(grant.canonical(expires, kid).as_bytes());
    mac
}

fn sign(key: &Key<'_>, grant: &Grant, expires: i64, kid: Option<&str>) -> Vec<u8> {
    mac(key, grant, expires, kid)
        .finalize()
        .into_bytes()
        .to_vec()
}

/// A `Host` header as a URL authority: a DNS name or IPv4 address (lowercased) or a bracketed IPv6
/// address, with an optional port; `None` for anything else.
fn authority(host: &str) -> Option<String> {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => {
            let (ip, after) = rest.split_once(']')?;
            let ip: std::net::Ipv6Addr = ip.parse().ok()?;
            (format!("[{ip}]"), after)
        }
        None => {
            let (name, after) = host.split_at(host.find(':').unwrap_or(host.len()));
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            };
            if name.len() > 253 || !name.split('.').all(label_ok) {
                return None;
            }
            (name.to_ascii_lowercase(), after)
        }
    };
    if port.is_empty() {
        return Some(name);
    }
    let digits = port.strip_prefix(':')?;
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = digits.parse().ok().filter(|p| *p != 0)?;
    Some(format!("{name}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> UrlSigner {
        UrlSigner::new(&Secret::from_bytes([7; 32]), "http://127.0.0.1:1/")
    }

    fn query(url: &str, key: &str) -> String {
        url.split(['?', '&'])
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn accepts_its_own_urls_until_they_expire() {
        let g = Grant::Download {
            project: "p1x".into(),
            file_id: 5,
        };
        let url = signer().url(&g, 1000);
        assert!(url
            .starts_with("http://127.0.0.1:1/blob/v1/p1x/files/5/content?expires=1000&signature="));
        let sig = query(&url, "signature");
        assert_eq!(signer().verify(&g, 1000, None, &sig, 999), Ok(()));
        assert_eq!(
            signer().verify(&g, 1000, None, &sig, 1001),
            Err(Refusal::Expired)
        );
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let g = Grant::Upload {
            project: "p1x".into(),
            file_id: 5,
            session: "s".into(),
            part: Some(1),
        };
        let sig = query(&signer().url(&g, 1000), "signature");
        let other_part = Grant::Upload {
            project: "p1x".into(),
            file_id: 5,
            session: "s".into(),
            part: Some(2),
        };
        let other_file = Grant::Upload {
            project: "p1x".into(),
            file_id: 6,
            session: "s".into(),
            part: Some(1),
        };
        assert_eq!(
            signer().verify(&other_part, 1000, None, &sig, 0),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            signer().verify(&other_file, 1000, None, &sig, 0),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            signer().verify(&g, 2000, None, &sig, 0),
            Err(Refusal::BadSignature)
        );
        let other_key = UrlSigner::new(&Secret::from_bytes([8; 32]), "http://x");
        assert_eq!(
            other_key.verify(&g, 1000, None, &sig, 0),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn urls_follow_a_valid_request_host() {
        let fixed = signer();
        let from_host =
            UrlSigner::new(&Secret::from_bytes([7; 32]), "http://127.0.0.1:1").from_request_host();
        assert_eq!(fixed.base_for(Some("example.com:80")), "http://127.0.0.1:1");
        for (host, base) in [
            ("files.example.com:8765", "http://files.example.com:8765"),
            ("Files.Example.COM", "http://files.example.com"),
            ("10.0.0.7:8765", "http://10.0.0.7:8765"),
            ("[::1]:8765", "http://[::1]:8765"),
            ("[FE80::1]", "http://[fe80::1]"),
        ] {
            assert_eq!(from_host.base_for(Some(host)), base, "{host}");
        }
        for bad in [
            "",
            "a b",
            "evil.com/path",
            "evil.com@x",
            "x:0",
            "x:65536",
            "x:+80",
            "x:",
            "-x.com",
            "a..b",
            "[::1",
            "[nonsense]:80",
            "x:80:90",
            "évil.com",
        ] {
            assert_eq!(
                from_host.base_for(Some(bad)),
                "http://127.0.0.1:1",
                "{bad:?}"
            );
        }
        assert_eq!(from_host.base_for(None), "http://127.0.0.1:1");
        // Any base verifies: the signature covers the grant and the expiry only.
        let g = Grant::Download {
            project: "p1x".into(),
            file_id: 5,
        };
        let url = from_host.url_at(&from_host.base_for(Some("h:2")), &g, 1000);
        assert!(
            url.starts_with("http://h:2/blob/v1/p1x/files/5/content?"),
            "{url}"
        );
        assert_eq!(
            fixed.verify(&g, 1000, None, &query(&url, "signature"), 0),
            Ok(())
        );
    }

    /// A signer over a ring in a fresh directory, with the derived key of [`signer`].
    fn ringed() -> (tempfile::TempDir, store::FileKeyRingStore, UrlSigner) {
        let dir = tempfile::tempdir().unwrap();
        let store = store::FileKeyRingStore::new(dir.path());
        let keys = LiveKeys::open(
            legacy_key(&Secret::from_bytes([7; 32])),
            Arc::new(store.clone()),
            0,
        )
        .unwrap();
        let signer = UrlSigner::with_keys(Arc::new(keys), "http://127.0.0.1:1");
        (dir, store, signer)
    }

    fn rotate(store: &store::FileKeyRingStore) -> String {
        use store::KeyRingStore;
        store
            .update(&mut |old| {
                let mut ring = old.cloned()?;
                ring.rotate(clock_now());
                Some(ring)
            })
            .unwrap()
            .current()
            .id
            .clone()
    }

    fn clock_now() -> i64 {
        crate::clock::now_ms()
    }

    fn kid(url: &str) -> Option<String> {
        Some(query(url, "kid")).filter(|k| !k.is_empty())
    }

    #[test]
    fn urls_name_the_current_key_and_keep_verifying_after_a_rotation() {
        let (_dir, store, signer) = ringed();
        let g = Grant::Download {
            project: "p1x".into(),
            file_id: 5,
        };
        let old_url = signer.url(&g, 1000);
        let old_kid = kid(&old_url).expect("a key id");
        assert_eq!(Some(old_kid.clone()), signer.keys().current_id());
        assert!(
            old_url.contains(&format!("expires=1000&kid={old_kid}&signature=")),
            "{old_url}"
        );
        let old_sig = query(&old_url, "signature");

        let new_kid = rotate(&store);
        assert!(signer.keys().refresh().unwrap());
        let new_url = signer.url(&g, 1000);
        assert_eq!(kid(&new_url), Some(new_kid.clone()));
        let new_sig = query(&new_url, "signature");

        // Both verify, each with its own key id only.
        assert_eq!(signer.verify(&g, 1000, Some(&old_kid), &old_sig, 0), Ok(()));
        assert_eq!(signer.verify(&g, 1000, Some(&new_kid), &new_sig, 0), Ok(()));
        assert_eq!(
            signer.verify(&g, 1000, Some(&new_kid), &old_sig, 0),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            signer.verify(&g, 1000, Some(&old_kid), &new_sig, 0),
            Err(Refusal::BadSignature)
        );
        // The old URL still expires.
        assert_eq!(
            signer.verify(&g, 1000, Some(&old_kid), &old_sig, 1001),
            Err(Refusal::Expired)
        );
        // No key id, or an unknown one, does not verify a ring signature.
        assert_eq!(
            signer.verify(&g, 1000, None, &new_sig, 0),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            signer.verify(&g, 1000, Some("00000000"), &new_sig, 0),
            Err(Refusal::UnknownKey)
        );
        assert_eq!(
            signer.verify(&g, 1000, Some("../x"), &new_sig, 0),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn the_key_id_is_signed_so_keys_cannot_be_swapped() {
        // A v2 signature is over the key id, so the same key under another id does not verify, and a
        // v1 (derived-key) signature is not a v2 one.
        let g = Grant::Download {
            project: "p1x".into(),
            file_id: 5,
        };
        assert_ne!(g.canonical(1000, Some("a")), g.canonical(1000, Some("b")));
        assert_ne!(g.canonical(1000, None), g.canonical(1000, Some("a")));
    }

    #[test]
    fn urls_from_before_the_ring_verify_with_the_derived_key() {
        let (_dir, _store, ringed) = ringed();
        let g = Grant::Download {
            project: "p1x".into(),
            file_id: 5,
        };
        let before = signer().url(&g, 1000);
        assert_eq!(kid(&before), None);
        let sig = query(&before, "signature");
        assert_eq!(ringed.verify(&g, 1000, None, &sig, 0), Ok(()));
        // Naming a ring key does not make a derived-key signature valid.
        let current = ringed.keys().current_id().unwrap();
        assert_eq!(
            ringed.verify(&g, 1000, Some(&current), &sig, 0),
            Err(Refusal::BadSignature)
        );
    }

    #[tokio::test]
    async fn a_url_signed_after_a_rotation_elsewhere_verifies_at_once() {
        // Another node (or `keys rotate` and a quicker node) signs with a key this signer has not loaded.
        let (dir, store, signer) = ringed();
        let new_kid = rotate(&store);
        let elsewhere = UrlSigner::with_keys(
            Arc::new(
                LiveKeys::open(
                    [0; 32],
                    Arc::new(store::FileKeyRingStore::new(dir.path())),
                    0,
                )
                .unwrap(),
            ),
            "http://x",
        );
        let g = Grant::Download {
            project: "p1x".into(),
            file_id: 5,
        };
        let url = elsewhere.url(&g, 1000);
        assert_eq!(kid(&url), Some(new_kid.clone()));
        let sig = query(&url, "signature");
        assert_eq!(
            signer.verify(&g, 1000, Some(&new_kid), &sig, 0),
            Err(Refusal::UnknownKey)
        );
        assert_eq!(
            signer.verify_fresh(&g, 1000, Some(&new_kid), &sig, 0).await,
            Ok(())
        );
    }
}
