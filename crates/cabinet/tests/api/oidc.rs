//! OIDC tokens: an identity provider inside the test (RSA and P-256 keys generated at start, a JWKS
//! served on loopback and one in a file), valid tokens with their groups' capabilities, every forgery a
//! 401, key rotation at the IdP, and a failed JWKS fetch that keeps the keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode as AxumStatus;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cabinet::config::ConfigFile;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use reqwest::{Method, StatusCode};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use crate::helpers::{assert_error, reply, Reply, TestApp};

const ISSUER_A: &str = "https://idp-a.example.test/";
const ISSUER_B: &str = "https://idp-b.example.test/";
const AUDIENCE: &str = "cabinet";

/// One signing key of the test IdP: what signs, and its public JWK.
struct TestKey {
    kid: &'static str,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
    /// The public key as PEM (the secret of the HS256 forgery).
    public_pem: String,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_key(kid: &'static str) -> TestKey {
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("rsa key");
    let public = private.to_public_key();
    TestKey {
        kid,
        alg: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_der(private.to_pkcs1_der().expect("der").as_bytes()),
        jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                    "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())}),
        public_pem: public.to_public_key_pem(LineEnding::LF).expect("pem"),
    }
}

fn ec_key(kid: &'static str) -> TestKey {
    let secret = p256::SecretKey::random(&mut rand::thread_rng());
    let point = secret.public_key().to_encoded_point(false);
    TestKey {
        kid,
        alg: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(secret.to_pkcs8_der().expect("der").as_bytes()),
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
                    "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y"))}),
        public_pem: String::new(),
    }
}

/// Keys are generated once per test run (RSA generation takes a moment).
struct Keys {
    rsa1: TestKey,
    rsa2: TestKey,
    ec1: TestKey,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    rsa1: rsa_key("rsa-1"),
    rsa2: rsa_key("rsa-2"),
    ec1: ec_key("ec-1"),
});

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Claims of a valid token of issuer A for `sub` in the IdP groups `groups`.
fn claims(sub: &str, groups: &[&str]) -> Value {
    json!({"iss": ISSUER_A, "aud": [AUDIENCE, "other-api"], "sub": sub, "groups": groups,
           "iat": now(), "nbf": now() - 5, "exp": now() + 300})
}

fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.into());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("signs")
}

/// The JWKS endpoint of the test IdP: what it answers can change while a test runs.
#[derive(Clone)]
struct Jwks {
    body: Arc<Mutex<(u16, Value)>>,
    fetches: Arc<AtomicUsize>,
    url: String,
}

