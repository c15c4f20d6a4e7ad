//! Zero-copy downloads: content windows that the socket sends with `sendfile(2)` instead of `write(2)`.
//!
//! A download body ([`crate::blob`]'s local store) hands hyper its content as `Bytes` over a read-only
//! mapping of the content file, made without populating it: the process never touches those pages, so
//! they cost address space and no memory. Each such mapping is registered here (its address range, the
//! file and the file offset it starts at) for as long as it is mapped. When hyper asks the connection's
//! socket ([`crate::server`]) to write a slice that lies inside a registered window, the socket looks the
//! slice up and has the kernel send the same bytes from the file's page cache, so they are never copied
//! into or out of the process. Any other writer of such a slice (a test reading a body, a layer that
//! inspects it) just reads the mapping, which pages it in: slower, never wrong.
//!
//! Why this is sound: live mappings never overlap, so a slice inside a registered range is a view of that
//! window; the slice is borrowed for the write, so its `Bytes`, hence the mapping and its registration,
//! outlive the lookup and the system call. Content files are written once and never changed afterwards
//! (see `map_window`), so the file's bytes at that offset are the mapping's bytes.

use std::collections::BTreeMap;
use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;

/// The registered windows by start address.
static WINDOWS: RwLock<BTreeMap<usize, Window>> = RwLock::new(BTreeMap::new());

/// Bytes this process has sent with `sendfile` since it started.
static SENT: AtomicU64 = AtomicU64::new(0);

/// One registered mapping.
struct Window {
    /// One past its last address.
    end: usize,
    file: Arc<File>,
    /// The file offset of its first byte.
    offset: u64,
}

/// Where the bytes of a registered slice live in a file.
pub(crate) struct Source {
    pub(crate) file: Arc<File>,
    pub(crate) offset: u64,
}

/// The file and offset of `slice`, if it lies wholly inside a registered window.
pub(crate) fn lookup(slice: &[u8]) -> Option<Source> {
    if slice.is_empty() {
        return None;
    }
    let start = slice.as_ptr() as usize;
    let end = start.checked_add(slice.len())?;
    let windows = WINDOWS.read().unwrap_or_else(|e| e.into_inner());
    let (&base, window) = windows.range(..=start).next_back()?;
    (end <= window.end).then(|| Source {
        file: Arc::clone(&window.file),
        offset: window.offset + (start - base) as u64,
    })
}

/// Counts bytes the socket sent with `sendfile`.
pub(crate) fn count_sent(n: usize) {
    SENT.fetch_add(n as u64, Ordering::Relaxed);
}

/// Bytes sent with `sendfile` by this process so far: how a test or an operator sees that downloads take
/// the zero-copy path.
pub fn sent_bytes() -> u64 {
    SENT.load(Ordering::Relaxed)
}

/// A mapping while it is registered; unregisters before it unmaps (fields drop in order).
struct Registered {
    _registration: Registration,
    map: memmap2::Mmap,
}

impl AsRef<[u8]> for Registered {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

struct Registration(usize);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut windows = WINDOWS.write().unwrap_or_else(|e| e.into_inner());
        windows.remove(&self.0);
    }
}

/// Whether downloads take the zero-copy path: yes unless the environment sets `CABINET_ZERO_COPY=off`
/// (or `0`), which brings back the previous path (windows paged in with `MAP_POPULATE` and written from
/// the mapping): an escape hatch for a file system where `sendfile` misbehaves, and the baseline of the
/// benchmark's before/after comparison in one build.
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var("CABINET_ZERO_COPY").map_or(true, |v| !matches!(v.trim(), "off" | "0"))
    })
}

