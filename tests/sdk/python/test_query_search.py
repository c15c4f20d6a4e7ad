"""files.search (files-api.md §5.7) with the Python SDK: ranking, filters, no-name search, limits."""

from __future__ import annotations

import pytest
from cognite.client.data_classes import FileMetadataFilter, FileMetadataList, FileMetadataWrite, LabelFilter, Label
from cognite.client.exceptions import CogniteAPIError


def _url(client, path: str) -> str:
    return f"/api/v1/projects/{client.config.project}{path}"


def api_post(client, path: str, body: dict) -> dict:
    return client.post(_url(client, path), json=body).json()


# name -> (directory, mimeType, labels). Directories split the ranking corpus for the filter tests.
# Created in this order, which is deliberately not the ranking order.
NAMES = {
    "pamp": ("/a", "text/plain", []),  # one typo (substitution) of "pump"
    "valve": ("/a", "text/plain", []),  # unrelated
    "main pump": ("/a", "text/csv", ["PUMP"]),  # whole word
    "old kompressar": ("/b", "text/plain", []),  # two typos of "compressor"
    "pumping station": ("/b", "text/plain", []),  # prefix
    "heat exchanger": ("/c", "application/pdf", []),
    "pump": ("/a", "text/plain", ["PUMP"]),  # exact
    "compressor house": ("/b", "text/csv", []),  # unrelated to "pump"; prefix match for "compressor"
}


@pytest.fixture
def named(client):
    ids: dict[str, int] = {}
    for name, (directory, mime, labels) in NAMES.items():
        fm, _ = client.files.create(
            FileMetadataWrite(
                name=name, directory=directory, mime_type=mime, labels=[Label(x) for x in labels] or None
            )
        )
        ids[name] = fm.id
    return ids


def names_of(res, ids: dict[str, int]) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    out = []
    for f in res:
        assert f.id in by_id, f"unexpected id {f.id}"
        assert f.name == by_id[f.id]
        out.append(f.name)
    assert len(out) == len(set(out)), f"duplicates in {out}"
    return out


def test_search_ranking_exact_prefix_word_typo(client, named):
    res = client.files.search(name="pump")
    assert isinstance(res, FileMetadataList)
    assert names_of(res, named) == ["pump", "pumping station", "main pump", "pamp"]


def test_search_exact_match_ignores_case(client, named):
    res = client.files.search(name="PUMP")
    assert names_of(res, named)[0] == "pump", "exact name match is case-insensitive (spec §5.7)"


def test_search_two_typos_in_a_long_word(client, named):
    res = names_of(client.files.search(name="compressor"), named)
    assert res == ["compressor house", "old kompressar"]


def test_search_limit(client, named):
    assert names_of(client.files.search(name="pump", limit=2), named) == ["pump", "pumping station"]
    assert names_of(client.files.search(name="pump", limit=1), named) == ["pump"]
    assert len(api_post(client, "/files/search", {"search": {"name": "pump"}, "limit": 1000})["items"]) == 4
    assert len(api_post(client, "/files/search", {"search": {"name": "pump"}, "limit": 5000})["items"]) == 4
    for bad in (0, -1):
        with pytest.raises(CogniteAPIError) as excinfo:
            api_post(client, "/files/search", {"search": {"name": "pump"}, "limit": bad})
        assert excinfo.value.code == 400 and "limit" in excinfo.value.message, excinfo.value


def test_search_exact_ties_rank_above_prefix(client, named):
    second, _ = client.files.create(FileMetadataWrite(name="pump", directory="/b"))
    res = client.files.search(name="pump")
    ids = [f.id for f in res]
    assert set(ids[:2]) == {named["pump"], second.id}, "both exact matches come first"
    assert ids[2:] == [named["pumping station"], named["main pump"], named["pamp"]]


def test_search_no_match(client, named):
    assert len(client.files.search(name="zzzzqqqq")) == 0


def test_search_with_filter(client, named):
    res = client.files.search(name="pump", filter=FileMetadataFilter(directory_prefix="/a"))
    assert names_of(res, named) == ["pump", "main pump", "pamp"]
    res = client.files.search(name="pump", filter={"directory_prefix": "/a", "mime_type": "text/plain"})
    assert names_of(res, named) == ["pump", "pamp"]
    res = client.files.search(name="pump", filter=FileMetadataFilter(labels=LabelFilter(contains_any=["PUMP"])))
    assert names_of(res, named) == ["pump", "main pump"]
    res = client.files.search(name="pump", filter=FileMetadataFilter(directory_prefix="/c"))
    assert len(res) == 0


def test_search_without_name_returns_filtered_files(client, named):
    res = client.files.search(filter=FileMetadataFilter(directory_prefix="/b"))
    assert set(names_of(res, named)) == {"pumping station", "compressor house", "old kompressar"}
    listed = client.files.list(directory_prefix="/b", limit=-1)
    assert [f.id for f in res] == [f.id for f in listed], "without a name, search returns files in list order"
    res = client.files.search(filter={"mime_type": "text/csv"})
    assert set(names_of(res, named)) == {"main pump", "compressor house"}
    res = client.files.search()  # {"search": {"name": null}, "filter": {}, "limit": 25}
    assert set(names_of(res, named)) == set(NAMES)
    res = client.files.search(limit=3)
    assert len(res) == 3
    # raw shapes: no "search" key at all, and an empty search object
    for body in ({"filter": {"directoryPrefix": "/c"}}, {"search": {}, "filter": {"directoryPrefix": "/c"}}):
        items = api_post(client, "/files/search", body)["items"]
        assert [f["id"] for f in items] == [named["heat exchanger"]]


def test_search_accepts_nulls(client, named):
    res = api_post(client, "/files/search", {"search": {"name": None}, "filter": None, "limit": None})
    assert {f["id"] for f in res["items"]} == set(named.values())
    res = api_post(client, "/files/search", {"search": None, "filter": {"directoryPrefix": "/c"}})
    assert [f["id"] for f in res["items"]] == [named["heat exchanger"]]


def test_search_response_has_no_cursor(client, named):
    res = api_post(client, "/files/search", {"search": {"name": "pump"}, "filter": {}, "limit": 1})
    assert [f["id"] for f in res["items"]] == [named["pump"]]
    assert res.get("nextCursor") is None


def test_search_name_too_long_is_400(client, named):
    with pytest.raises(CogniteAPIError) as excinfo:
        client.files.search(name="x" * 257)
    assert excinfo.value.code == 400 and "name" in excinfo.value.message
