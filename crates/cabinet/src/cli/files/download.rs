//! `cabinet files download`: by id, externalId or directory prefix, several files at once, each into
//! `NAME.part` first.
//!
//! Resuming: next to `NAME.part` a `NAME.part.json` keeps the file id and the `ETag` of the first response.
//! A rerun asks for `Range: bytes=<length of .part>-` with `If-Range: <ETag>`: a 206 with that `ETag`
//! continues the part; a 200 (the content changed, or the server ignores ranges), or a 206 with another
//! `ETag` (a server that ignores `If-Range`, as the SeaweedFS S3 server of the tests does), starts it
//! again. The result's size is checked against `Content-Length`/`Content-Range` and, when the uploader
//! recorded it, metadata `cabinet:size`, before the part is renamed into place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use futures_util::{stream, StreamExt};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_RANGE, RANGE};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use super::client::{error_message, Client};
use super::progress::Bars;
use super::recorded_size;

#[derive(Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "external_id", "directory_prefix"])))]
pub struct DownloadArgs {
    /// The file's id.
    #[arg(long)]
    id: Option<i64>,
    /// The file's externalId.
    #[arg(long)]
    external_id: Option<String>,
    /// Every uploaded file whose directory starts with this.
    #[arg(long, value_name = "P")]
    directory_prefix: Option<String>,
    /// Where to write: a single file goes to DIR/NAME, files found by prefix to
    /// DIR/<directory without its leading "/">/NAME (as the Python SDK's download does).
    #[arg(long, default_value = ".", value_name = "DIR")]
    to: PathBuf,
    /// Files downloaded at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    parallel: usize,
}

pub async fn run(client: &Client, args: &DownloadArgs) -> anyhow::Result<()> {
    let targets: Vec<(Value, PathBuf)> = if let Some(prefix) = &args.directory_prefix {
        client
            .list(json!({ "directoryPrefix": prefix, "uploaded": true }), None)
            .await?
            .into_iter()
            .map(|f| {
                let dir = f["directory"]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches('/');
                let path = args.to.join(dir).join(file_name(&f));
                (f, path)
            })
            .collect()
    } else {
        let item = match (&args.id, &args.external_id) {
            (Some(id), _) => json!({ "id": id }),
            (_, Some(x)) => json!({ "externalId": x }),
            _ => bail!("give --id, --external-id or --directory-prefix"),
        };
        let file = client.one(item).await?;
        let path = args.to.join(file_name(&file));
        vec![(file, path)]
    };
    let (files, bytes) = download_all(client, targets, args.parallel).await?;
    println!("downloaded {files} file(s), {bytes} bytes");
    Ok(())
}

/// A file's name, made safe as one path component.
pub fn file_name(file: &Value) -> String {
    let name = file["name"].as_str().unwrap_or("unnamed");
    let name = name.replace(['/', '\\', '\0'], "_");
    if name.is_empty() || name == "." || name == ".." {
        format!("file-{}", file["id"])
    } else {
        name
    }
}

