//! `cabinet files upload`: files and directory trees, single PUT below the multipart threshold and parallel
//! parts above it, resumable.
//!
//! Resuming: every multipart session in flight is recorded in `<state dir>/upload-state.json` (see
//! [`super::state_dir`]) with the file id, uploadId, part URLs and which parts are done, keyed by base URL,
//! project and externalId, and rewritten after each part. A rerun finishes a recorded session whose local
//! file still has the same size and modification time (only the missing parts are sent), and skips a file
//! the server already has as `uploaded` with the same size (metadata `cabinet:size`) and
//! `sourceModifiedTime` (and SHA-256 with `--checksum`). A file left `uploaded: false` (an interrupted
//! single PUT, or a session the state no longer knows) is overwritten without asking for `--overwrite`:
//! it holds no content to lose.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use futures_util::{stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::client::{error_message, Client};
use super::progress::Bars;
use super::{recorded_size, SHA256_KEY, SIZE_KEY};

const MIB: u64 = 1 << 20;
/// The smallest part a multipart upload may have (except the last), as CDF and S3 require.
const MIN_PART: u64 = 5 * MIB;
/// The most parts a multipart upload may have.
const MAX_PARTS: u64 = 250;

#[derive(Args)]
pub struct UploadArgs {
    /// Files and directories (uploaded with everything under them).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The CDF directory: a file's directory is this joined with its path's parent inside an uploaded
    /// directory [default: "/" joined with that parent, or none for a top-level file].
    #[arg(long, value_name = "D")]
    directory: Option<String>,
    /// Prepended to each file's path relative to the given PATH (its name for a file) to make its
    /// externalId.
    #[arg(long, value_name = "P", default_value = "")]
    external_id_prefix: String,
    /// The data set of the new files.
    #[arg(long, value_name = "N")]
    data_set_id: Option<i64>,
    /// Replace files that already exist with other content.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    pub transfer: Transfer,
}

/// How uploads and downloads move bytes.
#[derive(Args, Clone)]
pub struct Transfer {
    /// Files at least this large (bytes) use a multipart upload.
    #[arg(long, default_value_t = 16 * MIB, value_name = "BYTES")]
    pub multipart_threshold: u64,
    /// Part size of multipart uploads (bytes; at least 5 MiB, raised so that there are at most 250).
    #[arg(long, default_value_t = 16 * MIB, value_name = "BYTES")]
    pub part_size: u64,
    /// Files, and parts of one file, transferred at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub parallel: usize,
    /// Compare and record content by SHA-256 (metadata `cabinet:sha256`) rather than size and time alone.
    #[arg(long)]
    pub checksum: bool,
}

/// One local file to upload and what it becomes.
#[derive(Clone, Debug)]
pub struct Job {
    pub local: PathBuf,
    pub size: u64,
    pub mtime_ms: i64,
    pub name: String,
    pub directory: Option<String>,
    pub external_id: String,
}

/// What happened to one file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    Uploaded,
    Resumed,
    Skipped,
}

pub async fn run(client: &Client, args: &UploadArgs) -> anyhow::Result<()> {
    let mut jobs = Vec::new();
    for path in &args.paths {
        jobs.extend(jobs_for(
            path,
            args.directory.as_deref(),
            &args.external_id_prefix,
        )?);
    }
    let options = Options {
        transfer: args.transfer.clone(),
        overwrite: args.overwrite,
        data_set_id: args.data_set_id,
    };
    let outcomes = upload_all(client, jobs, &options).await?;
    let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count();
    println!(
        "uploaded {}, resumed {}, skipped {} (already uploaded)",
        count(Outcome::Uploaded),
        count(Outcome::Resumed),
        count(Outcome::Skipped)
    );
    Ok(())
}

/// Upload settings beyond the files themselves.
pub struct Options {
    pub transfer: Transfer,
    pub overwrite: bool,
    pub data_set_id: Option<i64>,
}

