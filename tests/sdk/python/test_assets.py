"""Assets through the official Python SDK (client.assets), and the files filters that name assets, checked
against a brute force over what was created."""

from __future__ import annotations

import random

import pytest
from cognite.client.data_classes import AssetFilter, AssetWrite, FileMetadataWrite
from cognite.client.exceptions import CogniteAPIError

N = 300


def _hierarchy(seed: int = 7) -> dict[str, str | None]:
    """externalId -> parent externalId: three roots, every other asset under an earlier one."""
    rnd = random.Random(seed)
    parents: dict[str, str | None] = {}
    for i in range(N):
        parents[f"a{i}"] = None if i < 3 else f"a{rnd.randrange(i)}"
    return parents


def _subtree(parents: dict[str, str | None], top: str) -> set[str]:
    out = {top}
    changed = True
    while changed:
        changed = False
        for x, p in parents.items():
            if p in out and x not in out:
                out.add(x)
                changed = True
    return out


@pytest.fixture
def hierarchy(client):
    parents = _hierarchy()
    items = [
        AssetWrite(
            external_id=x,
            name=f"asset {x}",
            parent_external_id=p,
            description=f"pump {x}",
            metadata={"parity": str(int(x[1:]) % 2)},
            source="sap" if int(x[1:]) % 3 == 0 else "other",
        )
        for x, p in parents.items()
    ]
    random.Random(1).shuffle(items)
    created = client.assets.create_hierarchy(items)
    assert len(created) == N
    by_xid = {a.external_id: a for a in client.assets.list(limit=None)}
    return parents, by_xid


def test_create_hierarchy_sets_parents_and_roots(client, hierarchy):
    parents, by_xid = hierarchy
    assert set(by_xid) == set(parents)
    for x, p in parents.items():
        a = by_xid[x]
        if p is None:
            assert a.parent_id is None and a.root_id == a.id
        else:
            assert a.parent_id == by_xid[p].id
            root = next(r for r in ("a0", "a1", "a2") if x in _subtree(parents, r))
            assert a.root_id == by_xid[root].id


def test_retrieve_subtree_and_list_filters(client, hierarchy):
    parents, by_xid = hierarchy
    for top in ("a0", "a1", "a5", "a40"):
        want = _subtree(parents, top)
        got = client.assets.retrieve_subtree(external_id=top)
        assert {a.external_id for a in got} == want
        got = client.assets.list(asset_subtree_external_ids=[top], limit=None)
        assert {a.external_id for a in got} == want
        got = client.assets.list(asset_subtree_ids=[by_xid[top].id], limit=None)
        assert {a.external_id for a in got} == want
        children = {x for x, p in parents.items() if p == top}
        got = client.assets.list(parent_ids=[by_xid[top].id], limit=None)
        assert {a.external_id for a in got} == children
        got = client.assets.list(parent_external_ids=[top], limit=None)
        assert {a.external_id for a in got} == children
    # (SDK 8.22 sends no rootIds for assets nor rootAssetIds for files: the HTTP suite covers them.)
    got = client.assets.list(root=True, limit=None)
    assert {a.external_id for a in got} == {"a0", "a1", "a2"}
    got = client.assets.list(metadata={"parity": "1"}, source="sap", limit=None)
    assert {a.external_id for a in got} == {x for x in parents if int(x[1:]) % 2 == 1 and int(x[1:]) % 3 == 0}
    got = client.assets.list(external_id_prefix="a29", limit=None)
    assert {a.external_id for a in got} == {x for x in parents if x.startswith("a29")}
    got = client.assets.list(name="asset a7", limit=None)
    assert [a.external_id for a in got] == ["a7"]
    assert client.assets.aggregate_count(filter=AssetFilter(root=True)) == 3
    assert client.assets.aggregate_count() == N
    got = client.assets.list(partitions=3, limit=None)
    assert sorted(a.external_id for a in got) == sorted(parents)
    found = client.assets.search(name="a77", limit=5)
    assert found[0].external_id == "a77"


def test_update_retrieve_and_delete(client, hierarchy):
    parents, by_xid = hierarchy
    leaf = next(x for x in parents if x not in parents.values())
    updated = client.assets.update(AssetWrite(external_id=leaf, name="renamed", metadata={"k": "v"}))
    assert updated.name == "renamed" and updated.metadata == {"k": "v"}
    got = client.assets.retrieve_multiple(external_ids=[leaf, "a0"], ignore_unknown_ids=True)
    assert [a.external_id for a in got] == [leaf, "a0"]
    assert client.assets.retrieve(external_id="nobody") is None
    with pytest.raises(CogniteAPIError) as e:
        client.assets.delete(external_id="a0")
    assert e.value.code == 400
    client.assets.delete(external_id="a0", recursive=True)
    left = {a.external_id for a in client.assets.list(limit=None)}
    assert left == set(parents) - _subtree(parents, "a0")


def test_files_filters_by_assets(client, hierarchy):
    parents, by_xid = hierarchy
    rnd = random.Random(3)
    links: dict[str, list[str]] = {}
    xids = list(parents)
    for j in range(60):
        links[f"f{j}"] = rnd.sample(xids, 2)
    for f, assets in links.items():
        client.files.create(FileMetadataWrite(external_id=f, name=f, asset_ids=[by_xid[a].id for a in assets]))

    def brute(selected: set[str]) -> set[str]:
        return {f for f, assets in links.items() if any(a in selected for a in assets)}

    for top in ("a0", "a1", "a9"):
        want = brute(_subtree(parents, top))
        got = client.files.list(asset_subtree_ids=[by_xid[top].id], limit=None)
        assert {f.external_id for f in got} == want
        got = client.files.list(asset_subtree_external_ids=[top], limit=None)
        assert {f.external_id for f in got} == want
    some = xids[10:20]
    got = client.files.list(asset_external_ids=some, limit=None)
    assert {f.external_id for f in got} == brute(set(some))
