"""Access control through the SDK: a server started with a configuration file whose project has service
tokens, used with ``Token(<token>)`` credentials as a CI script would.

The server is this module's own (the suite's shared one runs in open mode). ``admin`` may read and write
files, ``reader`` only read; any other token is unknown to it.
"""

from __future__ import annotations

import secrets

import pytest
from cognite.client.exceptions import CogniteAPIError, CogniteProjectAccessError

from access_helpers import configured_server, new_token, sha256_hex
from sdk_helpers import make_client

PROJECT = "acl-test"
ADMIN_TOKEN = new_token("admin")
READER_TOKEN = new_token("reader")

CONFIG = """
[[project]]
name = "{project}"

[[project.group]]
name = "admins"
capabilities = [{{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "readers"
members = ["dashboard"]
capabilities = [{{ filesAcl = {{ actions = ["READ"], scope = {{ all = {{}} }} }} }}]

[[project.service_token]]
subject = "ci"
sha256 = "{admin}"
groups = ["admins"]

[[project.service_token]]
subject = "dashboard"
sha256 = "{reader}"
"""


@pytest.fixture(scope="module")
def configured_base_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("cabinet-access")
    config = CONFIG.format(project=PROJECT, admin=sha256_hex(ADMIN_TOKEN), reader=sha256_hex(READER_TOKEN))
    with configured_server(tmp, "access", config) as srv:
        yield srv.base_url


def test_a_service_token_uploads_lists_retrieves_and_downloads(configured_base_url: str) -> None:
    admin = make_client(configured_base_url, PROJECT, ADMIN_TOKEN)
    xid = "acl-" + secrets.token_hex(4)
    admin.files.upload_bytes(b"guarded content", name="guarded.txt", external_id=xid)
    reader = make_client(configured_base_url, PROJECT, READER_TOKEN)
    assert xid in [f.external_id for f in reader.files.list(limit=None)]
    retrieved = reader.files.retrieve(external_id=xid)
    assert retrieved is not None and retrieved.name == "guarded.txt"
    assert reader.files.download_bytes(external_id=xid) == b"guarded content"


def test_a_read_only_token_cannot_write(configured_base_url: str) -> None:
    reader = make_client(configured_base_url, PROJECT, READER_TOKEN)
    with pytest.raises(CogniteAPIError) as refused:
        reader.files.upload_bytes(b"nope", name="nope.txt", external_id="nope")
    assert refused.value.code == 403
    with pytest.raises(CogniteAPIError) as refused:
        reader.files.delete(external_id="anything")
    assert refused.value.code == 403


def test_an_unknown_token_has_no_access_to_the_project(configured_base_url: str) -> None:
    stranger = make_client(configured_base_url, PROJECT, "guessed-" + secrets.token_hex(8))
    with pytest.raises(CogniteProjectAccessError):
        stranger.files.list(limit=1)


def test_token_inspect_names_the_subject_and_its_capabilities(configured_base_url: str) -> None:
    reader = make_client(configured_base_url, PROJECT, READER_TOKEN)
    inspection = reader.iam.token.inspect()
    assert inspection.subject == "dashboard"
    assert [p.url_name for p in inspection.projects] == [PROJECT]
    from cognite.client.data_classes.capabilities import FilesAcl

    missing = reader.iam.verify_capabilities([FilesAcl([FilesAcl.Action.Read], FilesAcl.Scope.All())])
    assert missing == []
    missing = reader.iam.verify_capabilities([FilesAcl([FilesAcl.Action.Write], FilesAcl.Scope.All())])
    assert len(missing) == 1
