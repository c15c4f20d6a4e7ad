"""List filters (files-api.md §5.4, §5.5, §6) and aggregate (§5.8) through the official Python SDK.

Every test builds the same small, varied corpus in its own project and asserts the exact set of files a
filter selects. Results are compared as sets of corpus keys ("A".."F") so a failure reads like
``{'A', 'B'} != {'A', 'B', 'F'}``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from cognite.client.data_classes import (
    FileMetadataFilter,
    FileMetadataWrite,
    GeoLocation,
    GeoLocationFilter,
    Geometry,
    GeometryFilter,
    Label,
    LabelFilter,
)
from cognite.client.exceptions import CogniteAPIError

# Geometries of the corpus (lon, lat).
POINT_A = [10.0, 59.0]
POINT_B = [11.0, 60.0]
POLYGON_C = [[[4.0, 59.0], [6.0, 59.0], [6.0, 61.0], [4.0, 61.0], [4.0, 59.0]]]
LINE_F = [[20.0, 70.0], [21.0, 71.0]]

# Shapes used in the geoLocation filters.
BOX_AB = [[[9.0, 58.0], [12.0, 58.0], [12.0, 61.0], [9.0, 61.0], [9.0, 58.0]]]  # contains A and B
BOX_C_EDGE = [[[5.5, 60.0], [8.0, 60.0], [8.0, 62.0], [5.5, 62.0], [5.5, 60.0]]]  # overlaps part of C only
BOX_F = [[[19.0, 69.0], [22.0, 69.0], [22.0, 72.0], [19.0, 72.0], [19.0, 69.0]]]  # contains F's line
WORLD = [[[-180.0, -90.0], [180.0, -90.0], [180.0, 90.0], [-180.0, 90.0], [-180.0, -90.0]]]


def _geo(kind: str, coords: Any) -> GeoLocation:
    return GeoLocation(type="Feature", geometry=Geometry(type=kind, coordinates=coords))


def _geo_filter(relation: str, kind: str, coords: Any) -> GeoLocationFilter:
    return GeoLocationFilter(relation=relation, shape=GeometryFilter(type=kind, coordinates=coords))


class Corpus:
    """Six files with different combinations of every filterable field.

    | key | name            | externalId | directory        | mimeType        | metadata                     | assetIds | dataSet | labels          | geo     | source | sourceCreated | sourceModified | uploaded |
    |-----|-----------------|------------|------------------|-----------------|------------------------------|----------|---------|-----------------|---------|--------|---------------|----------------|----------|
    | A   | pump-report.pdf | doc-A1     | /plant/area1     | application/pdf | site=oslo, kind=report       | 1, 2     | 100     | PUMP, VERIFIED  | point   | sap    | 1_000_000     | 2_000_000      | yes      |
    | B   | pump-spec.txt   | doc-A2     | /plant/area1/sub | text/plain      | site=oslo, kind=spec         | 2, 3     | 100     | PUMP            | point   | sap    | 2_000_000     | 3_000_000      | no       |
    | C   | valve.txt       | doc-b1     | /plant/area2     | text/plain      | site=bergen                  | 4        | 200     | VALVE           | polygon | manual | 3_000_000     | -              | yes      |
    | D   | Doc-C.csv       | DOC-C      | /other           | text/csv        | site=OSLO                    | -        | -       | -               | -       | SAP    | -             | 5_000_000      | yes      |
    | E   | notes           | -          | -                | -               | -                            | -        | -       | -               | -       | -      | -             | -              | no       |
    | F   | pump-report.pdf | doc-A3     | /plantation      | application/pdf | kind=report                  | 5        | 300     | VERIFIED        | line    | sap-x  | -             | -              | no       |

    A, B and C are created first; D, E and F at least 20 ms later (for the createdTime filters).
    """

    KEYS = ("A", "B", "C", "D", "E", "F")

    def __init__(self, client):
        self.client = client
        files = client.files
        self.ids: dict[str, int] = {}
        a = files.upload_bytes(
            b"report A",
            name="pump-report.pdf",
            external_id="doc-A1",
            directory="/plant/area1",
            mime_type="application/pdf",
            metadata={"site": "oslo", "kind": "report"},
            asset_ids=[1, 2],
            data_set_id=100,
            labels=[Label("PUMP"), Label("VERIFIED")],
            geo_location=_geo("Point", POINT_A),
            source="sap",
            source_created_time=1_000_000,
            source_modified_time=2_000_000,
        )
        self.ids["A"] = a.id
        b, _ = files.create(
            FileMetadataWrite(
                name="pump-spec.txt",
                external_id="doc-A2",
                directory="/plant/area1/sub",
                mime_type="text/plain",
                metadata={"site": "oslo", "kind": "spec"},
                asset_ids=[2, 3],
                data_set_id=100,
                labels=[Label("PUMP")],
                geo_location=_geo("Point", POINT_B),
                source="sap",
                source_created_time=2_000_000,
                source_modified_time=3_000_000,
            )
        )
        self.ids["B"] = b.id
        c = files.upload_bytes(
            b"valve C",
            name="valve.txt",
            external_id="doc-b1",
            directory="/plant/area2",
            mime_type="text/plain",
            metadata={"site": "bergen"},
            asset_ids=[4],
            data_set_id=200,
            labels=[Label("VALVE")],
            geo_location=_geo("Polygon", POLYGON_C),
            source="manual",
            source_created_time=3_000_000,
        )
        self.ids["C"] = c.id
        time.sleep(0.02)
        d = files.upload_bytes(
            b"d,e\n1,2\n",
            name="Doc-C.csv",
            external_id="DOC-C",
            directory="/other",
            mime_type="text/csv",
            metadata={"site": "OSLO"},
            source="SAP",
            source_modified_time=5_000_000,
        )
        self.ids["D"] = d.id
        e, _ = files.create(FileMetadataWrite(name="notes"))
        self.ids["E"] = e.id
        f, _ = files.create(
            FileMetadataWrite(
                name="pump-report.pdf",
                external_id="doc-A3",
                directory="/plantation",
                mime_type="application/pdf",
                metadata={"kind": "report"},
                asset_ids=[5],
                data_set_id=300,
                labels=[Label("VERIFIED")],
                geo_location=_geo("LineString", LINE_F),
                source="sap-x",
            )
        )
        self.ids["F"] = f.id
        self.key_of = {v: k for k, v in self.ids.items()}
        assert len(self.key_of) == 6, "create returned duplicate ids"
        # Final server state (uploaded, uploadedTime, lastUpdatedTime after the PUTs).
        everything = files.list(limit=-1)
        assert {f.id for f in everything} == set(self.key_of), "unfiltered list must return the corpus"
        self.state = {self.key_of[f.id]: f for f in everything}

    def keys(self, files) -> set[str]:
        """Map a result to corpus keys; fail on duplicates and on files that are not in the corpus."""
        ids = [f.id for f in files]
        assert len(ids) == len(set(ids)), f"a file was returned more than once: {ids}"
        unknown = [i for i in ids if i not in self.key_of]
        assert not unknown, f"unexpected ids in result: {unknown}"
        return {self.key_of[i] for i in ids}

    def keys_of_items(self, items: list[dict]) -> set[str]:
        ids = [it["id"] for it in items]
        assert len(ids) == len(set(ids)), f"a file was returned more than once: {ids}"
        assert all(i in self.key_of for i in ids), f"unexpected ids in result: {ids}"
        return {self.key_of[i] for i in ids}

    def where(self, pred) -> set[str]:
        return {k for k, f in self.state.items() if pred(f)}

    def list(self, **kw) -> set[str]:
        return self.keys(self.client.files.list(limit=-1, **kw))


@pytest.fixture
def corpus(client) -> Corpus:
    return Corpus(client)


def _url(client, path: str) -> str:
    """client.get/post take a path relative to the base URL, not to the project."""
    return f"/api/v1/projects/{client.config.project}{path}"


def api_post(client, path: str, body: dict) -> dict:
    return client.post(_url(client, path), json=body).json()


def api_get(client, path: str, params: dict) -> dict:
    return client.get(_url(client, path), params=params).json()


def _api_error(excinfo) -> CogniteAPIError:
    err = excinfo.value
    assert isinstance(err, CogniteAPIError)
    return err


# ---------------------------------------------------------------------------------------------------------------
# One test per filter kind


def test_filter_name_exact(corpus):
    assert corpus.list(name="pump-report.pdf") == {"A", "F"}
    assert corpus.list(name="notes") == {"E"}
    assert corpus.list(name="pump-report") == set(), "name is exact equality, not prefix"
    assert corpus.list(name="PUMP-REPORT.PDF") == set(), "name is case-sensitive"


def test_filter_directory_prefix(corpus):
    assert corpus.list(directory_prefix="/plant/area1") == {"A", "B"}
    assert corpus.list(directory_prefix="/plant") == {"A", "B", "C", "F"}  # string prefix: /plantation too
    assert corpus.list(directory_prefix="/plant/area2") == {"C"}
    assert corpus.list(directory_prefix="/Plant") == set(), "case-sensitive"
    assert corpus.list(directory_prefix="/") == {"A", "B", "C", "D", "F"}, "files without directory never match"


def test_filter_mime_type(corpus):
    assert corpus.list(mime_type="text/plain") == {"B", "C"}
    assert corpus.list(mime_type="text/csv") == {"D"}
    assert corpus.list(mime_type="application/pdf") == {"A", "F"}
    assert corpus.list(mime_type="text") == set(), "mimeType is exact equality"


def test_filter_metadata(corpus):
    assert corpus.list(metadata={"site": "oslo"}) == {"A", "B"}, "values are compared exactly (OSLO != oslo)"
    assert corpus.list(metadata={"site": "oslo", "kind": "report"}) == {"A"}, "every given pair must match"
    assert corpus.list(metadata={"kind": "report"}) == {"A", "F"}
    assert corpus.list(metadata={"site": "OSLO"}) == {"D"}
    assert corpus.list(metadata={"site": "nowhere"}) == set()
    assert corpus.list(metadata={"nokey": "report"}) == set()


def test_filter_asset_ids_any_of(corpus):
    assert corpus.list(asset_ids=[2]) == {"A", "B"}
    assert corpus.list(asset_ids=[3, 4]) == {"B", "C"}
    assert corpus.list(asset_ids=[1, 5]) == {"A", "F"}
    assert corpus.list(asset_ids=[999]) == set()


def test_filter_data_set_ids(corpus):
    # Python sends dataSetIds: [{"id": 100}]
    assert corpus.list(data_set_ids=[100]) == {"A", "B"}
    assert corpus.list(data_set_ids=[100, 200]) == {"A", "B", "C"}
    assert corpus.list(data_set_ids=300) == {"F"}
    assert corpus.list(data_set_ids=[999]) == set()


def test_filter_source(corpus):
    assert corpus.list(source="sap") == {"A", "B"}, "exact equality: not SAP, not sap-x"
    assert corpus.list(source="SAP") == {"D"}
    assert corpus.list(source="manual") == {"C"}
    assert corpus.list(source="sa") == set()


def test_filter_created_time(corpus):
    s = corpus.state
    t_c, t_d = s["C"].created_time, s["D"].created_time
    assert t_c < t_d, "D was created 20 ms after C"
    assert corpus.list(created_time={"max": t_c}) == corpus.where(lambda f: f.created_time <= t_c) >= {"A", "B", "C"}
    assert corpus.list(created_time={"min": t_d}) == corpus.where(lambda f: f.created_time >= t_d) >= {"D", "E", "F"}
    # both bounds inclusive
    t_a = s["A"].created_time
    exp = corpus.where(lambda f: t_a <= f.created_time <= t_d)
    assert {"A", "B", "C", "D"} <= exp
    assert corpus.list(created_time={"min": t_a, "max": t_d}) == exp
    assert corpus.list(created_time={"min": t_d, "max": t_d}) == corpus.where(lambda f: f.created_time == t_d)
    assert corpus.list(created_time={"min": 0}) == set(Corpus.KEYS)
    assert corpus.list(created_time={"max": t_a - 1}) == set()


def test_filter_last_updated_time(corpus):
    # The uploaded files' lastUpdatedTime moved when their content arrived; compute the expectation from
    # the server's own values and make sure the threshold actually splits the corpus.
    times = sorted({f.last_updated_time for f in corpus.state.values()})
    assert len(times) >= 2, f"expected distinct lastUpdatedTime values in the corpus: {times}"
    mid = times[len(times) // 2]
    lo = corpus.where(lambda f: f.last_updated_time <= mid)
    hi = corpus.where(lambda f: f.last_updated_time >= mid)
    assert corpus.list(last_updated_time={"min": mid}) == hi
    assert corpus.list(last_updated_time={"max": mid}) == lo
    assert corpus.list(last_updated_time={"min": mid, "max": mid}) == lo & hi
    assert corpus.list(last_updated_time={"min": times[-1] + 1}) == set()


def test_filter_uploaded_time(corpus):
    s = corpus.state
    assert {k for k, f in s.items() if f.uploaded_time is not None} == {"A", "C", "D"}
    # files never uploaded have no uploadedTime and never match a range
    assert corpus.list(uploaded_time={"min": 0}) == {"A", "C", "D"}
    assert corpus.list(uploaded_time={"max": 2**62}) == {"A", "C", "D"}
    t_c = s["C"].uploaded_time
    assert corpus.list(uploaded_time={"min": t_c}) == corpus.where(
        lambda f: f.uploaded_time is not None and f.uploaded_time >= t_c
    )
    assert corpus.list(uploaded_time={"max": t_c}) == corpus.where(
        lambda f: f.uploaded_time is not None and f.uploaded_time <= t_c
    )


def test_filter_source_created_time(corpus):
    assert corpus.list(source_created_time={"min": 1_500_000, "max": 3_000_000}) == {"B", "C"}, "max is inclusive"
    assert corpus.list(source_created_time={"min": 1_000_000, "max": 1_000_000}) == {"A"}, "min is inclusive"
    assert corpus.list(source_created_time={"min": 0}) == {"A", "B", "C"}, "files without the field never match"
    assert corpus.list(source_created_time={"max": 2**62}) == {"A", "B", "C"}
    assert corpus.list(source_created_time={"min": 3_000_001}) == set()


def test_filter_source_modified_time(corpus):
    assert corpus.list(source_modified_time={"min": 3_000_000}) == {"B", "D"}
    assert corpus.list(source_modified_time={"max": 2_000_000}) == {"A"}
    assert corpus.list(source_modified_time={"min": 0}) == {"A", "B", "D"}


def test_filter_external_id_prefix(corpus):
    assert corpus.list(external_id_prefix="doc-") == {"A", "B", "C", "F"}, "case-sensitive: not DOC-C"
    assert corpus.list(external_id_prefix="doc-A") == {"A", "B", "F"}
    assert corpus.list(external_id_prefix="DOC") == {"D"}
    assert corpus.list(external_id_prefix="doc-A1") == {"A"}, "the whole externalId is a prefix of itself"
    assert corpus.list(external_id_prefix="x") == set()


def test_filter_uploaded(corpus):
    assert corpus.list(uploaded=True) == {"A", "C", "D"}
    assert corpus.list(uploaded=False) == {"B", "E", "F"}


def test_filter_labels(corpus):
    assert corpus.list(labels=LabelFilter(contains_any=["PUMP", "VALVE"])) == {"A", "B", "C"}
    assert corpus.list(labels=LabelFilter(contains_any=["VERIFIED"])) == {"A", "F"}
    assert corpus.list(labels=LabelFilter(contains_all=["PUMP", "VERIFIED"])) == {"A"}
    assert corpus.list(labels=LabelFilter(contains_all=["PUMP"])) == {"A", "B"}
    assert corpus.list(labels=LabelFilter(contains_any=["NOPE"])) == set()
    assert corpus.list(labels=LabelFilter(contains_all=["PUMP", "NOPE"])) == set()
    # Python can send both keys at once; then both conditions apply (spec §6)
    both = LabelFilter(contains_any=["VALVE", "VERIFIED"], contains_all=["PUMP"])
    assert corpus.list(labels=both) == {"A"}


def test_filter_geo_location(corpus):
    # Python passes the relation through as given; the server must accept any letter case.
    assert corpus.list(geo_location=_geo_filter("within", "Polygon", BOX_AB)) == {"A", "B"}
    assert corpus.list(geo_location=_geo_filter("WITHIN", "Polygon", BOX_F)) == {"F"}
    assert corpus.list(geo_location=_geo_filter("intersects", "Polygon", BOX_C_EDGE)) == {"C"}
    assert corpus.list(geo_location=_geo_filter("Intersects", "Point", [5.0, 60.0])) == {"C"}
    # files without a geoLocation match no relation, not even DISJOINT
    assert corpus.list(geo_location=_geo_filter("DISJOINT", "Polygon", BOX_C_EDGE)) == {"A", "B", "F"}
    assert corpus.list(geo_location=_geo_filter("disjoint", "Polygon", WORLD)) == set()
    assert corpus.list(geo_location=_geo_filter("INTERSECTS", "Polygon", WORLD)) == {"A", "B", "C", "F"}
    # C's polygon is not within the small box it overlaps
    assert corpus.list(geo_location=_geo_filter("within", "Polygon", BOX_C_EDGE)) == set()


def test_filters_are_anded(corpus):
    assert corpus.list(directory_prefix="/plant", mime_type="text/plain", metadata={"site": "oslo"}, uploaded=False) == {
        "B"
    }
    assert corpus.list(directory_prefix="/plant", mime_type="text/plain") == {"B", "C"}
    assert corpus.list(labels=LabelFilter(contains_any=["PUMP"]), uploaded=True, source="sap") == {"A"}
    assert corpus.list(
        asset_ids=[2, 4, 5],
        data_set_ids=[100, 300],
        geo_location=_geo_filter("within", "Polygon", BOX_AB),
    ) == {"A", "B"}
    assert corpus.list(
        external_id_prefix="doc-", source_created_time={"min": 0}, source_modified_time={"min": 0}
    ) == {"A", "B"}
    assert corpus.list(name="pump-report.pdf", uploaded=True) == {"A"}
    assert corpus.list(name="pump-report.pdf", uploaded=True, data_set_ids=[300]) == set()


def test_filtered_list_with_small_pages(corpus):
    """list(limit=n) with a filter asks for n and follows the cursor with the same filter."""
    res = corpus.client.files.list(external_id_prefix="doc-", limit=3)
    assert len(res) == 3
    assert corpus.keys(res) <= {"A", "B", "C", "F"}
    chunks = list(corpus.client.files(chunk_size=1, external_id_prefix="doc-"))
    assert corpus.keys([f for chunk in chunks for f in chunk]) == {"A", "B", "C", "F"}


def test_post_list_raw_filter_bodies(corpus):
    """The shapes the JS SDK and other clients send verbatim, including uppercase relations and `filter: {}`."""

    def post(body: dict) -> set[str]:
        res = api_post(corpus.client, "/files/list", body)
        assert res.get("nextCursor") is None, "the whole corpus fits on one page"
        return corpus.keys_of_items(res["items"])

    assert post({"filter": {}, "limit": 1000, "cursor": None}) == set(Corpus.KEYS)
    assert post({"filter": {"dataSetIds": [{"id": 200}]}}) == {"C"}
    assert post({"filter": {"labels": {"containsAll": [{"externalId": "VERIFIED"}]}}}) == {"A", "F"}
    assert post(
        {"filter": {"geoLocation": {"relation": "WITHIN", "shape": {"type": "Polygon", "coordinates": BOX_AB}}}}
    ) == {"A", "B"}
    assert post(
        {
            "filter": {
                "geoLocation": {
                    "relation": "intersects",
                    "shape": {"type": "MultiPolygon", "coordinates": [BOX_F, BOX_C_EDGE]},
                }
            }
        }
    ) == {"C", "F"}
    assert post(
        {"filter": {"geoLocation": {"relation": "Intersects", "shape": {"type": "LineString", "coordinates": [[5.0, 58.0], [5.0, 62.0]]}}}}
    ) == {"C"}
    assert post({"filter": {"createdTime": {"min": 0}, "uploaded": True, "metadata": {}}}) == {"A", "C", "D"}
    # JSON null for optional members means "absent" (spec §11.3)
    assert post({"filter": None, "limit": None, "cursor": None, "partition": None}) == set(Corpus.KEYS)
    assert post({"filter": {"name": None, "metadata": None, "labels": None, "uploaded": True}}) == {"A", "C", "D"}
    assert post({"filter": {"createdTime": {"min": None, "max": None}, "mimeType": "text/csv"}}) == {"D"}


# The same filter object means the same thing on list, search (without a name) and aggregate.
FILTER_MATRIX = [
    ({}, {"A", "B", "C", "D", "E", "F"}),
    ({"name": "pump-report.pdf"}, {"A", "F"}),
    ({"directoryPrefix": "/plant/"}, {"A", "B", "C"}),
    ({"mimeType": "application/pdf"}, {"A", "F"}),
    ({"metadata": {"kind": "report"}}, {"A", "F"}),
    ({"assetIds": [1, 4]}, {"A", "C"}),
    ({"dataSetIds": [{"id": 200}, {"id": 300}]}, {"C", "F"}),
    ({"source": "SAP"}, {"D"}),
    ({"createdTime": {"min": 0}}, {"A", "B", "C", "D", "E", "F"}),
    ({"uploadedTime": {"min": 0}}, {"A", "C", "D"}),
    ({"sourceCreatedTime": {"max": 2_000_000}}, {"A", "B"}),
    ({"sourceModifiedTime": {"min": 2_000_000, "max": 5_000_000}}, {"A", "B", "D"}),
    ({"externalIdPrefix": "doc-A"}, {"A", "B", "F"}),
    ({"uploaded": False}, {"B", "E", "F"}),
    ({"labels": {"containsAny": [{"externalId": "VALVE"}, {"externalId": "VERIFIED"}]}}, {"A", "C", "F"}),
    ({"labels": {"containsAll": [{"externalId": "VERIFIED"}, {"externalId": "PUMP"}]}}, {"A"}),
    ({"geoLocation": {"relation": "WITHIN", "shape": {"type": "Polygon", "coordinates": BOX_AB}}}, {"A", "B"}),
    ({"geoLocation": {"relation": "disjoint", "shape": {"type": "Point", "coordinates": [10.0, 59.0]}}}, {"B", "C", "F"}),
    ({"geoLocation": {"relation": "intersects", "shape": {"type": "Point", "coordinates": [10.0, 59.0]}}}, {"A"}),
    (
        {
            "geoLocation": {
                "relation": "INTERSECTS",
                "shape": {"type": "MultiLineString", "coordinates": [[[5.0, 58.0], [5.0, 62.0]], [[20.5, 69.0], [20.5, 72.0]]]},
            }
        },
        {"C", "F"},
    ),
    (
        {"geoLocation": {"relation": "within", "shape": {"type": "MultiPolygon", "coordinates": [BOX_AB, BOX_F]}}},
        {"A", "B", "F"},
    ),
    ({"mimeType": "text/plain", "uploaded": True, "labels": {"containsAny": [{"externalId": "VALVE"}]}}, {"C"}),
]


def test_same_filter_semantics_on_list_search_aggregate(corpus):
    c = corpus.client
    for flt, want in FILTER_MATRIX:
        listed = corpus.keys_of_items(api_post(c, "/files/list", {"filter": flt, "limit": 1000})["items"])
        searched = corpus.keys_of_items(api_post(c, "/files/search", {"filter": flt, "limit": 1000})["items"])
        searched_null = corpus.keys_of_items(
            api_post(c, "/files/search", {"search": {"name": None}, "filter": flt, "limit": 1000})["items"]
        )
        count = api_post(c, "/files/aggregate", {"filter": flt})["items"][0]["count"]
        assert (listed, searched, searched_null, count) == (want, want, want, len(want)), flt


# ---------------------------------------------------------------------------------------------------------------
# GET /files with query parameters (§5.4)


def test_get_files_query_parameters(corpus):
    def get(params: dict) -> set[str]:
        res = api_get(corpus.client, "/files", params)
        assert res.get("nextCursor") is None
        return corpus.keys_of_items(res["items"])

    assert get({}) == set(Corpus.KEYS)
    assert get({"mimeType": "text/plain"}) == {"B", "C"}
    assert get({"name": "pump-report.pdf"}) == {"A", "F"}
    assert get({"source": "sap"}) == {"A", "B"}
    assert get({"assetIds": "[2]"}) == {"A", "B"}
    assert get({"assetIds": "[3,4]"}) == {"B", "C"}
    assert get({"dataSetIds": '[{"id":100}]'}) == {"A", "B"}
    assert get({"minSourceCreatedTime": 1_500_000, "maxSourceCreatedTime": 3_000_000}) == {"B", "C"}
    assert get({"minSourceModifiedTime": 0}) == {"A", "B", "D"}
    assert get({"minUploadedTime": 0}) == {"A", "C", "D"}
    assert get({"externalIdPrefix": "doc-A", "uploaded": "false"}) == {"B", "F"}
    assert get({"uploaded": "true"}) == {"A", "C", "D"}
    t_d = corpus.state["D"].created_time
    assert get({"minCreatedTime": t_d}) == corpus.where(lambda f: f.created_time >= t_d)
    assert get({"maxCreatedTime": t_d - 1}) == corpus.where(lambda f: f.created_time < t_d)


def test_get_files_paging(corpus):
    seen: list[dict] = []
    params: dict[str, Any] = {"limit": 2, "externalIdPrefix": "doc-"}
    for _ in range(10):
        res = api_get(corpus.client, "/files", params)
        assert len(res["items"]) <= 2
        seen += res["items"]
        if res.get("nextCursor") is None:
            break
        params = {**params, "cursor": res["nextCursor"]}
    else:
        pytest.fail("GET /files paging did not terminate")
    assert corpus.keys_of_items(seen) == {"A", "B", "C", "F"}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"assetIds": "[1,"}, "assetIds"),
        ({"assetIds": "[0]"}, "assetIds"),
        ({"assetIds": "[" + ",".join(str(i) for i in range(1, 102)) + "]"}, "assetIds"),
        ({"uploaded": "maybe"}, "uploaded"),
        ({"minCreatedTime": "yesterday"}, "reatedTime"),  # minCreatedTime or createdTime
        ({"name": "n" * 257}, "name"),
        ({"partition": "1/11"}, "partition"),
    ],
)
def test_get_files_malformed_parameters(client, params, field):
    with pytest.raises(CogniteAPIError) as excinfo:
        api_get(client, "/files", params)
    err = _api_error(excinfo)
    assert err.code == 400, (params, err)
    assert field in err.message, f"the message should name {field}: {err.message}"


# ---------------------------------------------------------------------------------------------------------------
# Filters that need other resources, malformed filters


def test_an_asset_reference_to_no_asset_is_a_400_naming_it(client):
    # An asset reference to no asset is a 400 that names it (test_assets.py covers the served filters).
    with pytest.raises(CogniteAPIError) as excinfo:
        api_post(client, "/files/list", {"filter": {"rootAssetIds": [{"id": 1}]}})
    err = _api_error(excinfo)
    assert err.code == 400 and err.missing == [{"id": 1}], err


@pytest.mark.parametrize(
    "flt, field",
    [
        ({"assetIds": list(range(1, 102))}, "assetIds"),  # 1-100 items
        ({"assetIds": []}, "assetIds"),
        ({"assetIds": [0]}, "assetIds"),
        ({"assetIds": ["one"]}, "assetIds"),
        ({"assetIds": [2, 2]}, "assetIds"),  # unique
        ({"dataSetIds": [{"id": 1}, {"id": 1}]}, "dataSetIds"),  # unique
        ({"dataSetIds": [{"id": i} for i in range(1, 102)]}, "dataSetIds"),  # <= 100
        ({"dataSetIds": [{"id": 0}]}, "dataSetIds"),
        ({"name": "n" * 257}, "name"),
        ({"directoryPrefix": "/" + "d" * 512}, "directoryPrefix"),
        ({"mimeType": "m" * 257}, "mimeType"),
        ({"source": "s" * 129}, "source"),
        ({"externalIdPrefix": "x" * 256}, "externalIdPrefix"),
        ({"name": 5}, "name"),
        ({"uploaded": "yes"}, "uploaded"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"metadata": "k=v"}, "metadata"),
        ({"createdTime": {"min": "yesterday"}}, "createdTime"),
        ({"lastUpdatedTime": 5}, "lastUpdatedTime"),
        ({"sourceCreatedTime": {"max": "x"}}, "sourceCreatedTime"),
        ({"uploadedTime": {"from": 0}}, "uploadedTime"),
        ({"labels": {"containsAny": [{"externalId": f"L{i}"} for i in range(11)]}}, "labels"),
        ({"labels": {"containsAll": []}}, "labels"),
        ({"labels": {"containsSome": [{"externalId": "L"}]}}, "labels"),
        ({"geoLocation": {"relation": "NEAR", "shape": {"type": "Point", "coordinates": [1, 2]}}}, "geoLocation"),
        ({"geoLocation": {"relation": "within", "shape": {"type": "Point", "coordinates": [1]}}}, "geoLocation"),
        ({"geoLocation": {"relation": "within"}}, "geoLocation"),
        (
            {"geoLocation": {"relation": "within", "shape": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}}},
            "geoLocation",
        ),  # ring not closed, fewer than 4 points
        ({"geoLocation": {"relation": "within", "shape": {"type": "Circle", "coordinates": [1, 2]}}}, "geoLocation"),
        ({"noSuchFilter": 1}, "noSuchFilter"),
    ],
)
def test_malformed_filter_is_400_naming_the_field(client, flt, field):
    with pytest.raises(CogniteAPIError) as excinfo:
        api_post(client, "/files/list", {"filter": flt})
    err = _api_error(excinfo)
    assert err.code == 400, err
    assert field in err.message, f"the message should name {field}: {err.message}"


def test_malformed_filter_on_search_and_aggregate(client):
    for path, body in (
        ("/files/search", {"search": {"name": "x"}, "filter": {"assetIds": list(range(1, 102))}}),
        ("/files/aggregate", {"filter": {"assetIds": list(range(1, 102))}}),
        ("/files/search", {"filter": {"uploaded": "yes"}}),
        ("/files/aggregate", {"filter": {"uploaded": "yes"}}),
    ):
        with pytest.raises(CogniteAPIError) as excinfo:
            api_post(client, path, body)
        err = _api_error(excinfo)
        field = next(iter(body["filter"]))
        assert err.code == 400 and field in err.message, (path, body, err)


# ---------------------------------------------------------------------------------------------------------------
# aggregate (§5.8)


def test_aggregate_count(corpus):
    files = corpus.client.files
    assert files.aggregate_count() == 6
    assert files.aggregate_count(filter=FileMetadataFilter(uploaded=True)) == 3
    assert files.aggregate_count(filter={"uploaded": False}) == 3
    assert files.aggregate_count(filter=FileMetadataFilter(directory_prefix="/plant")) == 4
    assert files.aggregate_count(filter=FileMetadataFilter(metadata={"site": "oslo"}, mime_type="text/plain")) == 1
    assert files.aggregate_count(filter=FileMetadataFilter(labels=LabelFilter(contains_any=["PUMP", "VALVE"]))) == 3
    assert (
        files.aggregate_count(filter=FileMetadataFilter(geo_location=_geo_filter("within", "Polygon", BOX_AB))) == 2
    )
    assert files.aggregate_count(filter=FileMetadataFilter(source_created_time={"min": 0})) == 3
    assert files.aggregate_count(filter=FileMetadataFilter(name="nothing-by-this-name")) == 0


def test_aggregate_raw_shape(corpus):
    res = api_post(corpus.client, "/files/aggregate", {"filter": {"uploaded": True, "directoryPrefix": "/plant"}})
    assert res == {"items": [{"count": 2}]}
    res = api_post(corpus.client, "/files/aggregate", {"filter": {}})
    assert res == {"items": [{"count": 6}]}


def test_aggregate_empty_project(client):
    assert client.files.aggregate_count() == 0
    assert client.files.aggregate_count(filter={"uploaded": True}) == 0
