//! The IAM endpoints: groups, security categories and the project, with their capability checks; groups
//! created through the API granting access like configured ones, and surviving a restart.

use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, unique_project, Reply, TestApp};

const FORBIDDEN: &str = "Resource not found. This may also be due to insufficient access rights.";

/// The test identity provider's signing key (P-256, generated at run time) and its public JWK; the
/// project reads it from a JWKS file, so no network is needed.
struct IdpKey {
    encoding: EncodingKey,
    jwk: Value,
}

static IDP_KEY: LazyLock<IdpKey> = LazyLock::new(|| {
    let secret = p256::SecretKey::random(&mut rand::thread_rng());
    let point = secret.public_key().to_encoded_point(false);
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    IdpKey {
        encoding: EncodingKey::from_ec_der(secret.to_pkcs8_der().expect("der").as_bytes()),
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
                    "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y"))}),
    }
});

/// A valid token of the project's identity provider for `sub`, in the IdP groups `groups`, issued to the
/// application `azp`.
fn jwt(sub: &str, groups: &[&str], azp: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = json!({"iss": "https://idp.example.com/", "aud": "cabinet", "sub": sub, "groups": groups,
                        "azp": azp, "iat": now, "exp": now + 300});
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, &claims, &IDP_KEY.encoding).expect("signs")
}

/// The configuration of `project` (with an identity provider whose keys are in `jwks`) and of a second
/// project `other`. Tokens of `project`: `admin-token` (every IAM capability, files READ and WRITE),
/// `lister-token` (groupsAcl:LIST scoped to its own groups, securityCategoriesAcl:DELETE on category
/// ids 1 and 2), `files-token` (filesAcl:READ only) and `newbie-token` (in no configured group).
/// `other-token` belongs to `other` only.
fn config(project: &str, other: &str, jwks: &std::path::Path) -> String {
    let hash = cabinet::auth::token_sha256_hex;
    format!(
        r#"
[[project]]
name = "{project}"
oidc = {{ jwks_file = "{jwks}", issuer = "https://idp.example.com/", audience = "cabinet", access_claims = ["groups"], scope_claims = ["scp"], skew_ms = 1500 }}

[[project.group]]
name = "admins"
capabilities = [
  {{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }},
  {{ groupsAcl = {{ actions = ["LIST", "CREATE", "DELETE"], scope = {{ all = {{}} }} }} }},
  {{ securityCategoriesAcl = {{ actions = ["LIST", "CREATE", "DELETE"], scope = {{ all = {{}} }} }} }},
  {{ projectsAcl = {{ actions = ["READ"], scope = {{ all = {{}} }} }} }},
]

[[project.group]]
name = "listers"
members = ["lister"]
capabilities = [
  {{ groupsAcl = {{ actions = ["LIST"], scope = {{ currentuserscope = {{}} }} }} }},
  {{ securityCategoriesAcl = {{ actions = ["DELETE"], scope = {{ idscope = {{ ids = ["1", 2] }} }} }} }},
]

[[project.group]]
name = "readers"
capabilities = [{{ filesAcl = {{ actions = ["READ"], scope = {{ all = {{}} }} }} }}]

[[project.service_token]]
subject = "admin"
sha256 = "{}"
groups = ["admins"]

[[project.service_token]]
subject = "lister"
sha256 = "{}"

[[project.service_token]]
subject = "files"
sha256 = "{}"
groups = ["readers"]

[[project.service_token]]
subject = "newbie"
sha256 = "{}"

[[project]]
name = "{other}"

[[project.group]]
name = "admins"
capabilities = [{{ groupsAcl = {{ actions = ["LIST", "CREATE", "DELETE"], scope = {{ all = {{}} }} }} }}]

[[project.service_token]]
subject = "other"
sha256 = "{}"
groups = ["admins"]
"#,
        hash("admin-token"),
        hash("lister-token"),
        hash("files-token"),
        hash("newbie-token"),
        hash("other-token"),
        jwks = jwks.display(),
    )
}

/// A configured server on the data directory `dir`.
async fn spawn_in(dir: tempfile::TempDir, project: &str) -> TestApp {
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [IDP_KEY.jwk.clone()]}).to_string())
        .expect("jwks written");
    let access = cabinet::config::ConfigFile::parse(&config(project, "other-project", &jwks))
        .expect("parses")
        .access()
        .expect("valid");
    let mut app = TestApp::spawn_in(dir, |c| c.access = access).await;
    app.project = project.to_string();
    app
}