/// Downloads each (file, local path), `parallel` at a time; returns the count and the bytes received.
/// Fails after all finished if any failed.
pub async fn download_all(
    client: &Client,
    targets: Vec<(Value, PathBuf)>,
    parallel: usize,
) -> anyhow::Result<(usize, u64)> {
    let bars = Bars::new(
        "download",
        targets.iter().filter_map(|(f, _)| recorded_size(f)).sum(),
    );
    let results: Vec<(PathBuf, anyhow::Result<u64>)> = stream::iter(targets)
        .map(|(file, path)| {
            let bars = &bars;
            async move {
                let r = download_one(client, &file, &path, bars).await;
                (path, r)
            }
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    bars.total.finish_and_clear();
    let (mut count, mut bytes, mut failed) = (0, 0, 0);
    for (path, r) in results {
        match r {
            Ok(b) => {
                count += 1;
                bytes += b;
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e:#}", path.display());
            }
        }
    }
    if failed > 0 {
        bail!("{failed} download(s) failed");
    }
    Ok((count, bytes))
}

/// What `NAME.part.json` records.
#[derive(Serialize, Deserialize)]
struct PartInfo {
    id: i64,
    etag: String,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Downloads one file to `path`; returns the bytes received in this run.
async fn download_one(
    client: &Client,
    file: &Value,
    path: &Path,
    bars: &Bars,
) -> anyhow::Result<u64> {
    let id = file["id"]
        .as_i64()
        .ok_or_else(|| anyhow!("a file without an id"))?;
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .with_context(|| format!("{}", dir.display()))?;
    }
    let part = with_suffix(path, ".part");
    let info_path = with_suffix(path, ".part.json");
    // Without a validator a part cannot be trusted to continue the same content: such parts start over.
    let mut recorded: Option<PartInfo> = tokio::fs::read(&info_path)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|i: &PartInfo| i.id == id && !i.etag.is_empty());
    let mut attempts = 0;
    let (response, offset, total) = loop {
        attempts += 1;
        if attempts > 2 {
            bail!("the server keeps answering ranges that do not fit; run the command again");
        }
        let have = match (&recorded, tokio::fs::metadata(&part).await) {
            (Some(_), Ok(m)) => m.len(),
            _ => 0,
        };
        let url = client.download_url(id).await?;
        let mut request = client.http.get(&url).timeout(Duration::from_secs(600));
        if let (Some(info), true) = (&recorded, have > 0) {
            request = request
                .header(RANGE, format!("bytes={have}-"))
                .header(IF_RANGE, &info.etag);
        }
        let response = request.send().await.context("GET the download URL")?;
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let (first, total) = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range)
                    .ok_or_else(|| anyhow!("206 without a usable Content-Range"))?;
                // Some servers (SeaweedFS's S3) ignore If-Range: a 206 whose ETag is not the recorded
                // one is the rest of other content, so the part starts over.
                let tag = response.headers().get(ETAG).and_then(|v| v.to_str().ok());
                let same = recorded
                    .as_ref()
                    .is_some_and(|i| tag == Some(i.etag.as_str()));
                if first != have || !same {
                    recorded = None;
                    continue;
                }
                break (response, first, total);
            }
            StatusCode::OK => {
                let len = response
                    .headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok());
                break (response, 0, len.unwrap_or(u64::MAX));
            }
            StatusCode::RANGE_NOT_SATISFIABLE if recorded.is_some() => {
                // The part is as long as (or longer than) the content: start over.
                recorded = None;
                continue;
            }
            other => {
                let body = response.bytes().await.unwrap_or_default();
                bail!("GET: {}", error_message(other, &body));
            }
        }
    };
    if offset == 0 {
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        tokio::fs::write(&info_path, serde_json::to_vec(&PartInfo { id, etag })?).await?;
    } else {
        bars.println(&format!("{}: resuming at byte {offset}", path.display()));
    }
    let mut out = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(offset > 0)
        .truncate(offset == 0)
        .open(&part)
        .await
        .with_context(|| format!("{}", part.display()))?;
    let expected = if total == u64::MAX { None } else { Some(total) };
    let bar = bars.transfer(&file_name(file), expected.unwrap_or(0));
    if let (None, Some(t)) = (recorded_size(file), expected) {
        // The total counted only recorded sizes; this file's is known now.
        bars.total.inc_length(t);
    }
    bar.inc(offset);
    bars.total.inc(offset);
    let pause_after = super::pause_hook("CABINET_FILES_PAUSE_AFTER_BYTES");
    let mut written = offset;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.context("reading the download")?;
        out.write_all(&chunk).await?;
        written += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
        bars.total.inc(chunk.len() as u64);
        if pause_after.is_some_and(|n| written >= n) {
            out.flush().await?;
            out.sync_all().await?;
            super::pause_forever(&format!("{} after {written} bytes", path.display())).await;
        }
    }
    out.flush().await?;
    out.sync_all().await?;
    drop(out);
    if let Some(t) = expected {
        if written != t {
            bail!("received {written} bytes of {t}; run the command again to resume");
        }
    }
    if let Some(size) = recorded_size(file) {
        if written != size {
            bail!("received {written} bytes, but the file's metadata says {size}");
        }
    }
    tokio::fs::rename(&part, path)
        .await
        .with_context(|| format!("{}", path.display()))?;
    let _ = tokio::fs::remove_file(&info_path).await;
    if let Some(ms) = super::sync::remote_time(file) {
        set_mtime(path, ms)?;
    }
    bar.finish_and_clear();
    Ok(written - offset)
}

/// `bytes FIRST-LAST/TOTAL` → (FIRST, TOTAL).
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let rest = v.strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, _) = range.split_once('-')?;
    Some((first.parse().ok()?, total.parse().ok()?))
}

/// Sets a local file's modification time to epoch milliseconds `ms`, so that sync compares it with the
/// file's `sourceModifiedTime`.
pub fn set_mtime(path: &Path, ms: i64) -> anyhow::Result<()> {
    let time = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("{}", path.display()))?;
    f.set_modified(time)
        .with_context(|| format!("setting the time of {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_gives_the_first_byte_and_the_total() {
        assert_eq!(parse_content_range("bytes 100-199/200"), Some((100, 200)));
        assert_eq!(parse_content_range("bytes */200"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }

    #[test]
    fn names_stay_one_path_component() {
        assert_eq!(file_name(&json!({ "name": "a/b\\c" })), "a_b_c");
        assert_eq!(file_name(&json!({ "id": 7, "name": ".." })), "file-7");
        assert_eq!(file_name(&json!({ "id": 7 })), "unnamed");
    }
}
