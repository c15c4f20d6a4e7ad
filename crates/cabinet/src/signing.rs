//! Signed capability URLs for content, the way CDF hands out cloud-storage URLs: whoever holds the URL may
//! do exactly one thing (PUT this upload session's content, or one part of it; GET this file's content)
//! until it expires, with no bearer token. The signature is HMAC-SHA256 over every field that the URL
//! grants, so changing any of them (or the expiry) invalidates it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::Mac;

use crate::secret::{hmac_sha256, Secret};

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
    fn canonical(&self, expires: i64) -> String {
        match self {
            Grant::Upload {
                project,
                file_id,
                session,
                part,
            } => {
                let part = part.map_or("-".to_string(), |p| p.to_string());
                format!("cabinet-v1\nPUT\n{project}\n{file_id}\n{session}\n{part}\n{expires}")
            }
            Grant::Download { project, file_id } => {
                format!("cabinet-v1\nGET\n{project}\n{file_id}\n-\n-\n{expires}")
            }
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
    /// The URL's time is up.
    Expired,
}

/// Signs and checks content URLs.
#[derive(Clone)]
pub struct UrlSigner {
    key: [u8; 32],
    public_url: String,
}

impl UrlSigner {
    /// A signer whose URLs start with `public_url` (no trailing slash needed).
    pub fn new(secret: &Secret, public_url: &str) -> Self {
        Self {
            key: secret.derive("content-urls"),
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    fn mac(&self, grant: &Grant, expires: i64) -> hmac::Hmac<sha2::Sha256> {
        let mut mac = hmac_sha256(&self.key);
        mac.update(grant.canonical(expires).as_bytes());
        mac
    }

    /// The absolute URL granting `grant` until `expires` (ms since epoch).
    pub fn url(&self, grant: &Grant, expires: i64) -> String {
        let signature = URL_SAFE_NO_PAD.encode(self.mac(grant, expires).finalize().into_bytes());
        let part = match grant {
            Grant::Upload { part: Some(p), .. } => format!("part={p}&"),
            _ => String::new(),
        };
        format!(
            "{}{}?{part}expires={expires}&signature={signature}",
            self.public_url,
            grant.path()
        )
    }

    /// Checks a URL's signature and expiry at time `now`.
    pub fn verify(
        &self,
        grant: &Grant,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), Refusal> {
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Refusal::BadSignature)?;
        self.mac(grant, expires)
            .verify_slice(&given)
            .map_err(|_| Refusal::BadSignature)?;
        if now > expires {
            return Err(Refusal::Expired);
        }
        Ok(())
    }
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
        assert_eq!(signer().verify(&g, 1000, &sig, 999), Ok(()));
        assert_eq!(signer().verify(&g, 1000, &sig, 1001), Err(Refusal::Expired));
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
            signer().verify(&other_part, 1000, &sig, 0),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            signer().verify(&other_file, 1000, &sig, 0),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            signer().verify(&g, 2000, &sig, 0),
            Err(Refusal::BadSignature)
        );
        let other_key = UrlSigner::new(&Secret::from_bytes([8; 32]), "http://x");
        assert_eq!(
            other_key.verify(&g, 1000, &sig, 0),
            Err(Refusal::BadSignature)
        );
    }
}
