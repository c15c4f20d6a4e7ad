//! The crash test: a mixed workload (creates, overwrites, single and multipart uploads, updates, deletes)
//! against the real binary, SIGKILLed at random moments and restarted on the same data directory. A
//! client records every acknowledged write; after each restart every file must be in a state that the
//! acknowledged writes (plus the one write per worker that was in flight at the kill) allow, no content
//! may be partial or mixed, and once the collector's grace period has passed nothing may be orphaned.
//!
//! `CABINET_CRASH_ROUNDS` (default 10) sets the number of kills; `CABINET_CRASH_SEED` replays a run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;
use common::server::{Server, PROJECT};

const WORKERS: usize = 4;
const FILES_PER_WORKER: usize = 6;
const MIB: usize = 1 << 20;

/// The server, with a collector that runs every second and a one-second grace period.
async fn start(root: &std::path::Path) -> Server {
    let args = ["--orphan-grace-secs", "1", "--janitor-interval-secs", "1"];
    Server::start_with(root, &args, None).await
}

// ---------------------------------------------------------------------------------------------------------
// What a file may be
// ---------------------------------------------------------------------------------------------------------

/// The part of a file's state the workload changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct State {
    exists: bool,
    /// The seed of the content (see [`content_of`]), `None` without content.
    content: Option<u64>,
    /// metadata `v`, `None` without metadata.
    meta: Option<u64>,
}

/// A write whose outcome is unknown: it was in flight when the server died.
#[derive(Debug, Clone)]
enum Pending {
    /// Create (overwrite) then upload content `seed`, whole or in parts.
    Upload {
        seed: u64,
    },
    Update {
        v: u64,
    },
    Delete,
}

