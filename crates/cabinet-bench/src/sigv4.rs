//! AWS Signature Version 4 query presigning (the `X-Amz-*` query parameters), enough for s3s-fs: the
//! benchmark hands s3s-fs presigned URLs just as cabinet hands out its own signed URLs, so both servers
//! check a signature on every content request.

use anyhow::anyhow;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Presigns S3 requests for one endpoint and key pair.
#[derive(Clone)]
pub struct Presigner {
    endpoint: String,
    host: String,
    access_key: String,
    secret_key: String,
    region: String,
}

impl Presigner {
    /// A presigner for `http://127.0.0.1:{port}` (path-style bucket addressing).
    pub fn new(port: u16, access_key: &str, secret_key: &str) -> Self {
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            host: format!("127.0.0.1:{port}"),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            region: "us-east-1".into(),
        }
    }

    /// A URL for `method` on `path` (`/bucket/key`) with extra `query` parameters, valid for `expires`
    /// seconds from now, signing only the host header and leaving the payload unsigned.
    pub fn presign(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        expires: u64,
    ) -> anyhow::Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| anyhow!("the clock is before 1970: {e}"))?
            .as_secs();
        self.presign_at(method, path, query, expires, now)
    }

    fn presign_at(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        expires: u64,
        now: u64,
    ) -> anyhow::Result<String> {
        let (date, amz_date) = amz_dates(now);
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let credential = format!("{}/{scope}", self.access_key);
        let expires = expires.to_string();
        let mut params: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
            .collect();
        for (k, v) in [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", credential.as_str()),
            ("X-Amz-Date", amz_date.as_str()),
            ("X-Amz-Expires", expires.as_str()),
            ("X-Amz-SignedHeaders", "host"),
        ] {
            params.push((uri_encode(k, true), uri_encode(v, true)));
        }
        params.sort();
        let canonical_query = params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let canonical_uri = uri_encode(path, false);
        let canonical_request = format!(
            "{method}\n{canonical_uri}\n{canonical_query}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD",
            self.host
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical_request.as_bytes()))
        );
        let k_date = hmac(
            format!("AWS4{}", self.secret_key).as_bytes(),
            date.as_bytes(),
        )?;
        let k_region = hmac(&k_date, self.region.as_bytes())?;
        let k_service = hmac(&k_region, b"s3")?;
        let k_signing = hmac(&k_service, b"aws4_request")?;
        let signature = hex(&hmac(&k_signing, string_to_sign.as_bytes())?);
        Ok(format!(
            "{}{canonical_uri}?{canonical_query}&X-Amz-Signature={signature}",
            self.endpoint
        ))
    }
}

fn hmac(key: &[u8], data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| anyhow!("HMAC key: {e}"))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is %XX; `/` stays
/// unless `encode_slash`.
fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `YYYYMMDD` and `YYYYMMDDTHHMMSSZ` of a Unix time.
fn amz_dates(unix: u64) -> (String, String) {
    let (y, m, d) = civil_from_days((unix / 86_400) as i64);
    let s = unix % 86_400;
    let date = format!("{y:04}{m:02}{d:02}");
    let stamp = format!("{date}T{:02}{:02}{:02}Z", s / 3600, s / 60 % 60, s % 60);
    (date, stamp)
}

/// Year, month, day of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(amz_dates(1_369_353_600).1, "20130524T000000Z");
    }

    /// The presigned GET example of the AWS SigV4 documentation ("Authenticating Requests: Using Query
    /// Parameters"), which uses the host examplebucket.s3.amazonaws.com and a virtual-hosted path.
    #[test]
    fn matches_the_aws_documentation_example() {
        let p = Presigner {
            endpoint: "https://examplebucket.s3.amazonaws.com".into(),
            host: "examplebucket.s3.amazonaws.com".into(),
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
        };
        let url = p
            .presign_at("GET", "/test.txt", &[], 86_400, 1_369_353_600)
            .unwrap();
        assert!(
            url.ends_with(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ),
            "{url}"
        );
    }
}
