//! Content in an S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph, Garage…), through
//! `object_store`.
//!
//! Layout under `s3://BUCKET/PREFIX/`:
//! - `PREFIX/<key>`: a published object, exactly the key the metadata store holds.
//! - `PREFIX/.cabinet-uploads/<upload>`: the manifest of an open CDF multipart upload: the object key its S3
//!   multipart upload will complete to, and S3's upload id (two lines). Any node reads it, so a part may
//!   be sent to another node than the one that opened the upload.
//! - `PREFIX/.cabinet-parts/<upload>/<index>`: the ETag of the last accepted attempt at a part, to tell
//!   duplicates apart where ListParts lists every attempt (SeaweedFS).
//! - `PREFIX/.cabinet-direct/<deployment>/<key>`: an empty marker per open single-PUT session of direct
//!   transfer (`--content-transfer direct`, [`crate::direct`]): the client PUTs `PREFIX/<key>` itself,
//!   through a presigned URL, and every node's reconciler lists its deployment's markers to find the
//!   objects to publish. `<deployment>` is derived from the secret all nodes of a deployment share, so
//!   a node never judges the sessions of another deployment's metadata store.
//!
//! A CDF multipart upload is ONE S3 multipart upload: part `i` is S3 part `i + 1`, and completing it is S3's
//! CompleteMultipartUpload (nothing is copied). `object_store` has no streaming UploadPart, so a part is
//! first spooled to a file under the staging directory (constant memory, its length then known), then sent
//! to a presigned UploadPart URL with that length. The part sizes and ETags are read back with ListParts
//! (also through a presigned URL).
//!
//! A whole object (`put`) below [`SINGLE_PUT_BYTES`] is one PUT; a larger one becomes an S3 multipart
//! upload as it streams, at most [`PUT_CONCURRENCY`] chunks of [`CHUNK_BYTES`] in memory, aborted when the
//! body fails, is too long, or the future is dropped.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::signer::{Method, SignedUrlOptions, Signer};
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncWriteExt;

use super::{Assembled, BlobError, BlobStore, ByteStream, Stored, StoredStream};

/// Bodies up to this size are sent as one PUT; larger ones as a multipart upload.
pub const SINGLE_PUT_BYTES: usize = 8 * 1024 * 1024;
/// The part size of a streamed multipart `put` (S3's minimum is 5 MiB).
pub const CHUNK_BYTES: usize = 8 * 1024 * 1024;
/// Parts of one streamed `put` in flight at once: memory per upload is at most this many chunks.
pub const PUT_CONCURRENCY: usize = 2;
/// How long a presigned UploadPart / ListParts URL made for our own use stays valid.
const PRESIGN_TTL: Duration = Duration::from_secs(15 * 60);
/// The folder, under the prefix, of the multipart upload manifests.
const UPLOADS: &str = ".cabinet-uploads";
/// The folder, under the prefix, of the ETag of the last accepted attempt at each part
/// (`<upload>/<index>`): some servers (SeaweedFS) list every attempt at a part number in ListParts.
const PART_RECORDS: &str = ".cabinet-parts";
/// The folder, under the prefix, of the markers of open direct single-PUT sessions
/// (`<deployment>/<key>`).
const DIRECT_MARKS: &str = ".cabinet-direct";
/// The longest validity of a SigV4 presigned URL.
pub const MAX_PRESIGN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
const BACKEND: &str = "S3";

/// Where and how to reach the bucket: `cabinet serve --content s3://BUCKET[/PREFIX]` and the `--s3-*`
/// flags. Fields left `None` fall back to the standard `AWS_*` variables (`AWS_ENDPOINT_URL`,
/// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, …).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// The bucket.
    pub bucket: String,
    /// The folder inside the bucket, without slashes at its ends; empty for the bucket's root.
    pub prefix: String,
    /// The endpoint URL (`http://127.0.0.1:8333`); `None`: `AWS_ENDPOINT_URL` or AWS itself.
    pub endpoint: Option<String>,
    /// The region; `None`: `AWS_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style requests (`ENDPOINT/BUCKET/KEY`), which most self-hosted servers need.
    pub path_style: bool,
    /// Access key id and secret; `None`: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (or any other
    /// source the AWS SDKs use). Set by embedders and tests; `cabinet serve` reads only the variables.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

