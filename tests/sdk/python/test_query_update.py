"""files.update (files-api.md §5.9) with the Python SDK: every field and operator, the three modes for
FileMetadata/FileMetadataWrite objects, and the error shapes."""

from __future__ import annotations

import time

import pytest
from cognite.client.data_classes import (
    FileMetadata,
    FileMetadataList,
    FileMetadataUpdate,
    FileMetadataWrite,
    GeoLocation,
    Geometry,
    Label,
)
from cognite.client.data_classes.data_modeling import NodeId
from cognite.client.exceptions import CogniteAPIError, CogniteDuplicatedError, CogniteNotFoundError

from sdk_helpers import UNKNOWN_ID


def _url(client, path: str) -> str:
    return f"/api/v1/projects/{client.config.project}{path}"


def api_post(client, path: str, body: dict) -> dict:
    return client.post(_url(client, path), json=body).json()


def point(x: float, y: float) -> GeoLocation:
    return GeoLocation(type="Feature", geometry=Geometry(type="Point", coordinates=[x, y]))


def geo_dump(g: GeoLocation | None):
    return None if g is None else g.dump(camel_case=True)


def label_set(f: FileMetadata) -> set[str]:
    return {lb.external_id for lb in (f.labels or [])}


def full_write(xid: str, name: str = "full.txt") -> FileMetadataWrite:
    return FileMetadataWrite(
        name=name,
        external_id=xid,
        directory="/d1",
        source="s1",
        mime_type="text/plain",
        metadata={"a": "1", "b": "2"},
        asset_ids=[1, 2],
        data_set_id=10,
        labels=[Label("L0"), Label("L1")],
        geo_location=point(1, 2),
        source_created_time=100,
        source_modified_time=200,
        security_categories=[7],
    )


@pytest.fixture
def full(client) -> FileMetadata:
    """A file with every updatable field set (and content, so `uploaded` is true)."""
    w = full_write("u1")
    client.files.upload_bytes(
        b"content",
        name=w.name,
        external_id=w.external_id,
        directory=w.directory,
        source=w.source,
        mime_type=w.mime_type,
        metadata=w.metadata,
        asset_ids=w.asset_ids,
        data_set_id=w.data_set_id,
        labels=w.labels,
        geo_location=w.geo_location,
        source_created_time=w.source_created_time,
        source_modified_time=w.source_modified_time,
        security_categories=w.security_categories,
    )
    got = client.files.retrieve(external_id="u1")
    assert got is not None and got.uploaded is True
    return got


def assert_unchanged_identity(before: FileMetadata, after: FileMetadata) -> None:
    assert after.id == before.id
    assert after.name == before.name, "name is not updatable"
    assert after.created_time == before.created_time
    assert after.uploaded == before.uploaded
    assert after.uploaded_time == before.uploaded_time
    assert after.last_updated_time > before.last_updated_time, "lastUpdatedTime must move on update"


# ---------------------------------------------------------------------------------------------------------------
# FileMetadataUpdate: set / add / remove / setNull


def test_update_object_set_add_remove_every_field(client, full):
    time.sleep(0.005)
    upd = (
        FileMetadataUpdate(id=full.id)
        .external_id.set("u1-new")
        .directory.set("/d2/sub")
        .source.set("s2")
        .mime_type.set("text/csv")
        .metadata.add({"b": "20", "c": "3"})
        .metadata.remove(["a", "not-there"])
        .asset_ids.add([3, 2])
        .asset_ids.remove([1, 99])
        .data_set_id.set(11)
        .labels.add(["L2", "L1"])
        .labels.remove(["L0", "NOT-THERE"])
        .geo_location.set(point(3, 4))
        .source_created_time.set(101)
        .source_modified_time.set(201)
        .security_categories.add([8])
        .security_categories.remove([7])
    )
    res = client.files.update(upd)
    assert isinstance(res, FileMetadata)
    for f in (res, client.files.retrieve(id=full.id)):
        assert_unchanged_identity(full, f)
        assert f.external_id == "u1-new"
        assert f.directory == "/d2/sub"
        assert f.source == "s2"
        assert f.mime_type == "text/csv"
        assert f.metadata == {"b": "20", "c": "3"}
        assert sorted(f.asset_ids) == [2, 3]
        assert f.data_set_id == 11
        assert label_set(f) == {"L1", "L2"}
        assert len(f.labels) == 2, "adding an already-present label is a no-op"
        assert geo_dump(f.geo_location) == geo_dump(point(3, 4))
        assert f.source_created_time == 101
        assert f.source_modified_time == 201
        assert list(f.security_categories) == [8]
    assert client.files.retrieve(external_id="u1") is None, "the old external id is free now"
    assert client.files.retrieve(external_id="u1-new").id == full.id


