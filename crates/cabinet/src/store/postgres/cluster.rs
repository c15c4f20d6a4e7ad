//! What the nodes of one deployment share besides files, kept in PostgreSQL: the root secret (when the
//! operator configured none) and the URL signing key ring. With them, a URL signed by one node and a
//! cursor written by one node are good on every other.

use std::sync::Arc;

use super::{pg_err, PgStore, BACKEND};
use crate::secret::Secret;
use crate::signing::ring::KeyRing;
use crate::signing::store::{KeyRingStore, RingVersion};
use crate::store::StoreError;

/// The advisory lock that serializes key ring updates across nodes ("cabinet" and 2).
const RING_LOCK_KEY: i64 = 0x6361_6269_6e65_7402;

impl PgStore {
    /// The deployment's root secret: created with fresh random bytes by the first node that asks, the same
    /// for every node afterwards (a racing creation loses quietly and reads the winner's).
    pub async fn shared_secret(&self) -> Result<Secret, StoreError> {
        let client = self.client().await?;
        let fresh = Secret::random();
        client
            .execute(
                "INSERT INTO cluster_secrets (name, value) VALUES ('root', $1) \
                 ON CONFLICT (name) DO NOTHING",
                &[&fresh.as_bytes().as_slice()],
            )
            .await
            .map_err(pg_err)?;
        let value: Vec<u8> = client
            .query_one("SELECT value FROM cluster_secrets WHERE name = 'root'", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(pg_err)?;
        let bytes: [u8; 32] = value.as_slice().try_into().map_err(|_| {
            StoreError::internal(
                BACKEND,
                std::io::Error::other("the stored root secret is not 32 bytes"),
            )
        })?;
        Ok(Secret::from_bytes(bytes))
    }

    /// The key ring of this database, for [`crate::signing::live::LiveKeys`] and `cabinet keys`. Its calls
    /// block on `runtime`: make them from a blocking thread (`spawn_blocking`), as the trait asks.
    pub fn key_ring_store(&self, runtime: tokio::runtime::Handle) -> Arc<dyn KeyRingStore> {
        Arc::new(PgKeyRingStore {
            store: self.clone(),
            runtime,
        })
    }
}

/// [`KeyRingStore`] on the `url_key_ring` table: updates run in a transaction under an advisory lock, so
/// rotations on two nodes take turns; the version column increments with each write.
struct PgKeyRingStore {
    store: PgStore,
    runtime: tokio::runtime::Handle,
}

fn io_err(e: StoreError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn parse_ring(bytes: &[u8]) -> std::io::Result<KeyRing> {
    KeyRing::from_json(bytes).map_err(|why| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the key ring in PostgreSQL is not valid: {why}"),
        )
    })
}

impl PgKeyRingStore {
    async fn load_async(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.store.client().await?;
        let row = client
            .query_opt("SELECT ring FROM url_key_ring WHERE id = 1", &[])
            .await
            .map_err(pg_err)?;
        row.map(|r| r.try_get(0)).transpose().map_err(pg_err)
    }

    async fn update_async(
        &self,
        change: &mut dyn FnMut(Option<&KeyRing>) -> Option<KeyRing>,
    ) -> std::io::Result<KeyRing> {
        let mut client = self.store.client().await.map_err(io_err)?;
        let tx = client.transaction().await.map_err(|e| io_err(pg_err(e)))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&RING_LOCK_KEY])
            .await
            .map_err(|e| io_err(pg_err(e)))?;
        let stored: Option<Vec<u8>> = tx
            .query_opt("SELECT ring FROM url_key_ring WHERE id = 1", &[])
            .await
            .and_then(|row| row.map(|r| r.try_get(0)).transpose())
            .map_err(|e| io_err(pg_err(e)))?;
        let stored = stored.as_deref().map(parse_ring).transpose()?;
        match (change(stored.as_ref()), stored) {
            (Some(new), _) => {
                tx.execute(
                    "INSERT INTO url_key_ring (id, ring, version) VALUES (1, $1, 1) \
                     ON CONFLICT (id) DO UPDATE SET ring = EXCLUDED.ring, \
                     version = url_key_ring.version + 1",
                    &[&new.to_json()],
                )
                .await
                .map_err(|e| io_err(pg_err(e)))?;
                tx.commit().await.map_err(|e| io_err(pg_err(e)))?;
                Ok(new)
            }
            (None, Some(old)) => Ok(old),
            (None, None) => Err(std::io::Error::other("no key ring to keep")),
        }
    }

    async fn version_async(&self) -> Result<Option<i64>, StoreError> {
        let client = self.store.client().await?;
        let row = client
            .query_opt("SELECT version FROM url_key_ring WHERE id = 1", &[])
            .await
            .map_err(pg_err)?;
        row.map(|r| r.try_get(0)).transpose().map_err(pg_err)
    }
}

impl KeyRingStore for PgKeyRingStore {
    fn load(&self) -> std::io::Result<Option<KeyRing>> {
        let bytes = self.runtime.block_on(self.load_async()).map_err(io_err)?;
        bytes.as_deref().map(parse_ring).transpose()
    }

    fn update(
        &self,
        change: &mut dyn FnMut(Option<&KeyRing>) -> Option<KeyRing>,
    ) -> std::io::Result<KeyRing> {
        self.runtime.block_on(self.update_async(change))
    }

    fn version(&self) -> std::io::Result<Option<RingVersion>> {
        let version = self
            .runtime
            .block_on(self.version_async())
            .map_err(io_err)?;
        Ok(version.map(RingVersion::counter))
    }
}
