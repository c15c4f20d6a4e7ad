//! Import primitives for `cabinet migrate` (src/migrate.rs): rows written with the ids, seqs and times
//! they had in the embedded store, the id seed taken over from it, and a record of what was copied.
//!
//! # Contract
//! - Every write is idempotent: importing the same file, group or category again leaves one row with
//!   the latest values, so an interrupted migration is simply run again.
//! - A file row and its [`migration_progress`](PROGRESS_TABLE) record commit in one transaction, so a
//!   record exists only for a file whose row (and, as the caller guarantees by calling this after the
//!   copy, content) is in place.
//! - [`PgStore::adopt_id_seed`] must run before any node serves the database: a [`PgStore`] reads the
//!   seed once, when it connects.

use std::collections::HashMap;

use super::files::{project_id_or_create, write_file};
use super::{pg_err, PgStore, BACKEND};
use crate::domain::FileRecord;
use crate::secret::Secret;
use crate::store::sqlite::export::{CategoryRow, GroupRow};
use crate::store::StoreError;

/// The table of files already copied: what `cabinet migrate` reads to skip them when run again. Owned
/// by the migration (created on first use), not part of the served schema.
pub const PROGRESS_TABLE: &str = "migration_progress";

/// Serializes migrations into one database (and their seed adoption).
pub(super) const IMPORT_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('cabinet-migrate', 0))";

/// What [`PgStore::adopt_id_seed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedAdoption {
    /// The database held no file: it now uses the source's seed.
    Adopted,
    /// The database already used the source's seed (a migration run before).
    AlreadyShared,
    /// The database holds this many files made under another seed; nothing was changed.
    Foreign {
        /// How many files it holds.
        files: i64,
    },
}

/// What became of a piece of state that every node shares (the root secret, the URL key ring) when the
/// data directory's was carried over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carried {
    /// The database had none: it now holds the data directory's.
    Moved,
    /// The database held the same already (an earlier run).
    AlreadyThere,
    /// The database held another one (a node started on it before the migration), which was kept.
    KeptOther,
}

/// What the progress table says about one copied file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedFile {
    /// The content key whose copy was verified, `None` for a file without content.
    pub content_key: Option<String>,
    /// The source's `lastUpdatedTime` when it was copied.
    pub last_updated_time: i64,
}

/// The verification of one file's content, recorded with its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedContent {
    /// Bytes read back from the target.
    pub size: u64,
    /// SHA-256 (hex) of what the target returned, equal to the source's.
    pub sha256: String,
}