def test_update_object_clear_every_field(client, full):
    time.sleep(0.005)
    upd = (
        FileMetadataUpdate(external_id="u1")
        .external_id.set(None)
        .directory.set(None)
        .source.set(None)
        .mime_type.set(None)
        .metadata.set(None)  # sent as {"set": {}}
        .asset_ids.set([])
        .data_set_id.set(None)
        .labels.remove(["L0", "L1"])
        .geo_location.set(None)
        .source_created_time.set(None)
        .source_modified_time.set(None)
        .security_categories.set([])
    )
    res = client.files.update(upd)
    for f in (res, client.files.retrieve(id=full.id)):
        assert_unchanged_identity(full, f)
        assert f.external_id is None
        assert f.directory is None and f.source is None and f.mime_type is None
        assert not f.metadata
        assert not f.asset_ids
        assert f.data_set_id is None
        assert not f.labels
        assert f.geo_location is None
        assert f.source_created_time is None and f.source_modified_time is None
        assert not f.security_categories
    # Clearing again (setNull on null fields, empty sets) must succeed too.
    again = client.files.update(
        FileMetadataUpdate(id=full.id).source.set(None).asset_ids.set([]).metadata.set({}).labels.remove(["L0"])
    )
    assert again.source is None and not again.asset_ids and not again.metadata and not again.labels


def test_update_object_set_replaces_collections(client, full):
    res = client.files.update(
        FileMetadataUpdate(id=full.id)
        .metadata.set({"only": "this"})
        .asset_ids.set([9, 8])
        .security_categories.set([5, 6])
    )
    got = client.files.retrieve(id=full.id)
    for f in (res, got):
        assert f.metadata == {"only": "this"}
        assert sorted(f.asset_ids) == [8, 9]
        assert sorted(f.security_categories) == [5, 6]
        assert label_set(f) == {"L0", "L1"}, "untouched fields stay"
        assert f.source == "s1" and f.directory == "/d1" and f.external_id == "u1"


def test_update_several_items_in_request_order(client, full):
    other, _ = client.files.create(FileMetadataWrite(name="o.txt", external_id="o1", metadata={"k": "v"}))
    res = client.files.update(
        [
            FileMetadataUpdate(external_id="o1").metadata.add({"k2": "v2"}),
            FileMetadataUpdate(id=full.id).source.set("many"),
        ]
    )
    assert isinstance(res, FileMetadataList)
    assert [f.id for f in res] == [other.id, full.id]
    assert res[0].metadata == {"k": "v", "k2": "v2"}
    assert res[1].source == "many"


def test_update_is_visible_to_list_filters(client, full):
    time.sleep(0.005)
    res = client.files.update(FileMetadataUpdate(id=full.id).metadata.add({"state": "new"}).labels.add(["FRESH"]))
    assert [f.id for f in client.files.list(metadata={"state": "new"})] == [full.id]
    assert [f.id for f in client.files.list(last_updated_time={"min": res.last_updated_time})] == [full.id]
    assert len(client.files.list(last_updated_time={"max": full.last_updated_time})) == 0


# ---------------------------------------------------------------------------------------------------------------
# update(FileMetadata | FileMetadataWrite) in the three modes


def test_update_default_mode_replace_ignore_null(client, full):
    time.sleep(0.005)
    f = client.files.retrieve(id=full.id)
    f.source = "patched"
    f.metadata = {"k": "new"}
    f.directory = None  # ignored in replace_ignore_null
    f.asset_ids = [42]
    f.labels = [Label("X")]
    res = client.files.update(f)  # also sends externalId: {"set": "u1"} - its own value, no clash
    for g in (res, client.files.retrieve(id=full.id)):
        assert_unchanged_identity(full, g)
        assert g.external_id == "u1"
        assert g.source == "patched"
        assert g.metadata == {"k": "new"}, "metadata is replaced, not merged"
        assert list(g.asset_ids) == [42]
        assert label_set(g) == {"X"}, "labels are replaced (labels: {set: [...]})"
        assert g.directory == "/d1", "None fields are left alone"
        assert g.mime_type == "text/plain" and g.data_set_id == 10
        assert g.source_created_time == 100 and list(g.security_categories) == [7]
        assert geo_dump(g.geo_location) == geo_dump(point(1, 2))


