//! `cabinet migrate`: moves an embedded data directory (SQLite metadata, content on the local disk) into
//! PostgreSQL and an S3 bucket, for a deployment of several nodes.
//!
//! What is copied: every project, every file row with its id, externalId, every field, its times and its
//! seq (listing order, and what cursors hold), the content of every uploaded file, and the stored groups
//! and security categories with their ids (files refer to category ids), data sets with their ids and label
//! definitions with their positions. Upload sessions are not: a file
//! whose upload never completed arrives without content, as it was.
//!
//! How it stays correct when interrupted (a SIGKILL at any moment) and run again:
//! - content is copied first (a PUT of the same key again is harmless), read back from the target and
//!   checked (size and SHA-256 against the source's bytes), and only then is the file's row written, in
//!   one transaction with its record in `migration_progress`;
//! - a file whose record matches the source (same content key, same lastUpdatedTime) is skipped; any
//!   other is copied again, its row replaced where an earlier run left one;
//! - groups, categories, data sets and labels are inserted by id, leaving ids already there.
//!
//! Shared state: the data directory's root secret and URL key ring move into the database (unless it has
//! its own already), so URLs signed and cursors written by the embedded server stay good on every node
//! that runs without `--secret-file` / `CABINET_SECRET`.
//!
//! Ids: the target takes over the data directory's id seed, and its counter moves past the source's, so
//! the files nodes create later never get an id (or seq) a migrated file has or had.
//!
//! A server running on the data directory is detected through SQLite's own lock: every connection to a
//! database in WAL mode holds a shared lock on one byte of its `-shm` file while it is open
//! ([`server_running`]), which `F_GETLK` reads without taking it.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::blob::local::LocalBlobs;
use crate::blob::s3::{S3Blobs, S3Settings};
use crate::blob::{BlobStore, ByteStream};
use crate::domain::FileRecord;
use crate::secret::Secret;
use crate::signing::store::{FileKeyRingStore, KeyRingStore};
use crate::store::postgres::import::{Carried, SeedAdoption, VerifiedContent};
use crate::store::postgres::{PgOptions, PgStore};
use crate::store::sqlite::export::{ExportedFile, SqliteExport};

/// Files read from SQLite at a time.
const PAGE: usize = 256;

/// A hidden switch for the tests of interruption: after this many files copied, the process prints
/// "paused" on stderr and waits to be killed.
pub const PAUSE_AFTER_ENV: &str = "CABINET_MIGRATE_TEST_PAUSE_AFTER";

/// What to migrate, and where to.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// The data directory of `cabinet serve` (with `secret.key`, `metadata.sqlite3`, `blobs/`).
    pub from: PathBuf,
    /// `postgres://USER:PASS@HOST:PORT/DB`.
    pub metadata: String,
    /// The bucket, prefix and S3 connection.
    pub content: S3Settings,
    /// Files copied at once.
    pub concurrency: usize,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Projects in the source.
    pub projects: usize,
    /// Files in the source.
    pub files: u64,
    /// Files copied by this run.
    pub copied: u64,
    /// Files an earlier run had copied already.
    pub skipped: u64,
    /// Content objects copied and verified by this run.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Stored groups in the source.
    pub groups: usize,
    /// Security categories in the source.
    pub categories: usize,
    /// Assets in the source.
    pub assets: usize,
    /// Whether the target took over the source's id seed now, or had it from an earlier run.
    pub seed_adopted_now: bool,
    /// What became of the data directory's root secret (URL signatures, cursors).
    pub secret: Option<Carried>,
    /// What became of its URL key ring; `None` when it had none.
    pub key_ring: Option<Carried>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "migrated {} project(s), {} file(s): {} copied now, {} already there",
            self.projects, self.files, self.copied, self.skipped
        )?;
        writeln!(
            f,
            "content: {} object(s), {} byte(s) copied and verified (size and SHA-256)",
            self.objects, self.bytes
        )?;
        writeln!(
            f,
            "access: {} group(s), {} security categor{}",
            self.groups,
            self.categories,
            if self.categories == 1 { "y" } else { "ies" }
        )?;
        writeln!(f, "assets: {}", self.assets)?;
        writeln!(
            f,
            "file ids: the database {} the data directory's id seed",
            if self.seed_adopted_now {
                "now uses"
            } else {
                "already used"
            }
        )?;
        let shared = |what: &str, carried: Option<Carried>| match carried {
            None => format!("{what}: none in the data directory"),
            Some(Carried::Moved) => format!("{what}: moved into the database"),
            Some(Carried::AlreadyThere) => format!("{what}: already in the database"),
            Some(Carried::KeptOther) => format!(
                "{what}: the database already had another, which was kept (URLs and cursors handed \
                 out by the embedded server will not be accepted by the nodes)"
            ),
        };
        writeln!(f, "{}", shared("secret", self.secret))?;
        write!(f, "{}", shared("URL signing keys", self.key_ring))
    }
}

