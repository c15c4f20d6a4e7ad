"""limit, cursors and partitions of the list endpoints (files-api.md §5.4–§5.6) with the Python SDK."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cognite.client.data_classes import FileMetadataWrite
from cognite.client.exceptions import CogniteAPIError

from sdk_helpers import make_client
from suite_access import new_project

N_FILES = 150
DIRS = ("/p/a", "/p/b", "/q")


def _url(client, path: str) -> str:
    return f"/api/v1/projects/{client.config.project}{path}"


def api_post(client, path: str, body: dict) -> dict:
    return client.post(_url(client, path), json=body).json()


def api_get(client, path: str, params: dict) -> dict:
    return client.get(_url(client, path), params=params).json()


@pytest.fixture(scope="module")
def many(server):
    """A project with N_FILES files spread over three directories; returns (client, {id: directory})."""
    server.check_alive()
    client = make_client(server.base_url, new_project())

    def create(i: int) -> tuple[int, str]:
        d = DIRS[i % 3]
        fm, _ = client.files.create(
            FileMetadataWrite(name=f"p{i:04d}.txt", external_id=f"p-{i:04d}", directory=d, metadata={"i": str(i)})
        )
        return fm.id, d

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = dict(pool.map(create, range(N_FILES)))
    assert len(created) == N_FILES
    return client, created


def walk(client, body: dict[str, Any], max_pages: int = 1000) -> list[dict]:
    """POST /files/list page by page (the first request carries "cursor": null, as Python sends it)."""
    items: list[dict] = []
    body = {**body, "cursor": None}
    for _ in range(max_pages):
        res = api_post(client, "/files/list", body)
        assert "items" in res
        if "limit" in body:
            assert len(res["items"]) <= body["limit"]
        items += res["items"]
        cursor = res.get("nextCursor")
        if cursor is None:
            return items
        assert isinstance(cursor, str) and cursor, f"nextCursor must be a non-empty string or absent: {cursor!r}"
        body = {**body, "cursor": cursor}
    pytest.fail(f"paging did not terminate after {max_pages} pages")


def test_default_limit_is_100_and_last_page_has_no_cursor(many):
    client, created = many
    first = api_post(client, "/files/list", {})
    assert len(first["items"]) == 100
    assert isinstance(first.get("nextCursor"), str) and first["nextCursor"]
    second = api_post(client, "/files/list", {"cursor": first["nextCursor"]})
    assert len(second["items"]) == N_FILES - 100
    assert second.get("nextCursor") is None, "no nextCursor on the last page"
    ids = [f["id"] for f in first["items"] + second["items"]]
    assert len(set(ids)) == N_FILES and set(ids) == set(created)
    # GET /files has the same default
    got = api_get(client, "/files", {})
    assert len(got["items"]) == 100 and got.get("nextCursor")


def test_limit_bounds(many):
    client, _ = many
    assert len(api_post(client, "/files/list", {"limit": 1})["items"]) == 1
    res = api_post(client, "/files/list", {"limit": 1000})
    assert len(res["items"]) == N_FILES and res.get("nextCursor") is None
    for bad in (0, -1, "ten"):
        with pytest.raises(CogniteAPIError) as excinfo:
            api_post(client, "/files/list", {"limit": bad})
        assert excinfo.value.code == 400 and "limit" in excinfo.value.message, excinfo.value
    with pytest.raises(CogniteAPIError) as excinfo:
        api_get(client, "/files", {"limit": 0})
    assert excinfo.value.code == 400 and "limit" in excinfo.value.message


def test_cursor_walk_with_filter_covers_filtered_set_once(many):
    client, created = many
    want = {i for i, d in created.items() if d.startswith("/p/")}
    items = walk(client, {"filter": {"directoryPrefix": "/p/"}, "limit": 7})
    ids = [f["id"] for f in items]
    assert len(ids) == len(set(ids)) == len(want)
    assert set(ids) == want
    assert all(f["directory"].startswith("/p/") for f in items)


def test_invalid_cursor_is_400(many):
    client, _ = many
    with pytest.raises(CogniteAPIError) as excinfo:
        api_post(client, "/files/list", {"cursor": "not-a-cursor"})
    assert excinfo.value.code == 400 and "cursor" in excinfo.value.message


def test_sdk_list_partitions_returns_every_file_once(many):
    client, created = many
    res = client.files.list(limit=-1, partitions=3)
    ids = [f.id for f in res]
    assert len(ids) == N_FILES, f"expected {N_FILES}, got {len(ids)}"
    assert set(ids) == set(created)
    # with a filter
    res = client.files.list(directory_prefix="/p/a", limit=-1, partitions=4)
    ids = [f.id for f in res]
    assert sorted(ids) == sorted(i for i, d in created.items() if d == "/p/a")


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_partitions_are_disjoint_and_cover(many, n):
    client, created = many
    parts = [[f["id"] for f in walk(client, {"filter": {}, "limit": 11, "partition": f"{m}/{n}"})] for m in range(1, n + 1)]
    for m, p in enumerate(parts, 1):
        assert len(p) == len(set(p)), f"partition {m}/{n} repeats a file"
    union = [i for p in parts for i in p]
    assert len(union) == len(set(union)), f"partitions of {n} overlap"
    assert set(union) == set(created)


def test_partitions_with_filter(many):
    client, created = many
    flt = {"directoryPrefix": "/p/"}
    want = {i for i, d in created.items() if d.startswith("/p/")}
    parts = [{f["id"] for f in walk(client, {"filter": flt, "limit": 5, "partition": f"{m}/5"})} for m in range(1, 6)]
    assert sum(len(p) for p in parts) == len(want)
    assert set().union(*parts) == want


def test_partition_via_get(many):
    client, created = many
    seen: list[int] = []
    for m in (1, 2, 3):
        params: dict[str, Any] = {"partition": f"{m}/3", "limit": 1000}
        res = api_get(client, "/files", params)
        assert res.get("nextCursor") is None
        seen += [f["id"] for f in res["items"]]
    assert len(seen) == len(set(seen)) == N_FILES and set(seen) == set(created)


@pytest.mark.parametrize("partition", ["1/11", "0/3", "4/3", "1/0", "a/b", "1", "1/2/3", "", 3])
def test_bad_partition_is_400(many, partition):
    client, _ = many
    with pytest.raises(CogniteAPIError) as excinfo:
        api_post(client, "/files/list", {"partition": partition})
    assert excinfo.value.code == 400, excinfo.value
    assert "partition" in excinfo.value.message, excinfo.value.message
