//! Workload 3: a multipart upload (init, parts with a few in flight, complete) to cabinet and to s3s-fs,
//! each run in a fresh server process.

use std::time::Instant;

use anyhow::{bail, Context};
use futures_util::{stream, StreamExt, TryStreamExt};
use serde_json::json;

use super::{mbps, sync_disks, Ctx};
use crate::client;
use crate::peers::{s3s::S3s, Kind, Peer};
use crate::results::{Figure, Target, Unit};

/// Section title.
pub const SECTION: &str = "3. Multipart upload";

const KINDS: [Kind; 2] = [Kind::Cabinet, Kind::S3s];

/// Runs the workload and records its figures.
pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    let p = &ctx.profile;
    let (total, part, in_flight) = (p.multipart_bytes, p.part_bytes, p.parts_in_flight);
    let parts = total.div_ceil(part);
    let mut dirs = Vec::new();
    for k in KINDS {
        dirs.push(ctx.fresh_dir(&format!("multipart-{}", k.name()))?);
    }
    let mut rates: Vec<Result<Vec<f64>, String>> = KINDS.iter().map(|_| Ok(Vec::new())).collect();
    let mut rss: Vec<Vec<f64>> = KINDS.iter().map(|_| Vec::new()).collect();
    for run in 0..ctx.profile.runs {
        for (i, kind) in KINDS.iter().enumerate() {
            let Ok(done) = &mut rates[i] else { continue };
            match one_run(ctx, *kind, &dirs[i], run, total, part, in_flight).await {
                Ok((rate, peak)) => {
                    crate::log(&format!(
                        "  {}: {rate:.0} MB/s ({peak:.1} MiB)",
                        kind.name()
                    ));
                    done.push(rate);
                    rss[i].push(peak);
                }
                Err(e) => {
                    crate::log(&format!("  {} failed: {e:#}", kind.name()));
                    rates[i] = Err(format!("{e:#}"));
                }
            }
        }
    }
    let note = format!(
        "{} MiB in {parts} parts of {} MiB, {in_flight} in flight, init to complete",
        total >> 20,
        part >> 20
    );
    for (i, kind) in KINDS.iter().enumerate() {
        ctx.push(
            Figure::from_result(SECTION, "throughput", kind.name(), Unit::MBps, &rates[i])
                .with_note(note.clone()),
        );
        let r = match &rates[i] {
            Err(e) if rss[i].is_empty() => Err(e.clone()),
            _ => Ok(rss[i].clone()),
        };
        let mut f = Figure::from_result(SECTION, "server peak RSS", kind.name(), Unit::MiB, &r);
        if *kind == Kind::Cabinet {
            f = f.with_target(Target::Below(64.0));
        }
        ctx.push(f);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn one_run(
    ctx: &Ctx,
    kind: Kind,
    dir: &std::path::Path,
    run: usize,
    total: u64,
    part: u64,
    in_flight: usize,
) -> anyhow::Result<(f64, f64)> {
    let peer = Peer::start(ctx, kind, dir).await?;
    let name = format!("multipart-{run}.bin");
    let sizes: Vec<u64> = (0..total.div_ceil(part))
        .map(|i| part.min(total - i * part))
        .collect();
    let t = Instant::now();
    let obj = match &peer {
        Peer::Cabinet(c) => {
            let v = c
                .api
                .post(
                    &format!("/initmultipartupload?parts={}", sizes.len()),
                    &json!({"name": name, "mimeType": "application/octet-stream"}),
                )
                .await?;
            let id = v["id"]
                .as_i64()
                .context("no id in the initmultipartupload answer")?;
            let upload_id = v["uploadId"].as_str().context("no uploadId")?.to_string();
            let urls: Vec<String> = v["uploadUrls"]
                .as_array()
                .context("no uploadUrls")?
                .iter()
                .filter_map(|u| u.as_str().map(String::from))
                .collect();
            if urls.len() != sizes.len() {
                bail!("{} upload URLs for {} parts", urls.len(), sizes.len());
            }
            let http = &ctx.client;
            stream::iter(urls.iter().zip(&sizes))
                .map(|(u, n)| async move { client::put_generated(http, u, *n).await })
                .buffer_unordered(in_flight)
                .try_collect::<Vec<_>>()
                .await?;
            c.api
                .post(
                    "/completemultipartupload",
                    &json!({"id": id, "uploadId": upload_id}),
                )
                .await?;
            crate::peers::Object::Cabinet(id)
        }
        Peer::S3s(s) => {
            s3_multipart(&ctx.client, s, &name, &sizes, in_flight).await?;
            crate::peers::Object::Key(name)
        }
        Peer::Nginx(_) => bail!("nginx has no multipart upload"),
        Peer::Weed(_) => bail!("the multipart workload does not measure SeaweedFS"),
    };
    let took = t.elapsed().as_secs_f64();
    let peak = peer.proc().peak_rss_mib()?;
    peer.delete(&ctx.client, &obj).await?;
    peer.stop().await?;
    sync_disks().await;
    Ok((mbps(total, took), peak))
}

/// CreateMultipartUpload, UploadPart for each part, CompleteMultipartUpload, all presigned.
async fn s3_multipart(
    http: &reqwest::Client,
    s3: &S3s,
    key: &str,
    sizes: &[u64],
    in_flight: usize,
) -> anyhow::Result<()> {
    let url = s3.url("POST", key, &[("uploads", "")])?;
    let resp = http
        .post(&url)
        .send()
        .await
        .context("CreateMultipartUpload")?;
    let xml = client::ok_or_body(resp, "POST", &url).await?.text().await?;
    let upload_id =
        xml_value(&xml, "UploadId").context("no UploadId in CreateMultipartUpload's answer")?;
    let mut urls = Vec::new();
    for n in 1..=sizes.len() {
        urls.push(s3.url(
            "PUT",
            key,
            &[("partNumber", &n.to_string()), ("uploadId", &upload_id)],
        )?);
    }
    let mut etags: Vec<(usize, String)> = stream::iter(urls.iter().zip(sizes).enumerate())
        .map(|(i, (u, n))| async move {
            client::put_generated_etag(http, u, *n)
                .await
                .map(|e| (i + 1, e))
        })
        .buffer_unordered(in_flight)
        .try_collect()
        .await?;
    etags.sort();
    let body: String = etags
        .iter()
        .map(|(n, e)| format!("<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"))
        .collect();
    let body = format!("<CompleteMultipartUpload>{body}</CompleteMultipartUpload>");
    let url = s3.url("POST", key, &[("uploadId", &upload_id)])?;
    let resp = http
        .post(&url)
        .body(body)
        .send()
        .await
        .context("CompleteMultipartUpload")?;
    let text = client::ok_or_body(resp, "POST", &url).await?.text().await?;
    if text.contains("<Error>") {
        bail!(
            "CompleteMultipartUpload failed: {}",
            client::truncate(&text, 300)
        );
    }
    Ok(())
}

fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}
