"""Uploads through the official SDK: upload_bytes, upload(path), multipart sessions, upload_content*."""

from __future__ import annotations

import hashlib
import os

import pytest
from cognite.client._api.files import FilesAPI
from cognite.client.data_classes import FileMetadata, FileMetadataWrite, GeoLocation, Geometry, Label
from cognite.client.exceptions import CogniteAPIError, CogniteFileUploadError

from sdk_helpers import MiB, distinct_blocks, now_ms, sha256_file, write_distinct_file

POINT = GeoLocation(type="Feature", geometry=Geometry(type="Point", coordinates=[10.0, 59.0]))


def assert_uploaded(fm: FileMetadata | None, not_before_ms: int) -> FileMetadata:
    assert fm is not None
    assert fm.uploaded is True, "uploaded must be true as soon as the upload call returns"
    assert isinstance(fm.uploaded_time, int), f"uploadedTime must be set once uploaded, got {fm.uploaded_time!r}"
    assert not_before_ms - 5_000 <= fm.uploaded_time <= now_ms() + 5_000
    assert fm.uploaded_time >= fm.created_time
    return fm


def test_upload_bytes_round_trips_every_field(client):
    content = b"hello cabinet\n\x00\x01\xfe\xff" * 100
    t0 = now_ms()
    returned = client.files.upload_bytes(
        content,
        name="hello.txt",
        external_id="hello-xid",
        source="probe",
        mime_type="text/plain",
        metadata={"a": "1", "b": "2"},
        directory="/some/dir",
        asset_ids=[1, 2],
        data_set_id=123,
        labels=[Label("L1"), Label("L2")],
        geo_location=POINT,
        source_created_time=1700000000000,
        source_modified_time=1700000001000,
        security_categories=[7],
    )
    # upload_bytes returns the create response: content not there yet.
    assert isinstance(returned, FileMetadata)
    assert isinstance(returned.id, int) and 1 <= returned.id <= 2**53 - 1
    assert returned.uploaded is False
    assert returned.uploaded_time is None
    assert returned.external_id == "hello-xid"
    assert returned.name == "hello.txt"
    assert t0 - 5_000 <= returned.created_time <= now_ms() + 5_000
    assert returned.last_updated_time >= returned.created_time

    fm = client.files.retrieve(id=returned.id)
    assert_uploaded(fm, t0)
    assert fm.id == returned.id
    assert fm.created_time == returned.created_time
    assert fm.name == "hello.txt"
    assert fm.external_id == "hello-xid"
    assert fm.source == "probe"
    assert fm.mime_type == "text/plain"
    assert fm.metadata == {"a": "1", "b": "2"}
    assert fm.directory == "/some/dir"
    assert list(fm.asset_ids) == [1, 2]
    assert fm.data_set_id == 123
    assert sorted(label.external_id for label in fm.labels) == ["L1", "L2"]
    assert fm.geo_location is not None
    assert fm.geo_location.dump(camel_case=True) == POINT.dump(camel_case=True)
    assert fm.source_created_time == 1700000000000
    assert fm.source_modified_time == 1700000001000
    assert list(fm.security_categories) == [7]
    assert fm.instance_id is None

    by_xid = client.files.retrieve(external_id="hello-xid")
    assert by_xid is not None and by_xid.dump() == fm.dump()

    assert client.files.download_bytes(id=fm.id) == content
    assert client.files.download_bytes(external_id="hello-xid") == content


def test_upload_bytes_minimal_fields_omitted(client):
    fm = client.files.upload_bytes(b"abc", name="plain.bin")
    got = client.files.retrieve(id=fm.id)
    assert got is not None and got.uploaded is True
    assert got.name == "plain.bin"
    assert got.external_id is None
    assert got.mime_type is None
    assert got.directory is None
    assert got.source is None
    assert got.data_set_id is None
    assert not got.metadata  # {} or absent are both fine
    assert not got.asset_ids
    assert client.files.download_bytes(id=fm.id) == b"abc"


def test_upload_bytes_str_content(client):
    fm = client.files.upload_bytes("blåbærsyltetøy ✓", name="utf8.txt", external_id="utf8", mime_type="text/plain")
    assert client.files.download_bytes(id=fm.id) == "blåbærsyltetøy ✓".encode()


def test_upload_path_one_byte(client, tmp_path):
    path = tmp_path / "one.bin"
    path.write_bytes(b"x")
    t0 = now_ms()
    returned = client.files.upload(str(path), external_id="one", mime_type="application/octet-stream")
    assert isinstance(returned, FileMetadata)
    assert returned.name == "one.bin"  # name defaults to the file name
    fm = assert_uploaded(client.files.retrieve(external_id="one"), t0)
    assert fm.id == returned.id
    assert fm.name == "one.bin"
    assert fm.mime_type == "application/octet-stream"
    assert client.files.download_bytes(id=fm.id) == b"x"


