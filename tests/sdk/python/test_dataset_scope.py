"""Data-set scopes through the SDK: two service tokens on one project, an admin (``filesAcl`` on ``all``)
and a token whose ``filesAcl`` is scoped to data set 1. The scoped one never sees, counts or downloads the
admin's files of data set 2 or without a data set, and cannot write outside its data set.

The server is this module's own, started with a configuration file.
"""

from __future__ import annotations

import pytest
from cognite.client.data_classes import FileMetadataFilter, FileMetadataUpdate
from cognite.client.exceptions import CogniteAPIError

from access_helpers import configured_server, new_token, sha256_hex
from sdk_helpers import make_client

PROJECT = "scope-test"
ADMIN_TOKEN = new_token("admin")
SCOPED_TOKEN = new_token("scoped")
FORBIDDEN = "insufficient access rights"

CONFIG = """
[[project]]
name = "{project}"

[[project.group]]
name = "admins"
capabilities = [{{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "set-one"
capabilities = [{{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ datasetScope = {{ ids = [1] }} }} }} }}]

[[project.service_token]]
subject = "admin"
sha256 = "{admin}"
groups = ["admins"]

[[project.service_token]]
subject = "scoped"
sha256 = "{scoped}"
groups = ["set-one"]
"""


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("cabinet-scope")
    config = CONFIG.format(project=PROJECT, admin=sha256_hex(ADMIN_TOKEN), scoped=sha256_hex(SCOPED_TOKEN))
    with configured_server(tmp, "scope", config) as srv:
        admin = make_client(srv.base_url, PROJECT, ADMIN_TOKEN)
        scoped = make_client(srv.base_url, PROJECT, SCOPED_TOKEN)
        ids = {}
        for xid, data_set in [("one", 1), ("two", 2), ("none", None)]:
            content = f"{xid} content".encode()
            f = admin.files.upload_bytes(content, name=f"{xid}.txt", external_id=xid, data_set_id=data_set)
            ids[xid] = f.id
        yield admin, scoped, ids


def test_the_scoped_token_sees_and_counts_only_its_data_set(clients) -> None:
    admin, scoped, _ = clients
    assert sorted(f.external_id for f in admin.files.list(limit=None)) == ["none", "one", "two"]
    assert [f.external_id for f in scoped.files.list(limit=None)] == ["one"]
    assert [f.external_id for f in scoped.files.list(limit=None, partitions=3)] == ["one"]
    assert list(scoped.files.list(data_set_ids=[2], limit=None)) == []
    assert all(f.data_set_id == 1 for f in scoped.files.search(name="two.txt"))
    assert [f.external_id for f in scoped.files.search(filter=FileMetadataFilter())] == ["one"]
    assert admin.files.aggregate_count() == 3
    assert scoped.files.aggregate_count() == 1
    assert scoped.files.aggregate_count(filter=FileMetadataFilter(data_set_ids=[{"id": 2}])) == 0


def test_the_scoped_token_cannot_retrieve_or_download_other_files(clients) -> None:
    _, scoped, ids = clients
    assert scoped.files.retrieve(external_id="one").name == "one.txt"
    assert scoped.files.download_bytes(external_id="one") == b"one content"
    for xid in ["two", "none"]:
        # A file it may not read is a 403, as an unknown one is for a scoped token; with
        # ignore_unknown_ids both are left out.
        with pytest.raises(CogniteAPIError) as refused:
            scoped.files.retrieve(id=ids[xid])
        assert refused.value.code == 403 and FORBIDDEN in refused.value.message
        with pytest.raises(CogniteAPIError) as refused:
            scoped.files.retrieve_multiple(ids=[ids[xid]])
        assert refused.value.code == 403 and FORBIDDEN in refused.value.message
        assert list(scoped.files.retrieve_multiple(ids=[ids[xid]], ignore_unknown_ids=True)) == []
        with pytest.raises(CogniteAPIError) as refused:
            scoped.files.download_bytes(id=ids[xid])
        assert refused.value.code == 403


def test_the_scoped_token_writes_only_inside_its_data_set(clients) -> None:
    admin, scoped, ids = clients
    mine = scoped.files.upload_bytes(b"mine", name="mine.txt", external_id="mine", data_set_id=1)
    assert scoped.files.download_bytes(id=mine.id) == b"mine"
    for data_set in [2, None]:
        with pytest.raises(CogniteAPIError) as refused:
            scoped.files.upload_bytes(b"x", name="x.txt", external_id="x", data_set_id=data_set)
        assert refused.value.code == 403
    with pytest.raises(CogniteAPIError) as refused:
        scoped.files.update(FileMetadataUpdate(id=mine.id).data_set_id.set(2))
    assert refused.value.code == 403
    with pytest.raises(CogniteAPIError) as refused:
        scoped.files.delete(id=ids["two"])
    assert refused.value.code == 403
    assert admin.files.retrieve(id=mine.id).data_set_id == 1
    assert admin.files.retrieve(id=ids["two"]) is not None
    scoped.files.delete(id=mine.id)