impl S3Settings {
    /// Parses `s3://BUCKET[/PREFIX]`; `None` for a location of another scheme.
    pub fn parse_location(location: &str) -> Option<Result<Self, String>> {
        let rest = location.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Some(Err(format!("{location}: the bucket name is missing")));
        }
        Some(Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            ..Self::default()
        }))
    }
}

/// The S3 content store.
pub struct S3Blobs {
    store: Arc<AmazonS3>,
    prefix: String,
    staging: PathBuf,
    http: reqwest::Client,
}

impl S3Blobs {
    /// Connects (lazily: the first request reaches the server) with `settings`; parts are spooled under
    /// `staging`, which is created if missing and emptied of earlier spool files.
    pub fn open(settings: &S3Settings, staging: &FsPath) -> Result<Self, BlobError> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&settings.bucket);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let endpoint = settings
            .endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        if endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"))
        {
            builder = builder.with_allow_http(true);
        }
        if let Some(region) = &settings.region {
            builder = builder.with_region(region);
        }
        if let Some((key_id, secret)) = &settings.credentials {
            builder = builder
                .with_access_key_id(key_id)
                .with_secret_access_key(secret);
        }
        if settings.path_style {
            builder = builder.with_virtual_hosted_style_request(false);
        }
        let store = builder.build().map_err(internal)?;
        if staging.exists() {
            std::fs::remove_dir_all(staging).map_err(internal)?;
        }
        std::fs::create_dir_all(staging).map_err(internal)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(internal)?;
        Ok(Self {
            store: Arc::new(store),
            prefix: settings.prefix.clone(),
            staging: staging.to_path_buf(),
            http,
        })
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    fn manifest_path(&self, upload: &str) -> Path {
        self.path(&format!("{UPLOADS}/{upload}"))
    }

    /// The object key and S3 upload id of the multipart upload `upload`.
    async fn manifest(&self, upload: &str) -> Result<Manifest, BlobError> {
        let got = self
            .store
            .get(&self.manifest_path(upload))
            .await
            .map_err(from_store)?;
        let text = got.bytes().await.map_err(from_store)?;
        let text = std::str::from_utf8(&text).map_err(internal)?;
        let (key, id) = text
            .split_once('\n')
            .ok_or_else(|| internal(std::io::Error::other("malformed upload manifest")))?;
        Ok(Manifest {
            key: key.to_string(),
            id: id.trim_end().to_string(),
        })
    }

    /// The stored parts of an S3 multipart upload, by part number: (size, ETag, LastModified).
    async fn list_parts(
        &self,
        upload: &str,
        manifest: &Manifest,
    ) -> Result<std::collections::BTreeMap<u32, (u64, String, String)>, BlobError> {
        let mut parts = std::collections::BTreeMap::new();
        let mut marker = 0u32;
        loop {
            let mut query = vec![("uploadId".to_string(), manifest.id.clone())];
            if marker > 0 {
                query.push(("part-number-marker".to_string(), marker.to_string()));
            }
            let url = self
                .store
                .signed_url_opts(
                    Method::GET,
                    &self.path(&manifest.key),
                    PRESIGN_TTL,
                    &SignedUrlOptions::new().with_query(query),
                )
                .await
                .map_err(from_store)?;
            let reply = self.http.get(url).send().await.map_err(internal)?;
            let status = reply.status();
            let body = reply.text().await.map_err(internal)?;
            if status == reqwest::StatusCode::NOT_FOUND {
                return Err(BlobError::NotFound);
            }
            if !status.is_success() {
                return Err(internal(std::io::Error::other(format!(
                    "ListParts answered {status}: {body}"
                ))));
            }
            for part in elements(&body, "Part") {
                let number = element(part, "PartNumber").and_then(|n| n.parse::<u32>().ok());
                let size = element(part, "Size").and_then(|n| n.parse::<u64>().ok());
                let etag = element(part, "ETag").map(unescape);
                let modified = element(part, "LastModified")
                    .unwrap_or_default()
                    .to_string();
                if let (Some(number), Some(size), Some(etag)) = (number, size, etag) {
                    match parts.get(&number) {
                        None => {
                            parts.insert(number, (size, etag, modified));
                        }
                        // SeaweedFS lists every attempt at a part number (AWS only the last): the one
                        // whose ETag we recorded when it was accepted wins.
                        // Without a record (parts sent by clients straight to S3, in direct transfer) the
                        // latest attempt wins.
                        Some((_, _, earlier)) => {
                            let later = modified.as_str() >= earlier.as_str();
                            let recorded = self.part_record(upload, number - 1).await?;
                            let wins = match recorded {
                                Some(recorded) => recorded == etag,
                                None => later,
                            };
                            if wins {
                                parts.insert(number, (size, etag, modified));
                            }
                        }
                    }
                }
            }
            let truncated = element(&body, "IsTruncated") == Some("true");
            let next = element(&body, "NextPartNumberMarker").and_then(|n| n.parse::<u32>().ok());
            match next {
                Some(next) if truncated && next > marker => marker = next,
                _ => return Ok(parts),
            }
        }
    }

    fn part_record_path(&self, upload: &str, index: u32) -> Path {
        self.path(&format!("{PART_RECORDS}/{upload}/{index}"))
    }

    /// The ETag of the last accepted attempt at part `index`, `None` if none was recorded.
    async fn part_record(&self, upload: &str, index: u32) -> Result<Option<String>, BlobError> {
        match self.store.get(&self.part_record_path(upload, index)).await {
            Ok(got) => {
                let bytes = got.bytes().await.map_err(from_store)?;
                Ok(Some(String::from_utf8_lossy(&bytes).to_string()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(from_store(e)),
        }
    }

    /// Streams `body` into a new spool file, failing past `max_bytes`. Returns the file (removed when
    /// dropped) and its length.
    async fn spool(&self, mut body: ByteStream, max_bytes: u64) -> Result<(Spool, u64), BlobError> {
        let spool = Spool(self.staging.join(uuid::Uuid::new_v4().simple().to_string()));
        let mut file = tokio::fs::File::create(&spool.0).await.map_err(io_error)?;
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(BlobError::Aborted)?;
            size += chunk.len() as u64;
            if size > max_bytes {
                return Err(BlobError::TooLarge { limit: max_bytes });
            }
            file.write_all(&chunk).await.map_err(io_error)?;
        }
        file.flush().await.map_err(io_error)?;
        Ok((spool, size))
    }
}

/// Direct transfer (`--content-transfer direct`): presigned URLs for clients, and what the reconciler of
/// [`crate::direct`] needs. Every URL is valid for at most `ttl`, capped at [`MAX_PRESIGN_TTL`].
impl S3Blobs {
    async fn presign(
        &self,
        method: Method,
        key: &str,
        ttl: Duration,
        query: Vec<(String, String)>,
    ) -> Result<String, BlobError> {
        let url = self
            .store
            .signed_url_opts(
                method,
                &self.path(key),
                ttl.min(MAX_PRESIGN_TTL),
                &SignedUrlOptions::new().with_query(query),
            )
            .await
            .map_err(from_store)?;
        Ok(url.to_string())
    }

    /// A presigned PUT of the object `key`.
    pub async fn presign_put(&self, key: &str, ttl: Duration) -> Result<String, BlobError> {
        self.presign(Method::PUT, key, ttl, Vec::new()).await
    }

    /// Presigned UploadPart URLs of parts `0..parts` of the multipart upload `upload` (opened by
    /// [`BlobStore::begin_parts`]): part `i` is S3 part `i + 1`.
    pub async fn presign_parts(
        &self,
        upload: &str,
        parts: u32,
        ttl: Duration,
    ) -> Result<Vec<String>, BlobError> {
        let manifest = self.manifest(upload).await?;
        let mut urls = Vec::with_capacity(parts as usize);
        for index in 0..parts {
            let query = vec![
                ("partNumber".to_string(), (index + 1).to_string()),
                ("uploadId".to_string(), manifest.id.clone()),
            ];
            urls.push(self.presign(Method::PUT, &manifest.key, ttl, query).await?);
        }
        Ok(urls)
    }

    /// A presigned GET of the object `key`; S3 answers with `content_type` as the Content-Type when one
    /// is given (`response-content-type`), as cabinet's own downloads do.
    pub async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        content_type: Option<&str>,
    ) -> Result<String, BlobError> {
        let query = content_type
            .map(|t| vec![("response-content-type".to_string(), t.to_string())])
            .unwrap_or_default();
        self.presign(Method::GET, key, ttl, query).await
    }

    /// The size of the object `key`, `None` when there is none.
    pub async fn size_of(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.path(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(from_store(e)),
        }
    }

    /// Records that a client of `deployment` may PUT the object `key` directly.
    pub async fn mark_direct(&self, deployment: &str, key: &str) -> Result<(), BlobError> {
        self.store
            .put(
                &self.path(&format!("{DIRECT_MARKS}/{deployment}/{key}")),
                PutPayload::default(),
            )
            .await
            .map_err(from_store)?;
        Ok(())
    }

    /// Forgets the marker of `key`.
    pub async fn unmark_direct(&self, deployment: &str, key: &str) -> Result<(), BlobError> {
        self.delete(&format!("{DIRECT_MARKS}/{deployment}/{key}"))
            .await
    }

    /// The keys of every marker of `deployment` ([`S3Blobs::mark_direct`]).
    pub async fn direct_marks(&self, deployment: &str) -> Result<Vec<String>, BlobError> {
        let root = self.path(&format!("{DIRECT_MARKS}/{deployment}"));
        let skip = root.as_ref().len() + 1;
        let listed: Vec<_> = self
            .store
            .list(Some(&root))
            .try_collect()
            .await
            .map_err(from_store)?;
        Ok(listed
            .into_iter()
            .filter_map(|meta| meta.location.as_ref().get(skip..).map(str::to_string))
            .collect())
    }
}