impl Pending {
    /// Every state the file may be in if `acked` was its state before this write began.
    fn outcomes(&self, acked: &State) -> Vec<State> {
        // Overwriting keeps content and metadata; creating anew has neither.
        let created = if acked.exists {
            acked.clone()
        } else {
            State {
                exists: true,
                content: None,
                meta: None,
            }
        };
        match self {
            Pending::Upload { seed } => vec![
                created.clone(),
                State {
                    content: Some(*seed),
                    ..created
                },
            ],
            Pending::Update { v } => vec![State {
                meta: Some(*v),
                ..acked.clone()
            }],
            Pending::Delete => vec![State::default()],
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Model {
    acked: State,
    pending: Option<Pending>,
}

/// Deterministic content: whole uploads up to 400 kB, multipart ones 5 MiB and a bit.
fn content_of(seed: u64) -> Vec<u8> {
    let len = if seed % 2 == 1 {
        5 * MIB + (seed % 100_000) as usize
    } else {
        1 + (seed % 400_000) as usize
    };
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---------------------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------------------

/// A request that reached no answer: the server died under it.
#[derive(Debug)]
struct Interrupted;

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/projects/{PROJECT}{path}", self.base)
    }

    async fn post(&self, path: &str, body: Value) -> Result<(StatusCode, Value), Interrupted> {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth("crash-test")
            .json(&body)
            .send()
            .await
            .map_err(|_| Interrupted)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|_| Interrupted)?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn put(&self, url: &str, body: Vec<u8>) -> Result<StatusCode, Interrupted> {
        let resp = self
            .http
            .put(url)
            .body(body)
            .send()
            .await
            .map_err(|_| Interrupted)?;
        let status = resp.status();
        resp.bytes().await.map_err(|_| Interrupted)?;
        Ok(status)
    }

    /// Fails the test on any answer but `want`; a missing answer is [`Interrupted`].
    async fn expect(
        &self,
        path: &str,
        body: Value,
        want: StatusCode,
    ) -> Result<Value, Interrupted> {
        let (status, reply) = self.post(path, body).await?;
        assert_eq!(status, want, "POST {path}: {reply}");
        Ok(reply)
    }

    async fn upload_whole(&self, xid: &str, seed: u64) -> Result<(), Interrupted> {
        let created = self
            .expect(
                "/files?overwrite=true",
                json!({"name": format!("{xid}.bin"), "externalId": xid}),
                StatusCode::CREATED,
            )
            .await?;
        let status = self
            .put(created["uploadUrl"].as_str().unwrap(), content_of(seed))
            .await?;
        assert_eq!(status, StatusCode::OK, "PUT of {xid}");
        Ok(())
    }

    async fn upload_parts(
        &self,
        xid: &str,
        seed: u64,
        issued: &mut Vec<String>,
    ) -> Result<(), Interrupted> {
        let init = self
            .expect(
                "/files/initmultipartupload?overwrite=true&parts=2",
                json!({"name": format!("{xid}.bin"), "externalId": xid}),
                StatusCode::CREATED,
            )
            .await?;
        let upload_id = init["uploadId"].as_str().unwrap().to_string();
        issued.push(upload_id.clone());
        let data = content_of(seed);
        let (first, second) = data.split_at(5 * MIB);
        for (i, part) in [first, second].into_iter().enumerate() {
            let url = init["uploadUrls"][i].as_str().unwrap();
            let status = self.put(url, part.to_vec()).await?;
            assert_eq!(status, StatusCode::OK, "part {i} of {xid}");
        }
        self.expect(
            "/files/completemultipartupload",
            json!({"externalId": xid, "uploadId": upload_id}),
            StatusCode::OK,
        )
        .await?;
        issued.retain(|u| u != &upload_id);
        Ok(())
    }
}

/// One worker's files and what it knows of them.
struct Worker {
    xids: Vec<String>,
    models: Vec<Model>,
    /// Multipart upload ids handed out and never completed: their parts may legitimately stay.
    open_uploads: Vec<String>,
    rng: Rng,
    next_seed: u64,
    acked_writes: usize,
}

impl Worker {
    /// Runs writes until one is interrupted (the server died) or `stop` is set.
    async fn run(mut self, client: Arc<Client>, stop: Arc<AtomicBool>) -> Self {
        while !stop.load(Ordering::SeqCst) {
            let i = self.rng.below(self.xids.len() as u64) as usize;
            let xid = self.xids[i].clone();
            let acked = self.models[i].acked.clone();
            let roll = self.rng.below(100);
            let op = match roll {
                _ if !acked.exists => Pending::Upload {
                    seed: self.seed(roll < 12),
                },
                0..=44 => Pending::Upload {
                    seed: self.seed(false),
                },
                45..=54 => Pending::Upload {
                    seed: self.seed(true),
                },
                55..=79 => Pending::Update {
                    v: self.rng.below(1 << 40),
                },
                _ => Pending::Delete,
            };
            self.models[i].pending = Some(op.clone());
            let done = match &op {
                Pending::Upload { seed } if seed % 2 == 1 => {
                    client.upload_parts(&xid, *seed, &mut self.open_uploads).await
                }
                Pending::Upload { seed } => client.upload_whole(&xid, *seed).await,
                Pending::Update { v } => client
                    .expect(
                        "/files/update",
                        json!({"items": [{"externalId": xid, "update": {"metadata": {"set": {"v": v.to_string()}}}}]}),
                        StatusCode::OK,
                    )
                    .await
                    .map(|_| ()),
                Pending::Delete => client
                    .expect("/files/delete", json!({"items": [{"externalId": xid}]}), StatusCode::OK)
                    .await
                    .map(|_| ()),
            };
            if done.is_err() {
                return self;
            }
            let model = &mut self.models[i];
            model.acked = op.outcomes(&acked).pop().unwrap();
            model.pending = None;
            self.acked_writes += 1;
        }
        self
    }

    /// A fresh content seed: odd seeds are multipart uploads.
    fn seed(&mut self, multipart: bool) -> u64 {
        self.next_seed += 2;
        self.next_seed + u64::from(multipart)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Checking after a restart
// ---------------------------------------------------------------------------------------------------------

/// Reads every file of the workers back and checks it against what the acknowledged writes allow; then
/// takes what it found as the new acknowledged state. Returns the ETags of all stored content.
async fn verify(client: &Client, workers: &mut [Worker]) -> HashSet<String> {
    let mut etags = HashSet::new();
    for w in workers.iter_mut() {
        let items: Vec<Value> = w.xids.iter().map(|x| json!({"externalId": x})).collect();
        let (status, body) = client
            .post(
                "/files/byids",
                json!({"items": items, "ignoreUnknownIds": true}),
            )
            .await
            .expect("the restarted server answers");
        assert_eq!(status, StatusCode::OK, "{body}");
        let found: HashMap<String, Value> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["externalId"].as_str().unwrap().to_string(), f.clone()))
            .collect();
        for (xid, model) in w.xids.iter().zip(w.models.iter_mut()) {
            let mut allowed = vec![model.acked.clone()];
            if let Some(p) = &model.pending {
                allowed.extend(p.outcomes(&model.acked));
            }
            let observed = match found.get(xid) {
                None => State::default(),
                Some(file) => {
                    let meta = file["metadata"]["v"].as_str().map(|v| v.parse().unwrap());
                    let content = if file["uploaded"] == json!(true) {
                        let (bytes, etag) = download(client, xid).await;
                        etags.insert(etag);
                        let seeds: Vec<u64> = allowed.iter().filter_map(|s| s.content).collect();
                        let seed = seeds.iter().copied().find(|s| content_of(*s) == bytes);
                        assert!(
                            seed.is_some(),
                            "{xid}: content of {} bytes is none of the allowed versions {seeds:?}: partial or mixed",
                            bytes.len()
                        );
                        seed
                    } else {
                        None
                    };
                    State {
                        exists: true,
                        content,
                        meta,
                    }
                }
            };
            assert!(
                allowed.contains(&observed),
                "{xid}: found {observed:?}, but the acknowledged writes allow only {allowed:?}"
            );
            model.acked = observed;
            model.pending = None;
        }
    }
    etags
}

async fn download(client: &Client, xid: &str) -> (Vec<u8>, String) {
    let (status, body) = client
        .post(
            "/files/downloadlink",
            json!({"items": [{"externalId": xid}]}),
        )
        .await
        .expect("downloadlink answers");
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["items"][0]["downloadUrl"].as_str().unwrap();
    let resp = client.http.get(url).send().await.expect("download");
    assert_eq!(resp.status(), StatusCode::OK);
    let etag = resp.headers()["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_string();
    (resp.bytes().await.unwrap().to_vec(), etag)
}

fn dir_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn no_acknowledged_write_is_lost_and_nothing_is_left_behind_across_sigkills() {
    let rounds: usize = std::env::var("CABINET_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("CABINET_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test: {rounds} rounds, CABINET_CRASH_SEED={seed}");
    let root = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let mut workers: Vec<Worker> = (0..WORKERS)
        .map(|w| Worker {
            xids: (0..FILES_PER_WORKER)
                .map(|i| format!("w{w}-f{i}"))
                .collect(),
            models: vec![Model::default(); FILES_PER_WORKER],
            open_uploads: vec![],
            rng: Rng(seed.wrapping_mul(w as u64 + 7) | 1),
            next_seed: (w as u64) << 40,
            acked_writes: 0,
        })
        .collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let mut server = start(root.path()).await;
    for round in 0..rounds {
        let client = Arc::new(Client {
            http: http.clone(),
            base: server.base.clone(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let running: Vec<_> = workers
            .drain(..)
            .map(|w| tokio::spawn(w.run(client.clone(), stop.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(300 + rng.below(1200))).await;
        server.kill().await;
        stop.store(true, Ordering::SeqCst);
        for task in running {
            workers.push(task.await.unwrap_or_else(|e| {
                panic!(
                    "a worker failed in round {round}: {e}; the server's log:\n{}",
                    server.logs()
                )
            }));
        }
        server = start(root.path()).await;
        let client = Client {
            http: http.clone(),
            base: server.base.clone(),
        };
        verify(&client, &mut workers).await;
    }

    // Past the grace period the collector has run: every stored object is some file's content, and every
    // stored part belongs to an upload that never completed.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let client = Client {
        http: http.clone(),
        base: server.base.clone(),
    };
    let etags = verify(&client, &mut workers).await;
    let data = root.path().join("data");
    // Content files and packed small objects alike, by the last segment of their key (the ETag).
    let mut stored: Vec<String> = common::stored::stored_objects(&data)
        .into_iter()
        .map(|key| key.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    stored.sort();
    let mut expected: Vec<String> = etags.into_iter().collect();
    expected.sort();
    assert_eq!(
        stored, expected,
        "stored objects are exactly the files' content"
    );
    let open: HashSet<&String> = workers.iter().flat_map(|w| w.open_uploads.iter()).collect();
    for upload in dir_names(&data.join("parts")) {
        assert!(
            open.contains(&upload),
            "parts of upload {upload}, which completed or never existed, are left"
        );
    }
    assert!(
        dir_names(&data.join("staging")).is_empty(),
        "staging is empty"
    );
    let acked: usize = workers.iter().map(|w| w.acked_writes).sum();
    eprintln!("crash test: {rounds} SIGKILLs, {acked} acknowledged writes checked");
    assert!(
        acked >= rounds,
        "the workload made progress ({acked} acknowledged writes)"
    );
}
