"""retrieve, retrieve_multiple and delete, including the not-found error shapes."""

from __future__ import annotations

import pytest
from cognite.client.data_classes import FileMetadataList, FileMetadataWrite
from cognite.client.exceptions import CogniteNotFoundError

from sdk_helpers import UNKNOWN_ID, http_get


@pytest.fixture
def three(client):
    """Three files: f1 (uploaded, xid x1), f2 (not uploaded, xid x2), f3 (uploaded, no xid)."""
    f1 = client.files.upload_bytes(b"one", name="f1.txt", external_id="x1", metadata={"n": "1"})
    f2, _ = client.files.create(FileMetadataWrite(name="f2.txt", external_id="x2", source="s2"))
    f3 = client.files.upload_bytes(b"three", name="f3.txt")
    return f1, f2, f3


def test_retrieve_by_id_and_external_id(client, three):
    f1, f2, f3 = three
    by_id = client.files.retrieve(id=f1.id)
    by_xid = client.files.retrieve(external_id="x1")
    assert by_id is not None and by_xid is not None
    assert by_id.id == by_xid.id == f1.id
    assert by_id.name == "f1.txt" and by_id.metadata == {"n": "1"}
    assert by_id.dump() == by_xid.dump()
    g2 = client.files.retrieve(external_id="x2")
    assert g2.id == f2.id and g2.source == "s2" and g2.uploaded is False
    g3 = client.files.retrieve(id=f3.id)
    assert g3.name == "f3.txt" and g3.external_id is None and g3.uploaded is True


def test_retrieve_unknown_returns_none(client, three):
    assert client.files.retrieve(id=UNKNOWN_ID) is None
    assert client.files.retrieve(external_id="no-such-xid") is None


def test_retrieve_multiple_in_request_order(client, three):
    f1, f2, f3 = three
    res = client.files.retrieve_multiple(ids=[f3.id, f1.id], external_ids=["x2"])
    assert isinstance(res, FileMetadataList)
    assert [f.id for f in res] == [f3.id, f1.id, f2.id]
    assert [f.name for f in res] == ["f3.txt", "f1.txt", "f2.txt"]
    res = client.files.retrieve_multiple(external_ids=["x2", "x1"])
    assert [f.external_id for f in res] == ["x2", "x1"]
    res = client.files.retrieve_multiple(ids=[f2.id, f3.id, f1.id])
    assert [f.id for f in res] == [f2.id, f3.id, f1.id]


def test_retrieve_multiple_unknown_id_raises(client, three):
    f1, _, _ = three
    with pytest.raises(CogniteNotFoundError) as exc_info:
        client.files.retrieve_multiple(ids=[f1.id, UNKNOWN_ID])
    err = exc_info.value
    assert err.not_found == [{"id": UNKNOWN_ID}]
    assert err.missing == [{"id": UNKNOWN_ID}]


def test_retrieve_multiple_unknown_external_id_raises(client, three):
    with pytest.raises(CogniteNotFoundError) as exc_info:
        client.files.retrieve_multiple(external_ids=["x1", "nope-1", "nope-2"])
    missing = exc_info.value.not_found
    assert sorted(missing, key=str) == [{"externalId": "nope-1"}, {"externalId": "nope-2"}]


def test_retrieve_multiple_ignore_unknown_ids(client, three):
    f1, f2, _ = three
    res = client.files.retrieve_multiple(ids=[UNKNOWN_ID, f1.id], external_ids=["nope", "x2"], ignore_unknown_ids=True)
    assert [f.id for f in res] == [f1.id, f2.id]
    assert len(client.files.retrieve_multiple(ids=[UNKNOWN_ID], ignore_unknown_ids=True)) == 0


def test_delete_by_id_invalidates_download_url(client, three):
    f1, _, f3 = three
    url = client.files.retrieve_download_urls(id=f1.id, extended_expiration=True)[f1.id]
    assert http_get(url) == (200, b"one")
    client.files.delete(id=f1.id)
    assert client.files.retrieve(id=f1.id) is None
    assert client.files.retrieve(external_id="x1") is None
    status, _ = http_get(url)
    assert not 200 <= status < 300, f"download URL of a deleted file still answers {status}"
    # Other files are untouched.
    assert client.files.download_bytes(id=f3.id) == b"three"
    # The external id is free again.
    client.files.upload_bytes(b"reborn", name="f1.txt", external_id="x1")
    assert client.files.download_bytes(external_id="x1") == b"reborn"


def test_delete_by_external_id(client, three):
    _, f2, _ = three
    client.files.delete(external_id="x2")
    assert client.files.retrieve(id=f2.id) is None
    assert len(client.files.list(limit=-1)) == 2


def test_delete_unknown_id_raises_and_deletes_nothing(client, three):
    f1, f2, f3 = three
    with pytest.raises(CogniteNotFoundError) as exc_info:
        client.files.delete(id=[f1.id, UNKNOWN_ID], external_id=["x2"])
    assert exc_info.value.not_found == [{"id": UNKNOWN_ID}]
    assert client.files.retrieve(id=f1.id) is not None
    assert client.files.retrieve(id=f2.id) is not None
    assert client.files.download_bytes(id=f1.id) == b"one"
    assert sorted(f.id for f in client.files.list(limit=-1)) == sorted([f1.id, f2.id, f3.id])


def test_delete_unknown_external_id_raises(client, three):
    with pytest.raises(CogniteNotFoundError) as exc_info:
        client.files.delete(external_id=["x1", "ghost"])
    assert exc_info.value.not_found == [{"externalId": "ghost"}]
    assert client.files.retrieve(external_id="x1") is not None


def test_delete_ignore_unknown_ids(client, three):
    f1, f2, f3 = three
    client.files.delete(id=[UNKNOWN_ID, f1.id], external_id=["ghost", "x2"], ignore_unknown_ids=True)
    assert client.files.retrieve(id=f1.id) is None
    assert client.files.retrieve(id=f2.id) is None
    assert [f.id for f in client.files.list(limit=-1)] == [f3.id]