def test_update_retrieved_object_mode_replace(client, full):
    f = client.files.retrieve(id=full.id)
    f.source = None
    f.geo_location = None
    f.metadata = {"z": "1"}
    res = client.files.update(f, mode="replace")
    for g in (res, client.files.retrieve(id=full.id)):
        assert g.source is None and g.geo_location is None, "fields that are None are cleared"
        assert g.metadata == {"z": "1"}
        assert g.external_id == "u1" and g.directory == "/d1" and sorted(g.asset_ids) == [1, 2]
        assert label_set(g) == {"L0", "L1"} and g.data_set_id == 10 and g.source_modified_time == 200


def test_update_write_object_default_mode(client, full):
    res = client.files.update(FileMetadataWrite(name="ignored.txt", external_id="u1", source="w"))
    assert res.id == full.id and res.name == full.name
    assert res.source == "w"
    assert res.metadata == {"a": "1", "b": "2"} and sorted(res.asset_ids) == [1, 2]
    assert res.directory == "/d1" and label_set(res) == {"L0", "L1"}


def test_update_mode_replace_clears_unset_fields(client, full):
    time.sleep(0.005)
    res = client.files.update(
        FileMetadataWrite(name="ignored.txt", external_id="u1", metadata={"x": "y"}), mode="replace"
    )
    for g in (res, client.files.retrieve(id=full.id)):
        assert_unchanged_identity(full, g)
        assert g.external_id == "u1"
        assert g.metadata == {"x": "y"}
        assert g.directory is None and g.source is None and g.mime_type is None
        assert not g.asset_ids
        assert g.data_set_id is None
        assert not g.labels, "labels: {set: []} clears the labels"
        assert g.geo_location is None
        assert g.source_created_time is None and g.source_modified_time is None
        assert not g.security_categories


def test_update_mode_replace_sets_given_fields(client, full):
    res = client.files.update(
        FileMetadataWrite(
            name="ignored.txt",
            external_id="u1",
            source="r",
            asset_ids=[5],
            labels=[Label("R")],
            geo_location=point(5, 6),
            source_modified_time=999,
        ),
        mode="replace",
    )
    assert res.source == "r" and list(res.asset_ids) == [5] and label_set(res) == {"R"}
    assert geo_dump(res.geo_location) == geo_dump(point(5, 6))
    assert res.source_modified_time == 999
    assert not res.metadata and res.directory is None and res.source_created_time is None


def test_update_mode_patch_merges_collections(client, full):
    time.sleep(0.005)
    res = client.files.update(
        FileMetadataWrite(
            name="ignored.txt",
            external_id="u1",
            metadata={"x": "y", "a": "10"},
            asset_ids=[9],
            labels=[Label("NEW")],
            security_categories=[8],
            source="patched",
        ),
        mode="patch",
    )
    for g in (res, client.files.retrieve(id=full.id)):
        assert_unchanged_identity(full, g)
        assert g.metadata == {"a": "10", "b": "2", "x": "y"}, "metadata.add merges and overwrites existing keys"
        assert sorted(g.asset_ids) == [1, 2, 9]
        assert label_set(g) == {"L0", "L1", "NEW"}
        assert sorted(g.security_categories) == [7, 8]
        assert g.source == "patched"
        assert g.directory == "/d1" and g.mime_type == "text/plain" and g.data_set_id == 10


# ---------------------------------------------------------------------------------------------------------------
# Errors


