"""``assetsAcl`` with ``datasetScope`` through the SDK: an owner (``assetsAcl`` READ/WRITE and ``datasetsAcl``
on ``all``) and a writer whose ``assetsAcl`` READ/WRITE is scoped to one data set. The scoped writer reads,
creates, updates and deletes only assets of its data set: it cannot move one out of it (or into it from
outside), and a recursive delete reaching an asset of another data set is refused whole.

The server is this module's own (``access_helpers.server_scoped_to_new_data_sets``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from cognite.client.data_classes import AssetUpdate, AssetWrite, DataSetWrite
from cognite.client.exceptions import CogniteAPIError

from access_helpers import new_token, server_scoped_to_new_data_sets, sha256_hex
from sdk_helpers import make_client

PROJECT = "assets-access"
OWNER_TOKEN = new_token("owner")
SCOPED_TOKEN = new_token("scoped")

CONFIG = """
[[project]]
name = "{project}"

[[project.group]]
name = "owners"
capabilities = [
  {{ assetsAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }},
  {{ datasetsAcl = {{ actions = ["READ", "WRITE", "OWNER"], scope = {{ all = {{}} }} }} }},
]

[[project.group]]
name = "scoped"
capabilities = [{{ assetsAcl = {{ actions = ["READ", "WRITE"], scope = {{ datasetScope = {{ ids = [{scoped}] }} }} }} }}]

[[project.service_token]]
subject = "owner"
sha256 = "{owner}"
groups = ["owners"]

[[project.service_token]]
subject = "scoped"
sha256 = "{writer}"
groups = ["scoped"]
"""


def config(ids: Sequence[int]) -> str:
    return CONFIG.format(
        project=PROJECT, owner=sha256_hex(OWNER_TOKEN), writer=sha256_hex(SCOPED_TOKEN), scoped=ids[0]
    )


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("cabinet-assets-access")
    with server_scoped_to_new_data_sets(
        tmp,
        "assets-access",
        PROJECT,
        config,
        OWNER_TOKEN,
        [DataSetWrite(external_id="assets-in"), DataSetWrite(external_id="assets-out")],
    ) as (srv, (inside, outside)):
        owner = make_client(srv.base_url, PROJECT, OWNER_TOKEN)
        scoped = make_client(srv.base_url, PROJECT, SCOPED_TOKEN)
        yield owner, scoped, inside.id, outside.id


def refused(call) -> int:
    with pytest.raises(CogniteAPIError) as e:
        call()
    return e.value.code


def test_a_scoped_writer_creates_and_reads_only_its_data_set(clients) -> None:
    owner, scoped, inside, outside = clients
    scoped.assets.create_hierarchy(
        [
            AssetWrite(external_id="c-root", name="root", data_set_id=inside),
            AssetWrite(external_id="c-leaf", name="leaf", data_set_id=inside, parent_external_id="c-root"),
        ]
    )
    assert refused(lambda: scoped.assets.create(AssetWrite(external_id="c-out", name="x", data_set_id=outside))) == 403
    assert refused(lambda: scoped.assets.create(AssetWrite(external_id="c-none", name="x"))) == 403
    owner.assets.create(AssetWrite(external_id="c-theirs", name="theirs", data_set_id=outside))
    seen = {a.external_id for a in scoped.assets.list(limit=None)}
    assert {"c-root", "c-leaf"} <= seen and "c-theirs" not in seen
    assert refused(lambda: scoped.assets.retrieve(external_id="c-theirs")) == 403


def test_a_scoped_writer_updates_only_its_data_set_and_keeps_assets_in_it(clients) -> None:
    owner, scoped, inside, outside = clients
    owner.assets.create(
        [
            AssetWrite(external_id="u-in", name="in", data_set_id=inside),
            AssetWrite(external_id="u-out", name="out", data_set_id=outside),
        ]
    )
    assert scoped.assets.update(AssetUpdate(external_id="u-in").name.set("renamed")).name == "renamed"
    for update in [
        AssetUpdate(external_id="u-out").name.set("mine"),
        AssetUpdate(external_id="u-in").data_set_id.set(outside),
        AssetUpdate(external_id="u-in").data_set_id.set(None),
        AssetUpdate(external_id="u-out").data_set_id.set(inside),
    ]:
        assert refused(lambda: scoped.assets.update(update)) == 403
    kept = owner.assets.retrieve_multiple(external_ids=["u-in", "u-out"])
    assert [(a.name, a.data_set_id) for a in kept] == [("renamed", inside), ("out", outside)]


def test_a_recursive_delete_reaching_another_data_set_is_refused_whole(clients) -> None:
    owner, scoped, inside, outside = clients
    owner.assets.create_hierarchy(
        [
            AssetWrite(external_id="d-root", name="root", data_set_id=inside),
            AssetWrite(external_id="d-mid", name="mid", data_set_id=inside, parent_external_id="d-root"),
            AssetWrite(external_id="d-other", name="other", data_set_id=outside, parent_external_id="d-mid"),
            AssetWrite(external_id="d-mine", name="mine", data_set_id=inside, parent_external_id="d-root"),
        ]
    )
    assert refused(lambda: scoped.assets.delete(external_id="d-root", recursive=True)) == 403
    assert refused(lambda: scoped.assets.delete(external_id="d-other")) == 403
    left = {a.external_id for a in owner.assets.retrieve_subtree(external_id="d-root")}
    assert left == {"d-root", "d-mid", "d-other", "d-mine"}
    scoped.assets.delete(external_id="d-mine")
    owner.assets.delete(external_id="d-other")
    scoped.assets.delete(external_id="d-root", recursive=True)
    assert len(owner.assets.retrieve_multiple(external_ids=["d-root", "d-mid"], ignore_unknown_ids=True)) == 0
