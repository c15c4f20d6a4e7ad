"""What the write and read phases of the migration test share: the server configuration (projects, an
admin service token), the queries whose answers the manifest records, and small SDK helpers.

Both phases run the same queries, so a read on the migrated cluster is compared with the answer the
embedded server gave, query by query.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = HERE.parent
# The suite's own helpers (start_server, stop_server, make_client): this directory sits inside the suite.
sys.path.insert(0, str(SUITE))

from cognite.client import CogniteClient  # noqa: E402
from cognite.client.data_classes import FileMetadataFilter, LabelFilter  # noqa: E402

PROJECTS = ["mig-alpha", "mig-beta", "mig-gamma"]
# A test-only service token; the configuration holds its SHA-256.
ADMIN_TOKEN = "migrate-test-admin-4b1d0c2e9f"

CONFIG = """
[[project]]
name = "{project}"

[[project.group]]
name = "admins"
capabilities = [
  {{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }},
  {{ groupsAcl = {{ actions = ["LIST", "CREATE", "DELETE"], scope = {{ all = {{}} }} }} }},
  {{ securityCategoriesAcl = {{ actions = ["LIST", "CREATE", "DELETE", "MEMBEROF"], scope = {{ all = {{}} }} }} }},
]

[[project.service_token]]
subject = "admin"
sha256 = "{admin}"
groups = ["admins"]
"""


def write_config(path: Path) -> Path:
    """The configuration both the embedded server and the cluster nodes run with."""
    digest = hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()
    path.write_text("\n".join(CONFIG.format(project=p, admin=digest) for p in PROJECTS))
    return path


def api_path(project: str, path: str) -> str:
    return f"/api/v1/projects/{project}{path}"


def api_post(client: CogniteClient, path: str, body: dict) -> dict:
    return client.post(api_path(client.config.project, path), json=body).json()


# Filters of POST /files/list (and aggregate, and search without a name), in the API's own JSON, so the
# same object goes to every endpoint. Each selects a different part of the corpus write_phase.py makes.
LIST_FILTERS: dict[str, dict] = {
    "all": {},
    "directory /batch/1": {"directoryPrefix": "/batch/1"},
    "metadata kind=report": {"metadata": {"kind": "report"}},
    "uploaded": {"uploaded": True},
    "not uploaded": {"uploaded": False},
    "label PUMP": {"labels": {"containsAny": [{"externalId": "PUMP"}]}},
    "mime text/csv": {"mimeType": "text/csv"},
    "source sensor-a": {"source": "sensor-a"},
    "asset 42": {"assetIds": [42]},
    "data set 7": {"dataSetIds": [{"id": 7}]},
    "externalId prefix doc-1": {"externalIdPrefix": "doc-1"},
    "source created before": {"sourceCreatedTime": {"max": 1_600_000_050_000}},
}

# The same filters through the SDK's list (keyword arguments), to check what the SDK itself pages through.
SDK_LIST_FILTERS: dict[str, dict] = {
    "all": {},
    "directory /batch/1": {"directory_prefix": "/batch/1"},
    "metadata kind=report": {"metadata": {"kind": "report"}},
    "uploaded": {"uploaded": True},
    "label PUMP": {"labels": LabelFilter(contains_any=["PUMP"])},
    "asset 42": {"asset_ids": [42]},
    "data set 7": {"data_set_ids": [7]},
}

SEARCHES: dict[str, dict] = {
    "name pump": {"name": "pump"},
    "name report": {"name": "report"},
    "name pump in /batch/2": {"name": "pump", "filter": {"directory_prefix": "/batch/2"}},
    "no name, mime text/csv": {"filter": {"mime_type": "text/csv"}},
}

# Page size of the listing whose cursor is taken mid-way.
CURSOR_PAGE = 37


def list_all_raw(client: CogniteClient, flt: dict, page: int = 1000) -> list[dict]:
    """Every item of POST /files/list with `flt`, in order, following cursors."""
    items: list[dict] = []
    cursor = None
    while True:
        body: dict = {"filter": flt, "limit": page}
        if cursor:
            body["cursor"] = cursor
        res = api_post(client, "/files/list", body)
        items += res["items"]
        cursor = res.get("nextCursor")
        if not cursor:
            return items


def follow(client: CogniteClient, flt: dict, cursor: str, page: int) -> list[int]:
    """The ids a listing gives from `cursor` to its end."""
    ids: list[int] = []
    while cursor:
        res = api_post(client, "/files/list", {"filter": flt, "limit": page, "cursor": cursor})
        ids += [f["id"] for f in res["items"]]
        cursor = res.get("nextCursor")
    return ids


def search(client: CogniteClient, query: dict) -> list[int]:
    flt = query.get("filter")
    res = client.files.search(name=query.get("name"), filter=FileMetadataFilter(**flt) if flt else None, limit=1000)
    return [f.id for f in res]


def aggregate(client: CogniteClient, flt: dict) -> int:
    return api_post(client, "/files/aggregate", {"filter": flt})["items"][0]["count"]


def sdk_list(client: CogniteClient, kwargs: dict) -> list[int]:
    return [f.id for f in client.files.list(limit=None, **kwargs)]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