/// Uploads the jobs, `parallel` files at a time; fails after all finished if any failed.
pub async fn upload_all(
    client: &Client,
    jobs: Vec<Job>,
    options: &Options,
) -> anyhow::Result<Vec<Outcome>> {
    let state = State::load(super::state_dir().join("upload-state.json"))?;
    let bars = Bars::new("upload", jobs.iter().map(|j| j.size).sum());
    let results: Vec<(Job, anyhow::Result<Outcome>)> = stream::iter(jobs)
        .map(|job| {
            let (state, bars) = (&state, &bars);
            async move {
                let result = upload_one(client, &job, options, state, bars).await;
                (job, result)
            }
        })
        .buffer_unordered(options.transfer.parallel.max(1))
        .collect()
        .await;
    bars.total.finish_and_clear();
    let mut outcomes = Vec::new();
    let mut failed = 0;
    for (job, result) in results {
        match result {
            Ok(o) => outcomes.push(o),
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e:#}", job.local.display());
            }
        }
    }
    if failed > 0 {
        bail!("{failed} upload(s) failed");
    }
    Ok(outcomes)
}

/// The jobs for one command-line PATH: the file itself, or every regular file under a directory.
pub fn jobs_for(path: &Path, directory: Option<&str>, prefix: &str) -> anyhow::Result<Vec<Job>> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    let mut files = Vec::new();
    if meta.is_dir() {
        walk(path, &mut files)?;
    } else {
        files.push(path.to_path_buf());
    }
    let mut jobs = Vec::new();
    for local in files {
        let rel = if meta.is_dir() {
            local.strip_prefix(path).unwrap_or(&local).to_path_buf()
        } else {
            PathBuf::from(local.file_name().unwrap_or_default())
        };
        let rel_slash = slash_path(&rel)?;
        let (parent, name) = match rel_slash.rsplit_once('/') {
            Some((p, n)) => (p.to_string(), n.to_string()),
            None => (String::new(), rel_slash.clone()),
        };
        let m = std::fs::metadata(&local).with_context(|| format!("{}", local.display()))?;
        jobs.push(Job {
            size: m.len(),
            mtime_ms: mtime_ms(&m),
            name,
            directory: join_directory(directory, &parent),
            external_id: format!("{prefix}{rel_slash}"),
            local,
        });
    }
    Ok(jobs)
}

/// Every regular file under `dir`, in a stable order.
pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = std::fs::metadata(&path)?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// A relative path with `/` separators; an error for names that are not UTF-8.
pub fn slash_path(rel: &Path) -> anyhow::Result<String> {
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    parts
        .map(|p| p.join("/"))
        .ok_or_else(|| anyhow!("{}: not a UTF-8 path", rel.display()))
}

/// The CDF directory of a file whose path's parent is `parent` under `base`.
pub fn join_directory(base: Option<&str>, parent: &str) -> Option<String> {
    let base = base.map(|b| format!("/{}", b.trim_matches('/')));
    match (base, parent.is_empty()) {
        (None, true) => None,
        (None, false) => Some(format!("/{parent}")),
        (Some(b), true) => Some(b),
        (Some(b), false) if b == "/" => Some(format!("/{parent}")),
        (Some(b), false) => Some(format!("{b}/{parent}")),
    }
}

/// A file's modification time in epoch milliseconds (0 when unknown).
pub fn mtime_ms(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}

/// The SHA-256 of a file, hex.
pub async fn sha256_file(path: &Path) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher)?;
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    })
    .await?
}

/// Whether the server's `file` already holds the local job's content, as far as size and time (and
/// SHA-256 when `sha` is given) tell.
pub fn same_content(file: &Value, job: &Job, sha: Option<&str>) -> bool {
    file["uploaded"].as_bool() == Some(true)
        && recorded_size(file) == Some(job.size)
        && file["sourceModifiedTime"].as_i64() == Some(job.mtime_ms)
        && sha.is_none_or(|s| file["metadata"][SHA256_KEY].as_str() == Some(s))
}