def test_update_external_id_clash_is_409_duplicated(client, full):
    other, _ = client.files.create(FileMetadataWrite(name="o.txt", external_id="taken"))
    with pytest.raises(CogniteDuplicatedError) as excinfo:
        client.files.update(FileMetadataUpdate(id=full.id).external_id.set("taken").source.set("changed"))
    err = excinfo.value
    assert err.code == 409
    assert err.duplicated == [{"externalId": "taken"}]
    got = client.files.retrieve(id=full.id)
    assert got.external_id == "u1" and got.source == "s1", "nothing changed"
    assert got.last_updated_time == full.last_updated_time
    assert client.files.retrieve(external_id="taken").id == other.id


def test_update_two_items_to_the_same_external_id_is_409(client, full):
    other, _ = client.files.create(FileMetadataWrite(name="o.txt", external_id="o1"))
    with pytest.raises(CogniteDuplicatedError) as excinfo:
        client.files.update(
            [
                FileMetadataUpdate(id=full.id).external_id.set("same"),
                FileMetadataUpdate(id=other.id).external_id.set("same"),
            ]
        )
    assert excinfo.value.duplicated == [{"externalId": "same"}]
    assert client.files.retrieve(external_id="same") is None


def test_update_unknown_id_is_not_found(client, full):
    with pytest.raises(CogniteNotFoundError) as excinfo:
        client.files.update(FileMetadataUpdate(id=UNKNOWN_ID).source.set("x"))
    assert excinfo.value.not_found == [{"id": UNKNOWN_ID}]
    with pytest.raises(CogniteNotFoundError) as excinfo:
        client.files.update(FileMetadataUpdate(external_id="no-such-file").source.set("x"))
    assert excinfo.value.not_found == [{"externalId": "no-such-file"}]
    with pytest.raises(CogniteNotFoundError) as excinfo:
        client.files.update(FileMetadataWrite(name="n", external_id="nope", source="x"))
    assert excinfo.value.not_found == [{"externalId": "nope"}]


@pytest.mark.filterwarnings("ignore:It is not recommended to update a file with an instance_id")
def test_update_unknown_instance_id_is_not_found(client, full):
    with pytest.raises(CogniteNotFoundError) as excinfo:
        client.files.update(FileMetadataUpdate(instance_id=NodeId("sp", "no-such-node")).metadata.add({"k": "v"}))
    assert excinfo.value.not_found == [{"instanceId": {"space": "sp", "externalId": "no-such-node"}}]


def test_update_known_and_unknown_reports_only_unknown(client, full):
    with pytest.raises(CogniteNotFoundError) as excinfo:
        client.files.update(
            [
                FileMetadataUpdate(id=full.id).source.set("x"),
                FileMetadataUpdate(id=UNKNOWN_ID).source.set("x"),
                FileMetadataUpdate(external_id="nope").source.set("x"),
            ]
        )
    assert sorted(excinfo.value.not_found, key=str) == sorted([{"id": UNKNOWN_ID}, {"externalId": "nope"}], key=str)


def _raw_update_error(client, item: dict) -> CogniteAPIError:
    with pytest.raises(CogniteAPIError) as excinfo:
        api_post(client, "/files/update", {"items": [item]})
    return excinfo.value


@pytest.mark.parametrize(
    "update, field",
    [
        ({"name": {"set": "new.txt"}}, "name"),
        ({"assetIds": {"set": [1], "add": [2]}}, "assetIds"),
        ({"source": {"set": "a", "setNull": True}}, "source"),
        ({"source": {"set": "s" * 129}}, "source"),
        ({"directory": {"set": "relative/path"}}, "directory"),
        ({"directory": {"set": "/" + "d" * 512}}, "directory"),
        ({"externalId": {"set": "x" * 256}}, "externalId"),
        ({"mimeType": {"set": 5}}, "mimeType"),
        ({"dataSetId": {"set": 0}}, "dataSetId"),
        ({"sourceCreatedTime": {"set": -1}}, "sourceCreatedTime"),
        ({"metadata": {"set": {"k": 1}}}, "metadata"),
        ({"metadata": {"add": {"k" * 129: "v"}}}, "metadata"),
        ({"labels": {"add": [{"externalId": f"L{i}"} for i in range(11)]}}, "labels"),
        ({"geoLocation": {"set": {"type": "Point", "coordinates": [1, 2]}}}, "geoLocation"),
        ({"assetIds": {"add": [0]}}, "assetIds"),
        ({"noSuchField": {"set": 1}}, "noSuchField"),
        ({"source": {}}, "source"),
        ({"metadata": {"setNull": True}}, "metadata"),
        ({"assetIds": {"setNull": True}}, "assetIds"),
        ({"labels": {"set": [{"externalId": f"L{i}"} for i in range(11)]}}, "labels"),
        ({"securityCategories": {"add": list(range(1, 102))}}, "securityCategories"),
    ],
)
def test_update_invalid_is_400_naming_the_field(client, full, update, field):
    err = _raw_update_error(client, {"id": full.id, "update": update})
    assert err.code == 400, err
    assert field in err.message, f"the message should name {field}: {err.message}"
    got = client.files.retrieve(id=full.id)
    assert got.dump() == full.dump(), "a rejected update changes nothing"


