//! The installation's secret: 32 random bytes in `<data dir>/secret.key`, made on first start. Every key
//! the server needs (URL signatures, cursors, the id permutation) is derived from it, so that nodes sharing
//! a data directory, or configured with the same secret, agree.

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The shortest configured secret text [`Secret::from_configured`] accepts.
pub const MIN_CONFIGURED_LEN: usize = 32;

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

    /// The secret an operator gave (`--secret-file`, `CABINET_SECRET`), shared by every node of a
    /// deployment: text of at least [`MIN_CONFIGURED_LEN`] characters, hashed into the 32-byte root.
    /// Surrounding whitespace (a file's final newline) is ignored, so a file and the variable holding the
    /// same text give the same secret. Shorter values are refused: they could be guessed, and every URL
    /// signature and cursor rests on it.
    pub fn from_configured(value: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(value)
            .map_err(|_| "the secret must be text (e.g. `openssl rand -hex 32`)".to_string())?
            .trim();
        if text.chars().count() < MIN_CONFIGURED_LEN {
            return Err(format!(
                "the secret must be at least {MIN_CONFIGURED_LEN} characters long (e.g. \
                 `openssl rand -hex 32`)"
            ));
        }
        let mut mac = hmac_sha256(b"cabinet configured secret");
        mac.update(text.as_bytes());
        Ok(Self(mac.finalize().into_bytes().into()))
    }

    /// Fresh random bytes, for a store that keeps the secret itself.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// The raw bytes, for a store that keeps the secret (never for logs).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_secret_is_long_text_hashed() {
        let text = "0123456789abcdef0123456789abcdef";
        let a = Secret::from_configured(text.as_bytes()).unwrap();
        let b = Secret::from_configured(format!("  {text}\n").as_bytes()).unwrap();
        assert_eq!(a.0, b.0, "surrounding whitespace is ignored");
        assert_ne!(a.0, *<&[u8; 32]>::try_from(text.as_bytes()).unwrap());
        let other = Secret::from_configured(b"0123456789abcdef0123456789abcdeX").unwrap();
        assert_ne!(a.0, other.0);
        assert!(Secret::from_configured(b"short").is_err());
        assert!(Secret::from_configured(&[0xff; 40]).is_err(), "not text");
        assert!(Secret::from_configured(format!("{:31}", "x").as_bytes()).is_err());
    }
}