async fn upload_one(
    client: &Client,
    job: &Job,
    options: &Options,
    state: &State,
    bars: &Bars,
) -> anyhow::Result<Outcome> {
    let key = state.key(client, &job.external_id);
    if let Some(entry) = state.get(&key) {
        if entry.local == job.local && entry.size == job.size && entry.mtime_ms == job.mtime_ms {
            match run_session(client, job, &key, entry, options, state, bars).await {
                Ok(()) => return Ok(Outcome::Resumed),
                Err(e) => bars.println(&format!(
                    "{}: the recorded upload could not be finished ({e:#}); starting again",
                    job.external_id
                )),
            }
        }
        state.remove(&key)?;
    }
    let sha = if options.transfer.checksum {
        Some(sha256_file(&job.local).await?)
    } else {
        None
    };
    let existing = client
        .by_ids(vec![json!({ "externalId": job.external_id })])
        .await?
        .into_iter()
        .next();
    let mut overwrite = options.overwrite;
    if let Some(file) = existing {
        if same_content(&file, job, sha.as_deref()) {
            bars.total.inc(job.size);
            return Ok(Outcome::Skipped);
        }
        if file["uploaded"].as_bool() != Some(true) {
            overwrite = true;
        } else if !overwrite {
            bail!(
                "externalId {:?} exists with other content (--overwrite replaces it)",
                job.external_id
            );
        }
    }
    let mut metadata = json!({ SIZE_KEY: job.size.to_string() });
    if let Some(s) = &sha {
        metadata[SHA256_KEY] = json!(s);
    }
    let mut body = json!({
        "name": job.name,
        "externalId": job.external_id,
        "sourceModifiedTime": job.mtime_ms,
        "metadata": metadata,
    });
    if let Some(d) = &job.directory {
        body["directory"] = json!(d);
    }
    if let Some(ds) = options.data_set_id {
        body["dataSetId"] = json!(ds);
    }
    if job.size < options.transfer.multipart_threshold {
        let created = client
            .post(&format!("?overwrite={overwrite}"), &body)
            .await?;
        let url = created["uploadUrl"]
            .as_str()
            .ok_or_else(|| anyhow!("create: no uploadUrl"))?;
        let bar = bars.transfer(&job.name, job.size);
        let data = read_range(&job.local, 0, job.size).await?;
        put(client, url, data).await?;
        bar.finish_and_clear();
        bars.total.inc(job.size);
        return Ok(Outcome::Uploaded);
    }
    let part_size = options
        .transfer
        .part_size
        .max(MIN_PART)
        .max(job.size.div_ceil(MAX_PARTS));
    let parts = job.size.div_ceil(part_size).max(1);
    let init = client
        .post(
            &format!("/initmultipartupload?overwrite={overwrite}&parts={parts}"),
            &body,
        )
        .await?;
    let entry = Entry {
        local: job.local.clone(),
        size: job.size,
        mtime_ms: job.mtime_ms,
        id: init["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("initmultipartupload: no id"))?,
        upload_id: init["uploadId"]
            .as_str()
            .ok_or_else(|| anyhow!("initmultipartupload: no uploadId"))?
            .to_string(),
        urls: init["uploadUrls"]
            .as_array()
            .ok_or_else(|| anyhow!("initmultipartupload: no uploadUrls"))?
            .iter()
            .filter_map(|u| u.as_str().map(str::to_string))
            .collect(),
        part_size,
        done: vec![false; parts as usize],
    };
    if entry.urls.len() != parts as usize {
        bail!(
            "initmultipartupload: {} URLs for {parts} parts",
            entry.urls.len()
        );
    }
    state.put(&key, entry.clone())?;
    run_session(client, job, &key, entry, options, state, bars).await?;
    Ok(Outcome::Uploaded)
}

/// Sends the parts of a recorded session that are not done, `parallel` at a time, recording each as it
/// finishes, then completes the session and forgets it.
async fn run_session(
    client: &Client,
    job: &Job,
    key: &str,
    entry: Entry,
    options: &Options,
    state: &State,
    bars: &Bars,
) -> anyhow::Result<()> {
    let bar = bars.transfer(&job.name, job.size);
    let part_len = |i: usize| {
        let start = i as u64 * entry.part_size;
        (start, entry.part_size.min(job.size.saturating_sub(start)))
    };
    let already: u64 = (0..entry.done.len())
        .filter(|i| entry.done[*i])
        .map(|i| part_len(i).1)
        .sum();
    bar.inc(already);
    bars.total.inc(already);
    let pause_after = super::pause_hook("CABINET_FILES_PAUSE_AFTER_PARTS");
    let todo: Vec<usize> = (0..entry.done.len()).filter(|i| !entry.done[*i]).collect();
    stream::iter(todo)
        .map(|i| {
            let (bar, entry) = (&bar, &entry);
            async move {
                let (start, len) = part_len(i);
                let data = read_range(&job.local, start, len).await?;
                put(client, &entry.urls[i], data).await?;
                let done = state.mark_done(key, i)?;
                bar.inc(len);
                bars.total.inc(len);
                if pause_after.is_some_and(|n| done as u64 >= n) {
                    super::pause_forever(&format!("{} after {done} parts", job.external_id)).await;
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(options.transfer.parallel.max(1))
        .try_collect::<()>()
        .await?;
    client
        .post(
            "/completemultipartupload",
            &json!({ "id": entry.id, "uploadId": entry.upload_id }),
        )
        .await?;
    state.remove(key)?;
    bar.finish_and_clear();
    Ok(())
}

/// `len` bytes of a file from `start`.
async fn read_range(path: &Path, start: u64, len: u64) -> anyhow::Result<Vec<u8>> {
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("{}", path.display()))?;
    file.seek(std::io::SeekFrom::Start(start)).await?;
    let mut data = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut data).await?;
    if data.len() as u64 != len {
        bail!("{} changed while it was being uploaded", path.display());
    }
    Ok(data)
}

/// PUTs content to an upload URL, with a few retries on transport errors and 429/5xx.
async fn put(client: &Client, url: &str, data: Vec<u8>) -> anyhow::Result<()> {
    let data = bytes::Bytes::from(data);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = client
            .http
            .put(url)
            .body(data.clone())
            .timeout(Duration::from_secs(600))
            .send()
            .await;
        let retry = match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => {
                let status = r.status();
                let body = r.bytes().await.unwrap_or_default();
                let message = format!("PUT: {}", error_message(status, &body));
                if !(status.as_u16() == 429 || status.is_server_error()) {
                    bail!(message);
                }
                message
            }
            Err(e) => format!("PUT: {e}"),
        };
        if attempt >= 3 {
            bail!(retry);
        }
        tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
    }
}

/// One recorded multipart session.
#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    local: PathBuf,
    size: u64,
    mtime_ms: i64,
    id: i64,
    upload_id: String,
    urls: Vec<String>,
    part_size: u64,
    done: Vec<bool>,
}

