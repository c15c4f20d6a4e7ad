//! `cabinet files sync`: one-way, incremental copies between a local directory and a CDF directory.
//!
//! `sync LOCAL cdf:/DIR` gives every local file `LOCAL/REL` the CDF directory `/DIR/<parent of REL>`, its
//! name and the externalId `/DIR/REL`, and uploads it unless CDF has a file at that path that is uploaded
//! with the same size (metadata `cabinet:size`) and `sourceModifiedTime` = the local modification time
//! (with `--checksum`: the same SHA-256 in metadata `cabinet:sha256`). `sync cdf:/DIR LOCAL` downloads
//! each uploaded file under `/DIR` to `LOCAL/<path under DIR>` unless the local file has the recorded size
//! and a modification time equal to the file's `sourceModifiedTime` (else `uploadedTime`), which a
//! download sets (with `--checksum`: its SHA-256 equals the recorded one). `--delete` removes what the
//! source does not have; `--dry-run` prints the plan and changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use clap::Args;
use serde_json::{json, Value};

use super::client::Client;
use super::download::{download_all, file_name};
use super::upload::{jobs_for, mtime_ms, same_content, sha256_file, slash_path, upload_all, walk};
use super::upload::{Options, Transfer};
use super::{recorded_size, SHA256_KEY};

#[derive(Args)]
pub struct SyncArgs {
    /// The source: a local directory or cdf:DIRECTORY.
    source: String,
    /// The destination: cdf:DIRECTORY or a local directory (the other kind than the source).
    destination: String,
    /// Print what would be transferred and deleted, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete files at the destination that the source does not have.
    #[arg(long)]
    delete: bool,
    #[command(flatten)]
    transfer: Transfer,
}

pub async fn run(client: &Client, args: &SyncArgs) -> anyhow::Result<()> {
    match (
        args.source.strip_prefix("cdf:"),
        args.destination.strip_prefix("cdf:"),
    ) {
        (None, Some(dir)) => up(client, Path::new(&args.source), &normal(dir), args).await,
        (Some(dir), None) => down(client, &normal(dir), Path::new(&args.destination), args).await,
        _ => bail!("one side must be cdf:DIRECTORY and the other a local directory"),
    }
}

/// `/a/b` from `a/b/`, `/` from ``.
fn normal(dir: &str) -> String {
    format!("/{}", dir.trim_matches('/'))
}

/// The path of a CDF file below `dir` (`sub/name`), or None when it is not below it.
fn rel_below(file: &Value, dir: &str) -> Option<String> {
    let d = file["directory"].as_str()?;
    let rest = if dir == "/" {
        d.strip_prefix('/')?
    } else if d == dir {
        ""
    } else {
        d.strip_prefix(dir)?.strip_prefix('/')?
    };
    let rest = rest.trim_matches('/');
    let name = file_name(file);
    Some(if rest.is_empty() {
        name
    } else {
        format!("{rest}/{name}")
    })
}

async fn remote_below(
    client: &Client,
    dir: &str,
    uploaded_only: bool,
) -> anyhow::Result<BTreeMap<String, Value>> {
    let mut filter = json!({ "directoryPrefix": dir });
    if uploaded_only {
        filter["uploaded"] = json!(true);
    }
    Ok(client
        .list(filter, None)
        .await?
        .into_iter()
        .filter_map(|f| Some((rel_below(&f, dir)?, f)))
        .collect())
}

