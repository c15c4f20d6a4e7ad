//! Free space on the disk that holds the data directory, and what keeps a full disk from locking the
//! server up.
//!
//! - A **watermark**: new uploads (creates, upload links, content PUTs) are refused with a 507 while the
//!   free space, less the announced size of the content, is under it. A client learns at once that the
//!   upload cannot succeed, instead of streaming gigabytes to fail at the end.
//! - A **reserve**: a preallocated file that holds some space back. Deleting a file needs a little room
//!   too (SQLite appends the change to its log before it frees anything); when a delete finds the disk
//!   full, the reserve is released and the delete retried, so space can always be freed through the API.
//!   The reserve is taken back once the disk has room again.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The default watermark: 256 MiB, but at most 2 % of the filesystem, so small disks stay usable.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 256 * 1024 * 1024;
/// The default reserve: 32 MiB, but at most 1 % of the filesystem.
pub const DEFAULT_RESERVE_BYTES: u64 = 32 * 1024 * 1024;

/// Why an upload was refused: the disk is (nearly) full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRoom {
    /// Free bytes now.
    pub free: u64,
    /// Bytes the upload announced.
    pub incoming: u64,
    /// The watermark that must stay free.
    pub min_free: u64,
}

/// Watches the free space of one filesystem and keeps the reserve on it.
#[derive(Debug)]
pub struct DiskGuard {
    root: PathBuf,
    reserve_path: PathBuf,
    min_free: u64,
    reserve_bytes: u64,
    reserved: AtomicBool,
}

/// Sizes of a filesystem, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct FsSpace {
    /// What an unprivileged process may still write.
    pub free: u64,
    /// The whole filesystem.
    pub total: u64,
}

/// The free and total space of the filesystem holding `path`.
pub fn fs_space(path: &Path) -> std::io::Result<FsSpace> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: `c` is a valid NUL-terminated path; `st` is written by the call before it is read.
    let st = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        st
    };
    let unit = st.f_frsize as u64;
    Ok(FsSpace {
        free: (st.f_bavail as u64).saturating_mul(unit),
        total: (st.f_blocks as u64).saturating_mul(unit),
    })
}

impl DiskGuard {
    /// Guards the filesystem of `root` (which must exist). `min_free` and `reserve` default, when `None`,
    /// to [`DEFAULT_MIN_FREE_BYTES`] and [`DEFAULT_RESERVE_BYTES`] capped by the filesystem's size. The
    /// reserve is created now if the disk has room for it, else later by [`DiskGuard::restore_reserve`].
    pub fn open(root: &Path, min_free: Option<u64>, reserve: Option<u64>) -> std::io::Result<Self> {
        let space = fs_space(root)?;
        let min_free = min_free.unwrap_or(DEFAULT_MIN_FREE_BYTES.min(space.total / 50));
        let reserve_bytes = reserve.unwrap_or(DEFAULT_RESERVE_BYTES.min(space.total / 100));
        let reserve_path = root.join("reserve.space");
        // A reserve left by an earlier run counts as taken if it has its full size.
        let reserved = std::fs::metadata(&reserve_path).is_ok_and(|m| m.len() == reserve_bytes);
        let guard = Self {
            root: root.to_path_buf(),
            reserve_path,
            min_free,
            reserve_bytes,
            reserved: AtomicBool::new(reserved),
        };
        if !reserved {
            let _ = std::fs::remove_file(&guard.reserve_path);
            guard.restore_reserve();
        }
        Ok(guard)
    }

    /// The watermark in force, in bytes.
    pub fn min_free(&self) -> u64 {
        self.min_free
    }

    /// The size of the reserve, in bytes.
    pub fn reserve_bytes(&self) -> u64 {
        self.reserve_bytes
    }

    /// Whether the reserve is currently held.
    pub fn is_reserved(&self) -> bool {
        self.reserved.load(Ordering::SeqCst)
    }

    /// Free bytes now, `None` if the filesystem cannot be asked.
    pub fn free_bytes(&self) -> Option<u64> {
        fs_space(&self.root).ok().map(|s| s.free)
    }

    /// `Ok` when `incoming` more bytes leave at least the watermark free.
    pub fn check_room(&self, incoming: u64) -> Result<(), NoRoom> {
        let Some(free) = self.free_bytes() else {
            return Ok(());
        };
        if free.saturating_sub(incoming) < self.min_free {
            return Err(NoRoom {
                free,
                incoming,
                min_free: self.min_free,
            });
        }
        Ok(())
    }

    /// Gives the reserve back to the filesystem; returns whether there was one to give.
    pub fn release_reserve(&self) -> bool {
        if !self.reserved.swap(false, Ordering::SeqCst) {
            return false;
        }
        match std::fs::remove_file(&self.reserve_path) {
            Ok(()) => {
                tracing::warn!(
                    bytes = self.reserve_bytes,
                    "the disk is full: released the space reserve so that deletes can free space"
                );
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not release the space reserve");
                false
            }
        }
    }

    /// Takes the reserve (again) when the disk has room for it and the watermark besides.
    pub fn restore_reserve(&self) {
        if self.reserve_bytes == 0 || self.is_reserved() {
            return;
        }
        let Some(free) = self.free_bytes() else {
            return;
        };
        if free < self.min_free.saturating_add(self.reserve_bytes) {
            return;
        }
        match preallocate(&self.reserve_path, self.reserve_bytes) {
            Ok(()) => {
                self.reserved.store(true, Ordering::SeqCst);
                tracing::info!(bytes = self.reserve_bytes, "space reserve in place");
            }
            Err(e) => {
                let _ = std::fs::remove_file(&self.reserve_path);
                tracing::warn!(error = %e, "could not create the space reserve");
            }
        }
    }
}

/// A file of `len` bytes whose blocks are really allocated (not sparse), synced.
fn preallocate(path: &Path, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::create(path)?;
    let len = i64::try_from(len).map_err(std::io::Error::other)?;
    // SAFETY: the descriptor is open for the duration of the call; the arguments are plain integers.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_taken_released_and_taken_back() {
        let dir = tempfile::tempdir().unwrap();
        let guard = DiskGuard::open(dir.path(), Some(0), Some(1 << 20)).unwrap();
        let reserve = dir.path().join("reserve.space");
        assert!(guard.is_reserved());
        assert_eq!(std::fs::metadata(&reserve).unwrap().len(), 1 << 20);
        assert!(guard.release_reserve());
        assert!(!reserve.exists());
        assert!(!guard.release_reserve(), "nothing left to release");
        guard.restore_reserve();
        assert!(guard.is_reserved() && reserve.exists());
        let again = DiskGuard::open(dir.path(), Some(0), Some(1 << 20)).unwrap();
        assert!(
            again.is_reserved(),
            "a full reserve from an earlier run is kept"
        );
    }

    #[test]
    fn uploads_are_refused_under_the_watermark() {
        let dir = tempfile::tempdir().unwrap();
        let free = fs_space(dir.path()).unwrap().free;
        let guard = DiskGuard::open(dir.path(), Some(free / 2), Some(0)).unwrap();
        assert_eq!(guard.check_room(0), Ok(()));
        let refused = guard.check_room(free).unwrap_err();
        assert_eq!(refused.min_free, free / 2);
        let strict = DiskGuard::open(dir.path(), Some(u64::MAX), Some(0)).unwrap();
        assert!(strict.check_room(0).is_err());
    }
}
