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
    /// Whether URLs start with the request's `Host` when it is a valid one (else with `public_url`).
    from_request_host: bool,
}

impl UrlSigner {
    /// A signer whose URLs start with `public_url` (no trailing slash needed).
    pub fn new(secret: &Secret, public_url: &str) -> Self {
        Self {
            key: secret.derive("content-urls"),
            public_url: public_url.trim_end_matches('/').to_string(),
            from_request_host: false,
        }
    }

    /// A signer whose URLs start with `http://` and the `Host` the client reached the server under, so
    /// that a client on another machine is handed URLs it can reach; `fallback` when the request has no
    /// valid `Host`. The signature does not cover the host, so any of them verifies.
    pub fn from_request_host(secret: &Secret, fallback: &str) -> Self {
        Self {
            from_request_host: true,
            ..Self::new(secret, fallback)
        }
    }

    /// The base of the URLs handed to a request that came with `host` (its `Host` header).
    pub fn base_for(&self, host: Option<&str>) -> String {
        match host.filter(|_| self.from_request_host).and_then(authority) {
            Some(authority) => format!("http://{authority}"),
            None => self.public_url.clone(),
        }
    }

    fn mac(&self, grant: &Grant, expires: i64) -> hmac::Hmac<sha2::Sha256> {
        let mut mac = hmac_sha256(&self.key);
        mac.update(grant.canonical(expires).as_bytes());
        mac
    }

    /// The absolute URL under the public URL granting `grant` until `expires` (ms since epoch).
    pub fn url(&self, grant: &Grant, expires: i64) -> String {
        self.url_at(&self.public_url, grant, expires)
    }

    /// The absolute URL under `base` (from [`UrlSigner::base_for`]) granting `grant` until `expires`
    /// (ms since epoch).
    pub fn url_at(&self, base: &str, grant: &Grant, expires: i64) -> String {
        let signature = URL_SAFE_NO_PAD.encode(self.mac(grant, expires).finalize().into_bytes());
        let part = match grant {
            Grant::Upload { part: Some(p), .. } => format!("part={p}&"),
            _ => String::new(),
        };
        format!(
            "{base}{}?{part}expires={expires}&signature={signature}",
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

    #[test]
    fn urls_follow_a_valid_request_host() {
        let fixed = signer();
        let from_host =
            UrlSigner::from_request_host(&Secret::from_bytes([7; 32]), "http://127.0.0.1:1");
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
        assert_eq!(fixed.verify(&g, 1000, &query(&url, "signature"), 0), Ok(()));
    }
}