async fn up(client: &Client, local: &Path, dir: &str, args: &SyncArgs) -> anyhow::Result<()> {
    if !local.is_dir() {
        bail!("{}: not a directory", local.display());
    }
    let prefix = if dir == "/" {
        "/".to_string()
    } else {
        format!("{dir}/")
    };
    let jobs = jobs_for(local, Some(dir), &prefix)?;
    let mut remote = remote_below(client, dir, false).await?;
    let (mut send, mut unchanged, mut replace) = (Vec::new(), 0usize, Vec::new());
    for job in jobs {
        let rel = job.external_id[prefix.len()..].to_string();
        let sha = if args.transfer.checksum {
            Some(sha256_file(&job.local).await?)
        } else {
            None
        };
        match remote.remove(&rel) {
            Some(f) if same_content(&f, &job, sha.as_deref()) => unchanged += 1,
            Some(f) => {
                // A file at that path under another externalId would stay beside the new one: it goes.
                if f["externalId"].as_str() != Some(job.external_id.as_str()) {
                    replace.push(f);
                }
                send.push(job);
            }
            None => send.push(job),
        }
    }
    let extra: Vec<Value> = if args.delete {
        remote.into_values().collect()
    } else {
        Vec::new()
    };
    for job in &send {
        println!("upload {} -> {}", job.local.display(), job.external_id);
    }
    for f in &extra {
        println!("delete cdf:{}", rel_below(f, dir).unwrap_or_default());
    }
    if !args.dry_run {
        let ids = |files: &[Value]| -> Vec<Value> {
            files.iter().map(|f| json!({ "id": f["id"] })).collect()
        };
        if !replace.is_empty() {
            client.delete(ids(&replace)).await?;
        }
        let options = Options {
            transfer: args.transfer.clone(),
            overwrite: true,
            data_set_id: None,
        };
        upload_all(client, send.clone(), &options).await?;
        if !extra.is_empty() {
            client.delete(ids(&extra)).await?;
        }
    }
    println!(
        "sync{}: {} uploaded, {unchanged} unchanged, {} deleted",
        if args.dry_run { " (dry run)" } else { "" },
        send.len(),
        extra.len()
    );
    Ok(())
}

async fn down(client: &Client, dir: &str, local: &Path, args: &SyncArgs) -> anyhow::Result<()> {
    let remote = remote_below(client, dir, true).await?;
    let (mut fetch, mut unchanged) = (Vec::new(), 0usize);
    for (rel, file) in &remote {
        let path = local.join(rel);
        if up_to_date(&path, file, args.transfer.checksum).await? {
            unchanged += 1;
        } else {
            fetch.push((file.clone(), path));
        }
    }
    let mut extra: Vec<PathBuf> = Vec::new();
    if args.delete && local.is_dir() {
        let mut all = Vec::new();
        walk(local, &mut all)?;
        let keep: BTreeSet<&String> = remote.keys().collect();
        for path in all {
            let rel = slash_path(path.strip_prefix(local).unwrap_or(&path))?;
            if !keep.contains(&rel) {
                extra.push(path);
            }
        }
    }
    for (file, path) in &fetch {
        println!("download cdf:{} -> {}", file["id"], path.display());
    }
    for path in &extra {
        println!("delete {}", path.display());
    }
    if !args.dry_run {
        download_all(client, fetch.clone(), args.transfer.parallel).await?;
        for path in &extra {
            std::fs::remove_file(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        }
    }
    println!(
        "sync{}: {} downloaded, {unchanged} unchanged, {} deleted",
        if args.dry_run { " (dry run)" } else { "" },
        fetch.len(),
        extra.len()
    );
    Ok(())
}

/// Whether the local `path` already holds the CDF `file`'s content (see the module comment).
async fn up_to_date(path: &Path, file: &Value, checksum: bool) -> anyhow::Result<bool> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(false);
    };
    if !meta.is_file() {
        return Ok(false);
    }
    if recorded_size(file).is_some_and(|s| s != meta.len()) {
        return Ok(false);
    }
    if checksum {
        return Ok(match file["metadata"][SHA256_KEY].as_str() {
            Some(want) => sha256_file(path).await? == want,
            None => false,
        });
    }
    Ok(remote_time(file).is_some_and(|t| t == mtime_ms(&meta)))
}

/// The time a downloaded file gets: `sourceModifiedTime`, else `uploadedTime`.
pub fn remote_time(file: &Value) -> Option<i64> {
    file["sourceModifiedTime"]
        .as_i64()
        .or_else(|| file["uploadedTime"].as_i64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_below_a_directory() {
        let f = |d: &str, n: &str| json!({ "directory": d, "name": n });
        assert_eq!(normal("a/b/"), "/a/b");
        assert_eq!(normal(""), "/");
        assert_eq!(rel_below(&f("/s", "x"), "/s"), Some("x".to_string()));
        assert_eq!(
            rel_below(&f("/s/d/e", "x"), "/s"),
            Some("d/e/x".to_string())
        );
        assert_eq!(rel_below(&f("/sx", "x"), "/s"), None);
        assert_eq!(rel_below(&f("/s/d", "x"), "/"), Some("s/d/x".to_string()));
        assert_eq!(rel_below(&json!({ "name": "x" }), "/s"), None);
    }
}
