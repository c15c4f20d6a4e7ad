//! The installation's secret: 32 random bytes in `<data dir>/secret.key`, made on first start. Every key
//! the server needs (URL signatures, cursors, the id permutation) is derived from it, so that nodes sharing
//! a data directory, or configured with the same secret, agree.

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The root secret of an installation.
#[derive(Clone)]
pub struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Reads `path`, or creates it with fresh random bytes (mode 0600) when it does not exist.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} must hold exactly 32 bytes", path.display()),
                    )
                })?;
                Ok(Self(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                let staging = path.with_extension("tmp");
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create(true).truncate(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&staging)?;
                file.write_all(&key)?;
                file.sync_all()?;
                std::fs::rename(&staging, path)?;
                Ok(Self(key))
            }
            Err(e) => Err(e),
        }
    }

    /// A secret for tests and benchmarks.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key for one purpose, independent of the keys for other purposes.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = hmac_sha256(&self.0);
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// An HMAC-SHA256 instance keyed with `key`.
#[allow(clippy::expect_used)]
pub fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}
