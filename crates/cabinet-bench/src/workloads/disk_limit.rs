//! The durable write limit of the disk under the work directory: how fast this machine can make a file of
//! the large-upload size durable, with no server and no network in the way. cabinet's upload is judged as
//! a share of it (issue 14: at least 0.9×), since nginx and s3s-fs answer before their data is durable
//! and so measure the page cache, not the disk.
//!
//! Two ways, timed from creating the file to the end of its last sync, and the faster one counts:
//! - `O_DIRECT`: 4 MiB writes from a 4096-aligned buffer straight to the device, then one `fdatasync` for
//!   the file's allocation and the device's write cache;
//! - buffered: 1 MiB `write`s into the page cache, then one `fdatasync` (the kernel writes back with deep
//!   queues, which on some disks beats `O_DIRECT`'s one write at a time).
//!
//! The file sits in the same directory tree (the same filesystem) as the servers' data directories, is
//! deleted afterwards, and the bytes are the client's incompressible chunk, so a disk that compresses or
//! deduplicates gains nothing here that it would not gain on cabinet's content.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};

use super::{mbps, sync_disks};
use crate::client;

/// The server name of the limit's row in the tables.
pub const NAME: &str = "durable write limit";

/// Size of each `O_DIRECT` write.
const DIRECT_CHUNK: usize = 4 << 20;
/// Size of each buffered write (the client's chunk).
const BUFFERED_CHUNK: usize = 1 << 20;
/// `O_DIRECT` wants the buffer, the offset and the length aligned to the logical block size; 4096 covers
/// every disk this runs on.
const ALIGN: usize = 4096;

/// One measurement of both ways, in MB/s (10^6 bytes per second).
#[derive(Debug, Clone)]
pub struct Limit {
    /// `O_DIRECT` writes + `fdatasync`, or why that way could not run (a filesystem without `O_DIRECT`,
    /// such as tmpfs).
    pub direct: Result<f64, String>,
    /// Buffered writes + `fdatasync`.
    pub buffered: Result<f64, String>,
}

impl Limit {
    /// The faster way: the limit of this run.
    pub fn best(&self) -> Option<f64> {
        match (&self.direct, &self.buffered) {
            (Ok(a), Ok(b)) => Some(a.max(*b)),
            (Ok(a), Err(_)) => Some(*a),
            (Err(_), Ok(b)) => Some(*b),
            (Err(_), Err(_)) => None,
        }
    }

    /// Why neither way could be measured.
    pub fn error(&self) -> String {
        let e = |r: &Result<f64, String>| r.as_ref().err().cloned().unwrap_or_default();
        format!(
            "O_DIRECT: {}; buffered: {}",
            e(&self.direct),
            e(&self.buffered)
        )
    }
}

/// Writes `len` bytes durably into a new file under `dir` both ways (each followed by `sync` so the next
/// measurement starts from a clean page cache) and deletes the file.
pub async fn measure(dir: &Path, len: u64) -> Limit {
    let path = dir.join("durable-limit.bin");
    let direct = blocking(path.clone(), len, write_direct).await;
    sync_disks().await;
    let buffered = blocking(path, len, write_buffered).await;
    sync_disks().await;
    Limit { direct, buffered }
}

/// Runs one way on a blocking thread; the file is removed whether it succeeded or not.
async fn blocking(
    path: PathBuf,
    len: u64,
    way: fn(&Path, u64) -> anyhow::Result<f64>,
) -> Result<f64, String> {
    let r = tokio::task::spawn_blocking(move || {
        let r = way(&path, len);
        let _ = std::fs::remove_file(&path);
        r
    })
    .await;
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(e) => Err(format!("the writing thread failed: {e}")),
    }
}

/// `O_DIRECT` writes of [`DIRECT_CHUNK`] from an aligned buffer, then `fdatasync`: MB/s.
fn write_direct(path: &Path, len: u64) -> anyhow::Result<f64> {
    if !len.is_multiple_of(ALIGN as u64) {
        bail!("{len} bytes is not a multiple of {ALIGN}, which O_DIRECT needs");
    }
    // An over-allocated buffer, used from its first 4096-aligned byte on.
    let mut raw = vec![0u8; DIRECT_CHUNK + ALIGN];
    let off = raw.as_ptr().align_offset(ALIGN);
    if off > ALIGN {
        bail!("cannot align a buffer to {ALIGN} bytes");
    }
    let buf = &mut raw[off..off + DIRECT_CHUNK];
    let chunk = client::chunk();
    for piece in buf.chunks_mut(chunk.len()) {
        piece.copy_from_slice(&chunk[..piece.len()]);
    }
    let started = Instant::now();
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .with_context(|| format!("cannot open {} with O_DIRECT", path.display()))?;
    let mut left = len;
    while left > 0 {
        let n = left.min(DIRECT_CHUNK as u64) as usize;
        f.write_all(&buf[..n])
            .with_context(|| format!("O_DIRECT write to {}", path.display()))?;
        left -= n as u64;
    }
    f.sync_data()
        .with_context(|| format!("fdatasync of {}", path.display()))?;
    Ok(mbps(len, started.elapsed().as_secs_f64()))
}

/// Buffered writes of [`BUFFERED_CHUNK`], then `fdatasync`: MB/s.
fn write_buffered(path: &Path, len: u64) -> anyhow::Result<f64> {
    let chunk = client::chunk();
    let chunk = &chunk[..BUFFERED_CHUNK.min(chunk.len())];
    let started = Instant::now();
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n])
            .with_context(|| format!("write to {}", path.display()))?;
        left -= n as u64;
    }
    f.sync_data()
        .with_context(|| format!("fdatasync of {}", path.display()))?;
    Ok(mbps(len, started.elapsed().as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways write the whole size and leave nothing behind (O_DIRECT may be refused by a temp
    /// filesystem such as tmpfs; the buffered way always runs).
    #[test]
    fn both_ways_write_and_clean_up() {
        let dir = std::env::temp_dir().join(format!("cabinet-bench-limit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        let len = 3 * DIRECT_CHUNK as u64 + 8 * ALIGN as u64;
        if write_direct(&path, len).is_ok() {
            assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
        }
        // A filesystem that refuses O_DIRECT may still have created the file.
        let _ = std::fs::remove_file(&path);
        assert!(write_buffered(&path, len).unwrap() > 0.0);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
        std::fs::remove_file(&path).unwrap();
        assert!(write_direct(&path, len + 1).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn best_is_the_faster_way() {
        let l = Limit {
            direct: Ok(900.0),
            buffered: Ok(700.0),
        };
        assert_eq!(l.best(), Some(900.0));
        let l = Limit {
            direct: Err("EINVAL".into()),
            buffered: Ok(700.0),
        };
        assert_eq!(l.best(), Some(700.0));
        let l = Limit {
            direct: Err("a".into()),
            buffered: Err("b".into()),
        };
        assert_eq!(l.best(), None);
        assert!(l.error().contains("O_DIRECT: a"));
    }
}
