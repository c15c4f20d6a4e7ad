//! Starts the real server in-process on a random loopback port, with a fresh data directory, and talks to
//! it over real HTTP.

use std::io::Write;

use cabinet::app::{Application, Guards, ServeConfig};
use reqwest::{header::HeaderMap, Method, StatusCode};
use serde_json::{json, Value};

pub struct TestApp {
    pub base: String,
    pub project: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub _stop: tokio::sync::oneshot::Sender<()>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

/// Whether `CABINET_TEST_BACKENDS` (e.g. `sqlite+s3`, `postgres+s3-direct`) puts content on S3 (a
/// SeaweedFS on loopback) instead of the data directory. Tests that look at the data directory's
/// content files skip themselves then ([`content_in_data_dir`]).
pub fn content_on_s3() -> bool {
    std::env::var("CABINET_TEST_BACKENDS")
        .map(|b| b.split('+').any(|part| part == "s3" || part == "s3-direct"))
        .unwrap_or(false)
}

/// Whether this run serves content through cabinet's own URLs; with direct transfer (`s3-direct`) the
/// test prints why it does not apply and skips. For tests of what only those URLs do (their shape,
/// signatures and errors, ETags, conditional requests, the transfer guards) and of rules that S3 applies
/// differently to presigned requests (it answers a stale URL's PUT, which cabinet then ignores; it
/// requires 5 MiB parts). Direct transfer has its own tests in direct.rs.
pub fn proxy_transfer_only(test: &str, why: &str) -> bool {
    if direct_transfer() {
        eprintln!("{test}: skipped with direct transfer: {why}");
        return false;
    }
    true
}

/// Whether `CABINET_TEST_BACKENDS` asks for content on S3 with direct transfer (`s3-direct`): upload
/// and download URLs are S3 presigned URLs.
pub fn direct_transfer() -> bool {
    std::env::var("CABINET_TEST_BACKENDS")
        .map(|b| b.split('+').any(|part| part == "s3-direct"))
        .unwrap_or(false)
}

/// Whether `CABINET_TEST_BACKENDS` (e.g. `postgres+s3`) puts metadata in PostgreSQL (a fresh database
/// per test app on a throwaway cluster, tests/common/postgres.rs) instead of the data directory's SQLite.
pub fn metadata_on_postgres() -> bool {
    std::env::var("CABINET_TEST_BACKENDS")
        .map(|b| b.split('+').any(|part| part == "postgres"))
        .unwrap_or(false)
}

/// Whether content is stored under the data directory in this run, for the tests that look at or break
/// its content files directly; on S3 they print why they skip.
pub fn content_in_data_dir(test: &str) -> bool {
    if content_on_s3() {
        eprintln!("{test}: skipped, it inspects content files in the data directory");
        return false;
    }
    true
}

/// The PostgreSQL database of a data directory: made fresh for a new one, the same again for a server
/// started later on the same directory (a restart, or a second node of one deployment).
async fn postgres_database_of(dir: &std::path::Path) -> String {
    static DATABASES: std::sync::Mutex<Vec<(std::path::PathBuf, String)>> =
        std::sync::Mutex::new(Vec::new());
    let known = DATABASES
        .lock()
        .unwrap()
        .iter()
        .find(|(d, _)| d == dir)
        .map(|(_, url)| url.clone());
    if let Some(url) = known {
        return url;
    }
    let url = crate::postgres_server::fresh_database().await;
    DATABASES
        .lock()
        .unwrap()
        .push((dir.to_path_buf(), url.clone()));
    url
}

/// Puts `config`'s metadata and content on the backends `CABINET_TEST_BACKENDS` names: another server on
/// the same data directory gets the same ones (the same database and bucket).
pub async fn use_test_backends(config: &mut ServeConfig) {
    if content_on_s3() {
        config.content = Some(crate::s3_server::SeaweedFs::shared().settings());
    }
    if direct_transfer() {
        config.content_transfer = cabinet::direct::ContentTransfer::Direct;
    }
    if metadata_on_postgres() {
        config.metadata = postgres_database_of(&config.data_dir)
            .await
            .parse()
            .expect("a PostgreSQL URL");
    }
}

pub fn unique_project() -> String {
    format!("t-{}", &uuid_hex()[..12])
}

fn uuid_hex() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:016x}{:016x}",
        t as u64 ^ (std::process::id() as u64) << 32,
        n
    )
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose configuration `adjust` changes first (shorter guards, a smaller disk).
    pub async fn spawn_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        Self::spawn_in(tempfile::tempdir().expect("tempdir"), adjust).await
    }

    /// A server with some guards changed (short timeouts, small caps).
    pub async fn spawn_with_guards(set: impl FnOnce(&mut Guards)) -> Self {
        Self::spawn_with(|c| set(&mut c.guards)).await
    }

    /// A server on the data directory `dir`.
    pub async fn spawn_in(dir: tempfile::TempDir, adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        let mut config = ServeConfig::new("127.0.0.1:0", dir.path());
        use_test_backends(&mut config).await;
        adjust(&mut config);
        let app = Application::build(config).await.expect("server builds");
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            project: unique_project(),
            client: reqwest::Client::new(),
            dir,
            _stop: stop,
        }
    }

    /// The server's root secret: the data directory's, or on PostgreSQL the one kept in the database.
    pub async fn secret(&self) -> cabinet::secret::Secret {
        if metadata_on_postgres() {
            let url = postgres_database_of(self.dir.path()).await;
            let store = cabinet::store::postgres::PgStore::connect(&url, Default::default())
                .await
                .expect("connects");
            return store.shared_secret().await.expect("the shared secret");
        }
        cabinet::secret::Secret::load_or_create(&self.dir.path().join("secret.key")).unwrap()
    }

    /// The project-scoped API URL of `path` (which starts with `/files`).
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1/projects/{}{}", self.base, self.project, path)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth("test-token");
        if let Some(body) = body {
            req = req.json(&body);
        }
        reply(req.send().await.expect("request sent")).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    /// Creates a file and returns the response body (with `uploadUrl`).
    pub async fn create(&self, body: Value) -> Value {
        let r = self.post("/files", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        r.body
    }

    /// Creates a file and uploads `content` through its upload URL; returns the created file.
    pub async fn upload(&self, body: Value, content: &[u8]) -> Value {
        let created = self.create(body).await;
        let status = self
            .put(
                created["uploadUrl"].as_str().expect("uploadUrl"),
                content.to_vec(),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        if direct_transfer() {
            // The PUT went to S3: cabinet learns of it on the next read of the file (or from its
            // reconciler within a second), as a client waiting for `uploaded` (the JS SDK) reads it.
            let r = self.retrieve(json!({"id": created["id"]})).await;
            assert_eq!(r.body["items"][0]["uploaded"], json!(true), "{r:?}");
        }
        created
    }

    pub async fn put(&self, url: &str, content: Vec<u8>) -> StatusCode {
        self.client
            .put(url)
            .body(content)
            .send()
            .await
            .expect("PUT sent")
            .status()
    }

    pub async fn retrieve(&self, ident: Value) -> Reply {
        self.post("/files/byids", json!({ "items": [ident] })).await
    }

    pub async fn download_url(&self, ident: Value) -> String {
        let r = self
            .post("/files/downloadlink", json!({ "items": [ident] }))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        r.body["items"][0]["downloadUrl"]
            .as_str()
            .expect("downloadUrl")
            .to_string()
    }

    pub async fn download(&self, ident: Value) -> Vec<u8> {
        let url = self.download_url(ident).await;
        let resp = self.client.get(url).send().await.expect("GET sent");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.bytes().await.expect("body").to_vec()
    }
}

pub async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// Asserts a CDF error envelope with this status, and returns the error object.
pub fn assert_error(r: &Reply, status: u16) -> Value {
    assert_eq!(r.status.as_u16(), status, "{r:?}");
    assert!(
        r.headers.contains_key("x-request-id"),
        "no x-request-id on {r:?}"
    );
    let error = r.body["error"].clone();
    assert_eq!(error["code"], json!(status), "{r:?}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message in {r:?}"
    );
    error
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// Deterministic pseudo-random content, so mismatches show up anywhere in a file.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
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

impl TestApp {
    /// A server with access control: `toml` is a configuration file (its `[[project]]` entries), and the
    /// app's project is `project`, which the file must configure.
    pub async fn spawn_with_access(project: String, toml: &str) -> Self {
        let access = cabinet::config::ConfigFile::parse(toml)
            .expect("the configuration parses")
            .access()
            .expect("the configuration is valid");
        let mut app = TestApp::spawn_with(|c| c.access = access).await;
        app.project = project;
        app
    }

    /// A request to the project's API with `token` as the bearer.
    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        reply(req.send().await.expect("request sent")).await
    }
}

/// A configuration of the test's project for [`TestApp::spawn_with_access`], built from groups and
/// service tokens: each token is `<subject>-token`, so a test names its principals by token alone.
pub struct AccessConfig {
    project: String,
    toml: String,
}

impl AccessConfig {
    /// An empty configuration of a fresh project.
    pub fn new() -> Self {
        let project = unique_project();
        let toml = format!("[[project]]\nname = \"{project}\"\n");
        Self { project, toml }
    }

    /// A group `name` holding `capabilities`, each as [`capability`] writes it.
    pub fn group(mut self, name: &str, capabilities: &[String]) -> Self {
        self.toml.push_str(&format!(
            "\n[[project.group]]\nname = \"{name}\"\ncapabilities = [{}]\n",
            capabilities.join(", ")
        ));
        self
    }

    /// A service token `<subject>-token` of a principal in `groups` (the file holds only its hash).
    pub fn token(mut self, subject: &str, groups: &[&str]) -> Self {
        let hash = cabinet::auth::token_sha256_hex(&format!("{subject}-token"));
        let groups: Vec<String> = groups.iter().map(|g| format!("\"{g}\"")).collect();
        self.toml.push_str(&format!(
            "\n[[project.service_token]]\nsubject = \"{subject}\"\nsha256 = \"{hash}\"\ngroups = [{}]\n",
            groups.join(", ")
        ));
        self
    }

    /// The server, with this configuration.
    pub async fn spawn(self) -> TestApp {
        TestApp::spawn_with_access(self.project, &self.toml).await
    }
}

/// One capability in TOML: `acl` with `actions` and `scope` (the inside of the scope table, e.g.
/// `all = {}` or `datasetScope = { ids = [7] }`).
pub fn capability(acl: &str, actions: &[&str], scope: &str) -> String {
    let actions: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "{{ {acl} = {{ actions = [{}], scope = {{ {scope} }} }} }}",
        actions.join(", ")
    )
}

impl TestApp {
    /// `POST path` with `body` and `token` as the bearer.
    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> Reply {
        self.call_as(token, Method::POST, path, Some(body)).await
    }

    /// `POST path` of `{"items": items}` (a create), which must answer 201; the created items.
    pub async fn create_items(&self, path: &str, items: Value) -> Vec<Value> {
        let r = self.post(path, json!({ "items": items })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        r.body["items"].as_array().expect("items").clone()
    }
}

impl Reply {
    /// The `externalId`s of the reply's items, in order.
    pub fn external_ids(&self) -> Vec<String> {
        self.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["externalId"].as_str().expect("externalId").to_string())
            .collect()
    }
}