/// Runs the migration; see the module documentation. Progress goes to stderr (a bar on a terminal,
/// plain lines otherwise).
pub async fn run(options: &MigrateOptions) -> anyhow::Result<Summary> {
    let from = &options.from;
    let db_path = from.join("metadata.sqlite3");
    let secret_path = from.join("secret.key");
    if !db_path.is_file() || !secret_path.is_file() {
        bail!(
            "{} is not a cabinet data directory (metadata.sqlite3 and secret.key are missing)",
            from.display()
        );
    }
    if server_running(&db_path)? {
        bail!(
            "a process has {} open: stop the server using the data directory before migrating it",
            db_path.display()
        );
    }
    let secret = read_secret(&secret_path)?;
    let export = SqliteExport::open(&db_path)?;
    let counter = export.id_counter()?;
    let (files, last_seq) = export.file_count_and_last_seq()?;

    let target = PgStore::connect(&options.metadata, PgOptions::default())
        .await
        .context("cannot open the PostgreSQL database")?;
    target.prepare_import().await?;
    let next_seq = counter.max(u64::try_from(last_seq).unwrap_or(0).saturating_add(1));
    let seed_adopted_now = match target.adopt_id_seed(file_id_seed(&secret), next_seq).await? {
        SeedAdoption::Adopted => true,
        SeedAdoption::AlreadyShared => false,
        SeedAdoption::Foreign { files } => bail!(
            "the PostgreSQL database already holds {files} file(s) that did not come from this data \
             directory (their ids are made under another seed, and could collide with the migrated \
             ones): migrate into an empty database"
        ),
    };

    let carried_secret = target.import_secret(&secret).await?;
    let ring = FileKeyRingStore::new(from)
        .load()
        .context("cannot read the data directory's URL signing keys")?;
    let key_ring = match ring {
        Some(ring) => Some(target.import_key_ring(&ring.to_json()).await?),
        None => None,
    };

    let projects = export.projects()?;
    target.import_projects(&projects).await?;
    let categories = export.categories()?;
    target
        .import_categories(
            &categories,
            export.last_handed_out("iam_security_categories")?,
        )
        .await?;
    let groups = export.groups()?;
    target
        .import_groups(&groups, export.last_handed_out("iam_groups")?)
        .await?;
    target
        .import_data_sets(&export.data_sets()?, export.last_handed_out("data_sets")?)
        .await?;
    target
        .import_labels(&export.labels()?, export.last_handed_out("labels")?)
        .await?;
    let (assets, last_asset) = export.assets()?;
    target.import_assets(&assets, last_asset).await?;

    let spool = std::env::temp_dir().join(format!("cabinet-migrate-{}", std::process::id()));
    let _spool_cleanup = RemoveOnDrop(spool.clone());
    let source = LocalBlobs::open(from).context("cannot open the data directory's content")?;
    let dest = S3Blobs::open(&options.content, &spool).context("cannot set up the S3 store")?;
    let copy = Copier {
        source: &source,
        dest: &dest,
        target: &target,
        copied: AtomicU64::new(0),
        pause_after: std::env::var(PAUSE_AFTER_ENV)
            .ok()
            .and_then(|v| v.parse().ok()),
    };
    let mut progress = Progress::new(files);
    let mut summary = Summary {
        projects: projects.len(),
        files,
        groups: groups.len(),
        categories: categories.len(),
        assets: assets.len(),
        seed_adopted_now,
        secret: Some(carried_secret),
        key_ring,
        ..Summary::default()
    };
    let mut failures: Vec<String> = Vec::new();
    let mut after = i64::MIN;
    loop {
        let page = export.files_after(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let ids: Vec<i64> = page.iter().map(|f| f.file.id).collect();
        let done = target.copied_files(&ids).await?;
        let mut todo = Vec::with_capacity(page.len());
        for f in page {
            let copied = done.get(&f.file.id).is_some_and(|c| {
                c.content_key.as_deref() == f.file.content.as_ref().map(|c| c.key.as_str())
                    && c.last_updated_time == f.file.last_updated_time
            });
            if copied {
                summary.skipped += 1;
                progress.advance(0);
            } else {
                todo.push(f);
            }
        }
        let mut results = futures_util::stream::iter(todo.into_iter().map(|f| copy.file(f)))
            .buffer_unordered(options.concurrency.max(1));
        while let Some((file, result)) = results.next().await {
            match result {
                Ok(bytes) => {
                    summary.copied += 1;
                    if file.file.content.is_some() {
                        summary.objects += 1;
                        summary.bytes += bytes;
                    }
                    progress.advance(bytes);
                }
                Err(e) => failures.push(format!(
                    "file {} (project {}, seq {}): {e:#}",
                    file.file.id, file.project, file.seq
                )),
            }
        }
    }
    progress.finish();
    if !failures.is_empty() {
        let shown = failures.iter().take(20).cloned().collect::<Vec<_>>();
        bail!(
            "{} file(s) could not be copied (run again to retry them; the others are done):\n  {}",
            failures.len(),
            shown.join("\n  ")
        );
    }
    Ok(summary)
}

/// The key of the id permutation, derived from the data directory's secret exactly as `cabinet serve`
/// derives it (app.rs).
fn file_id_seed(secret: &Secret) -> u64 {
    u64::from_le_bytes(secret.derive("file-ids")[..8].try_into().unwrap_or([0; 8]))
}

fn read_secret(path: &Path) -> anyhow::Result<Secret> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} must hold exactly 32 bytes", path.display()))?;
    Ok(Secret::from_bytes(key))
}