def test_update_result_over_limit_is_400(client, full):
    # labels: result <= 10
    err = _raw_update_error(
        client, {"id": full.id, "update": {"labels": {"add": [{"externalId": f"M{i}"} for i in range(9)]}}}
    )
    assert err.code == 400 and "labels" in err.message, err
    assert label_set(client.files.retrieve(id=full.id)) == {"L0", "L1"}
    # metadata: <= 256 pairs in the result
    err = _raw_update_error(
        client, {"id": full.id, "update": {"metadata": {"add": {f"k{i}": "v" for i in range(255)}}}}
    )
    assert err.code == 400 and "metadata" in err.message, err
    # assetIds: <= 1000 in the result
    err = _raw_update_error(client, {"id": full.id, "update": {"assetIds": {"add": list(range(100, 1099))}}})
    assert err.code == 400 and "assetIds" in err.message, err
    got = client.files.retrieve(id=full.id)
    assert got.metadata == {"a": "1", "b": "2"} and sorted(got.asset_ids) == [1, 2]


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": [{"id": i, "update": {}} for i in range(1, 1002)]},
        {"items": [{"update": {"source": {"set": "x"}}}]},  # no identifier
        {},
    ],
    ids=["empty", "1001-items", "no-identifier", "no-items"],
)
def test_update_malformed_request_is_400(client, full, body):
    with pytest.raises(CogniteAPIError) as excinfo:
        api_post(client, "/files/update", body)
    assert excinfo.value.code == 400, excinfo.value


def test_update_item_with_two_identifiers_is_400(client, full):
    with pytest.raises(CogniteAPIError) as excinfo:
        api_post(client, "/files/update", {"items": [{"id": full.id, "externalId": "u1", "update": {"source": {"set": "x"}}}]})
    assert excinfo.value.code == 400
    assert client.files.retrieve(id=full.id).source == "s1"


def test_update_same_identifier_twice_is_400(client, full):
    with pytest.raises(CogniteAPIError) as excinfo:
        api_post(
            client,
            "/files/update",
            {
                "items": [
                    {"id": full.id, "update": {"source": {"set": "a"}}},
                    {"id": full.id, "update": {"source": {"set": "b"}}},
                ]
            },
        )
    assert excinfo.value.code == 400
    assert client.files.retrieve(id=full.id).source == "s1"


def test_update_raw_wire_shapes(client, full):
    """The exact bodies of sdk-wire.md §3 / §4, sent verbatim."""
    time.sleep(0.005)
    res = api_post(
        client,
        "/files/update",
        {
            "items": [
                {
                    "id": full.id,
                    "update": {
                        "assetIds": {"add": [3], "remove": [2]},
                        "metadata": {"add": {"k": "v"}, "remove": ["a"]},
                        "source": {"setNull": True},
                        "labels": {"set": [{"externalId": "S1"}]},
                        "geoLocation": {
                            "set": {
                                "type": "Feature",
                                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
                                "properties": {"p": 1},
                            }
                        },
                        "sourceCreatedTime": {"set": 1700000000000},
                    },
                }
            ]
        },
    )
    [item] = res["items"]
    assert item["id"] == full.id
    assert sorted(item["assetIds"]) == [1, 3]
    assert item["metadata"] == {"b": "2", "k": "v"}
    assert "source" not in item or item["source"] is None
    assert item["labels"] == [{"externalId": "S1"}]
    assert item["geoLocation"]["geometry"] == {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    assert item["sourceCreatedTime"] == 1700000000000
    assert item["lastUpdatedTime"] > full.last_updated_time
