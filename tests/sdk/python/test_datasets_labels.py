"""Data sets and label definitions through the official Python SDK: ``client.data_sets`` (create,
retrieve, retrieve_multiple, list with each filter, update, aggregate_count), ``client.labels`` (create,
list with each filter, retrieve, delete), and ``client.files.list(data_set_external_ids=…)`` compared with a
brute force over what was created.
"""

from __future__ import annotations

import pytest
from cognite.client.data_classes import (
    DataSetFilter,
    DataSetUpdate,
    DataSetWrite,
    FileMetadataWrite,
    LabelDefinitionWrite,
)
from cognite.client.data_classes.shared import TimestampRange
from cognite.client.exceptions import CogniteAPIError, CogniteDuplicatedError, CogniteNotFoundError


def _data_sets(client, n: int):
    return client.data_sets.create(
        [
            DataSetWrite(
                external_id=f"ds-{i}",
                name=f"Data set {i}",
                description="even" if i % 2 == 0 else "odd",
                metadata={"parity": "even" if i % 2 == 0 else "odd", "i": str(i)},
                write_protected=i % 3 == 0,
            )
            for i in range(n)
        ]
    )


def test_data_sets_create_retrieve_list_update_count(client):
    created = _data_sets(client, 12)  # more than one create request (10 per request)
    assert [d.external_id for d in created] == [f"ds-{i}" for i in range(12)]
    assert len({d.id for d in created}) == 12
    first = created[0]
    assert first.name == "Data set 0" and first.metadata == {"parity": "even", "i": "0"}
    assert first.write_protected is True and first.created_time > 0

    assert client.data_sets.retrieve(id=first.id).external_id == "ds-0"
    assert client.data_sets.retrieve(external_id="ds-5").id == created[5].id
    assert client.data_sets.retrieve(external_id="nope") is None
    got = client.data_sets.retrieve_multiple(external_ids=["ds-3", "ds-1"])
    assert [d.external_id for d in got] == ["ds-3", "ds-1"]
    with pytest.raises(CogniteNotFoundError):
        client.data_sets.retrieve_multiple(ids=[first.id, 987654321])
    got = client.data_sets.retrieve_multiple(ids=[first.id, 987654321], ignore_unknown_ids=True)
    assert [d.id for d in got] == [first.id]

    with pytest.raises(CogniteDuplicatedError):
        client.data_sets.create(DataSetWrite(external_id="ds-1"))

    everything = client.data_sets.list(limit=None)
    assert sorted(d.external_id for d in everything) == sorted(d.external_id for d in created)
    assert len(client.data_sets.list(limit=5)) == 5
    cases = [
        (dict(metadata={"parity": "odd"}), lambda d: d.metadata["parity"] == "odd"),
        (dict(write_protected=True), lambda d: d.write_protected),
        (dict(external_id_prefix="ds-1"), lambda d: d.external_id.startswith("ds-1")),
        (dict(created_time=TimestampRange(min=first.created_time)), lambda d: d.created_time >= first.created_time),
        (
            dict(write_protected=False, metadata={"parity": "even"}),
            lambda d: not d.write_protected and d.metadata["parity"] == "even",
        ),
    ]
    for kwargs, keep in cases:
        expected = sorted(d.external_id for d in created if keep(d))
        listed = client.data_sets.list(limit=None, **kwargs)
        assert sorted(d.external_id for d in listed) == expected, kwargs
        count = client.data_sets.aggregate_count(DataSetFilter(**kwargs))
        assert count == len(expected), kwargs
    assert client.data_sets.aggregate_count() == 12

    upd = (
        DataSetUpdate(id=created[1].id)
        .name.set("renamed")
        .description.set(None)
        .metadata.add({"new": "yes"})
        .metadata.remove(["i"])
        .write_protected.set(True)
        .external_id.set("ds-1-renamed")
    )
    updated = client.data_sets.update(upd)
    assert updated.name == "renamed" and updated.description is None
    assert updated.metadata == {"parity": "odd", "new": "yes"}
    assert updated.write_protected is True and updated.external_id == "ds-1-renamed"
    assert client.data_sets.retrieve(id=created[1].id).name == "renamed"
    # Replacing a whole object: the SDK sends set for every field.
    obj = client.data_sets.retrieve(external_id="ds-2")
    obj.name = "replaced"
    obj.metadata = {"only": "this"}
    again = client.data_sets.update(obj, mode="replace")
    assert again.name == "replaced" and again.metadata == {"only": "this"}
    with pytest.raises(CogniteAPIError) as err:
        client.data_sets.update(DataSetUpdate(external_id="ds-3").external_id.set("ds-4"))
    assert err.value.code == 409


