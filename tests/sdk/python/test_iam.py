"""IAM through the SDK against a server started with a configuration file: an admin service token creates,
lists and deletes groups and security categories; a group it creates makes another service token a member
at once (and stops doing so when deleted); token inspection and ``verify_capabilities`` reflect the groups.

The server is this module's own, started with a configuration file.
"""

from __future__ import annotations

import pytest
from cognite.client.data_classes import Group, GroupWrite, SecurityCategoryWrite
from cognite.client.data_classes.capabilities import (
    FilesAcl,
    GroupsAcl,
    SecurityCategoriesAcl,
)
from cognite.client.exceptions import CogniteAPIError, CogniteProjectAccessError

from access_helpers import configured_server, new_token, sha256_hex
from sdk_helpers import make_client

PROJECT = "iam-test"
ADMIN_TOKEN = new_token("admin")
NEWBIE_TOKEN = new_token("newbie")

CONFIG = """
[[project]]
name = "{project}"

[[project.group]]
name = "admins"
capabilities = [
  {{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }},
  {{ groupsAcl = {{ actions = ["LIST", "CREATE", "DELETE"], scope = {{ all = {{}} }} }} }},
  {{ securityCategoriesAcl = {{ actions = ["LIST", "CREATE", "DELETE"], scope = {{ all = {{}} }} }} }},
  {{ projectsAcl = {{ actions = ["LIST"], scope = {{ all = {{}} }} }} }},
]

[[project.service_token]]
subject = "admin"
sha256 = "{admin}"
groups = ["admins"]

[[project.service_token]]
subject = "newbie"
sha256 = "{newbie}"
"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("cabinet-iam")
    config = CONFIG.format(project=PROJECT, admin=sha256_hex(ADMIN_TOKEN), newbie=sha256_hex(NEWBIE_TOKEN))
    with configured_server(tmp, "iam", config) as srv:
        yield srv.base_url


def test_groups_create_list_and_delete_grant_and_revoke(base_url: str) -> None:
    admin = make_client(base_url, PROJECT, ADMIN_TOKEN)
    newbie = make_client(base_url, PROJECT, NEWBIE_TOKEN)
    with pytest.raises(CogniteProjectAccessError):
        newbie.files.list(limit=1)

    created = admin.iam.groups.create(
        GroupWrite(
            name="newcomers",
            members=["newbie"],
            capabilities=[FilesAcl([FilesAcl.Action.Read], FilesAcl.Scope.All())],
            metadata={"origin": "sdk"},
        )
    )
    assert isinstance(created, Group)
    assert created.id > 2**48 and created.name == "newcomers"
    assert created.members == ["newbie"] and created.metadata == {"origin": "sdk"}
    assert created.capabilities == [FilesAcl([FilesAcl.Action.Read], FilesAcl.Scope.All())]

    everyone = admin.iam.groups.create(GroupWrite(name="everyone", members="allUserAccounts"))
    assert everyone.members == "allUserAccounts"

    all_groups = admin.iam.groups.list(all=True)
    assert [g.name for g in all_groups] == ["admins", "newcomers", "everyone"]
    # all=False (the SDK's default): the caller's own groups, "everyone" included.
    assert [g.name for g in admin.iam.groups.list()] == ["admins", "everyone"]

    # The new group grants at once: newbie lists files now.
    assert list(newbie.files.list(limit=5)) == []
    inspection = newbie.iam.token.inspect()
    assert inspection.subject == "newbie"
    assert sorted(inspection.projects[0].groups) == sorted([created.id, everyone.id])

    admin.iam.groups.delete([created.id, everyone.id])
    assert [g.name for g in admin.iam.groups.list(all=True)] == ["admins"]
    with pytest.raises(CogniteProjectAccessError):
        newbie.files.list(limit=1)

    configured_id = all_groups[0].id
    with pytest.raises(CogniteAPIError) as refused:
        admin.iam.groups.delete(configured_id)
    assert refused.value.code == 400 and "configuration file" in refused.value.message


def test_security_categories_create_list_and_delete(base_url: str) -> None:
    admin = make_client(base_url, PROJECT, ADMIN_TOKEN)
    names = [f"cat-{i}" for i in range(30)]
    created = admin.iam.security_categories.create([SecurityCategoryWrite(name=n) for n in names])
    assert [c.name for c in created] == names
    # The SDK pages with the cursor (25 per page by default).
    listed = admin.iam.security_categories.list(limit=None)
    assert [c.name for c in listed] == names
    desc = admin.iam.security_categories.list(limit=3, sort="DESC")
    assert [c.name for c in desc] == names[::-1][:3]
    with pytest.raises(CogniteAPIError) as refused:
        admin.iam.security_categories.create(SecurityCategoryWrite(name="cat-0"))
    assert refused.value.code == 409
    admin.iam.security_categories.delete([c.id for c in created[:10]])
    assert [c.name for c in admin.iam.security_categories.list(limit=None)] == names[10:]
    with pytest.raises(CogniteAPIError) as refused:
        admin.iam.security_categories.delete(created[0].id)
    assert refused.value.code == 400


def test_verify_capabilities_tells_held_from_missing(base_url: str) -> None:
    admin = make_client(base_url, PROJECT, ADMIN_TOKEN)
    inspection = admin.iam.token.inspect()
    assert inspection.subject == "admin"
    assert [p.url_name for p in inspection.projects] == [PROJECT]
    held = [
        GroupsAcl([GroupsAcl.Action.List, GroupsAcl.Action.Create], GroupsAcl.Scope.All()),
        SecurityCategoriesAcl([SecurityCategoriesAcl.Action.List], SecurityCategoriesAcl.Scope.All()),
        FilesAcl([FilesAcl.Action.Write], FilesAcl.Scope.All()),
    ]
    assert admin.iam.verify_capabilities(held) == []
    missing = admin.iam.verify_capabilities(
        [SecurityCategoriesAcl([SecurityCategoriesAcl.Action.MemberOf], SecurityCategoriesAcl.Scope.All())]
    )
    assert len(missing) == 1