/// Where a CDF multipart upload's S3 upload lives.
struct Manifest {
    key: String,
    id: String,
}

/// A spool file, removed when dropped.
struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Aborts a streamed multipart `put` unless it was finished: a failed or dropped upload leaves no parts.
struct AbortUnlessDone(Option<WriteMultipart>);

impl Drop for AbortUnlessDone {
    fn drop(&mut self) {
        if let Some(upload) = self.0.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = upload.abort().await {
                        tracing::warn!(error = %e, "could not abort an unfinished S3 multipart upload");
                    }
                });
            }
        }
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put(&self, key: &str, mut body: ByteStream, max_bytes: u64) -> Result<u64, BlobError> {
        let path = self.path(key);
        let mut head = BytesMut::new();
        let mut size = 0u64;
        // Small bodies: one PUT, which S3 makes visible atomically.
        loop {
            match body.next().await {
                None => {
                    self.store
                        .put(&path, PutPayload::from(head.freeze()))
                        .await
                        .map_err(from_store)?;
                    return Ok(size);
                }
                Some(chunk) => {
                    let chunk = chunk.map_err(BlobError::Aborted)?;
                    size += chunk.len() as u64;
                    if size > max_bytes {
                        return Err(BlobError::TooLarge { limit: max_bytes });
                    }
                    head.extend_from_slice(&chunk);
                    if head.len() > SINGLE_PUT_BYTES {
                        break;
                    }
                }
            }
        }
        // Larger: a multipart upload, visible only once completed.
        let upload = self.store.put_multipart(&path).await.map_err(from_store)?;
        let mut writer = AbortUnlessDone(Some(WriteMultipart::new_with_chunk_size(
            upload,
            CHUNK_BYTES,
        )));
        let mut next: Option<Bytes> = Some(head.freeze());
        loop {
            let Some(w) = writer.0.as_mut() else {
                return Err(internal(std::io::Error::other("upload already ended")));
            };
            if let Some(chunk) = next.take() {
                w.wait_for_capacity(PUT_CONCURRENCY)
                    .await
                    .map_err(from_store)?;
                w.put(chunk);
            }
            match body.next().await {
                None => break,
                Some(chunk) => {
                    let chunk = chunk.map_err(BlobError::Aborted)?;
                    size += chunk.len() as u64;
                    if size > max_bytes {
                        return Err(BlobError::TooLarge { limit: max_bytes });
                    }
                    next = Some(chunk);
                }
            }
        }
        if let Some(w) = writer.0.take() {
            w.finish().await.map_err(from_store)?;
        }
        Ok(size)
    }

    async fn begin_parts(&self, upload: &str, key: &str) -> Result<(), BlobError> {
        let id = self
            .store
            .create_multipart(&self.path(key))
            .await
            .map_err(from_store)?;
        let manifest = format!("{key}\n{id}\n");
        if let Err(e) = self
            .store
            .put(&self.manifest_path(upload), PutPayload::from(manifest))
            .await
        {
            let _ = self.store.abort_multipart(&self.path(key), &id).await;
            return Err(from_store(e));
        }
        Ok(())
    }

    async fn put_part(
        &self,
        upload: &str,
        index: u32,
        body: ByteStream,
        max_bytes: u64,
    ) -> Result<u64, BlobError> {
        let manifest = self.manifest(upload).await?;
        let (spool, size) = self.spool(body, max_bytes).await?;
        let url = self
            .store
            .signed_url_opts(
                Method::PUT,
                &self.path(&manifest.key),
                PRESIGN_TTL,
                &SignedUrlOptions::new().with_query([
                    ("partNumber".to_string(), (index + 1).to_string()),
                    ("uploadId".to_string(), manifest.id.clone()),
                ]),
            )
            .await
            .map_err(from_store)?;
        let file = tokio::fs::File::open(&spool.0).await.map_err(io_error)?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
        let reply = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .map_err(internal)?;
        let status = reply.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(BlobError::NotFound);
        }
        if !status.is_success() {
            let body = reply.text().await.unwrap_or_default();
            return Err(internal(std::io::Error::other(format!(
                "UploadPart answered {status}: {body}"
            ))));
        }
        let etag = reply
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        self.store
            .put(
                &self.part_record_path(upload, index),
                PutPayload::from(etag),
            )
            .await
            .map_err(from_store)?;
        Ok(size)
    }

    async fn part_sizes(&self, upload: &str, parts: u32) -> Result<Vec<Option<u64>>, BlobError> {
        let manifest = match self.manifest(upload).await {
            Ok(m) => m,
            Err(BlobError::NotFound) => return Ok(vec![None; parts as usize]),
            Err(e) => return Err(e),
        };
        let stored = match self.list_parts(upload, &manifest).await {
            Ok(stored) => stored,
            Err(BlobError::NotFound) => return Ok(vec![None; parts as usize]),
            Err(e) => return Err(e),
        };
        Ok((1..=parts)
            .map(|n| stored.get(&n).map(|(size, _, _)| *size))
            .collect())
    }

    async fn assemble(&self, upload: &str, parts: u32, _key: &str) -> Result<Assembled, BlobError> {
        let manifest = self.manifest(upload).await?;
        let path = self.path(&manifest.key);
        // Completed before (a retried or concurrent complete): the parts are consumed.
        match self.store.head(&path).await {
            Ok(_) => return Err(BlobError::NotFound),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(from_store(e)),
        }
        let stored = self.list_parts(upload, &manifest).await?;
        let mut ids = Vec::with_capacity(parts as usize);
        let mut size = 0;
        for n in 1..=parts {
            let (part_size, etag, _) = stored.get(&n).ok_or(BlobError::NotFound)?;
            size += part_size;
            ids.push(PartId {
                content_id: etag.clone(),
            });
        }
        self.store
            .complete_multipart(&path, &manifest.id, ids)
            .await
            .map_err(from_store)?;
        Ok(Assembled {
            key: manifest.key,
            size,
        })
    }

    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<ByteStream, BlobError> {
        let options = GetOptions {
            range: range.map(|(first, last)| GetRange::Bounded(first..last.saturating_add(1))),
            ..GetOptions::default()
        };
        let got = self
            .store
            .get_opts(&self.path(key), options)
            .await
            .map_err(from_store)?;
        Ok(Box::pin(got.into_stream().map_err(std::io::Error::other)))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(from_store(e)),
        }
    }

    async fn delete_parts(&self, upload: &str) -> Result<(), BlobError> {
        let manifest = match self.manifest(upload).await {
            Ok(m) => m,
            Err(BlobError::NotFound) => return Ok(()),
            Err(e) => return Err(e),
        };
        // Completed uploads are gone from S3 already; an open one is aborted (its parts are freed).
        match self
            .store
            .abort_multipart(&self.path(&manifest.key), &manifest.id)
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::debug!(error = %e, "aborting an S3 multipart upload failed (completed before?)")
            }
        }
        let records = self.path(&format!("{PART_RECORDS}/{upload}"));
        let listed: Vec<_> = self
            .store
            .list(Some(&records))
            .try_collect()
            .await
            .map_err(from_store)?;
        for meta in listed {
            match self.store.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(from_store(e)),
            }
        }
        self.delete(&format!("{UPLOADS}/{upload}")).await
    }

    fn stale(&self, older_than: SystemTime) -> StoredStream {
        let root = if self.prefix.is_empty() {
            None
        } else {
            Some(Path::from(self.prefix.as_str()))
        };
        let skip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let cutoff = epoch_millis(older_than);
        let listing = self.store.list(root.as_ref());
        Box::pin(listing.filter_map(move |item| {
            let out = match item {
                Err(e) => Some(Err(from_store(e))),
                Ok(meta) if meta.last_modified.timestamp_millis() >= cutoff => None,
                Ok(meta) => {
                    let full = meta.location.as_ref();
                    let key = full.get(skip..).unwrap_or_default();
                    if key.starts_with(PART_RECORDS) || key.starts_with(DIRECT_MARKS) {
                        // Removed with their upload's parts.
                        return std::future::ready(None);
                    }
                    match key.strip_prefix(UPLOADS).and_then(|r| r.strip_prefix('/')) {
                        Some(upload) => Some(Ok(Stored::Upload(upload.to_string()))),
                        None => Some(Ok(Stored::Object(key.to_string()))),
                    }
                }
            };
            std::future::ready(out)
        }))
    }
}

