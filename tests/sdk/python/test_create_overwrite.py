"""files.create with and without overwrite, duplicate external ids, validation, project isolation."""

from __future__ import annotations

import pytest
from cognite.client.data_classes import FileMetadata, FileMetadataWrite
from cognite.client.exceptions import CogniteAPIError, CogniteDuplicatedError

from sdk_helpers import http_request, make_client, now_ms
from suite_access import new_project


def test_create_without_content(client):
    t0 = now_ms()
    fm, upload_url = client.files.create(
        FileMetadataWrite(name="a.txt", external_id="a", mime_type="text/plain", metadata={"k": "v"}, asset_ids=[5])
    )
    assert isinstance(fm, FileMetadata)
    assert isinstance(fm.id, int) and 1 <= fm.id <= 2**53 - 1
    assert fm.uploaded is False
    assert fm.uploaded_time is None
    assert fm.name == "a.txt" and fm.external_id == "a" and fm.mime_type == "text/plain"
    assert fm.metadata == {"k": "v"} and list(fm.asset_ids) == [5]
    assert t0 - 5_000 <= fm.created_time <= now_ms() + 5_000
    assert isinstance(upload_url, str) and upload_url.startswith("http")

    got = client.files.retrieve(id=fm.id)
    assert got is not None
    assert got.uploaded is False and got.uploaded_time is None
    assert got.name == "a.txt" and got.metadata == {"k": "v"} and list(got.asset_ids) == [5]


def test_create_returns_distinct_ids(client):
    a, _ = client.files.create(FileMetadataWrite(name="same-name.txt"))
    b, _ = client.files.create(FileMetadataWrite(name="same-name.txt"))
    assert a.id != b.id  # names need not be unique; files without external id never clash


def test_create_duplicate_external_id(client):
    first, _ = client.files.create(FileMetadataWrite(name="a.txt", external_id="dup"))
    with pytest.raises(CogniteDuplicatedError) as exc_info:
        client.files.create(FileMetadataWrite(name="b.txt", external_id="dup"))
    err = exc_info.value
    assert err.code == 409
    assert err.duplicated == [{"externalId": "dup"}]
    # The existing file is untouched and no second file appeared.
    got = client.files.retrieve(external_id="dup")
    assert got is not None and got.id == first.id and got.name == "a.txt"
    assert len(client.files.list(limit=-1)) == 1


def test_upload_bytes_duplicate_external_id_without_overwrite(client):
    client.files.upload_bytes(b"one", name="x.txt", external_id="x")
    with pytest.raises(CogniteDuplicatedError) as exc_info:
        client.files.upload_bytes(b"two", name="x.txt", external_id="x")
    assert exc_info.value.duplicated == [{"externalId": "x"}]
    assert client.files.download_bytes(external_id="x") == b"one"


def test_create_overwrite_replaces_metadata_keeps_id_and_assets(client):
    orig, _ = client.files.create(
        FileMetadataWrite(name="a.txt", external_id="ow", metadata={"old": "1", "k": "v"}, asset_ids=[5, 6])
    )
    fm, upload_url = client.files.create(
        FileMetadataWrite(name="b.txt", external_id="ow", metadata={"new": "2"}), overwrite=True
    )
    assert fm.id == orig.id
    assert fm.name == "b.txt"
    assert fm.metadata == {"new": "2"}
    assert upload_url.startswith("http")
    got = client.files.retrieve(external_id="ow")
    assert got is not None
    assert got.id == orig.id
    assert got.name == "b.txt"
    assert got.metadata == {"new": "2"}  # the whole metadata map is replaced
    assert sorted(got.asset_ids) == [5, 6]  # asset links kept when assetIds is not given
    assert len(client.files.list(limit=-1)) == 1

    # Giving assetIds replaces the links.
    client.files.create(FileMetadataWrite(name="c.txt", external_id="ow", asset_ids=[9]), overwrite=True)
    got = client.files.retrieve(id=orig.id)
    assert got.name == "c.txt" and list(got.asset_ids) == [9]


def test_create_overwrite_with_new_external_id_creates(client):
    fm, _ = client.files.create(FileMetadataWrite(name="n.txt", external_id="brand-new"), overwrite=True)
    got = client.files.retrieve(external_id="brand-new")
    assert got is not None and got.id == fm.id and got.name == "n.txt" and got.uploaded is False


def test_overwrite_keeps_old_content_until_new_upload(client):
    old = client.files.upload_bytes(b"old content", name="o.txt", external_id="o", mime_type="text/plain")
    assert client.files.download_bytes(external_id="o") == b"old content"

    fm, upload_url = client.files.create(
        FileMetadataWrite(name="o2.txt", external_id="o", mime_type="text/plain"), overwrite=True
    )
    assert fm.id == old.id
    # New upload has not happened yet: the old bytes are still served.
    assert client.files.download_bytes(external_id="o") == b"old content"
    assert client.files.download_bytes(id=old.id) == b"old content"

    # PUT the new content to the fresh URL, as a plain HTTP client without a token.
    status, _ = http_request(upload_url, "PUT", data=b"new content!", headers={"Content-Type": "text/plain"})
    assert 200 <= status < 300
    got = client.files.retrieve(external_id="o")
    assert got is not None and got.id == old.id
    assert got.uploaded is True and got.uploaded_time is not None
    assert got.name == "o2.txt"
    assert client.files.download_bytes(external_id="o") == b"new content!"


def test_upload_bytes_overwrite_replaces_content(client):
    first = client.files.upload_bytes(b"v1", name="v.txt", external_id="v")
    second = client.files.upload_bytes(b"version two", name="v.txt", external_id="v", overwrite=True)
    assert second.id == first.id
    assert client.files.download_bytes(external_id="v") == b"version two"
    assert client.files.retrieve(id=first.id).uploaded is True


def test_upload_path_overwrite_replaces_content(client, tmp_path):
    path = tmp_path / "p.txt"
    path.write_bytes(b"path v1")
    first = client.files.upload(path, external_id="p")
    path.write_bytes(b"path version 2")
    second = client.files.upload(path, external_id="p", overwrite=True)
    assert second.id == first.id
    assert client.files.download_bytes(external_id="p") == b"path version 2"


def test_name_too_long_is_rejected(client):
    with pytest.raises(CogniteAPIError) as exc_info:
        client.files.create(FileMetadataWrite(name="n" * 257, external_id="long"))
    err = exc_info.value
    assert err.code == 400
    assert "name" in err.message.lower()
    assert client.files.retrieve(external_id="long") is None


def test_name_of_256_chars_is_accepted(client):
    fm, _ = client.files.create(FileMetadataWrite(name="n" * 256))
    assert client.files.retrieve(id=fm.id).name == "n" * 256


def test_projects_are_isolated(client, base_url):
    fm = client.files.upload_bytes(b"secret", name="s.txt", external_id="shared-xid")
    other = make_client(base_url, new_project())
    assert other.files.retrieve(id=fm.id) is None
    assert other.files.retrieve(external_id="shared-xid") is None
    assert len(other.files.list(limit=-1)) == 0
    # The same external id is free in the other project.
    other_fm = other.files.upload_bytes(b"mine", name="s.txt", external_id="shared-xid")
    assert other.files.download_bytes(external_id="shared-xid") == b"mine"
    assert client.files.download_bytes(external_id="shared-xid") == b"secret"
    assert [f.id for f in client.files.list(limit=-1)] == [fm.id]
    assert [f.id for f in other.files.list(limit=-1)] == [other_fm.id]
