//! Workload 4: many small files. cabinet needs two requests per file (create, then PUT the content to the
//! returned URL); nginx, s3s-fs and the durable peer (SeaweedFS with fsync on) take one PUT each.

use serde_json::json;

use super::{rate, Ctx};
use crate::client;
use crate::peers::{s3s, seaweedfs, Kind, Peer};
use crate::results::{Figure, Target, Unit};

/// Section title.
pub const SECTION: &str = "4. Small files";

const KINDS: [Kind; 4] = [Kind::Cabinet, Kind::Nginx, Kind::S3s, Kind::Weed];

/// Runs the workload and records its figures.
pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (n, size, in_flight) = (
        ctx.profile.small_files,
        ctx.profile.small_bytes,
        ctx.profile.small_in_flight,
    );
    let mut peers: Vec<Result<Peer, String>> = Vec::new();
    for k in KINDS {
        let dir = ctx.fresh_dir(&format!("small-{}", k.name()))?;
        peers.push(
            Peer::start(ctx, k, &dir)
                .await
                .map_err(|e| format!("{e:#}")),
        );
    }
    let mut rates: Vec<Result<Vec<f64>, String>> = peers
        .iter()
        .map(|p| p.as_ref().map(|_| Vec::new()).map_err(|e| e.clone()))
        .collect();
    let body = client::small_body(size as usize);
    // Warm-up (unmeasured): opens the connections and lets each server create its directories.
    for p in peers.iter().flatten() {
        let _ = batch(p, &ctx.client, &body, 500.min(n), in_flight, "warm".into()).await;
    }
    for run in 0..ctx.profile.runs {
        for (i, kind) in KINDS.iter().enumerate() {
            let (Ok(peer), Ok(done)) = (&peers[i], &mut rates[i]) else {
                continue;
            };
            let outcome = batch(peer, &ctx.client, &body, n, in_flight, run.to_string()).await;
            match outcome.per_sec() {
                Ok(r) => {
                    crate::log(&format!("  {}: {r:.0} files/s", kind.name()));
                    done.push(r);
                }
                Err(e) => {
                    crate::log(&format!("  {} failed: {e}", kind.name()));
                    rates[i] = Err(e);
                }
            }
        }
    }
    let note = format!("{n} files of {} KiB, {in_flight} in flight", size / 1024);
    for (i, kind) in KINDS.iter().enumerate() {
        let mut f = Figure::from_result(
            SECTION,
            "files per second",
            kind.name(),
            Unit::FilesPerSec,
            &rates[i],
        )
        .with_note(note.clone());
        match kind {
            Kind::Cabinet => {
                // Issue 14: two requests per file at least as fast as s3s-fs's one, and twice the durable
                // peer.
                f = f
                    .with_note(format!("{note}; create + PUT per file"))
                    .with_target(Target::AllOf(vec![
                        Target::RatioAtLeast {
                            peer: Kind::S3s.name().into(),
                            metric: "files per second".into(),
                            ratio: 1.0,
                        },
                        Target::RatioAtLeast {
                            peer: Kind::Weed.name().into(),
                            metric: "files per second".into(),
                            ratio: 2.0,
                        },
                    ]));
            }
            Kind::Weed => {
                f = f.with_note(format!(
                    "{note}; presigned PUT, every object fsynced before the PUT is answered"
                ));
            }
            Kind::Nginx | Kind::S3s => {}
        }
        ctx.push(f);
    }
    for p in peers.into_iter().flatten() {
        let _ = p.stop().await;
    }
    Ok(())
}

/// Uploads `n` small files named under `prefix`, `in_flight` at a time.
async fn batch(
    peer: &Peer,
    http: &reqwest::Client,
    body: &bytes::Bytes,
    n: u64,
    in_flight: usize,
    prefix: String,
) -> rate::Outcome {
    let (http, body) = (http.clone(), body.clone());
    match peer {
        Peer::Cabinet(c) => {
            let api = c.api.clone();
            rate::count(n, in_flight, move |f| {
                let (api, body) = (api.clone(), body.clone());
                let name = format!("small-{prefix}-{f}.bin");
                async move {
                    let (_, url) = api
                        .create(&json!({"name": name, "mimeType": "application/octet-stream"}))
                        .await?;
                    client::put_small(api.client(), &url, body).await
                }
            })
            .await
        }
        Peer::Nginx(ng) => {
            let base = ng.base.clone();
            rate::count(n, in_flight, move |f| {
                let (http, body) = (http.clone(), body.clone());
                let url = format!("{base}/dav/small/{prefix}/{f}.bin");
                async move { client::put_small(&http, &url, body).await }
            })
            .await
        }
        Peer::S3s(s) => {
            let signer = s.presigner.clone();
            rate::count(n, in_flight, move |f| {
                let (http, body) = (http.clone(), body.clone());
                // Signing is part of the S3 client's work per request, as it would be for a real client.
                let url = signer.presign(
                    "PUT",
                    &format!("/{}/small/{prefix}/{f}.bin", s3s::BUCKET),
                    &[],
                    3600,
                );
                async move { client::put_small(&http, &url?, body).await }
            })
            .await
        }
        Peer::Weed(w) => {
            let signer = w.presigner.clone();
            rate::count(n, in_flight, move |f| {
                let (http, body) = (http.clone(), body.clone());
                let url = signer.presign(
                    "PUT",
                    &format!("/{}/small/{prefix}/{f}.bin", seaweedfs::BUCKET),
                    &[],
                    3600,
                );
                async move { client::put_small(&http, &url?, body).await }
            })
            .await
        }
    }
}