/// The state file: every session in flight, rewritten (to a temporary file, then renamed) on each change.
///
/// Several runs may share it (two uploads started at once, from one shell or two). Each change is made
/// under an exclusive `flock` of `upload-state.json.lock` beside it, to the file as it is on disk then
/// (re-read under the lock), so that a run never writes back a copy that lacks another run's sessions.
struct State {
    path: PathBuf,
    entries: Mutex<BTreeMap<String, Entry>>,
}

/// The sessions recorded in `path`; none when it does not exist (or is not a state file).
fn read_entries(path: &Path) -> anyhow::Result<BTreeMap<String, Entry>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("{}", path.display())),
    }
}

/// An exclusive `flock` of a lock file, released when dropped (the descriptor closes, also when the
/// process dies, so a killed run leaves no lock behind).
struct FileLock {
    _file: std::fs::File,
}

impl FileLock {
    fn take(path: &Path) -> anyhow::Result<FileLock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("{}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            loop {
                // SAFETY: flock takes a descriptor this function owns for the duration of the call.
                if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                    break;
                }
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e).with_context(|| format!("locking {}", path.display()));
                }
            }
        }
        Ok(FileLock { _file: file })
    }
}

impl State {
    fn load(path: PathBuf) -> anyhow::Result<State> {
        let entries = read_entries(&path)?;
        Ok(State {
            path,
            entries: Mutex::new(entries),
        })
    }