/// Whether another process has the SQLite database at `db` open: each connection to a WAL database holds
/// a shared lock on the "dead man switch" byte of its `-shm` file (byte 128: after the 120 bytes of the
/// WAL index header and the 8 lock bytes; see SQLite's os_unix.c) for as long as it is open. Without a
/// `-shm` file, nobody has it open.
pub fn server_running(db: &Path) -> anyhow::Result<bool> {
    let mut shm = db.as_os_str().to_owned();
    shm.push("-shm");
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(PathBuf::from(shm))
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).context("cannot open the database's -shm file"),
    };
    dms_locked(&file)
}

#[cfg(unix)]
fn dms_locked(file: &std::fs::File) -> anyhow::Result<bool> {
    use std::os::fd::AsRawFd;
    const DMS_BYTE: libc::off_t = 128;
    // SAFETY: an all-zero flock is a valid value of this plain C struct.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = DMS_BYTE;
    lock.l_len = 1;
    // SAFETY: F_GETLK reads and writes only the struct passed, on a descriptor this function borrows.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) } != 0 {
        return Err(std::io::Error::last_os_error()).context("cannot read the database's locks");
    }
    Ok(lock.l_type != libc::F_UNLCK as libc::c_short)
}

#[cfg(not(unix))]
fn dms_locked(_file: &std::fs::File) -> anyhow::Result<bool> {
    Ok(false)
}

/// Copies one file at a time; several run at once.
struct Copier<'a> {
    source: &'a LocalBlobs,
    dest: &'a S3Blobs,
    target: &'a PgStore,
    copied: AtomicU64,
    pause_after: Option<u64>,
}

