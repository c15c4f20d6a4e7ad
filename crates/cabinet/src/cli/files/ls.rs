//! `cabinet files ls`, `stat`, `rm` and `search`.

use anyhow::bail;
use clap::Args;
use serde_json::{json, Value};

use super::client::{items_of, Client};
use super::recorded_size;

#[derive(Args)]
pub struct LsArgs {
    /// Only files whose directory starts with this.
    #[arg(long, value_name = "P")]
    directory_prefix: Option<String>,
    /// Only files whose externalId starts with this.
    #[arg(long, value_name = "P")]
    external_id_prefix: Option<String>,
    /// Only files of this MIME type.
    #[arg(long)]
    mime_type: Option<String>,
    /// Only uploaded (true) or not yet uploaded (false) files.
    #[arg(long)]
    uploaded: Option<bool>,
    /// At most this many files [default: all].
    #[arg(long)]
    limit: Option<usize>,
    /// Print the file objects as a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "external_id"])))]
pub struct StatArgs {
    #[arg(long)]
    id: Option<i64>,
    #[arg(long)]
    external_id: Option<String>,
}

#[derive(Args)]
pub struct RmArgs {
    /// Ids to delete (repeatable).
    #[arg(long)]
    id: Vec<i64>,
    /// ExternalIds to delete (repeatable).
    #[arg(long)]
    external_id: Vec<String>,
}

#[derive(Args)]
pub struct SearchArgs {
    /// The name to search for.
    name: String,
    /// At most this many results (1–1000).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print the file objects as a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn ls(client: &Client, args: &LsArgs) -> anyhow::Result<()> {
    let mut filter = json!({});
    if let Some(p) = &args.directory_prefix {
        filter["directoryPrefix"] = json!(p);
    }
    if let Some(p) = &args.external_id_prefix {
        filter["externalIdPrefix"] = json!(p);
    }
    if let Some(m) = &args.mime_type {
        filter["mimeType"] = json!(m);
    }
    if let Some(u) = args.uploaded {
        filter["uploaded"] = json!(u);
    }
    let files = client.list(filter, args.limit).await?;
    print_files(&files, args.json)
}

pub async fn stat(client: &Client, args: &StatArgs) -> anyhow::Result<()> {
    let item = match (&args.id, &args.external_id) {
        (Some(id), _) => json!({ "id": id }),
        (_, Some(x)) => json!({ "externalId": x }),
        _ => bail!("give --id or --external-id"),
    };
    let file = client.one(item).await?;
    println!("{}", serde_json::to_string_pretty(&file)?);
    Ok(())
}

pub async fn rm(client: &Client, args: &RmArgs) -> anyhow::Result<()> {
    let items: Vec<Value> = args
        .id
        .iter()
        .map(|id| json!({ "id": id }))
        .chain(args.external_id.iter().map(|x| json!({ "externalId": x })))
        .collect();
    if items.is_empty() {
        bail!("give --id or --external-id (each repeatable)");
    }
    let n = items.len();
    client.delete(items).await?;
    println!("deleted {n} file(s)");
    Ok(())
}

pub async fn search(client: &Client, args: &SearchArgs) -> anyhow::Result<()> {
    let answer = client
        .post(
            "/search",
            &json!({ "search": { "name": args.name }, "filter": {}, "limit": args.limit.clamp(1, 1000) }),
        )
        .await?;
    print_files(&items_of(answer), args.json)
}

/// A table (id, uploaded, size, path, externalId) or a JSON array.
fn print_files(files: &[Value], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        println!("{}", serde_json::to_string_pretty(files)?);
        return Ok(());
    }
    let rows: Vec<[String; 5]> = files
        .iter()
        .map(|f| {
            let dir = f["directory"].as_str().unwrap_or("");
            let name = f["name"].as_str().unwrap_or("");
            let path = if dir.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", dir.trim_end_matches('/'))
            };
            [
                f["id"].to_string(),
                if f["uploaded"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                }
                .to_string(),
                recorded_size(f).map_or("-".to_string(), |s| s.to_string()),
                path,
                f["externalId"].as_str().unwrap_or("-").to_string(),
            ]
        })
        .collect();
    let header = ["ID", "UPLOADED", "SIZE", "PATH", "EXTERNAL_ID"].map(String::from);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(())
}
