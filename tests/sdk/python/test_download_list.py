"""Downloads (bytes, to path, download URLs) and listing with paging."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from cognite.client.data_classes import FileMetadataList, FileMetadataWrite
from cognite.client.exceptions import CogniteNotFoundError

from sdk_helpers import UNKNOWN_ID, http_get, make_client
from suite_access import new_project

N_LISTED = 2500


@pytest.fixture
def files3(client):
    a = client.files.upload_bytes(b"alpha", name="a.txt", external_id="xa", mime_type="text/plain")
    b = client.files.upload_bytes(b"\x00bravo\xff", name="b.bin", external_id="xb")
    c = client.files.upload_bytes(b"charlie" * 1000, name="c.txt", external_id="xc", directory="/d")
    return a, b, c


def test_download_bytes_and_to_path(client, files3, tmp_path):
    a, b, c = files3
    assert client.files.download_bytes(id=a.id) == b"alpha"
    assert client.files.download_bytes(external_id="xb") == b"\x00bravo\xff"
    out = tmp_path / "c.out"
    client.files.download_to_path(out, id=c.id)
    assert out.read_bytes() == b"charlie" * 1000
    out2 = tmp_path / "sub" / "b.out"
    out2.parent.mkdir()
    client.files.download_to_path(str(out2), external_id="xb")
    assert out2.read_bytes() == b"\x00bravo\xff"


def test_retrieve_download_urls_keyed_by_request(client, files3):
    a, b, c = files3
    urls = client.files.retrieve_download_urls(id=[a.id, b.id], external_id=["xc"])
    assert set(urls) == {a.id, b.id, "xc"}, "external ids must be keyed by external id, ids by id"
    for url in urls.values():
        assert isinstance(url, str) and url.startswith("http://"), url
    # Plain HTTP client, no token, no Cognite headers.
    assert http_get(urls[a.id]) == (200, b"alpha")
    assert http_get(urls[b.id]) == (200, b"\x00bravo\xff")
    assert http_get(urls["xc"]) == (200, b"charlie" * 1000)


def test_retrieve_download_urls_external_ids_only(client, files3):
    urls = client.files.retrieve_download_urls(external_id=["xb", "xa"])
    assert set(urls) == {"xa", "xb"}
    assert http_get(urls["xa"]) == (200, b"alpha")
    assert http_get(urls["xb"]) == (200, b"\x00bravo\xff")


def test_retrieve_download_urls_extended_expiration(client, files3):
    a, _, c = files3
    urls = client.files.retrieve_download_urls(id=[a.id], external_id="xc", extended_expiration=True)
    assert set(urls) == {a.id, "xc"}
    assert all(u.startswith("http://") for u in urls.values())
    assert http_get(urls[a.id]) == (200, b"alpha")
    assert http_get(urls["xc"]) == (200, b"charlie" * 1000)


def test_download_url_can_be_fetched_repeatedly(client, files3):
    a, _, _ = files3
    url = client.files.retrieve_download_urls(id=a.id)[a.id]
    assert http_get(url) == (200, b"alpha")
    assert http_get(url) == (200, b"alpha")


def test_download_unknown_raises(client, files3):
    with pytest.raises(CogniteNotFoundError) as exc_info:
        client.files.retrieve_download_urls(id=[UNKNOWN_ID])
    assert exc_info.value.not_found == [{"id": UNKNOWN_ID}]
    with pytest.raises(CogniteNotFoundError) as exc_info:
        client.files.download_bytes(external_id="no-such-file")
    assert exc_info.value.not_found == [{"externalId": "no-such-file"}]


# ----------------------------------------------------------------------------------------------------------------
# Listing


@pytest.fixture(scope="module")
def listed(server):
    """A project holding N_LISTED files (no content), created concurrently with files.create."""
    server.check_alive()
    project = new_project()
    client = make_client(server.base_url, project)

    def create(i: int) -> int:
        fm, _ = client.files.create(FileMetadataWrite(name=f"f{i:05d}.txt", external_id=f"list-{i:05d}"))
        return fm.id

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(create, range(N_LISTED)))
    elapsed = time.monotonic() - t0
    assert len(set(ids)) == N_LISTED, "files.create returned duplicate ids"
    print(f"created {N_LISTED} files in {elapsed:.1f} s")
    return client, ids


def test_list_all_pages(listed):
    client, ids = listed
    res = client.files.list(limit=-1)  # pages of 1000, following nextCursor
    assert isinstance(res, FileMetadataList)
    got = [f.id for f in res]
    assert len(got) == N_LISTED, f"expected {N_LISTED} files, got {len(got)}"
    assert len(set(got)) == N_LISTED, "some files were returned more than once"
    assert set(got) == set(ids)
    by_id = {f.id: f for f in res}
    i = ids.index(got[0])
    assert by_id[got[0]].name == f"f{i:05d}.txt" and by_id[got[0]].external_id == f"list-{i:05d}"


def test_list_limit_small(listed):
    client, ids = listed
    res = client.files.list(limit=5)
    assert len(res) == 5
    assert len({f.id for f in res}) == 5
    assert {f.id for f in res} <= set(ids)
    assert len(client.files.list()) == 25  # SDK default limit


def test_list_limit_across_page_boundary(listed):
    client, ids = listed
    res = client.files.list(limit=1001)  # 1000, then a cursor request for the remaining 1
    got = [f.id for f in res]
    assert len(got) == 1001 and len(set(got)) == 1001
    assert set(got) <= set(ids)


def test_list_partitions(listed):
    client, ids = listed
    res = client.files.list(limit=-1, partitions=3)
    got = [f.id for f in res]
    assert len(got) == N_LISTED and set(got) == set(ids)


def test_list_empty_project(client):
    assert len(client.files.list(limit=-1)) == 0
    assert len(client.files.list(limit=5)) == 0
