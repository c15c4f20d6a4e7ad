//! A lean HTTP/1.1 client for the request-rate workloads: plain hyper connections kept in a small stack,
//! one per request in flight, without reqwest's pool, redirect and decompression layers. Client and
//! servers share two cores here, so every microsecond the client spends per request is taken from the
//! server; this keeps the measured rates about the servers.

use std::sync::Mutex;

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

/// Keep-alive connections to one server (`http://127.0.0.1:PORT`).
pub struct ConnPool {
    addr: String,
    host: String,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl ConnPool {
    /// Connections to the server at `base` (`http://host:port`, no path).
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let host = base
            .strip_prefix("http://")
            .with_context(|| format!("not an http:// base URL: {base}"))?
            .trim_end_matches('/')
            .to_string();
        Ok(Self {
            addr: host.clone(),
            host,
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let tcp = tokio::net::TcpStream::connect(&self.addr)
            .await
            .with_context(|| format!("cannot connect to {}", self.addr))?;
        tcp.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(send)
    }

    /// Sends one request and returns the whole answer body; fails unless the status is 2xx.
    /// `body` is sent as JSON when given.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<Bytes> {
        let reused = self
            .idle
            .lock()
            .map_err(|_| anyhow!("connection pool poisoned"))?
            .pop();
        let mut send = match reused {
            Some(mut s) => match s.ready().await {
                Ok(()) => s,
                Err(_) => self.connect().await?,
            },
            None => self.connect().await?,
        };
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::AUTHORIZATION, "Bearer bench");
        if body.is_some() {
            req = req.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(body.unwrap_or_default()))?;
        let resp = send
            .send_request(req)
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .with_context(|| format!("reading {method} {path}"))?
            .to_bytes();
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(send);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            bail!(
                "{method} {path} answered {status}: {}",
                crate::client::truncate(&text, 300)
            );
        }
        Ok(bytes)
    }
}