/// `len` bytes of `file` from `pos` as `Bytes` over a read-only mapping, unmapped when the last `Bytes`
/// of it is dropped. On the zero-copy path ([`enabled`]) the mapping is not populated, it is registered
/// (and unregistered before it is unmapped), and its read from the disk is started at once
/// ([`prefetch`]): a download maps its next window while it sends the current one, so by the time the
/// socket's `sendfile` (on a runtime thread) reads those pages they are usually in the page cache.
/// Otherwise the mapping is paged in at once (`MAP_POPULATE`) and not registered.
///
/// # Safety
/// `pos + len` must be within the file, and the file must not be truncated or written while the mapping
/// lives: touching a page past the end of a truncated file kills the process (SIGBUS), and a rewrite would
/// change bytes already handed out.
pub(crate) unsafe fn map(file: &Arc<File>, pos: u64, len: u64) -> std::io::Result<Bytes> {
    const PAGE: u64 = 4096;
    let start = pos - pos % PAGE;
    let skip = (pos - start) as usize;
    let mapped_len = usize::try_from(len).map_err(std::io::Error::other)? + skip;
    let mut options = memmap2::MmapOptions::new();
    options.offset(start).len(mapped_len);
    if !enabled() {
        // SAFETY: the caller's guarantee above.
        let map = unsafe { options.populate().map(&**file)? };
        return Ok(Bytes::from_owner(map).slice(skip..));
    }
    prefetch(file, pos, len);
    // SAFETY: the caller's guarantee above.
    let map = unsafe { options.map(&**file)? };
    let base = map.as_ptr() as usize;
    let window = Window {
        end: base + map.len(),
        file: Arc::clone(file),
        offset: start,
    };
    WINDOWS
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(base, window);
    let registered = Registered {
        _registration: Registration(base),
        map,
    };
    Ok(Bytes::from_owner(registered).slice(skip..))
}

/// Sends `len` bytes of `file` from `offset` to the socket `socket` (non-blocking) with one `sendfile`
/// call: the count sent, which may be short, or the error (`WouldBlock` when the socket is full).
#[cfg(target_os = "linux")]
pub(crate) fn sendfile(
    socket: std::os::fd::RawFd,
    file: &File,
    offset: u64,
    len: usize,
) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut off = libc::off_t::try_from(offset).map_err(std::io::Error::other)?;
    // Linux sends at most this much per call anyway.
    let len = len.min(0x7fff_f000);
    loop {
        // SAFETY: both descriptors are open for the call (the caller holds the socket, `file` is
        // borrowed) and `off` is a valid, exclusively borrowed offset.
        let n = unsafe { libc::sendfile(socket, file.as_raw_fd(), &mut off, len) };
        if n >= 0 {
            let n = n as usize;
            count_sent(n);
            return Ok(n);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Starts reading `len` bytes of `file` from `offset` into the page cache without waiting and without
/// mapping anything into the process, so that a later `sendfile` rarely waits for the disk.
#[cfg(target_os = "linux")]
fn prefetch(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: plain system call on an open descriptor; it is only advice, and its failure is harmless.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_WILLNEED);
    }
}

#[cfg(not(target_os = "linux"))]
fn prefetch(_file: &File, _offset: u64, _len: u64) {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write;

    use super::*;

    fn file_of(bytes: &[u8]) -> Arc<File> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        Arc::new(f)
    }

    #[test]
    fn slices_of_a_window_are_found_at_their_file_offset_until_it_is_dropped() {
        let content: Vec<u8> = (0..4 * 4096 + 100).map(|i| (i % 251) as u8).collect();
        let file = file_of(&content);
        // From an offset off a page boundary: the mapping starts at the page before it.
        let window = unsafe { map(&file, 5000, 8000) }.unwrap();
        assert_eq!(&window[..], &content[5000..13000]);

        let whole = lookup(&window).unwrap();
        assert_eq!(whole.offset, 5000);
        let part = lookup(&window[100..200]).unwrap();
        assert_eq!(part.offset, 5100);
        let copy = window[..10].to_vec();
        assert!(lookup(&copy).is_none(), "memory outside any window");
        assert!(lookup(&[]).is_none());

        let sliced = window.slice(7000..);
        drop(window);
        assert_eq!(lookup(&sliced).unwrap().offset, 12000, "a slice keeps it");
    }
}