async fn configured() -> TestApp {
    spawn_in(tempfile::tempdir().expect("tempdir"), &unique_project()).await
}

impl TestApp {
    async fn as_admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as("admin-token", method, path, body).await
    }

    async fn create_group(&self, spec: Value) -> Value {
        let r = self
            .as_admin(Method::POST, "/groups", Some(json!({ "items": [spec] })))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        r.body["items"][0].clone()
    }
}

fn names(r: &Reply) -> Vec<String> {
    r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|g| g["name"].as_str().expect("name").to_string())
        .collect()
}

#[tokio::test]
async fn unknown_tokens_and_other_projects_are_401_and_missing_capabilities_403() {
    let app = configured().await;
    let routes = [
        (Method::GET, "/groups?all=true", None),
        (
            Method::POST,
            "/groups",
            Some(json!({"items": [{"name": "g"}]})),
        ),
        (Method::POST, "/groups/delete", Some(json!({"items": [1]}))),
        (Method::GET, "/securitycategories", None),
        (
            Method::POST,
            "/securitycategories",
            Some(json!({"items": [{"name": "c"}]})),
        ),
        (
            Method::POST,
            "/securitycategories/delete",
            Some(json!({"items": [1]})),
        ),
        (Method::GET, "", None),
    ];
    for (method, path, body) in routes {
        for token in ["guess", "other-token"] {
            let r = app.call_as(token, method.clone(), path, body.clone()).await;
            assert_error(&r, 401);
        }
        // files-token holds filesAcl only: known, so 403 (not 401), with CDF's text.
        let r = app
            .call_as("files-token", method.clone(), path, body.clone())
            .await;
        let error = assert_error(&r, 403);
        assert_eq!(error["message"], json!(FORBIDDEN), "{method} {path}");
    }
    // The IAM routes no longer need filesAcl: the admin reaches them all.
    let r = app.as_admin(Method::GET, "", None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

#[tokio::test]
async fn groups_list_own_or_all_and_created_groups_echo_cdf_shapes() {
    let app = configured().await;
    let all = app.as_admin(Method::GET, "/groups?all=true", None).await;
    assert_eq!(all.status, StatusCode::OK, "{all:?}");
    assert_eq!(names(&all), ["admins", "listers", "readers"]);
    let listers = &all.body["items"][1];
    assert_eq!(listers["sourceId"], json!(""));
    assert_eq!(listers["members"], json!(["lister"]));
    assert_eq!(listers["isDeleted"], json!(false));
    assert_eq!(
        listers["capabilities"][1]["securityCategoriesAcl"]["scope"],
        json!({"idscope": {"ids": [1, 2]}}),
        "ids as numbers"
    );

    // LIST scoped to the caller's groups: its own groups only, and never all=true.
    let own = app
        .call_as("lister-token", Method::GET, "/groups?all=false", None)
        .await;
    assert_eq!(names(&own), ["listers"]);
    let own_default = app
        .call_as("lister-token", Method::GET, "/groups", None)
        .await;
    assert_eq!(names(&own_default), ["listers"]);
    let refused = app
        .call_as("lister-token", Method::GET, "/groups?all=true", None)
        .await;
    assert_error(&refused, 403);

    let created = app
        .create_group(json!({
            "name": "idp-writers",
            "sourceId": "b7c9a5a4",
            "capabilities": [
                {"filesAcl": {"actions": ["READ", "WRITE"], "scope": {"datasetScope": {"ids": ["4503599627370496"]}}}},
                {"securityCategoriesAcl": {"actions": ["MEMBEROF"], "scope": {"idScope": {"ids": [7398]}}}},
                {"datasetsAcl": {"actions": ["READ"], "scope": {"idscope": {"ids": [1]}}}},
                {"timeSeriesAcl": {"actions": ["READ"], "scope": {"assetRootIdScope": {"rootIds": [5]}}}}
            ],
            "metadata": {"origin": "test"},
            "attributes": {"token": {"appIds": ["app-1"]}}
        }))
        .await;
    let id = created["id"].as_i64().expect("id");
    assert!(id > 1 << 48 && id < 1 << 53, "{id}");
    assert_eq!(created["name"], json!("idp-writers"));
    assert_eq!(created["sourceId"], json!("b7c9a5a4"));
    assert!(created.get("members").is_none(), "{created}");
    assert_eq!(created["isDeleted"], json!(false));
    assert_eq!(created["metadata"], json!({"origin": "test"}));
    assert_eq!(
        created["attributes"],
        json!({"token": {"appIds": ["app-1"]}})
    );
    assert_eq!(
        created["capabilities"],
        json!([
            {"filesAcl": {"actions": ["READ", "WRITE"], "scope": {"datasetScope": {"ids": [4503599627370496_i64]}}}},
            {"securityCategoriesAcl": {"actions": ["MEMBEROF"], "scope": {"idscope": {"ids": [7398]}}}},
            {"datasetsAcl": {"actions": ["READ"], "scope": {"idScope": {"ids": [1]}}}},
            {"timeSeriesAcl": {"actions": ["READ"], "scope": {"assetRootIdScope": {"rootIds": [5]}}}}
        ])
    );
    let members = app
        .create_group(json!({"name": "everyone", "members": "allUserAccounts"}))
        .await;
    assert_eq!(members["sourceId"], json!(""));
    assert_eq!(members["members"], json!("allUserAccounts"));

    let all = app.as_admin(Method::GET, "/groups?all=true", None).await;
    assert_eq!(
        names(&all),
        ["admins", "listers", "readers", "idp-writers", "everyone"]
    );
    assert_eq!(all.body["items"][3], created);
    // Other projects see none of them.
    let other = app
        .client
        .get(format!(
            "{}/api/v1/projects/other-project/groups?all=true",
            app.base
        ))
        .bearer_auth("other-token")
        .send()
        .await
        .expect("sent");
    let other = crate::helpers::reply(other).await;
    assert_eq!(names(&other), ["admins"]);
}

#[tokio::test]
async fn invalid_group_specs_are_400_and_create_nothing() {
    let app = configured().await;
    let long = "x".repeat(256);
    let too_many: serde_json::Map<String, Value> =
        (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (spec, needle) in [
        (json!({"sourceId": "s"}), "name is required"),
        (json!({"name": long}), "name is required"),
        (
            json!({"name": "g", "sourceId": "s", "members": ["a"]}),
            "mutually exclusive",
        ),
        (
            json!({"name": "g", "metadata": too_many}),
            "at most 16 pairs",
        ),
        (
            json!({"name": "g", "metadata": {"k": "v".repeat(513)}}),
            "at most 512 bytes",
        ),
        (
            json!({"name": "g", "capabilities": [{"filesAcl": {"actions": ["LIST"], "scope": {"all": {}}}}]}),
            "unknown action `LIST`",
        ),
        (
            json!({"name": "g", "capabilities": [{"filesAcl": {"actions": ["READ"], "scope": {"datasetScope": {"ids": []}}}}]}),
            "at least one id",
        ),
        (
            json!({"name": "g", "capabilities": [{"securityCategoriesAcl": {"actions": ["READ"], "scope": {"all": {}}}}]}),
            "unknown action `READ`",
        ),
        (
            json!({"name": "g", "capabilities": [{"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}, "groupsAcl": {}}]}),
            "exactly one ACL",
        ),
        (json!({"name": "g", "members": [1]}), "principal id"),
    ] {
        // A valid group first in the same request: it must not be stored either.
        let r = app
            .as_admin(
                Method::POST,
                "/groups",
                Some(json!({ "items": [{"name": "fine"}, spec.clone()] })),
            )
            .await;
        let error = assert_error(&r, 400);
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{spec}: {message}");
        assert!(message.contains("items[1]"), "{spec}: {message}");
    }
    let empty = app
        .as_admin(Method::POST, "/groups", Some(json!({ "items": [] })))
        .await;
    assert_error(&empty, 400);
    let all = app.as_admin(Method::GET, "/groups?all=true", None).await;
    assert_eq!(names(&all), ["admins", "listers", "readers"]);
}

#[tokio::test]
async fn a_created_group_grants_and_its_deletion_revokes_at_once() {
    let app = configured().await;
    // newbie is in no group: not a principal of the project.
    assert_error(
        &app.call_as("newbie-token", Method::GET, "/files", None)
            .await,
        401,
    );
    let group = app
        .create_group(json!({
            "name": "newcomers",
            "members": ["newbie"],
            "capabilities": [{"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}}]
        }))
        .await;
    let r = app
        .call_as("newbie-token", Method::GET, "/files", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_error(
        &app.call_as(
            "newbie-token",
            Method::POST,
            "/files",
            Some(json!({"name": "a"})),
        )
        .await,
        403,
    );
    // token/inspect names the new group.
    let inspect = crate::helpers::reply(
        app.client
            .get(format!("{}/api/v1/token/inspect", app.base))
            .bearer_auth("newbie-token")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(inspect.body["projects"][0]["groups"], json!([group["id"]]));

    // allUserAccounts: every principal of the project, here files-token gains WRITE.
    assert_error(
        &app.call_as(
            "files-token",
            Method::POST,
            "/files",
            Some(json!({"name": "a"})),
        )
        .await,
        403,
    );
    let everyone = app
        .create_group(json!({
            "name": "everyone-writes",
            "members": "allUserAccounts",
            "capabilities": [{"filesAcl": {"actions": ["WRITE"], "scope": {"all": {}}}}]
        }))
        .await;
    let r = app
        .call_as(
            "files-token",
            Method::POST,
            "/files",
            Some(json!({"name": "a"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");

    // A group restricted to applications never holds a service token.
    let _app_only = app
        .create_group(json!({
            "name": "app-only",
            "members": ["newbie"],
            "attributes": {"token": {"appIds": ["some-app"]}},
            "capabilities": [{"filesAcl": {"actions": ["WRITE"], "scope": {"all": {}}}}]
        }))
        .await;
    let r = app
        .call_as("newbie-token", Method::GET, "/groups", None)
        .await;
    assert_error(&r, 403);

    let r = app
        .as_admin(
            Method::POST,
            "/groups/delete",
            Some(json!({"items": [group["id"], everyone["id"]]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body, json!({}));
    // Revoked on this node at once: no wait for the snapshot to age.
    assert_error(
        &app.call_as("newbie-token", Method::GET, "/files", None)
            .await,
        401,
    );
    assert_error(
        &app.call_as(
            "files-token",
            Method::POST,
            "/files",
            Some(json!({"name": "b"})),
        )
        .await,
        403,
    );
}

#[tokio::test]
async fn created_groups_hold_oidc_tokens_by_source_id_and_application() {
    let app = configured().await;
    let alice = jwt("alice", &["idp-readers"], "app-2");
    // Verified, but in no group: authenticated, so 403.
    assert_error(&app.call_as(&alice, Method::GET, "/files", None).await, 403);
    let readers = app
        .create_group(json!({
            "name": "idp-readers",
            "sourceId": "idp-readers",
            "capabilities": [{"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}}]
        }))
        .await;
    let r = app.call_as(&alice, Method::GET, "/files", None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let bob = jwt("bob", &["someone-else"], "app-2");
    assert_error(&app.call_as(&bob, Method::GET, "/files", None).await, 403);

    // Every account, but only tokens issued to app-1.
    app.create_group(json!({
        "name": "app-1-writers",
        "members": "allUserAccounts",
        "attributes": {"token": {"appIds": ["app-1"]}},
        "capabilities": [{"filesAcl": {"actions": ["WRITE"], "scope": {"all": {}}}}]
    }))
    .await;
    let file = Some(json!({"name": "a.txt"}));
    assert_error(
        &app.call_as(&alice, Method::POST, "/files", file.clone())
            .await,
        403,
    );
    let alice_app_1 = jwt("alice", &["idp-readers"], "app-1");
    let r = app
        .call_as(&alice_app_1, Method::POST, "/files", file)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");

    let r = app
        .as_admin(
            Method::POST,
            "/groups/delete",
            Some(json!({"items": [readers["id"]]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_error(&app.call_as(&alice, Method::GET, "/files", None).await, 403);
}

#[tokio::test]
async fn configured_groups_cannot_be_deleted_and_unknown_ids_are_missing() {
    let app = configured().await;
    let all = app.as_admin(Method::GET, "/groups?all=true", None).await;
    let configured_id = all.body["items"][0]["id"].clone();
    let created = app.create_group(json!({"name": "mine"})).await;
    let r = app
        .as_admin(
            Method::POST,
            "/groups/delete",
            Some(json!({"items": [created["id"], configured_id]})),
        )
        .await;
    let error = assert_error(&r, 400);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("configuration file") && m.contains("admins")),
        "{error}"
    );
    let unknown = (1_i64 << 52) + 5;
    let r = app
        .as_admin(
            Method::POST,
            "/groups/delete",
            Some(json!({"items": [created["id"], unknown]})),
        )
        .await;
    let error = assert_error(&r, 400);
    assert_eq!(error["missing"], json!([{"id": unknown}]));
    // Neither request deleted anything.
    let all = app.as_admin(Method::GET, "/groups?all=true", None).await;
    assert_eq!(names(&all), ["admins", "listers", "readers", "mine"]);
}

#[tokio::test]
async fn security_categories_create_list_page_and_delete() {
    let app = configured().await;
    let r = app
        .as_admin(
            Method::POST,
            "/securitycategories",
            Some(json!({"items": [{"name": "a"}, {"name": "b"}, {"name": "a"}, {"name": "c"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let made = r.body["items"].as_array().expect("items").clone();
    assert_eq!(made.len(), 3, "the repeated name is created once: {made:?}");
    let ids: Vec<i64> = made.iter().map(|c| c["id"].as_i64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    // An existing name: 409 naming it, and the new name in the same request is not created.
    let r = app
        .as_admin(
            Method::POST,
            "/securitycategories",
            Some(json!({"items": [{"name": "d"}, {"name": "b"}]})),
        )
        .await;
    let error = assert_error(&r, 409);
    assert_eq!(error["duplicated"], json!([{"name": "b"}]));

    let page1 = app
        .as_admin(Method::GET, "/securitycategories?limit=2", None)
        .await;
    assert_eq!(page1.status, StatusCode::OK, "{page1:?}");
    assert_eq!(page1.body["items"], json!([made[0], made[1]]));
    let cursor = page1.body["nextCursor"].as_str().expect("nextCursor");
    let page2 = app
        .as_admin(
            Method::GET,
            &format!("/securitycategories?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(page2.body["items"], json!([made[2]]));
    assert!(page2.body.get("nextCursor").is_none(), "{page2:?}");
    let desc = app
        .as_admin(Method::GET, "/securitycategories?sort=DESC", None)
        .await;
    assert_eq!(desc.body["items"], json!([made[2], made[1], made[0]]));
    for bad in ["?limit=0", "?limit=1001", "?sort=UP", "?cursor=forged"] {
        let r = app
            .as_admin(Method::GET, &format!("/securitycategories{bad}"), None)
            .await;
        assert_error(&r, 400);
    }

    // Unknown ids: 400 with missing, nothing deleted; repeated ids: 400 with duplicated.
    let r = app
        .as_admin(
            Method::POST,
            "/securitycategories/delete",
            Some(json!({"items": [ids[0], 999_999]})),
        )
        .await;
    assert_eq!(assert_error(&r, 400)["missing"], json!([{"id": 999_999}]));
    let r = app
        .as_admin(
            Method::POST,
            "/securitycategories/delete",
            Some(json!({"items": [ids[0], ids[0]]})),
        )
        .await;
    assert_eq!(assert_error(&r, 400)["duplicated"], json!([{"id": ids[0]}]));
    let r = app
        .as_admin(
            Method::POST,
            "/securitycategories/delete",
            Some(json!({"items": [ids[0]]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body, json!({}));
    let left = app.as_admin(Method::GET, "/securitycategories", None).await;
    assert_eq!(left.body["items"], json!([made[1], made[2]]));
}

#[tokio::test]
async fn an_idscope_delete_covers_only_its_ids() {
    let app = configured().await;
    let r = app
        .as_admin(
            Method::POST,
            "/securitycategories",
            Some(json!({"items": [{"name": "one"}, {"name": "two"}, {"name": "three"}]})),
        )
        .await;
    let ids: Vec<i64> = r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, [1, 2, 3], "the first categories of a fresh store");
    let r = app
        .call_as(
            "lister-token",
            Method::POST,
            "/securitycategories/delete",
            Some(json!({"items": [2, 3]})),
        )
        .await;
    assert_error(&r, 403);
    let r = app
        .call_as(
            "lister-token",
            Method::POST,
            "/securitycategories/delete",
            Some(json!({"items": [2]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

#[tokio::test]
async fn the_project_echoes_its_oidc_configuration() {
    let app = configured().await;
    let r = app.as_admin(Method::GET, "", None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["name"], json!(app.project));
    assert_eq!(r.body["urlName"], json!(app.project));
    let oidc = &r.body["oidcConfiguration"];
    assert_eq!(oidc["issuer"], json!("https://idp.example.com/"));
    assert_eq!(oidc["audience"], json!("cabinet"));
    assert_eq!(oidc["accessClaims"], json!([{"claimName": "groups"}]));
    assert_eq!(oidc["scopeClaims"], json!([{"claimName": "scp"}]));
    assert_eq!(oidc["skewMs"], json!(1500));
}

#[tokio::test]
async fn groups_and_categories_survive_a_restart() {
    let project = unique_project();
    let app = spawn_in(tempfile::tempdir().expect("tempdir"), &project).await;
    let group = app
        .create_group(json!({
            "name": "newcomers",
            "members": ["newbie"],
            "capabilities": [{"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}}]
        }))
        .await;
    let r = app
        .as_admin(
            Method::POST,
            "/securitycategories",
            Some(json!({"items": [{"name": "secret"}]})),
        )
        .await;
    let category = r.body["items"][0].clone();
    let TestApp { dir, _stop, .. } = app;
    drop(_stop);
    // The stopped server refuses connections before the new one binds its own port.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let app = spawn_in(dir, &project).await;
    let all = app.as_admin(Method::GET, "/groups?all=true", None).await;
    assert_eq!(all.body["items"][3], group);
    let r = app
        .call_as("newbie-token", Method::GET, "/files", None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the stored group still grants: {r:?}"
    );
    let cats = app.as_admin(Method::GET, "/securitycategories", None).await;
    assert_eq!(cats.body["items"], json!([category]));
    // Ids are not reused after a restart either.
    let again = app.create_group(json!({"name": "later"})).await;
    assert!(again["id"].as_i64() > group["id"].as_i64());
}

#[tokio::test]
async fn open_mode_allows_every_iam_call() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/groups",
            json!({"items": [{"name": "g", "members": ["x"]}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = app.get("/groups").await;
    assert_eq!(names(&r), ["g"]);
    // The JS SDK's spelling, with a trailing slash.
    let r = app.get("/groups/").await;
    assert_eq!(names(&r), ["g"]);
    let r = app.get("/securitycategories/").await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .post("/securitycategories", json!({"items": [{"name": "c"}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = app.get("").await;
    assert_eq!(r.body["urlName"], json!(app.project));
    assert!(r.body.get("oidcConfiguration").is_none());
}

#[tokio::test]
async fn a_second_node_on_the_same_store_sees_changes_within_the_bound() {
    let project = unique_project();
    let a = spawn_in(tempfile::tempdir().expect("tempdir"), &project).await;
    // Node B: another server on the same data directory (and so the same metadata store).
    let access = cabinet::config::ConfigFile::parse(&config(
        &project,
        "other-project",
        &a.dir.path().join("jwks.json"),
    ))
    .expect("parses")
    .access()
    .expect("valid");
    let mut serve = cabinet::app::ServeConfig::new("127.0.0.1:0", a.dir.path());
    serve.access = access;
    crate::helpers::use_test_backends(&mut serve).await;
    let b = cabinet::app::Application::build(serve)
        .await
        .expect("node b builds");
    let b_files = format!("http://{}/api/v1/projects/{project}/files", b.local_addr());
    let (_stop_b, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(b.run_until(async move {
        let _ = stopped.await;
    }));
    let on_b = || async {
        a.client
            .get(&b_files)
            .bearer_auth("newbie-token")
            .send()
            .await
            .expect("sent")
            .status()
    };
    assert_eq!(on_b().await, StatusCode::UNAUTHORIZED);
    let group = a
        .create_group(json!({
            "name": "newcomers",
            "members": ["newbie"],
            "capabilities": [{"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}}]
        }))
        .await;
    let wait_for = |want: StatusCode| {
        let on_b = &on_b;
        async move {
            let start = std::time::Instant::now();
            while on_b().await != want {
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(5),
                    "node b did not converge to {want} within 5 s (the bound is 2 s)"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    wait_for(StatusCode::OK).await;
    let r = a
        .as_admin(
            Method::POST,
            "/groups/delete",
            Some(json!({"items": [group["id"]]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    wait_for(StatusCode::UNAUTHORIZED).await;
}