impl PgStore {
    /// Creates the progress table if missing.
    pub async fn prepare_import(&self) -> Result<(), StoreError> {
        self.client()
            .await?
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (
                    file_id           BIGINT PRIMARY KEY,
                    content_key       TEXT,
                    content_size      BIGINT,
                    sha256            TEXT,
                    last_updated_time BIGINT NOT NULL,
                    copied_time       BIGINT NOT NULL
                )"
            ))
            .await
            .map_err(pg_err)
    }

    /// Makes new files' ids follow the source's id permutation: `seed` becomes the database's
    /// `file_id_seed` when it holds no file yet, and `files_seq` is moved to at least `next_seq`, so every
    /// id it hands out later is the permutation of a counter the source never used (and every seq is past
    /// the source's). Refused ([`SeedAdoption::Foreign`], nothing changed) when files made under another
    /// seed are there: their ids and the source's could collide.
    pub async fn adopt_id_seed(
        &self,
        seed: u64,
        next_seq: u64,
    ) -> Result<SeedAdoption, StoreError> {
        let seed = seed as i64;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(IMPORT_LOCK, &[]).await.map_err(pg_err)?;
        let current: i64 = tx
            .query_one(
                "SELECT value FROM settings WHERE key = 'file_id_seed' FOR UPDATE",
                &[],
            )
            .await
            .and_then(|r| r.try_get(0))
            .map_err(pg_err)?;
        let files: i64 = tx
            .query_one("SELECT count(*) FROM files", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(pg_err)?;
        let adoption = if current == seed {
            SeedAdoption::AlreadyShared
        } else if files > 0 {
            return Ok(SeedAdoption::Foreign { files });
        } else {
            tx.execute(
                "UPDATE settings SET value = $1 WHERE key = 'file_id_seed'",
                &[&seed],
            )
            .await
            .map_err(pg_err)?;
            SeedAdoption::Adopted
        };
        let next_seq = i64::try_from(next_seq).unwrap_or(i64::MAX);
        advance_sequence(&tx, "'files_seq'", next_seq).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(adoption)
    }

    /// Makes the data directory's root secret the deployment's (`cluster_secrets`), unless the database
    /// already has one: then signed URLs and cursors of the embedded server keep working on every node
    /// that runs without `--secret-file` / `CABINET_SECRET`.
    pub async fn import_secret(&self, secret: &Secret) -> Result<Carried, StoreError> {
        let client = self.client().await?;
        let ours = secret.as_bytes().as_slice();
        let inserted = client
            .execute(
                "INSERT INTO cluster_secrets (name, value) VALUES ('root', $1) \
                 ON CONFLICT (name) DO NOTHING",
                &[&ours],
            )
            .await
            .map_err(pg_err)?;
        if inserted == 1 {
            return Ok(Carried::Moved);
        }
        let stored: Vec<u8> = client
            .query_one("SELECT value FROM cluster_secrets WHERE name = 'root'", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(pg_err)?;
        Ok(if stored == ours {
            Carried::AlreadyThere
        } else {
            Carried::KeptOther
        })
    }

    /// Makes `ring` (the data directory's URL key ring, as JSON) the deployment's (`url_key_ring`), unless
    /// the database already has one.
    pub async fn import_key_ring(&self, ring: &[u8]) -> Result<Carried, StoreError> {
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO url_key_ring (id, ring, version) VALUES (1, $1, 1) \
                 ON CONFLICT (id) DO NOTHING",
                &[&ring],
            )
            .await
            .map_err(pg_err)?;
        if inserted == 1 {
            return Ok(Carried::Moved);
        }
        let stored: Vec<u8> = client
            .query_one("SELECT ring FROM url_key_ring WHERE id = 1", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(pg_err)?;
        Ok(if stored == ring {
            Carried::AlreadyThere
        } else {
            Carried::KeptOther
        })
    }

    /// Creates the projects that do not exist yet.
    pub async fn import_projects(&self, names: &[String]) -> Result<(), StoreError> {
        let client = self.client().await?;
        for name in names {
            client
                .execute(
                    "INSERT INTO projects (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                    &[name],
                )
                .await
                .map_err(pg_err)?;
        }
        Ok(())
    }

    /// What the progress table holds for each of `file_ids` that was copied.
    pub async fn copied_files(
        &self,
        file_ids: &[i64],
    ) -> Result<HashMap<i64, CopiedFile>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT file_id, content_key, last_updated_time FROM {PROGRESS_TABLE} \
                     WHERE file_id = ANY($1)"
                ),
                &[&file_ids],
            )
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    CopiedFile {
                        content_key: r.try_get(1)?,
                        last_updated_time: r.try_get(2)?,
                    },
                ))
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(pg_err)
    }

    /// Writes `file` into `project` at `seq` with its own id and times (a new row, or the one an earlier
    /// run wrote at that seq, replaced), and records it as copied with its verified content, in one
    /// transaction. Fails when another file holds the seq, the id or the externalId.
    pub async fn import_file(
        &self,
        project: &str,
        seq: i64,
        file: &FileRecord,
        content: Option<&VerifiedContent>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let pid = project_id_or_create(&tx, project).await?;
        let at_seq: Option<i64> = tx
            .query_opt("SELECT id FROM files WHERE seq = $1", &[&seq])
            .await
            .map_err(pg_err)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg_err)?;
        match at_seq {
            None => write_file(&tx, pid, file, Some(seq)).await,
            Some(id) if id == file.id => write_file(&tx, pid, file, None).await,
            Some(id) => {
                return Err(StoreError::internal(
                    BACKEND,
                    std::io::Error::other(format!(
                        "seq {seq} (file {}) is taken by file {id} in the target",
                        file.id
                    )),
                ))
            }
        }
        .map_err(pg_err)?;
        let size = content.map(|c| i64::try_from(c.size).unwrap_or(i64::MAX));
        let sha = content.map(|c| c.sha256.as_str());
        tx.execute(
            &format!(
                "INSERT INTO {PROGRESS_TABLE} \
                 (file_id, content_key, content_size, sha256, last_updated_time, copied_time) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (file_id) DO UPDATE SET \
                 content_key = $2, content_size = $3, sha256 = $4, last_updated_time = $5, \
                 copied_time = $6"
            ),
            &[
                &file.id,
                &file.content.as_ref().map(|c| c.key.as_str()),
                &size,
                &sha,
                &file.last_updated_time,
                &now,
            ],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(())
    }

    /// Writes the groups with their ids (existing ids are left as they are) and moves the id sequence
    /// past `last_handed_out`, so that no id the source ever gave, even to a group deleted since, is
    /// given again.
    pub async fn import_groups(
        &self,
        groups: &[GroupRow],
        last_handed_out: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(IMPORT_LOCK, &[]).await.map_err(pg_err)?;
        for g in groups {
            tx.execute(
                "INSERT INTO iam_groups (id, project, name, source_id, members, capabilities, \
                 metadata, app_ids, created_time) OVERRIDING SYSTEM VALUE \
                 VALUES ($1, $2, $3, $4, $5::text::json, $6::text::json, $7::text::json, \
                 $8::text::json, $9) ON CONFLICT (id) DO NOTHING",
                &[
                    &g.id,
                    &g.project,
                    &g.name,
                    &g.source_id,
                    &g.members,
                    &g.capabilities,
                    &g.metadata,
                    &g.app_ids,
                    &g.created_time,
                ],
            )
            .await
            .map_err(pg_err)?;
        }
        let last = groups.iter().map(|g| g.id).fold(last_handed_out, i64::max);
        advance_sequence(
            &tx,
            "pg_get_serial_sequence('iam_groups', 'id')",
            last.saturating_add(1),
        )
        .await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(())
    }

    /// Writes the security categories with their ids (files refer to them; existing ids are left as
    /// they are) and moves the id sequence past `last_handed_out`.
    pub async fn import_categories(
        &self,
        categories: &[CategoryRow],
        last_handed_out: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(IMPORT_LOCK, &[]).await.map_err(pg_err)?;
        for c in categories {
            tx.execute(
                "INSERT INTO iam_security_categories (id, project, name) OVERRIDING SYSTEM VALUE \
                 VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                &[&c.id, &c.project, &c.name],
            )
            .await
            .map_err(pg_err)?;
        }
        let last = categories
            .iter()
            .map(|c| c.id)
            .fold(last_handed_out, i64::max);
        advance_sequence(
            &tx,
            "pg_get_serial_sequence('iam_security_categories', 'id')",
            last.saturating_add(1),
        )
        .await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(())
    }
}

