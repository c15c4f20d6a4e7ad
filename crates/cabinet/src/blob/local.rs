//! Content on the local disk, under `<data dir>/blobs`. Every write goes to a staging file in
//! `<data dir>/staging`, is synced, and is then renamed into place (and the directory synced), so an object
//! is either whole and durable or absent, whatever happens to the process.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::*;

/// Write buffer and read chunk size: large, so that a transfer costs few system calls.
const IO_BUFFER: usize = 1 << 20;

/// The local-disk [`BlobStore`].
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    objects: PathBuf,
    parts: PathBuf,
    staging: PathBuf,
}

fn internal(e: std::io::Error) -> BlobError {
    BlobError::Internal {
        backend: "local disk",
        source: Box::new(e),
    }
}

/// Removes a staging file when dropped, unless it was published: an aborted or cancelled upload leaves
/// nothing behind.
struct Staged {
    path: PathBuf,
    published: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl LocalBlobs {
    /// A store under `root`; creates its directories and removes what interrupted writes left in staging.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        let this = Self {
            objects: root.join("blobs"),
            parts: root.join("parts"),
            staging: root.join("staging"),
        };
        if this.staging.exists() {
            std::fs::remove_dir_all(&this.staging)?;
        }
        for dir in [&this.objects, &this.parts, &this.staging] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(this)
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self.objects.join(key)
    }

    fn part_path(&self, upload: &str, index: u32) -> PathBuf {
        self.parts.join(upload).join(format!("{index:05}"))
    }

    fn new_staging(&self) -> Staged {
        Staged {
            path: self.staging.join(uuid::Uuid::new_v4().simple().to_string()),
            published: false,
        }
    }

    /// Streams `body` into a synced staging file; returns it and its size.
    async fn stage(
        &self,
        mut body: ByteStream,
        max_bytes: u64,
    ) -> Result<(Staged, u64), BlobError> {
        let staged = self.new_staging();
        let file = tokio::fs::File::create(&staged.path)
            .await
            .map_err(internal)?;
        let mut out = tokio::io::BufWriter::with_capacity(IO_BUFFER, file);
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(BlobError::Aborted)?;
            size += chunk.len() as u64;
            if size > max_bytes {
                return Err(BlobError::TooLarge { limit: max_bytes });
            }
            out.write_all(&chunk).await.map_err(internal)?;
        }
        out.flush().await.map_err(internal)?;
        out.get_mut().sync_data().await.map_err(internal)?;
        Ok((staged, size))
    }

    /// Renames a synced staging file to `dest` and syncs the directory, making the rename durable.
    async fn publish(&self, mut staged: Staged, dest: PathBuf) -> Result<(), BlobError> {
        let source = staged.path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let dir = dest.parent().unwrap_or(Path::new("/"));
            std::fs::create_dir_all(dir)?;
            std::fs::rename(&source, &dest)?;
            std::fs::File::open(dir)?.sync_all()
        })
        .await
        .map_err(|e| internal(std::io::Error::other(e)))?
        .map_err(internal)?;
        staged.published = true;
        Ok(())
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(&self, key: &str, body: ByteStream, max_bytes: u64) -> Result<u64, BlobError> {
        let (staged, size) = self.stage(body, max_bytes).await?;
        self.publish(staged, self.object_path(key)).await?;
        Ok(size)
    }

    async fn put_part(
        &self,
        upload: &str,
        index: u32,
        body: ByteStream,
        max_bytes: u64,
    ) -> Result<u64, BlobError> {
        let (staged, size) = self.stage(body, max_bytes).await?;
        self.publish(staged, self.part_path(upload, index)).await?;
        Ok(size)
    }

    async fn part_sizes(&self, upload: &str, parts: u32) -> Result<Vec<Option<u64>>, BlobError> {
        let mut sizes = Vec::with_capacity(parts as usize);
        for index in 0..parts {
            match tokio::fs::metadata(self.part_path(upload, index)).await {
                Ok(m) => sizes.push(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => sizes.push(None),
                Err(e) => return Err(internal(e)),
            }
        }
        Ok(sizes)
    }

    async fn assemble(&self, upload: &str, parts: u32, key: &str) -> Result<u64, BlobError> {
        let staged = self.new_staging();
        let sources: Vec<PathBuf> = (0..parts).map(|i| self.part_path(upload, i)).collect();
        let target = staged.path.clone();
        // std::io::copy between files uses copy_file_range on Linux: the kernel moves the bytes, and no
        // part ever passes through this process's memory.
        let joined = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            let mut out = std::fs::File::create(&target)?;
            let mut size = 0;
            for source in sources {
                let mut part = std::fs::File::open(source)?;
                size += std::io::copy(&mut part, &mut out)?;
            }
            out.sync_data()?;
            Ok(size)
        })
        .await
        .map_err(|e| internal(std::io::Error::other(e)))?;
        let size = match joined {
            Ok(size) => size,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BlobError::NotFound),
            Err(e) => return Err(internal(e)),
        };
        let dest = self.object_path(key);
        self.publish(staged, dest).await?;
        Ok(size)
    }

    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<ByteStream, BlobError> {
        let mut file = match tokio::fs::File::open(self.object_path(key)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BlobError::NotFound),
            Err(e) => return Err(internal(e)),
        };
        let stream: ByteStream = match range {
            None => Box::pin(tokio_util::io::ReaderStream::with_capacity(file, IO_BUFFER)),
            Some((first, last)) => {
                use tokio::io::AsyncReadExt;
                file.seek(SeekFrom::Start(first)).await.map_err(internal)?;
                let limited = file.take(last - first + 1);
                Box::pin(tokio_util::io::ReaderStream::with_capacity(
                    limited, IO_BUFFER,
                ))
            }
        };
        Ok(stream)
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.object_path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(internal(e)),
        }
    }

    async fn delete_parts(&self, upload: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_dir_all(self.parts.join(upload)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(internal(e)),
        }
    }
}
