"""cabinet_faults against the server's fault injection admin API, with the SDK's own retries."""

from __future__ import annotations

import time

import pytest
from cognite.client import global_config
from cognite.client.exceptions import CogniteAPIError

from pytest_cabinet import Faults


@pytest.fixture(autouse=True)
def short_backoff():
    # The SDK's retries wait at most this long between attempts; the tests stay quick.
    old = global_config.max_retry_backoff
    global_config.max_retry_backoff = 1
    yield
    global_config.max_retry_backoff = old


def test_sdk_retries_absorb_429s_on_list(cognite_client, cabinet_faults: Faults) -> None:
    cognite_client.files.upload_bytes(b"a", name="a", external_id="faults-a")
    with cabinet_faults(status=429, route="files/list", method="POST", times=2, retry_after=0):
        armed = cabinet_faults.list()
        assert len(armed) == 1 and armed[0]["route"] == "files/list" and armed[0]["status"] == 429
        files = cognite_client.files.list(limit=None)
        assert "faults-a" in [f.external_id for f in files]
    assert cabinet_faults.list() == []


def test_503_on_list_absorbed_too(cognite_client, cabinet_faults: Faults) -> None:
    with cabinet_faults(status=503, route="files/list", times=2):
        cognite_client.files.list(limit=5)


def test_more_429s_than_retries_surface(cognite_client, cabinet_faults: Faults) -> None:
    with cabinet_faults(status=429, route="files/list", times=1000, retry_after=0):
        with pytest.raises(CogniteAPIError) as e:
            cognite_client.files.list(limit=5)
        assert e.value.code == 429
    cognite_client.files.list(limit=5)


def test_latency(cognite_client, cabinet_faults: Faults) -> None:
    cabinet_faults.arm({"route": "files/list", "method": "POST", "latencyMs": 600, "times": 1})
    start = time.monotonic()
    cognite_client.files.list(limit=1)
    assert time.monotonic() - start >= 0.5


def test_fixture_resets_what_a_test_left_armed_1(cabinet_faults: Faults) -> None:
    cabinet_faults.arm(status=500, route="files/byids", times=5)
    assert len(cabinet_faults.list()) == 1


def test_fixture_resets_what_a_test_left_armed_2(cabinet_faults: Faults) -> None:
    assert cabinet_faults.list() == []


def test_truncated_download_does_not_pass_for_the_file(cognite_client, cabinet_faults: Faults) -> None:
    data = bytes(range(256)) * 1024
    cognite_client.files.upload_bytes(data, name="t.bin", external_id="faults-truncated")
    # Every download of the content stops half-way: the SDK must fail, not return a short body.
    with cabinet_faults(route="files/download", fault="truncate"):
        with pytest.raises(Exception):
            cognite_client.files.download_bytes(external_id="faults-truncated")
    assert cognite_client.files.download_bytes(external_id="faults-truncated") == data


def test_seed_is_sent_next_to_the_items(cabinet_faults: Faults) -> None:
    cabinet_faults.arm(status=503, route="files/aggregate", probability=0.5, seed=42)
    assert cabinet_faults.list()[0]["probability"] == 0.5
