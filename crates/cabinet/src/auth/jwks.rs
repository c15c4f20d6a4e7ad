//! A project's signing keys: a JWKS read from a file or fetched over HTTP, kept by `kid`.
//!
//! Requests only ever take a read lock long enough to clone an `Arc` of the key map; a refresh (file
//! read or HTTP fetch) runs with no lock held and swaps the map in at the end. A refresh happens at
//! start-up and when a token names a `kid` the map lacks, at most once per
//! [`JwksSettings::refetch_interval`] (so forged `kid`s cannot turn the server into a load generator for
//! the IdP). A failed refresh keeps the keys already known.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::DecodingKey;

/// Where a project's keys come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeySource {
    /// `jwks_url`: fetched over HTTP(S).
    Url(String),
    /// `jwks_file`: read from disk (air-gapped sites).
    File(PathBuf),
}

/// How often and how long key refreshes may take; set from the server's guards at start-up.
#[derive(Debug, Clone, Copy)]
pub struct JwksSettings {
    /// Least time between two refreshes triggered by unknown `kid`s.
    pub refetch_interval: Duration,
    /// A JWKS fetch that takes longer than this fails (and the cached keys stay).
    pub fetch_timeout: Duration,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            refetch_interval: Duration::from_secs(5),
            fetch_timeout: Duration::from_secs(3),
        }
    }
}

/// One verification key, with the JWK's own `alg` when it names one (a token must then use exactly it).
#[derive(Clone)]
pub struct Key {
    /// The public key.
    pub decoding: DecodingKey,
    /// The JWK's `alg`, if given.
    pub alg: Option<jsonwebtoken::Algorithm>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("family", &self.decoding.family())
            .field("alg", &self.alg)
            .finish()
    }
}

/// The cached keys of one project.
#[derive(Debug)]
pub struct KeyCache {
    source: KeySource,
    keys: RwLock<Arc<HashMap<String, Key>>>,
    /// When the last refresh started, and the settings; locked only to read or set them.
    state: Mutex<RefreshState>,
}

#[derive(Debug)]
struct RefreshState {
    last_attempt: Option<Instant>,
    settings: JwksSettings,
}

impl KeyCache {
    /// An empty cache for `source`; keys arrive with [`KeyCache::refresh`].
    pub fn new(source: KeySource) -> Self {
        Self {
            source,
            keys: RwLock::new(Arc::default()),
            state: Mutex::new(RefreshState {
                last_attempt: None,
                settings: JwksSettings::default(),
            }),
        }
    }

    /// Where the keys come from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Replaces the refresh settings (the server's guards).
    pub fn configure(&self, settings: JwksSettings) {
        if let Ok(mut state) = self.state.lock() {
            state.settings = settings;
        }
    }

    /// The key named `kid`; when it is unknown, one refresh (if none ran in the refetch interval) and
    /// a second look.
    pub async fn key(&self, kid: &str) -> Option<Key> {
        if let Some(key) = self.lookup(kid) {
            return Some(key);
        }
        if self.claim_refresh_slot() {
            if let Err(e) = self.load().await {
                tracing::warn!(error = %e, "JWKS refresh failed; the cached keys stay");
            }
        }
        self.lookup(kid)
    }

    /// Loads the keys now, whatever the interval (at start-up). Errors leave the cached keys.
    pub async fn refresh(&self) -> anyhow::Result<usize> {
        if let Ok(mut state) = self.state.lock() {
            state.last_attempt = Some(Instant::now());
        }
        self.load().await
    }

    /// Number of keys held (for logs and `config check`).
    pub fn len(&self) -> usize {
        self.keys.read().map(|k| k.len()).unwrap_or(0)
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lookup(&self, kid: &str) -> Option<Key> {
        let keys = self.keys.read().ok()?.clone();
        keys.get(kid).cloned()
    }

    /// Whether this caller may refresh now; if so the interval restarts from now.
    fn claim_refresh_slot(&self) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let now = Instant::now();
        match state.last_attempt {
            Some(t) if now.duration_since(t) < state.settings.refetch_interval => false,
            _ => {
                state.last_attempt = Some(now);
                true
            }
        }
    }

    fn timeout(&self) -> Duration {
        self.state
            .lock()
            .map(|s| s.settings.fetch_timeout)
            .unwrap_or(Duration::from_secs(3))
    }

    /// Reads or fetches the JWKS and swaps it in; no lock is held while it waits.
    async fn load(&self) -> anyhow::Result<usize> {
        let timeout = self.timeout();
        let body = match &self.source {
            KeySource::File(path) => tokio::fs::read(path)
                .await
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
            KeySource::Url(url) => fetch(url, timeout).await?,
        };
        let keys = parse_jwks(&body)?;
        let count = keys.len();
        if let Ok(mut slot) = self.keys.write() {
            *slot = Arc::new(keys);
        }
        tracing::info!(keys = count, source = ?self.source, "JWKS loaded");
        Ok(count)
    }
}

async fn fetch(url: &str, timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()?;
    let response = client.get(url).send().await?;
    if !response.status().is_success() {
        anyhow::bail!("JWKS fetch from {url}: HTTP {}", response.status());
    }
    const MAX_JWKS_BYTES: usize = 1 << 20;
    let body = response.bytes().await?;
    if body.len() > MAX_JWKS_BYTES {
        anyhow::bail!("JWKS from {url} is larger than {MAX_JWKS_BYTES} bytes");
    }
    Ok(body.to_vec())
}

/// The usable keys of a JWKS by `kid`: keys without a `kid`, with a symmetric (`oct`) type or marked
/// for encryption are left out, so no HMAC secret can ever verify a token.
pub fn parse_jwks(body: &[u8]) -> anyhow::Result<HashMap<String, Key>> {
    let set: JwkSet = serde_json::from_slice(body)
        .map_err(|e| anyhow::anyhow!("not a JWK set (keys: [...]): {e}"))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = &jwk.common.key_id else {
            continue;
        };
        if matches!(
            jwk.algorithm,
            jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
        ) || matches!(
            jwk.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        ) {
            continue;
        }
        let Ok(decoding) = DecodingKey::from_jwk(jwk) else {
            tracing::warn!(kid, "JWKS key skipped: unusable parameters");
            continue;
        };
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse::<jsonwebtoken::Algorithm>().ok());
        keys.insert(kid.clone(), Key { decoding, alg });
    }
    Ok(keys)
}
