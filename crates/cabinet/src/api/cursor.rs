//! List cursors: opaque to clients, keyset-based inside. A cursor holds the last id returned and a
//! fingerprint of the query (filter and partition) it belongs to, sealed with an HMAC so it cannot be
//! forged or carried over to another query.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::Mac;
use sha2::{Digest, Sha256};

use crate::secret::{hmac_sha256, Secret};

/// Seals and opens cursors.
#[derive(Clone)]
pub struct CursorCodec {
    key: [u8; 32],
}

/// Why a cursor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadCursor;

const MAC_BYTES: usize = 16;

impl CursorCodec {
    /// A codec keyed by the installation secret.
    pub fn new(secret: &Secret) -> Self {
        Self {
            key: secret.derive("list-cursors"),
        }
    }

    /// A fingerprint of everything but the cursor that defines a query; pages of one walk share it.
    pub fn fingerprint(project: &str, query: &str) -> [u8; 8] {
        let digest = Sha256::new()
            .chain_update(project)
            .chain_update([0])
            .chain_update(query)
            .finalize();
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        out
    }

    fn mac(&self, payload: &[u8]) -> [u8; MAC_BYTES] {
        let mut mac = hmac_sha256(&self.key);
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_BYTES];
        out.copy_from_slice(&full[..MAC_BYTES]);
        out
    }

    /// The cursor that continues `query` after the file `last_id`.
    pub fn seal(&self, last_id: i64, fingerprint: [u8; 8]) -> String {
        let mut payload = Vec::with_capacity(16 + MAC_BYTES);
        payload.extend_from_slice(&last_id.to_be_bytes());
        payload.extend_from_slice(&fingerprint);
        let mac = self.mac(&payload);
        payload.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// The last id of a cursor made by [`CursorCodec::seal`] for the same query.
    pub fn open(&self, cursor: &str, fingerprint: [u8; 8]) -> Result<i64, BadCursor> {
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor.trim_end_matches('='))
            .map_err(|_| BadCursor)?;
        if bytes.len() != 16 + MAC_BYTES {
            return Err(BadCursor);
        }
        let (payload, mac) = bytes.split_at(16);
        let expected = self.mac(payload);
        let equal = expected
            .iter()
            .zip(mac)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if !equal || payload[8..16] != fingerprint {
            return Err(BadCursor);
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&payload[..8]);
        Ok(i64::from_be_bytes(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_for_its_own_query() {
        let codec = CursorCodec::new(&Secret::from_bytes([1; 32]));
        let fp = CursorCodec::fingerprint("p1", "{}");
        let cursor = codec.seal(42, fp);
        assert_eq!(codec.open(&cursor, fp), Ok(42));
        assert_eq!(
            codec.open(
                &cursor,
                CursorCodec::fingerprint("p1", "{\"uploaded\":true}")
            ),
            Err(BadCursor)
        );
        assert_eq!(
            codec.open(&cursor, CursorCodec::fingerprint("p2", "{}")),
            Err(BadCursor)
        );
        assert_eq!(codec.open("garbage", fp), Err(BadCursor));
        let mut forged = cursor.clone().into_bytes();
        forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            codec.open(std::str::from_utf8(&forged).unwrap_or_default(), fp),
            Err(BadCursor)
        );
    }
}
