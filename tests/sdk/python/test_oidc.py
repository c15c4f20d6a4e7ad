"""OIDC through the SDK: a server whose project trusts the test IdP (``idp.py``), and clients that
authenticate with ``OAuthClientCredentials`` against its token endpoint, as a service application on an
Entra ID or Keycloak site would.

``uploader`` is in the IdP group that the project's ``editors`` group names, ``viewer`` in the one of
``readers``.
"""

from __future__ import annotations

import secrets

import pytest
from cognite.client import ClientConfig, CogniteClient
from cognite.client.credentials import OAuthClientCredentials
from cognite.client.exceptions import CogniteAPIError, CogniteAuthError, CogniteProjectAccessError
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import start_server, stop_server
from idp import IdpClient, TestIdp
from sdk_helpers import make_client

PROJECT = "oidc-test"
ISSUER = "https://idp.cabinet.test/"
AUDIENCE = "cabinet"
UPLOADER_SECRET = secrets.token_hex(16)
VIEWER_SECRET = secrets.token_hex(16)

CONFIG = """
[[project]]
name = "{project}"
oidc = {{ jwks_url = "{jwks_url}", issuer = "{issuer}", audience = "{audience}", access_claims = ["groups"], scope_claims = ["scp"], skew_ms = 0 }}

[[project.group]]
name = "editors"
source_id = "idp-editors"
capabilities = [{{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "readers"
source_id = "idp-readers"
capabilities = [{{ filesAcl = {{ actions = ["READ"], scope = {{ all = {{}} }} }} }}]
"""


@pytest.fixture(scope="module")
def idp() -> TestIdp:
    provider = TestIdp(
        ISSUER,
        AUDIENCE,
        {
            "uploader": IdpClient(UPLOADER_SECRET, ["idp-editors"]),
            "viewer": IdpClient(VIEWER_SECRET, ["idp-readers"]),
        },
    )
    try:
        yield provider
    finally:
        provider.close()


@pytest.fixture(scope="module")
def oidc_base_url(idp: TestIdp, tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("cabinet-oidc")
    config = tmp / "cabinet.toml"
    config.write_text(CONFIG.format(project=PROJECT, jwks_url=idp.jwks_url, issuer=ISSUER, audience=AUDIENCE))
    srv = start_server(tmp / "data", tmp, name="oidc", args=("--config", str(config)))
    try:
        yield srv.base_url
    finally:
        stop_server(srv)


def oauth_client(base_url: str, idp: TestIdp, client_id: str, secret: str) -> CogniteClient:
    credentials = OAuthClientCredentials(
        token_url=idp.token_url, client_id=client_id, client_secret=secret, scopes=[]
    )
    return CogniteClient(
        ClientConfig(
            client_name="cabinet-tests",
            project=PROJECT,
            credentials=credentials,
            base_url=base_url,
            timeout=30,
        )
    )


def test_client_credentials_tokens_upload_list_and_download(oidc_base_url: str, idp: TestIdp) -> None:
    uploader = oauth_client(oidc_base_url, idp, "uploader", UPLOADER_SECRET)
    xid = "oidc-" + secrets.token_hex(4)
    uploader.files.upload_bytes(b"from the IdP", name="idp.txt", external_id=xid)
    viewer = oauth_client(oidc_base_url, idp, "viewer", VIEWER_SECRET)
    assert xid in [f.external_id for f in viewer.files.list(limit=None)]
    assert viewer.files.download_bytes(external_id=xid) == b"from the IdP"
    assert idp.tokens_issued >= 2


def test_a_reader_group_token_cannot_write(oidc_base_url: str, idp: TestIdp) -> None:
    viewer = oauth_client(oidc_base_url, idp, "viewer", VIEWER_SECRET)
    with pytest.raises(CogniteAPIError) as refused:
        viewer.files.upload_bytes(b"nope", name="nope.txt", external_id="oidc-nope")
    assert refused.value.code == 403


def test_token_inspect_names_the_client_and_verify_capabilities_works(oidc_base_url: str, idp: TestIdp) -> None:
    viewer = oauth_client(oidc_base_url, idp, "viewer", VIEWER_SECRET)
    inspection = viewer.iam.token.inspect()
    assert inspection.subject == "viewer"
    assert [p.url_name for p in inspection.projects] == [PROJECT]
    from cognite.client.data_classes.capabilities import FilesAcl

    assert viewer.iam.verify_capabilities([FilesAcl([FilesAcl.Action.Read], FilesAcl.Scope.All())]) == []
    missing = viewer.iam.verify_capabilities([FilesAcl([FilesAcl.Action.Write], FilesAcl.Scope.All())])
    assert len(missing) == 1


def test_a_forged_token_and_a_wrong_secret_get_nowhere(oidc_base_url: str, idp: TestIdp) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = idp.sign({"sub": "uploader", "groups": ["idp-editors"]}, key=other_key)
    with pytest.raises(CogniteProjectAccessError):
        make_client(oidc_base_url, PROJECT, forged).files.list(limit=1)
    wrong = oauth_client(oidc_base_url, idp, "uploader", "not-the-secret")
    with pytest.raises(CogniteAuthError):
        wrong.files.list(limit=1)