def test_labels_create_list_retrieve_delete(client):
    ds = client.data_sets.create([DataSetWrite(external_id="lab-a"), DataSetWrite(external_id="lab-b")])
    defs = [
        LabelDefinitionWrite(
            external_id=f"L{i}",
            name="Pump" if i % 2 == 0 else "Valve",
            description=f"label {i}",
            data_set_id=ds[i % 3].id if i % 3 < 2 else None,
        )
        for i in range(15)
    ]
    created = client.labels.create(defs)
    assert [l.external_id for l in created] == [f"L{i}" for i in range(15)]
    # The SDK cannot load the items of a refused label create (it expects createdTime on them), so the
    # 409 is checked on the wire.
    with pytest.raises(CogniteAPIError) as err:
        client.post(
            f"/api/v1/projects/{client.config.project}/labels",
            json={"items": [{"externalId": "L3", "name": "again"}]},
        )
    assert err.value.code == 409 and err.value.duplicated == [{"externalId": "L3"}]

    everything = client.labels.list(limit=None)
    assert sorted(l.external_id for l in everything) == sorted(l.external_id for l in created)
    by_id = {d.id: d.external_id for d in ds}
    cases = [
        (dict(name="Pump"), lambda l: l.name == "Pump"),
        (dict(external_id_prefix="L1"), lambda l: l.external_id.startswith("L1")),
        (dict(data_set_ids=[ds[0].id]), lambda l: l.data_set_id == ds[0].id),
        (dict(data_set_external_ids=["lab-b"]), lambda l: by_id.get(l.data_set_id) == "lab-b"),
        (
            dict(data_set_ids=[ds[0].id], data_set_external_ids=["lab-b"], name="Valve"),
            lambda l: l.data_set_id is not None and l.name == "Valve",
        ),
    ]
    for kwargs, keep in cases:
        expected = sorted(l.external_id for l in created if keep(l))
        listed = client.labels.list(limit=None, **kwargs)
        assert sorted(l.external_id for l in listed) == expected, kwargs
    assert len(client.labels.list(limit=4)) == 4

    one = client.labels.retrieve(external_id="L2")
    assert one.name == "Pump" and one.description == "label 2"
    assert client.labels.retrieve(external_id="nope", ignore_unknown_ids=True) is None
    many = client.labels.retrieve(external_id=["L4", "L0"])
    assert [l.external_id for l in many] == ["L4", "L0"]

    client.labels.delete(external_id=["L0", "L1"])
    left = client.labels.list(limit=None)
    assert sorted(l.external_id for l in left) == sorted(f"L{i}" for i in range(2, 15))
    with pytest.raises(CogniteAPIError):
        client.labels.delete(external_id="L0")


def test_files_filtered_by_data_set_external_ids(client):
    ds = client.data_sets.create([DataSetWrite(external_id=f"files-{i}") for i in range(3)])
    files = []
    for i in range(12):
        data_set = ds[i % 4].id if i % 4 < 3 else None
        files.append(client.files.create(FileMetadataWrite(name=f"f{i}", external_id=f"f{i}", data_set_id=data_set))[0])
    ext_of = {d.id: d.external_id for d in ds}

    def expected(wanted: set[str]) -> list[str]:
        return sorted(f.external_id for f in files if ext_of.get(f.data_set_id) in wanted)

    for wanted in (["files-0"], ["files-1", "files-2"], ["files-0", "files-1", "files-2"]):
        listed = client.files.list(data_set_external_ids=wanted, limit=None)
        assert sorted(f.external_id for f in listed) == expected(set(wanted)), wanted
    mixed = client.files.list(data_set_ids=[ds[0].id], data_set_external_ids=["files-2"], limit=None)
    assert sorted(f.external_id for f in mixed) == expected({"files-0", "files-2"})
    assert client.files.aggregate_count(filter={"dataSetIds": [{"externalId": "files-1"}]}) == len(expected({"files-1"}))
    with pytest.raises(CogniteAPIError) as err:
        client.files.list(data_set_external_ids=["no-such-set"], limit=None)
    assert err.value.code == 400