impl Copier<'_> {
    /// Copies the file's content (if any) and verifies it, then writes its row and progress record.
    /// Returns the file and the bytes copied, or why it failed.
    async fn file(&self, f: ExportedFile) -> (ExportedFile, anyhow::Result<u64>) {
        if let Some(limit) = self.pause_after {
            if self.copied.load(Ordering::SeqCst) >= limit {
                eprintln!("paused after {limit} file(s)");
                loop {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            }
        }
        let result = self.copy(&f.project, f.seq, &f.file).await;
        if result.is_ok() {
            self.copied.fetch_add(1, Ordering::SeqCst);
        }
        (f, result)
    }

    async fn copy(&self, project: &str, seq: i64, file: &FileRecord) -> anyhow::Result<u64> {
        let verified = match &file.content {
            None => None,
            Some(content) => Some(self.copy_content(&content.key, content.size).await?),
        };
        self.target
            .import_file(
                project,
                seq,
                file,
                verified.as_ref(),
                crate::clock::now_ms(),
            )
            .await?;
        Ok(verified.map_or(0, |v| v.size))
    }

    /// Streams the object `key` from the data directory to the bucket, hashing what it reads, then reads
    /// the bucket's copy back and checks its size and SHA-256.
    async fn copy_content(&self, key: &str, size: u64) -> anyhow::Result<VerifiedContent> {
        let body = self
            .source
            .get(key, None)
            .await
            .with_context(|| format!("cannot read the content {key} in the data directory"))?;
        let hashed = Arc::new(Mutex::new((Sha256::new(), 0u64)));
        let tap = hashed.clone();
        let body: ByteStream = Box::pin(body.inspect_ok(move |chunk| {
            if let Ok(mut h) = tap.lock() {
                h.0.update(chunk);
                h.1 += chunk.len() as u64;
            }
        }));
        self.dest
            .put(key, body, u64::MAX)
            .await
            .with_context(|| format!("cannot write the content {key} to the bucket"))?;
        let (source_sha, source_size) = {
            let h = hashed
                .lock()
                .map_err(|_| anyhow::anyhow!("the hash of {key} was lost"))?;
            (hex(&h.0.clone().finalize()), h.1)
        };
        if source_size != size {
            bail!("the content {key} holds {source_size} bytes, its file says {size}");
        }
        let mut back = self
            .dest
            .get(key, None)
            .await
            .with_context(|| format!("cannot read the content {key} back from the bucket"))?;
        let mut sha = Sha256::new();
        let mut read = 0u64;
        while let Some(chunk) = back.next().await {
            let chunk = chunk
                .with_context(|| format!("cannot read the content {key} back from the bucket"))?;
            sha.update(&chunk);
            read += chunk.len() as u64;
        }
        let sha = hex(&sha.finalize());
        if read != source_size || sha != source_sha {
            bail!(
                "the bucket's copy of {key} differs from the source ({read} bytes, SHA-256 {sha}; \
                 the source: {source_size} bytes, {source_sha})"
            );
        }
        Ok(VerifiedContent {
            size: read,
            sha256: sha,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes a directory (the S3 spool) when the run ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The progress on stderr: a bar redrawn in place on a terminal, a plain line every few seconds
/// otherwise.
struct Progress {
    total: u64,
    done: u64,
    bytes: u64,
    terminal: bool,
    started: Instant,
    shown: Instant,
}

impl Progress {
    fn new(total: u64) -> Self {
        let now = Instant::now();
        Self {
            total,
            done: 0,
            bytes: 0,
            terminal: std::io::stderr().is_terminal(),
            started: now,
            shown: now,
        }
    }

    fn advance(&mut self, bytes: u64) {
        self.done += 1;
        self.bytes += bytes;
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        };
        if self.shown.elapsed() >= every {
            self.shown = Instant::now();
            self.show();
        }
    }

    fn show(&self) {
        let total = self.total.max(1);
        let pct = self.done.saturating_mul(100) / total;
        let mib = self.bytes as f64 / (1024.0 * 1024.0);
        let secs = self.started.elapsed().as_secs();
        let mut err = std::io::stderr().lock();
        if self.terminal {
            const WIDTH: u64 = 30;
            let filled = (self.done.saturating_mul(WIDTH) / total).min(WIDTH) as usize;
            let _ = write!(
                err,
                "\r[{}{}] {}/{} files ({pct}%), {mib:.1} MiB, {secs} s ",
                "#".repeat(filled),
                "-".repeat(WIDTH as usize - filled),
                self.done,
                self.total
            );
        } else {
            let _ = writeln!(
                err,
                "{}/{} files ({pct}%), {mib:.1} MiB, {secs} s",
                self.done, self.total
            );
        }
        let _ = err.flush();
    }

    fn finish(&self) {
        self.show();
        if self.terminal {
            let _ = writeln!(std::io::stderr());
        }
    }
}