impl Jwks {
    async fn serve(keys: &[&TestKey]) -> Self {
        let body = Arc::new(Mutex::new((200u16, jwks(keys))));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (b, f) = (body.clone(), fetches.clone());
        let router = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (b, f) = (b.clone(), f.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let (status, value) = b.lock().expect("lock").clone();
                    (
                        AxumStatus::from_u16(status).expect("status"),
                        axum::Json(value),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { body, fetches, url }
    }

    fn set(&self, status: u16, keys: &[&TestKey]) {
        *self.body.lock().expect("lock") = (status, jwks(keys));
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
}

/// Two OIDC projects: A with its JWKS at `jwks.url` (groups by IdP group and by `sub`, scopes from
/// `scp`, a service token), B with a JWKS file holding only the EC key.
struct Idp {
    app: TestApp,
    a: String,
    b: String,
    jwks: Jwks,
}

async fn idp(refetch: Duration) -> Idp {
    let jwks = Jwks::serve(&[&KEYS.rsa1, &KEYS.ec1]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("jwks-b.json");
    std::fs::write(&file, jwks_body(&[&KEYS.ec1])).expect("jwks file");
    let a = crate::helpers::unique_project();
    let b = format!("{a}-b");
    let toml = format!(
        r#"
[[project]]
name = "{a}"
oidc = {{ jwks_url = "{url}", issuer = "{ISSUER_A}", audience = "{AUDIENCE}", access_claims = ["groups", "roles"], scope_claims = ["scp"], skew_ms = 0 }}

[[project.group]]
name = "readers"
source_id = "idp-readers"
capabilities = [{{ filesAcl = {{ actions = ["READ"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "editors"
source_id = "idp-editors"
capabilities = [{{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "alice"
members = ["alice"]
capabilities = [{{ filesAcl = {{ actions = ["WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.service_token]]
subject = "ci"
sha256 = "{ci}"
groups = ["editors"]

[[project]]
name = "{b}"
oidc = {{ jwks_file = "{file}", issuer = "{ISSUER_B}", audience = "{AUDIENCE}", access_claims = ["groups"], scope_claims = ["scp"] }}

[[project.group]]
name = "readers"
source_id = "idp-readers"
capabilities = [{{ filesAcl = {{ actions = ["READ"], scope = {{ all = {{}} }} }} }}]
"#,
        url = jwks.url,
        ci = cabinet::auth::token_sha256_hex("ci-token"),
        file = file.display(),
    );
    let access = ConfigFile::parse(&toml)
        .expect("parses")
        .access()
        .expect("valid");
    let app = TestApp::spawn_in(dir, |c| {
        c.access = access;
        c.guards.jwks_refetch_interval = refetch;
        c.guards.jwks_fetch_timeout = Duration::from_secs(2);
    })
    .await;
    Idp { app, a, b, jwks }
}

fn jwks_body(keys: &[&TestKey]) -> String {
    jwks(keys).to_string()
}

impl Idp {
    async fn call(&self, project: &str, token: &str, method: Method, path: &str) -> Reply {
        let url = format!("{}/api/v1/projects/{project}{path}", self.app.base);
        let mut req = self
            .app
            .client
            .request(method.clone(), url)
            .bearer_auth(token);
        if method == Method::POST {
            let body = if path == "/files" {
                json!({"name": "a.txt"})
            } else {
                json!({})
            };
            req = req.json(&body);
        }
        reply(req.send().await.expect("sent")).await
    }

    async fn list(&self, project: &str, token: &str) -> Reply {
        self.call(project, token, Method::POST, "/files/list").await
    }

    async fn create(&self, project: &str, token: &str) -> Reply {
        self.call(project, token, Method::POST, "/files").await
    }

    async fn inspect(&self, token: &str) -> Reply {
        let r = self
            .app
            .client
            .get(format!("{}/api/v1/token/inspect", self.app.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("sent");
        reply(r).await
    }
}

#[tokio::test]
async fn valid_rs256_and_es256_tokens_carry_their_groups_capabilities() {
    let idp = idp(Duration::from_secs(5)).await;
    let reader = sign(&KEYS.rsa1, &claims("bob", &["idp-readers", "unrelated"]));
    assert_eq!(idp.list(&idp.a, &reader).await.status, StatusCode::OK);
    assert_error(&idp.create(&idp.a, &reader).await, 403);

    // The EC key signs too; `roles` is an access claim as well, and `sub` matches `members`.
    let editor = sign(&KEYS.ec1, &{
        let mut c = claims("alice", &[]);
        c["roles"] = json!("idp-editors");
        c
    });
    assert_eq!(idp.list(&idp.a, &editor).await.status, StatusCode::OK);
    let created = idp.create(&idp.a, &editor).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");

    // token/inspect names the JWT's subject, its project and groups.
    let inspected = idp.inspect(&editor).await;
    assert_eq!(inspected.status, StatusCode::OK, "{inspected:?}");
    assert_eq!(inspected.body["subject"], json!("alice"));
    assert_eq!(
        inspected.body["projects"][0]["projectUrlName"],
        json!(idp.a)
    );
    assert_eq!(
        inspected.body["projects"][0]["groups"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // A verified token in no group is authenticated: 403, not 401.
    let nobody = sign(&KEYS.rsa1, &claims("carol", &["idp-strangers"]));
    assert_error(&idp.list(&idp.a, &nobody).await, 403);

    // Project B reads its keys from a file: an ES256 token of its issuer works there.
    let mut b_claims = claims("dave", &["idp-readers"]);
    b_claims["iss"] = json!(ISSUER_B);
    let b_reader = sign(&KEYS.ec1, &b_claims);
    assert_eq!(idp.list(&idp.b, &b_reader).await.status, StatusCode::OK);

    // A service token keeps working next to OIDC.
    assert_eq!(
        idp.create(&idp.a, "ci-token").await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn scopes_filter_capabilities_and_no_scope_claim_filters_nothing() {
    let idp = idp(Duration::from_secs(5)).await;
    let mut view = claims("erin", &["idp-editors"]);
    view["scp"] = json!("https://cluster.cognitedata.com/DATA.VIEW IDENTITY");
    let view = sign(&KEYS.rsa1, &view);
    assert_eq!(idp.list(&idp.a, &view).await.status, StatusCode::OK);
    assert_error(&idp.create(&idp.a, &view).await, 403);

    let mut change = claims("erin", &["idp-editors"]);
    change["scp"] = json!(["DATA.CHANGE"]);
    let change = sign(&KEYS.rsa1, &change);
    assert_error(&idp.list(&idp.a, &change).await, 403);
    assert_eq!(
        idp.create(&idp.a, &change).await.status,
        StatusCode::CREATED
    );

    let unscoped = sign(&KEYS.rsa1, &claims("erin", &["idp-editors"]));
    assert_eq!(idp.list(&idp.a, &unscoped).await.status, StatusCode::OK);
    assert_eq!(
        idp.create(&idp.a, &unscoped).await.status,
        StatusCode::CREATED
    );
}

/// A token whose header and payload are `header` and `claims`, with `signature` (base64url) appended.
fn raw_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

#[tokio::test]
async fn every_forgery_is_a_401_with_the_cdf_envelope() {
    let idp = idp(Duration::from_secs(5)).await;
    let editors = claims("mallory", &["idp-editors"]);
    let valid = sign(&KEYS.rsa1, &editors);
    assert_eq!(idp.list(&idp.a, &valid).await.status, StatusCode::OK);

    let mut forgeries: Vec<(&str, String)> = Vec::new();
    forgeries.push((
        "alg none",
        raw_token(
            &json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"}),
            &editors,
            "",
        ),
    ));
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("rsa-1".into());
    forgeries.push((
        "HS256 keyed with the RSA public key",
        jsonwebtoken::encode(
            &hs,
            &editors,
            &EncodingKey::from_secret(KEYS.rsa1.public_pem.as_bytes()),
        )
        .expect("signs"),
    ));
    let mut hs_jwk = Header::new(Algorithm::HS256);
    hs_jwk.kid = Some("rsa-1".into());
    forgeries.push((
        "HS256 keyed with the JWK's modulus",
        jsonwebtoken::encode(
            &hs_jwk,
            &editors,
            &EncodingKey::from_secret(KEYS.rsa1.jwk["n"].as_str().expect("n").as_bytes()),
        )
        .expect("signs"),
    ));
    let mut expired = editors.clone();
    expired["exp"] = json!(now() - 30);
    forgeries.push(("expired", sign(&KEYS.rsa1, &expired)));
    let mut early = editors.clone();
    early["nbf"] = json!(now() + 60);
    forgeries.push(("not yet valid", sign(&KEYS.rsa1, &early)));
    let mut iss = editors.clone();
    iss["iss"] = json!("https://evil.example.test/");
    forgeries.push(("wrong iss", sign(&KEYS.rsa1, &iss)));
    let mut aud = editors.clone();
    aud["aud"] = json!("someone-else");
    forgeries.push(("wrong aud", sign(&KEYS.rsa1, &aud)));
    let mut no_exp = editors.clone();
    no_exp.as_object_mut().expect("object").remove("exp");
    forgeries.push(("no exp", sign(&KEYS.rsa1, &no_exp)));
    let stranger = rsa_key("rsa-unknown");
    forgeries.push(("unknown kid", sign(&stranger, &editors)));
    let wrong_key = rsa_key("rsa-1");
    forgeries.push((
        "bad signature (another key, known kid)",
        sign(&wrong_key, &editors),
    ));
    let parts: Vec<&str> = valid.split('.').collect();
    let mut tampered = editors.clone();
    tampered["sub"] = json!("alice");
    forgeries.push((
        "tampered payload",
        format!(
            "{}.{}.{}",
            parts[0],
            b64(tampered.to_string().as_bytes()),
            parts[2]
        ),
    ));
    let mut ec_as_rs = Header::new(Algorithm::ES256);
    ec_as_rs.kid = Some("rsa-1".into());
    forgeries.push((
        "ES256 naming the RSA key",
        jsonwebtoken::encode(&ec_as_rs, &editors, &KEYS.ec1.encoding).expect("signs"),
    ));
    forgeries.push(("not a JWT", "abc.def".to_string()));

    for (what, token) in &forgeries {
        let r = idp.list(&idp.a, token).await;
        let error = assert_error(&r, 401);
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("Unauthorized")),
            "{what}: {r:?}"
        );
        assert_error(&idp.inspect(token).await, 401);
    }

    // A valid token of project A is no token of project B (other issuer, other keys).
    assert_error(&idp.list(&idp.b, &valid).await, 401);
    // Issuer B's claims signed with a key only A's JWKS holds: B's file does not know it.
    let mut b_claims = editors.clone();
    b_claims["iss"] = json!(ISSUER_B);
    assert_error(&idp.list(&idp.b, &sign(&KEYS.rsa1, &b_claims)).await, 401);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_a_failed_fetch_keeps_the_keys() {
    let interval = Duration::from_secs(1);
    let idp = idp(interval).await;
    let old = sign(&KEYS.rsa1, &claims("frank", &["idp-readers"]));
    let new = sign(&KEYS.rsa2, &claims("frank", &["idp-readers"]));
    assert_eq!(idp.list(&idp.a, &old).await.status, StatusCode::OK);
    assert_error(&idp.list(&idp.a, &new).await, 401);

    // The IdP rotates a new key in: the first token naming it after the interval refreshes the keys.
    idp.jwks.set(200, &[&KEYS.rsa1, &KEYS.rsa2]);
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
    assert_eq!(idp.list(&idp.a, &new).await.status, StatusCode::OK);

    // The IdP fails: an unknown kid triggers one fetch, which fails, and the known keys stay.
    idp.jwks.set(500, &[]);
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
    let before = idp.jwks.fetches();
    let stranger = sign(&rsa_key("rsa-3"), &claims("frank", &["idp-readers"]));
    for _ in 0..5 {
        assert_error(&idp.list(&idp.a, &stranger).await, 401);
    }
    assert_eq!(
        idp.jwks.fetches(),
        before + 1,
        "unknown kids refetch at most once per interval"
    );
    assert_eq!(idp.list(&idp.a, &old).await.status, StatusCode::OK);
    assert_eq!(idp.list(&idp.a, &new).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unreadable_jwks_file_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.json");
    let access = ConfigFile::parse(&format!(
        "[[project]]\nname = \"plant-a\"\noidc = {{ jwks_file = \"{}\", issuer = \"i\", audience = \"a\" }}\n",
        missing.display()
    ))
    .expect("parses")
    .access()
    .expect("valid");
    let mut config = cabinet::app::ServeConfig::new("127.0.0.1:0", dir.path().join("data"));
    config.access = access;
    let e = cabinet::app::Application::build(config)
        .await
        .err()
        .expect("refused");
    assert!(format!("{e:#}").contains("jwks_file"), "{e:#}");
}

/// Many projects may trust one IdP (a site with a project per plant): they share one key cache (one
/// JWKS fetch at start), and a token verifies once for all projects with the same keys, audience and
/// skew, but a project with another audience still checks its own.
#[tokio::test]
async fn projects_sharing_an_idp_share_its_keys_and_keep_their_own_audience() {
    let jwks = Jwks::serve(&[&KEYS.rsa1]).await;
    let base = crate::helpers::unique_project();
    let names: Vec<String> = (0..4).map(|i| format!("{base}-{i}")).collect();
    let mut toml = String::new();
    for (i, name) in names.iter().enumerate() {
        // The last project expects another audience.
        let audience = if i == 3 { "another-service" } else { AUDIENCE };
        toml.push_str(&format!(
            r#"
[[project]]
name = "{name}"
oidc = {{ jwks_url = "{url}", issuer = "{ISSUER_A}", audience = "{audience}", access_claims = ["groups"] }}

[[project.group]]
name = "readers"
source_id = "idp-readers"
capabilities = [{{ filesAcl = {{ actions = ["READ"], scope = {{ all = {{}} }} }} }}]
"#,
            url = jwks.url,
        ));
    }
    let access = ConfigFile::parse(&toml)
        .expect("parses")
        .access()
        .expect("valid");
    let app = TestApp::spawn_with(|c| c.access = access).await;
    assert_eq!(jwks.fetches(), 1, "one JWKS fetch for four projects");

    let token = sign(&KEYS.rsa1, &claims("bob", &["idp-readers"]));
    for name in &names[..3] {
        let r = reply(
            app.client
                .post(format!("{}/api/v1/projects/{name}/files/list", app.base))
                .bearer_auth(&token)
                .json(&json!({}))
                .send()
                .await
                .expect("sent"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {r:?}");
    }
    let other = reply(
        app.client
            .post(format!(
                "{}/api/v1/projects/{}/files/list",
                app.base, names[3]
            ))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_error(&other, 401);

    let inspected = reply(
        app.client
            .get(format!("{}/api/v1/token/inspect", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    let mut projects: Vec<String> = inspected.body["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .map(|p| p["projectUrlName"].as_str().expect("name").to_string())
        .collect();
    projects.sort();
    assert_eq!(projects, names[..3].to_vec());
}
