//! The servers under test: cabinet and its peers, behind one enum so the transfer workloads run the same
//! steps against each.

pub mod cabinet;
pub mod nginx;
pub mod postgres;
pub mod s3s;
pub mod seaweedfs;

use std::path::Path;

use anyhow::{anyhow, Context};

use crate::client;
use crate::proc::ServerProcess;
use crate::workloads::Ctx;

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// cabinet.
    Cabinet,
    /// nginx (WebDAV PUT, static GET).
    Nginx,
    /// s3s-fs (presigned S3 requests).
    S3s,
    /// SeaweedFS with every object fsynced (presigned S3 requests): the durable peer.
    Weed,
}

impl Kind {
    /// The name in tables and charts.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cabinet => "cabinet",
            Kind::Nginx => "nginx",
            Kind::S3s => "s3s-fs",
            Kind::Weed => WEED_NAME,
        }
    }
}

/// The durable peer's name in the tables: SeaweedFS (`weed mini`) with `fs.configure -fsync` on its
/// buckets, so that, like cabinet, it answers a PUT only once the object is on disk.
pub const WEED_NAME: &str = "seaweedfs (fsync)";

/// A running server of any kind.
pub enum Peer {
    /// cabinet.
    Cabinet(cabinet::Cabinet),
    /// nginx.
    Nginx(nginx::Nginx),
    /// s3s-fs.
    S3s(s3s::S3s),
    /// SeaweedFS, fsync on.
    Weed(seaweedfs::SeaweedFs),
}

/// An object stored on a server: a cabinet file id, or a name under the server's upload path.
#[derive(Debug, Clone)]
pub enum Object {
    /// A cabinet file.
    Cabinet(i64),
    /// A name under nginx's `/dav/` or in the s3s-fs bucket.
    Key(String),
}

impl Peer {
    /// Starts a server of `kind` with its data under `dir` (created fresh by the caller).
    pub async fn start(ctx: &Ctx, kind: Kind, dir: &Path) -> anyhow::Result<Peer> {
        match kind {
            Kind::Cabinet => Ok(Peer::Cabinet(
                cabinet::start(&ctx.cabinet_bin, dir, &ctx.client).await?,
            )),
            Kind::Nginx => {
                let inst = ctx
                    .nginx
                    .as_ref()
                    .map_err(|e| anyhow!("nginx unavailable: {e}"))?;
                Ok(Peer::Nginx(nginx::start(inst, dir).await?))
            }
            Kind::S3s => {
                let inst = ctx
                    .s3s
                    .as_ref()
                    .map_err(|e| anyhow!("s3s-fs unavailable: {e}"))?;
                Ok(Peer::S3s(s3s::start(inst, dir, &ctx.client).await?))
            }
            Kind::Weed => {
                let inst = ctx
                    .weed
                    .as_ref()
                    .map_err(|e| anyhow!("SeaweedFS unavailable: {e}"))?;
                Ok(Peer::Weed(seaweedfs::start(inst, dir).await?))
            }
        }
    }

    /// The server's process.
    pub fn proc(&self) -> &ServerProcess {
        match self {
            Peer::Cabinet(c) => &c.proc,
            Peer::Nginx(n) => &n.proc,
            Peer::S3s(s) => &s.proc,
            Peer::Weed(w) => &w.proc,
        }
    }

    /// Stops the server.
    pub async fn stop(self) -> anyhow::Result<()> {
        match self {
            Peer::Cabinet(c) => c.proc.stop().await,
            Peer::Nginx(n) => n.proc.stop().await,
            Peer::S3s(s) => s.proc.stop().await,
            Peer::Weed(w) => w.proc.stop().await,
        }
    }

    /// Where to PUT the content of a new object called `name`: for cabinet this creates the file first
    /// (POST /files) and returns its upload URL.
    pub async fn upload_url(&self, name: &str) -> anyhow::Result<(String, Object)> {
        match self {
            Peer::Cabinet(c) => {
                let (id, url) = c
                    .api
                    .create(
                        &serde_json::json!({"name": name, "mimeType": "application/octet-stream"}),
                    )
                    .await?;
                Ok((url, Object::Cabinet(id)))
            }
            Peer::Nginx(n) => Ok((format!("{}/dav/{name}", n.base), Object::Key(name.into()))),
            Peer::S3s(s) => Ok((s.url("PUT", name, &[])?, Object::Key(name.into()))),
            Peer::Weed(w) => Ok((w.url("PUT", name)?, Object::Key(name.into()))),
        }
    }

    /// Where to GET an object's content: cabinet's signed download URL, nginx's static path, or a
    /// presigned S3 GET.
    pub async fn download_url(&self, obj: &Object) -> anyhow::Result<String> {
        match (self, obj) {
            (Peer::Cabinet(c), Object::Cabinet(id)) => c.api.download_url(*id).await,
            (Peer::Nginx(n), Object::Key(k)) => Ok(format!("{}/dav/{k}", n.base)),
            (Peer::S3s(s), Object::Key(k)) => s.url("GET", k, &[]),
            (Peer::Weed(w), Object::Key(k)) => w.url("GET", k),
            _ => Err(anyhow!("object {obj:?} does not belong to this server")),
        }
    }

    /// Deletes an object, to give its disk space back between runs.
    pub async fn delete(&self, http: &reqwest::Client, obj: &Object) -> anyhow::Result<()> {
        let url = match (self, obj) {
            (Peer::Cabinet(c), Object::Cabinet(id)) => return c.api.delete(&[*id]).await,
            (Peer::Nginx(n), Object::Key(k)) => format!("{}/dav/{k}", n.base),
            (Peer::S3s(s), Object::Key(k)) => s.url("DELETE", k, &[])?,
            (Peer::Weed(w), Object::Key(k)) => w.url("DELETE", k)?,
            _ => return Err(anyhow!("object {obj:?} does not belong to this server")),
        };
        let resp = http
            .delete(&url)
            .send()
            .await
            .with_context(|| format!("DELETE {}", client::short(&url)))?;
        client::ok_or_body(resp, "DELETE", &url).await.map(|_| ())
    }
}
