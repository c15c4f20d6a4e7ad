"""Transport details the SDK relies on: chunked PUTs, 401 without a token, persistence across a restart."""

from __future__ import annotations

import json
import warnings

from cognite.client.data_classes import FileMetadataWrite

from conftest import start_server, stop_server
from sdk_helpers import MiB, distinct_blocks, http_request, make_client
from suite_access import new_project


def test_upload_bytes_chunked_transfer_encoding(client):
    # An async iterator has no length: the SDK PUTs it with Transfer-Encoding: chunked.
    chunks = [b"chunk-one|", b"", b"chunk-two|" * 1000, distinct_blocks(MiB + 3)]

    async def gen():
        for c in chunks:
            yield c

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK warns that chunked uploads may fail on some clouds
        fm = client.files.upload_bytes(gen(), name="chunked.bin", external_id="chunked")
    got = client.files.retrieve(id=fm.id)
    assert got is not None and got.uploaded is True
    assert client.files.download_bytes(external_id="chunked") == b"".join(chunks)


def test_missing_token_is_401(base_url, project):
    url = f"{base_url}/api/v1/projects/{project}/files/list"
    status, body = http_request(url, "POST", data=b'{"limit": 1}', headers={"Content-Type": "application/json"})
    assert status == 401, f"a request without Authorization must get 401 (JS SDK depends on it), got {status}"
    err = json.loads(body)["error"]
    assert isinstance(err["message"], str) and err["message"]


def test_restart_keeps_files(tmp_path):
    data_dir = tmp_path / "data"
    project = new_project()
    srv = start_server(data_dir, tmp_path, name="restart-1")
    try:
        c = make_client(srv.base_url, project)
        a = c.files.upload_bytes(b"persist me", name="a.txt", external_id="a", metadata={"k": "v"}, directory="/p")
        with c.files.multipart_upload_session("b.bin", parts=2, external_id="b") as session:
            session.upload_part(1, b"tail")
            session.upload_part(0, distinct_blocks(5 * MiB + 1, seed=b"\x01" * MiB))
        b_id = session.file_metadata.id
        pending, _ = c.files.create(FileMetadataWrite(name="pending.txt", external_id="pending"))
        before = {f.id: f.dump() for f in c.files.list(limit=-1)}
    finally:
        stop_server(srv)

    srv = start_server(data_dir, tmp_path, name="restart-2")
    try:
        c = make_client(srv.base_url, project)
        after = {f.id: f.dump() for f in c.files.list(limit=-1)}
        assert after == before
        assert set(after) == {a.id, b_id, pending.id}
        assert c.files.download_bytes(external_id="a") == b"persist me"
        assert c.files.download_bytes(id=b_id) == distinct_blocks(5 * MiB + 1, seed=b"\x01" * MiB) + b"tail"
        assert c.files.retrieve(external_id="pending").uploaded is False
        # New ids do not collide with the ones handed out before the restart.
        new, _ = c.files.create(FileMetadataWrite(name="new.txt"))
        assert new.id not in before
    finally:
        stop_server(srv)