/// `t` in milliseconds since the epoch, to compare with S3's `LastModified`.
fn epoch_millis(t: SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// The texts of every `<name>…</name>` in `xml`, in order.
fn elements<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}

/// The text of the first `<name>…</name>` in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    elements(xml, name).into_iter().next()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn from_store(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        e => internal(e),
    }
}

fn io_error(e: std::io::Error) -> BlobError {
    if e.raw_os_error() == Some(libc::ENOSPC) {
        BlobError::NoSpace { backend: "disk" }
    } else {
        internal(e)
    }
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> BlobError {
    BlobError::Internal {
        backend: BACKEND,
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_parsed() {
        let s = S3Settings::parse_location("s3://b/some/prefix/")
            .and_then(Result::ok)
            .unwrap_or_default();
        assert_eq!((s.bucket.as_str(), s.prefix.as_str()), ("b", "some/prefix"));
        let s = S3Settings::parse_location("s3://b")
            .and_then(Result::ok)
            .unwrap_or_default();
        assert_eq!((s.bucket.as_str(), s.prefix.as_str()), ("b", ""));
        assert!(matches!(
            S3Settings::parse_location("s3:///x"),
            Some(Err(_))
        ));
        assert!(S3Settings::parse_location("/var/data").is_none());
    }

    #[test]
    fn list_parts_answers_are_read() {
        let xml = "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber>\
                   <ETag>&quot;abc&quot;</ETag><Size>5242880</Size></Part><Part><PartNumber>2</PartNumber>\
                   <ETag>\"def\"</ETag><Size>3</Size></Part></ListPartsResult>";
        let parts: Vec<_> = elements(xml, "Part")
            .into_iter()
            .map(|p| (element(p, "PartNumber"), element(p, "ETag").map(unescape)))
            .collect();
        assert_eq!(
            parts,
            vec![
                (Some("1"), Some("\"abc\"".to_string())),
                (Some("2"), Some("\"def\"".to_string()))
            ]
        );
        assert_eq!(element(xml, "IsTruncated"), Some("false"));
    }
}
