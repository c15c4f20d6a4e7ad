//! Where the key ring lives. Today a file in the data directory, next to `secret.key`; the trait is the
//! seam for a later shared metadata store, so that nodes without a shared data directory can agree on the
//! ring too.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::ring::KeyRing;

/// Changes whenever the stored ring changes; cheap to read, so a server can poll it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingVersion([i64; 4]);

impl RingVersion {
    /// The version of a store that counts its writes.
    pub fn counter(writes: i64) -> Self {
        Self([writes, 0, 0, 0])
    }
}

/// Storage of the URL key ring, shared by every server of an installation and by `cabinet keys`.
///
/// # Contract
/// - [`KeyRingStore::load`] returns the last ring an [`KeyRingStore::update`] wrote, whole, or `None`
///   when none was ever written; never a mix of two writes.
/// - [`KeyRingStore::update`] is a read-modify-write that excludes every other `update` on the same
///   ring (in any process), so two rotations never lose a key. When `change` returns `Some`, that ring is
///   durable before `update` returns.
/// - [`KeyRingStore::version`] changes whenever `update` writes (a new version may also appear without a
///   change; callers then just reload).
/// - Calls may block on I/O: async callers run them with `spawn_blocking`.
pub trait KeyRingStore: Send + Sync {
    /// The stored ring, if any.
    fn load(&self) -> std::io::Result<Option<KeyRing>>;

    /// Reads the ring, and writes what `change` makes of it (`None`: leave it as it is). Returns the ring
    /// now stored. It is an error to leave no ring (`change` returning `None` when none is stored).
    fn update(
        &self,
        change: &mut dyn FnMut(Option<&KeyRing>) -> Option<KeyRing>,
    ) -> std::io::Result<KeyRing>;

    /// The version of the stored ring, `None` when there is none.
    fn version(&self) -> std::io::Result<Option<RingVersion>>;
}

/// The ring in `<data dir>/url-keys.json` (mode 0600), replaced atomically (a temporary file, fsync,
/// rename, fsync of the directory); `update`s are serialized by an exclusive `flock` on
/// `<data dir>/url-keys.lock`.
#[derive(Debug, Clone)]
pub struct FileKeyRingStore {
    dir: PathBuf,
}

/// The ring's file name in the data directory.
pub const RING_FILE: &str = "url-keys.json";
const LOCK_FILE: &str = "url-keys.lock";
const STAGING_FILE: &str = "url-keys.json.tmp";

impl FileKeyRingStore {
    /// The ring of the data directory `dir` (which must exist).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// The ring's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(RING_FILE)
    }

    fn write(&self, ring: &KeyRing) -> std::io::Result<()> {
        let staging = self.dir.join(STAGING_FILE);
        let mut file = private_file(&staging, true)?;
        file.write_all(&ring.to_json())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&staging, self.path())?;
        std::fs::File::open(&self.dir)?.sync_all()
    }
}

/// Opens `path` for writing with mode 0600 (when it is created), truncating it if `truncate`.
fn private_file(path: &Path, truncate: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// An exclusive `flock` on a file, released when dropped (the descriptor closes).
struct Lock {
    _file: std::fs::File,
}

impl Lock {
    fn take(path: &Path) -> std::io::Result<Self> {
        let file = private_file(path, false)?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: flock takes a descriptor this function owns for the duration of the call.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(Self { _file: file })
    }
}

impl KeyRingStore for FileKeyRingStore {
    fn load(&self) -> std::io::Result<Option<KeyRing>> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        KeyRing::from_json(&bytes).map(Some).map_err(|why| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a valid key ring: {why}", path.display()),
            )
        })
    }

    fn update(
        &self,
        change: &mut dyn FnMut(Option<&KeyRing>) -> Option<KeyRing>,
    ) -> std::io::Result<KeyRing> {
        let _lock = Lock::take(&self.dir.join(LOCK_FILE))?;
        let stored = self.load()?;
        match (change(stored.as_ref()), stored) {
            (Some(new), _) => {
                self.write(&new)?;
                Ok(new)
            }
            (None, Some(old)) => Ok(old),
            (None, None) => Err(std::io::Error::other("no key ring to keep")),
        }
    }

    fn version(&self) -> std::io::Result<Option<RingVersion>> {
        match std::fs::metadata(self.path()) {
            #[cfg(unix)]
            Ok(m) => {
                use std::os::unix::fs::MetadataExt;
                Ok(Some(RingVersion([
                    m.ino() as i64,
                    m.mtime(),
                    m.mtime_nsec(),
                    m.size() as i64,
                ])))
            }
            #[cfg(not(unix))]
            Ok(m) => Ok(Some(RingVersion([
                m.len() as i64,
                m.modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as i64),
                0,
                0,
            ]))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_durable_private_and_change_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyRingStore::new(dir.path());
        assert_eq!(store.load().unwrap(), None);
        assert_eq!(store.version().unwrap(), None);
        assert!(store.update(&mut |_| None).is_err(), "nothing to keep");

        let made = store
            .update(&mut |old| old.is_none().then(|| KeyRing::new(1)))
            .unwrap();
        assert_eq!(store.load().unwrap().as_ref(), Some(&made));
        let v1 = store.version().unwrap().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!dir.path().join(STAGING_FILE).exists());

        // Leaving it as it is writes nothing.
        let kept = store.update(&mut |_| None).unwrap();
        assert_eq!(kept, made);
        assert_eq!(store.version().unwrap(), Some(v1));

        let rotated = store
            .update(&mut |old| {
                let mut ring = old.cloned()?;
                ring.rotate(2);
                Some(ring)
            })
            .unwrap();
        assert_ne!(rotated.current().id, made.current().id);
        assert_ne!(store.version().unwrap(), Some(v1));
        assert_eq!(store.load().unwrap(), Some(rotated));
    }

    #[test]
    fn concurrent_rotations_lose_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyRingStore::new(dir.path());
        store.update(&mut |_| Some(KeyRing::new(0))).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..5 {
                        store
                            .update(&mut |old| {
                                let mut ring = old.cloned()?;
                                ring.rotate(1);
                                Some(ring)
                            })
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(store.load().unwrap().unwrap().keys().len(), 21);
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyRingStore::new(dir.path());
        std::fs::write(store.path(), b"{\"version\": 1}").unwrap();
        let e = store.load().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains(RING_FILE), "{e}");
    }
}
