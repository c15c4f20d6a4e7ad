"""Fault injection (``/_cabinet/faults``) against the official SDK: its own retries ride out 429 and 503, and
what it does with a download cut short.

The module runs its own open server (so it runs in the suite's OIDC mode too); rules name the test's own
project and are removed after it.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest
from cognite.client.exceptions import CogniteAPIError, CogniteRequestError

from conftest import start_server, stop_server
from sdk_helpers import distinct_blocks, http_request, make_client


@pytest.fixture(scope="module")
def faults_server(tmp_path_factory: pytest.TempPathFactory):
    """An open server of this module's own (whatever the suite's access mode), with a fixed seed."""
    tmp = tmp_path_factory.mktemp("faults")
    config = tmp / "faults.toml"
    config.write_text("[faults]\nseed = 7\n")
    srv = start_server(tmp / "data", tmp, name="faults", args=("--config", str(config)))
    yield srv
    stop_server(srv)


@pytest.fixture
def base_url(faults_server) -> str:
    return faults_server.base_url


@pytest.fixture
def project() -> str:
    return f"faults-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(base_url: str, project: str):
    # An open server takes any token, also when the suite runs with OIDC.
    return make_client(base_url, project, token="test-token")


def admin(base_url: str, method: str, path: str = "", body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    status, raw = http_request(
        f"{base_url}/_cabinet/faults{path}", method, data=data, headers={"Content-Type": "application/json"}
    )
    assert status in (200, 201), f"{method} /_cabinet/faults{path}: {status} {raw!r}"
    return json.loads(raw)


@pytest.fixture
def arm(base_url: str, project: str):
    """Arms rules for this test's project; removes them afterwards."""
    ids: list[int] = []

    def arm_(**rule) -> int:
        rule.setdefault("project", project)
        (item,) = admin(base_url, "POST", body={"items": [rule]})["items"]
        ids.append(item["id"])
        return item["id"]

    yield arm_
    for rule_id in ids:
        http_request(f"{base_url}/_cabinet/faults/{rule_id}", "DELETE")


def rule(base_url: str, rule_id: int) -> dict:
    (found,) = [r for r in admin(base_url, "GET")["items"] if r["id"] == rule_id]
    return found


@pytest.mark.parametrize("status", [429, 503])
def test_the_sdk_retries_list_through_two_failures(client, base_url, arm, status):
    client.files.upload_bytes(b"x", name="a.txt", external_id="a")
    rule_id = arm(route="files/list", method="POST", status=status, times=2)
    files = client.files.list(limit=10)
    assert [f.external_id for f in files] == ["a"]
    seen = rule(base_url, rule_id)
    # Two answered with the fault, the third served: the server saw three requests.
    assert (seen["fired"], seen["matched"], seen["remaining"]) == (2, 3, 0)


def test_the_sdk_gives_up_after_its_retries(client, base_url, arm):
    rule_id = arm(route="files/list", method="POST", status=503)
    with pytest.raises(CogniteAPIError) as err:
        client.files.list(limit=10)
    assert err.value.code == 503
    seen = rule(base_url, rule_id)
    # The SDK's default of 10 retries: 11 requests in all.
    assert seen["fired"] == seen["matched"] == 11


def test_a_500_on_list_is_not_retried(client, base_url, arm):
    # cognite-sdk 8.22 retries 429, 502, 503 and 504 (and connection errors), not 500.
    rule_id = arm(route="files/list", method="POST", status=500, times=1)
    with pytest.raises(CogniteAPIError) as err:
        client.files.list(limit=1)
    assert err.value.code == 500
    assert rule(base_url, rule_id)["matched"] == 1
    client.files.list(limit=1)


@pytest.mark.skipif(
    os.environ.get("CABINET_CONTENT_TRANSFER") == "direct",
    reason="with direct transfer, downloads come from S3 and cabinet cannot cut them",
)
def test_a_truncated_download_raises_a_request_error(client, base_url, arm):
    content = distinct_blocks(256 * 1024)
    f = client.files.upload_bytes(content, name="t.bin", external_id="t")
    rule_id = arm(route="files/download", fault="truncate", times=1)
    with pytest.raises(CogniteRequestError) as err:
        client.files.download_bytes(id=f.id)
    causes, e = [], err.value
    while e is not None:
        causes.append(f"{type(e).__name__}: {e}")
        e = e.__cause__ or e.__context__
    # httpx: "peer closed connection without sending complete message body (received 131072 bytes,
    # expected 262144)"; the SDK does not retry it.
    assert any("complete message body" in c for c in causes), causes
    seen = rule(base_url, rule_id)
    assert (seen["fired"], seen["matched"]) == (1, 1), seen
    assert client.files.download_bytes(id=f.id) == content