def test_upload_path_zero_bytes(client, tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    t0 = now_ms()
    returned = client.files.upload(path, external_id="empty", metadata={"k": "v"}, directory="/e")
    fm = assert_uploaded(client.files.retrieve(id=returned.id), t0)
    assert fm.name == "empty.txt"
    assert fm.metadata == {"k": "v"}
    assert fm.directory == "/e"
    assert client.files.download_bytes(id=fm.id) == b""
    out = tmp_path / "empty.out"
    client.files.download_to_path(out, external_id="empty")
    assert out.read_bytes() == b""


def test_upload_path_120_mib_three_parts(client, tmp_path):
    size = 120 * MiB
    # The SDK splits this into 50 + 50 + 20 MiB parts and PUTs them in parallel.
    assert FilesAPI.calculate_part_size_and_count(None, size) == (50 * MiB, 3)
    src = tmp_path / "big.bin"
    digest = write_distinct_file(src, size)
    t0 = now_ms()
    returned = client.files.upload(src, external_id="big", name="big.bin", source="perf")
    fm = assert_uploaded(client.files.retrieve(id=returned.id), t0)
    assert fm.name == "big.bin" and fm.source == "perf"
    src.unlink()  # keep the tmp footprint low
    dst = tmp_path / "big.out"
    client.files.download_to_path(dst, id=fm.id)
    assert dst.stat().st_size == size
    assert sha256_file(dst) == digest


def test_multipart_session_parts_out_of_order(client):
    p0 = distinct_blocks(5 * MiB + 10)
    p1 = distinct_blocks(5 * MiB + 7)
    p2 = b"tail bytes"
    t0 = now_ms()
    with client.files.multipart_upload_session(
        "mp.bin", parts=3, external_id="mp", mime_type="application/x-test", metadata={"m": "1"}
    ) as session:
        assert isinstance(session.file_metadata.id, int)
        assert session.file_metadata.uploaded is False
        assert session.file_metadata.name == "mp.bin"
        session.upload_part(2, p2)
        session.upload_part(0, p0)
        session.upload_part(1, p1)
    fm = assert_uploaded(client.files.retrieve(id=session.file_metadata.id), t0)
    assert fm.external_id == "mp"
    assert fm.mime_type == "application/x-test"
    assert fm.metadata == {"m": "1"}
    data = client.files.download_bytes(external_id="mp")
    assert len(data) == len(p0) + len(p1) + len(p2)
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(p0 + p1 + p2).hexdigest()


def test_multipart_session_missing_part_leaves_file_not_uploaded(client):
    with pytest.raises(CogniteFileUploadError):
        with client.files.multipart_upload_session("mp2.bin", parts=2, external_id="mp2") as session:
            session.upload_part(0, distinct_blocks(5 * MiB + 1))
    fm = client.files.retrieve(external_id="mp2")
    assert fm is not None
    assert fm.id == session.file_metadata.id
    assert fm.uploaded is False
    assert fm.uploaded_time is None


def test_complete_with_missing_part_is_rejected(client):
    # Bypass the SDK's own client-side check: ask the server directly to complete an incomplete session.
    session = client.files.multipart_upload_session("mp3.bin", parts=2, external_id="mp3")
    session.upload_part(1, b"last part only")
    with pytest.raises(CogniteAPIError) as exc_info:
        client.post(
            f"/api/v1/projects/{client.config.project}/files/completemultipartupload",
            json={"id": session.file_metadata.id, "uploadId": session._upload_id},
        )
    assert 400 <= exc_info.value.code < 500
    fm = client.files.retrieve(id=session.file_metadata.id)
    assert fm is not None and fm.uploaded is False


def test_multipart_session_single_small_part(client):
    with client.files.multipart_upload_session("small.txt", parts=1, external_id="small") as session:
        session.upload_part(0, b"just one small part")
    assert client.files.retrieve(external_id="small").uploaded is True
    assert client.files.download_bytes(external_id="small") == b"just one small part"


def test_upload_content_bytes_on_created_file(client):
    created, upload_url = client.files.create(
        FileMetadataWrite(name="c2.txt", external_id="c2", mime_type="text/plain", metadata={"x": "1"})
    )
    assert created.uploaded is False
    if os.environ.get("CABINET_CONTENT_TRANSFER") == "direct":
        # The run really is in direct transfer: the SDK PUTs to S3 itself.
        assert "X-Amz-Signature=" in upload_url
    t0 = now_ms()
    returned = client.files.upload_content_bytes(b"content two", external_id="c2")
    assert isinstance(returned, FileMetadata)
    assert returned.id == created.id
    fm = assert_uploaded(client.files.retrieve(external_id="c2"), t0)
    assert fm.id == created.id
    assert fm.name == "c2.txt" and fm.metadata == {"x": "1"} and fm.mime_type == "text/plain"
    assert client.files.download_bytes(external_id="c2") == b"content two"


def test_upload_content_path_on_created_file(client, tmp_path):
    created, _ = client.files.create(FileMetadataWrite(name="c3.bin", external_id="c3"))
    src = tmp_path / "local-name.bin"
    payload = distinct_blocks(3 * MiB + 123)
    src.write_bytes(payload)
    t0 = now_ms()
    returned = client.files.upload_content(str(src), external_id="c3")
    assert returned.id == created.id
    fm = assert_uploaded(client.files.retrieve(id=created.id), t0)
    assert fm.name == "c3.bin"  # the metadata is not touched by a content upload
    assert client.files.download_bytes(id=created.id) == payload