    /// Applies `change` to the file under its lock and writes it back; this run's copy becomes the result.
    fn change<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Entry>) -> T) -> anyhow::Result<T> {
        let mut entries = self.lock();
        let _locked = FileLock::take(&self.path.with_extension("json.lock"))?;
        let mut on_disk = read_entries(&self.path)?;
        let out = f(&mut on_disk);
        self.save(&on_disk)?;
        *entries = on_disk;
        Ok(out)
    }

    fn key(&self, client: &Client, external_id: &str) -> String {
        format!("{} {external_id}", client.project_url())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &str) -> Option<Entry> {
        self.lock().get(key).cloned()
    }

    fn put(&self, key: &str, entry: Entry) -> anyhow::Result<()> {
        self.change(|entries| {
            entries.insert(key.to_string(), entry);
        })
    }

    fn remove(&self, key: &str) -> anyhow::Result<()> {
        if !self.lock().contains_key(key) && !read_entries(&self.path)?.contains_key(key) {
            return Ok(());
        }
        self.change(|entries| {
            entries.remove(key);
        })
    }

    /// Records part `i` as done; returns how many parts of the session are done.
    fn mark_done(&self, key: &str, i: usize) -> anyhow::Result<usize> {
        self.change(|entries| {
            let Some(entry) = entries.get_mut(key) else {
                return 0;
            };
            if let Some(d) = entry.done.get_mut(i) {
                *d = true;
            }
            entry.done.iter().filter(|d| **d).count()
        })
    }

    fn save(&self, entries: &BTreeMap<String, Entry>) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(entries)?)
            .with_context(|| format!("{}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).with_context(|| format!("{}", self.path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_join_the_base_and_the_parent() {
        assert_eq!(join_directory(None, ""), None);
        assert_eq!(join_directory(None, "a/b"), Some("/a/b".to_string()));
        assert_eq!(join_directory(Some("up/"), ""), Some("/up".to_string()));
        assert_eq!(join_directory(Some("/up"), "a"), Some("/up/a".to_string()));
        assert_eq!(join_directory(Some("/"), "a"), Some("/a".to_string()));
        assert_eq!(join_directory(Some("/"), ""), Some("/".to_string()));
    }

    #[test]
    fn content_is_the_same_only_with_size_time_and_hash() {
        let job = Job {
            local: PathBuf::from("x"),
            size: 5,
            mtime_ms: 1000,
            name: "x".into(),
            directory: None,
            external_id: "x".into(),
        };
        let file = json!({ "uploaded": true, "sourceModifiedTime": 1000,
            "metadata": { SIZE_KEY: "5", SHA256_KEY: "ab" } });
        assert!(same_content(&file, &job, None));
        assert!(same_content(&file, &job, Some("ab")));
        assert!(!same_content(&file, &job, Some("cd")));
        assert!(!same_content(&json!({ "uploaded": false }), &job, None));
        let mut other = file.clone();
        other["sourceModifiedTime"] = json!(999);
        assert!(!same_content(&other, &job, None));
        let mut other = file;
        other["metadata"][SIZE_KEY] = json!("6");
        assert!(!same_content(&other, &job, None));
    }
}
