//! Workload 5: metadata request rates. Durable creates and one-id byids on cabinet, set against nginx
//! serving a 64-byte static file: the most requests per second an HTTP server reaches on this machine
//! with this client. All three go through the lean client ([`crate::lean`]), so the client takes as
//! little of the shared CPU as possible.

use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use hyper::Method;

use super::{rate, Ctx};
use crate::lean::ConnPool;
use crate::peers::{nginx, Kind, Peer};
use crate::results::{Figure, Target, Unit};

/// Section title.
pub const SECTION: &str = "5. Metadata rates";
/// Metric of cabinet's creates.
pub const CREATES: &str = "creates (POST /files, durable)";
/// Metric of cabinet's byids.
pub const BYIDS: &str = "byids (1 id)";
/// Metric of nginx's static file.
pub const STATIC: &str = "static GET (64 B)";

/// cabinet's side: its connections and the path of `/files`.
#[derive(Clone)]
pub(super) struct Api {
    pool: Arc<ConnPool>,
    files: Arc<str>,
}

impl Api {
    /// The lean client's view of a running cabinet.
    pub(super) fn of(c: &crate::peers::cabinet::Cabinet) -> anyhow::Result<Self> {
        Ok(Api {
            pool: Arc::new(ConnPool::new(c.api.base())?),
            files: c.api.files_path().into(),
        })
    }

    pub(super) async fn post(&self, path: &str, body: String) -> anyhow::Result<Bytes> {
        self.pool
            .request(
                Method::POST,
                &format!("{}{path}", self.files),
                Some(Bytes::from(body)),
            )
            .await
    }

    async fn create(&self, body: String) -> anyhow::Result<i64> {
        let v: serde_json::Value = serde_json::from_slice(&self.post("", body).await?)?;
        v["id"].as_i64().context("the create answer has no id")
    }
}

