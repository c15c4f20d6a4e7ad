"""Security categories through the SDK: two service tokens on one project, both with ``filesAcl`` on
``all``: an admin who is ``MEMBEROF`` every category, and a member of category A only. The member never
sees, counts or downloads the admin's files of category B or of categories A and B, and cannot give a
file a category it is not a member of.

The server is this module's own, started with a configuration file.
"""

from __future__ import annotations

import pytest
from cognite.client.data_classes import FileMetadataFilter, FileMetadataUpdate
from cognite.client.data_classes.capabilities import FilesAcl, SecurityCategoriesAcl
from cognite.client.exceptions import CogniteAPIError

from access_helpers import configured_server, new_token, sha256_hex
from sdk_helpers import make_client

PROJECT = "categories-test"
ADMIN_TOKEN = new_token("admin")
MEMBER_TOKEN = new_token("member")
FORBIDDEN = "insufficient access rights"
A = 7001
B = 7002

CONFIG = """
[[project]]
name = "{project}"

[[project.group]]
name = "admins"
capabilities = [
  {{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }},
  {{ securityCategoriesAcl = {{ actions = ["MEMBEROF"], scope = {{ all = {{}} }} }} }},
]

[[project.group]]
name = "category-a"
capabilities = [
  {{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }},
  {{ securityCategoriesAcl = {{ actions = ["MEMBEROF"], scope = {{ idscope = {{ ids = ["{a}"] }} }} }} }},
]

[[project.service_token]]
subject = "admin"
sha256 = "{admin}"
groups = ["admins"]

[[project.service_token]]
subject = "member"
sha256 = "{member}"
groups = ["category-a"]
"""

FILES = {"plain": [], "a": [A], "b": [B], "ab": [A, B]}
VISIBLE = ["a", "plain"]


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("cabinet-categories")
    config = CONFIG.format(project=PROJECT, a=A, admin=sha256_hex(ADMIN_TOKEN), member=sha256_hex(MEMBER_TOKEN))
    with configured_server(tmp, "categories", config) as srv:
        admin = make_client(srv.base_url, PROJECT, ADMIN_TOKEN)
        member = make_client(srv.base_url, PROJECT, MEMBER_TOKEN)
        ids = {}
        for xid, categories in FILES.items():
            f = admin.files.upload_bytes(
                f"{xid} content".encode(), name=f"{xid}.txt", external_id=xid, security_categories=categories
            )
            ids[xid] = f.id
        yield admin, member, ids


def test_the_member_sees_and_counts_only_files_of_its_categories(clients) -> None:
    admin, member, _ = clients
    assert sorted(f.external_id for f in admin.files.list(limit=None)) == ["a", "ab", "b", "plain"]
    assert sorted(f.external_id for f in member.files.list(limit=None)) == VISIBLE
    assert sorted(f.external_id for f in member.files.list(limit=None, partitions=3)) == VISIBLE
    assert sorted(f.external_id for f in member.files.list(limit=1)) in (["a"], ["plain"])
    for name in ["b.txt", "ab.txt"]:
        assert [f.external_id for f in member.files.search(name=name) if f.name == name] == []
    assert sorted(f.external_id for f in member.files.search(filter=FileMetadataFilter())) == VISIBLE
    assert admin.files.aggregate_count() == 4
    assert member.files.aggregate_count() == 2
    assert member.files.aggregate_count(filter=FileMetadataFilter(uploaded=True)) == 2


def test_the_member_cannot_retrieve_or_download_hidden_files(clients) -> None:
    _, member, ids = clients
    assert member.files.retrieve(external_id="a").security_categories == [A]
    assert member.files.download_bytes(external_id="a") == b"a content"
    for xid in ["b", "ab"]:
        with pytest.raises(CogniteAPIError) as refused:
            member.files.retrieve(id=ids[xid])
        assert refused.value.code == 403 and FORBIDDEN in refused.value.message
        with pytest.raises(CogniteAPIError) as refused:
            member.files.retrieve_multiple(ids=[ids[xid]])
        assert refused.value.code == 403 and FORBIDDEN in refused.value.message
        assert list(member.files.retrieve_multiple(ids=[ids[xid]], ignore_unknown_ids=True)) == []
        with pytest.raises(CogniteAPIError) as refused:
            member.files.download_bytes(id=ids[xid])
        assert refused.value.code == 403


def test_the_member_writes_only_within_its_categories(clients) -> None:
    admin, member, ids = clients
    mine = member.files.upload_bytes(b"mine", name="mine.txt", external_id="mine", security_categories=[A])
    assert member.files.download_bytes(id=mine.id) == b"mine"
    with pytest.raises(CogniteAPIError) as refused:
        member.files.upload_bytes(b"x", name="x.txt", external_id="x", security_categories=[B])
    assert refused.value.code == 403
    with pytest.raises(CogniteAPIError) as refused:
        member.files.update(FileMetadataUpdate(id=mine.id).security_categories.add([B]))
    assert refused.value.code == 403
    with pytest.raises(CogniteAPIError) as refused:
        member.files.update(FileMetadataUpdate(id=ids["ab"]).security_categories.remove([B]))
    assert refused.value.code == 403
    with pytest.raises(CogniteAPIError) as refused:
        member.files.delete(id=ids["b"])
    assert refused.value.code == 403
    assert admin.files.retrieve(id=mine.id).security_categories == [A]
    assert admin.files.retrieve(id=ids["ab"]).security_categories == [A, B]
    assert admin.files.retrieve(id=ids["b"]) is not None
    member.files.delete(id=mine.id)


def test_verify_capabilities_sees_the_idscope(clients) -> None:
    _, member, _ = clients
    granted = [
        FilesAcl([FilesAcl.Action.Read], FilesAcl.Scope.All()),
        SecurityCategoriesAcl([SecurityCategoriesAcl.Action.MemberOf], SecurityCategoriesAcl.Scope.ID([A])),
    ]
    assert member.iam.verify_capabilities(granted) == []
    missing = member.iam.verify_capabilities(
        [SecurityCategoriesAcl([SecurityCategoriesAcl.Action.MemberOf], SecurityCategoriesAcl.Scope.ID([B]))]
    )
    assert len(missing) == 1