impl PgStore {
    /// Writes the assets with their ids and projects (existing ids are left as they are) and moves the
    /// asset id sequence past `last_handed_out`.
    pub async fn import_assets(
        &self,
        assets: &[(String, crate::store::assets::Asset)],
        last_handed_out: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(IMPORT_LOCK, &[]).await.map_err(pg_err)?;
        for (project, a) in assets {
            let exists = tx
                .query_opt("SELECT 1 FROM assets WHERE id = $1", &[&a.id])
                .await
                .map_err(pg_err)?;
            if exists.is_none() {
                super::assets::insert(&tx, project, a).await?;
            }
        }
        let last = assets
            .iter()
            .map(|(_, a)| a.id)
            .fold(last_handed_out, i64::max);
        if last > 0 {
            advance_sequence(&tx, "'assets_id_seq'", last.saturating_add(1)).await?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(())
    }
}

/// Makes the next value of the sequence `sequence` (an SQL expression naming it) at least `next`; never
/// moves it back.
pub(super) async fn advance_sequence(
    tx: &deadpool_postgres::Transaction<'_>,
    sequence: &str,
    next: i64,
) -> Result<(), StoreError> {
    let row = tx
        .query_one(
            &format!(
                "SELECT pg_sequence_last_value(({sequence})::regclass), \
                 (SELECT seqmin FROM pg_sequence WHERE seqrelid = ({sequence})::regclass)"
            ),
            &[],
        )
        .await
        .map_err(pg_err)?;
    let last: Option<i64> = row.try_get(0).map_err(pg_err)?;
    let min: i64 = row.try_get(1).map_err(pg_err)?;
    // The next value is last + 1 once the sequence was used, its start (here its minimum) before.
    let current_next = last.map_or(min, |l| l.saturating_add(1));
    if next > current_next {
        tx.execute(
            &format!("SELECT setval(({sequence})::regclass, $1, false)"),
            &[&next],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(())
}