/// Runs the workload and records its figures.
pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (secs, in_flight) = (ctx.profile.rate_secs, ctx.profile.rate_in_flight);
    let dir = ctx.fresh_dir("metadata-cabinet")?;
    let cabinet = Peer::start(ctx, Kind::Cabinet, &dir).await;
    let dir = ctx.fresh_dir("metadata-nginx")?;
    let nginx = Peer::start(ctx, Kind::Nginx, &dir).await;

    let api: Result<Api, String> = match &cabinet {
        Ok(Peer::Cabinet(c)) => ConnPool::new(c.api.base())
            .map(|pool| Api {
                pool: Arc::new(pool),
                files: c.api.files_path().into(),
            })
            .map_err(|e| format!("{e:#}")),
        Ok(_) => Err("not a cabinet".to_string()),
        Err(e) => Err(format!("{e:#}")),
    };
    let statics_pool: Result<Arc<ConnPool>, String> = match &nginx {
        Ok(Peer::Nginx(n)) => ConnPool::new(&n.base)
            .map(Arc::new)
            .map_err(|e| format!("{e:#}")),
        Ok(_) => Err("not nginx".to_string()),
        Err(e) => Err(format!("{e:#}")),
    };
    // Files for byids to read, created (and the connections opened) before anything is measured.
    let ids: Result<Arc<Vec<i64>>, String> = match &api {
        Ok(api) => seed_files(api, in_flight)
            .await
            .map_err(|e| format!("{e:#}")),
        Err(e) => Err(e.clone()),
    };
    let mut creates: Result<Vec<f64>, String> =
        api.as_ref().map(|_| Vec::new()).map_err(|e| e.clone());
    let mut byids: Result<Vec<f64>, String> =
        ids.as_ref().map(|_| Vec::new()).map_err(|e| e.clone());
    let mut statics: Result<Vec<f64>, String> = statics_pool
        .as_ref()
        .map(|_| Vec::new())
        .map_err(|e| e.clone());
    if let Ok(pool) = &statics_pool {
        let _ = rate::for_duration(0.5, in_flight, static_op(pool.clone())).await;
    }

    for run in 0..ctx.profile.runs {
        if let (Ok(api), Ok(_)) = (&api, &creates) {
            let api = api.clone();
            let outcome = rate::for_duration(secs, in_flight, move |i| {
                let api = api.clone();
                async move {
                    let body = format!(
                        r#"{{"name":"note-{run}-{i}.txt","mimeType":"text/plain","directory":"/bench/notes","metadata":{{"kind":"note","run":"{run}"}}}}"#
                    );
                    api.post("", body).await.map(|_| ())
                }
            })
            .await;
            record(&mut creates, outcome.per_sec(), "creates");
        }
        if let (Ok(api), Ok(ids), Ok(_)) = (&api, &ids, &byids) {
            let (api, ids) = (api.clone(), ids.clone());
            let outcome = rate::for_duration(secs, in_flight, move |i| {
                let api = api.clone();
                let id = ids[(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % ids.len() as u64) as usize];
                async move {
                    api.post("/byids", format!(r#"{{"items":[{{"id":{id}}}]}}"#))
                        .await
                        .map(|_| ())
                }
            })
            .await;
            record(&mut byids, outcome.per_sec(), "byids");
        }
        if let (Ok(pool), Ok(_)) = (&statics_pool, &statics) {
            let outcome = rate::for_duration(secs, in_flight, static_op(pool.clone())).await;
            record(&mut statics, outcome.per_sec(), "nginx static");
        }
    }
    let note = format!("{in_flight} in flight, {secs} s per run");
    ctx.push(
        Figure::from_result(SECTION, CREATES, "cabinet", Unit::ReqPerSec, &creates)
            .with_target(Target::AtLeast(10_000.0))
            .with_note(note.clone()),
    );
    ctx.push(
        Figure::from_result(SECTION, BYIDS, "cabinet", Unit::ReqPerSec, &byids)
            .with_target(Target::RatioAtLeast {
                peer: "nginx".into(),
                metric: STATIC.into(),
                ratio: 0.5,
            })
            .with_note(note.clone()),
    );
    ctx.push(
        Figure::from_result(SECTION, STATIC, "nginx", Unit::ReqPerSec, &statics).with_note(note),
    );
    if let Ok(p) = cabinet {
        let _ = p.stop().await;
    }
    if let Ok(p) = nginx {
        let _ = p.stop().await;
    }
    Ok(())
}

/// Appends a rate, or turns the series into the error.
pub(super) fn record(series: &mut Result<Vec<f64>, String>, r: Result<f64, String>, what: &str) {
    match (series.as_mut(), r) {
        (Ok(v), Ok(x)) => {
            crate::log(&format!("  {what}: {x:.0} req/s"));
            v.push(x);
        }
        (Ok(_), Err(e)) => {
            crate::log(&format!("  {what} failed: {e}"));
            *series = Err(e);
        }
        (Err(_), _) => {}
    }
}

type BoxedOp = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>;

fn static_op(pool: Arc<ConnPool>) -> impl Fn(u64) -> BoxedOp + Send + Sync + 'static {
    move |_| {
        let pool = pool.clone();
        Box::pin(async move {
            let body = pool.request(Method::GET, nginx::TINY_PATH, None).await?;
            if body.len() != 64 {
                bail!("the static file came back with {} bytes", body.len());
            }
            Ok(())
        })
    }
}

/// Creates a thousand files and returns their ids.
pub(super) async fn seed_files(api: &Api, in_flight: usize) -> anyhow::Result<Arc<Vec<i64>>> {
    let ids = Arc::new(Mutex::new(Vec::new()));
    let sink = ids.clone();
    let api = api.clone();
    let outcome = rate::count(1000, in_flight, move |i| {
        let (api, sink) = (api.clone(), sink.clone());
        async move {
            let id = api
                .create(format!(
                    r#"{{"name":"seed-{i}.txt","mimeType":"text/plain"}}"#
                ))
                .await?;
            if let Ok(mut v) = sink.lock() {
                v.push(id);
            }
            Ok(())
        }
    })
    .await;
    outcome.per_sec().map_err(anyhow::Error::msg)?;
    let v = ids.lock().map_err(|_| anyhow!("id list poisoned"))?.clone();
    if v.is_empty() {
        bail!("no seed file was created");
    }
    Ok(Arc::new(v))
}
