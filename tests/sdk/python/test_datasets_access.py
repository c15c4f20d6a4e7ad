"""``datasetsAcl`` and ``labelsAcl`` through the SDK: an owner (datasetsAcl READ/WRITE/OWNER on ``all``), a
writer (READ/WRITE, no OWNER) and a reader scoped by ``idScope`` to one data set, all with ``filesAcl`` on
``all``. Only the owner writes files into a write-protected data set or updates it; the scoped reader sees
only that one; ``verify_capabilities`` finds the data set capabilities as the SDK spells them.

The server is this module's own, started with a configuration file; it is started twice, because the
reader's scope names the id the first run gave the data set
(``access_helpers.server_scoped_to_new_data_sets``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from cognite.client.data_classes import DataSetUpdate, DataSetWrite, FileMetadataUpdate, LabelDefinitionWrite
from cognite.client.data_classes.capabilities import DataSetsAcl, LabelsAcl
from cognite.client.exceptions import CogniteAPIError

from access_helpers import new_token, server_scoped_to_new_data_sets, sha256_hex
from sdk_helpers import make_client

PROJECT = "datasets-access"
OWNER_TOKEN = new_token("owner")
WRITER_TOKEN = new_token("writer")
READER_TOKEN = new_token("reader")

CONFIG = """
[[project]]
name = "{project}"

[[project.group]]
name = "files"
capabilities = [{{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "owners"
capabilities = [
  {{ datasetsAcl = {{ actions = ["READ", "WRITE", "OWNER"], scope = {{ all = {{}} }} }} }},
  {{ labelsAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }},
]

[[project.group]]
name = "writers"
capabilities = [{{ datasetsAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "readers"
capabilities = [
  {{ datasetsAcl = {{ actions = ["READ"], scope = {{ idScope = {{ ids = [{scoped}] }} }} }} }},
  {{ labelsAcl = {{ actions = ["READ"], scope = {{ datasetScope = {{ ids = [{scoped}] }} }} }} }},
]

[[project.service_token]]
subject = "owner"
sha256 = "{owner}"
groups = ["files", "owners"]

[[project.service_token]]
subject = "writer"
sha256 = "{writer}"
groups = ["files", "writers"]

[[project.service_token]]
subject = "reader"
sha256 = "{reader}"
groups = ["files", "readers"]
"""


def config(ids: Sequence[int]) -> str:
    return CONFIG.format(
        project=PROJECT,
        owner=sha256_hex(OWNER_TOKEN),
        writer=sha256_hex(WRITER_TOKEN),
        reader=sha256_hex(READER_TOKEN),
        scoped=ids[0],
    )


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("cabinet-datasets-access")
    with server_scoped_to_new_data_sets(
        tmp,
        "datasets-access",
        PROJECT,
        config,
        OWNER_TOKEN,
        [DataSetWrite(external_id="open"), DataSetWrite(external_id="locked", write_protected=True)],
    ) as (srv, sets):
        owner = make_client(srv.base_url, PROJECT, OWNER_TOKEN)
        writer = make_client(srv.base_url, PROJECT, WRITER_TOKEN)
        reader = make_client(srv.base_url, PROJECT, READER_TOKEN)
        yield owner, writer, reader, sets


def test_only_owners_write_into_a_write_protected_data_set(clients) -> None:
    owner, writer, _, (open_set, locked) = clients
    with pytest.raises(CogniteAPIError) as refused:
        writer.files.upload_bytes(b"x", name="x.txt", external_id="w-locked", data_set_id=locked.id)
    assert refused.value.code == 403
    mine = writer.files.upload_bytes(b"x", name="x.txt", external_id="w-open", data_set_id=open_set.id)
    with pytest.raises(CogniteAPIError) as refused:
        writer.files.update(FileMetadataUpdate(id=mine.id).data_set_id.set(locked.id))
    assert refused.value.code == 403
    theirs = owner.files.upload_bytes(b"o", name="o.txt", external_id="o-locked", data_set_id=locked.id)
    assert owner.files.download_bytes(id=theirs.id) == b"o"
    with pytest.raises(CogniteAPIError) as refused:
        writer.files.delete(id=theirs.id)
    assert refused.value.code == 403
    with pytest.raises(CogniteAPIError) as refused:
        writer.data_sets.update(DataSetUpdate(id=locked.id).description.set("mine now"))
    assert refused.value.code == 403
    assert owner.data_sets.update(DataSetUpdate(id=locked.id).description.set("still theirs")).description == (
        "still theirs"
    )
    assert writer.data_sets.update(DataSetUpdate(id=open_set.id).description.set("ok")).description == "ok"


def test_an_id_scoped_reader_sees_its_data_set_only(clients) -> None:
    owner, _, reader, (open_set, locked) = clients
    assert [d.id for d in reader.data_sets.list(limit=None)] == [open_set.id]
    assert reader.data_sets.aggregate_count() == 1
    assert owner.data_sets.aggregate_count() >= 2
    with pytest.raises(CogniteAPIError) as refused:
        reader.data_sets.retrieve(id=locked.id)
    assert refused.value.code == 403
    with pytest.raises(CogniteAPIError) as refused:
        reader.data_sets.create(DataSetWrite(external_id="nope"))
    assert refused.value.code == 403
    owner.labels.create(
        [
            LabelDefinitionWrite(external_id="in-open", name="a", data_set_id=open_set.id),
            LabelDefinitionWrite(external_id="in-locked", name="b", data_set_id=locked.id),
        ]
    )
    assert [l.external_id for l in reader.labels.list(limit=None)] == ["in-open"]
    # On the wire: the SDK cannot load the items of a refused label create (it expects createdTime).
    with pytest.raises(CogniteAPIError) as refused:
        reader.post(
            f"/api/v1/projects/{PROJECT}/labels",
            json={"items": [{"externalId": "r", "name": "r", "dataSetId": open_set.id}]},
        )
    assert refused.value.code == 403


def test_verify_capabilities_finds_the_data_set_capabilities(clients) -> None:
    owner, _, reader, _ = clients
    assert owner.iam.verify_capabilities(
        [DataSetsAcl([DataSetsAcl.Action.Owner], DataSetsAcl.Scope.All()), LabelsAcl([LabelsAcl.Action.Write], LabelsAcl.Scope.All())]
    ) == []
    scoped, other = clients[3][0].id, clients[3][1].id
    assert reader.iam.verify_capabilities([DataSetsAcl([DataSetsAcl.Action.Read], DataSetsAcl.Scope.ID([scoped]))]) == []
    missing = reader.iam.verify_capabilities([DataSetsAcl([DataSetsAcl.Action.Read], DataSetsAcl.Scope.ID([other]))])
    assert missing != []
