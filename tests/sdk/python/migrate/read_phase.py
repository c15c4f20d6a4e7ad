"""Read phase of the migration test: starts two cabinet nodes on the migrated PostgreSQL database and S3
bucket (one with proxy transfer, one with direct transfer) and checks, with the official Python SDK, that
each finds everything the manifest of write_phase.py recorded.

Usage: python read_phase.py MANIFEST.json WORK_DIR

CABINET_SERVE_ARGS must name the database and the bucket, CABINET_TEST_S3_ENDPOINT the S3 server
(scripts/with-seaweedfs scripts/with-postgres);
the nodes run with the configuration the write phase wrote to WORK_DIR/cabinet.toml and without a secret of
their own, so they use the one `cabinet migrate` carried into the database (cursors of the embedded server
stay good).

Every mismatch is collected and printed; the exit code is 1 when there is any.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from common import (
    ADMIN_TOKEN,
    LIST_FILTERS,
    SDK_LIST_FILTERS,
    SEARCHES,
    aggregate,
    follow,
    list_all_raw,
    sdk_list,
    search,
    sha256,
)
from cognite.client.data_classes import FileMetadataWrite

from conftest import start_server, stop_server
from sdk_helpers import http_get, make_client

# Files whose bytes are also fetched through download links (all are fetched with download_bytes).
LINKS_PER_PROJECT = 20


class Checks:
    """Counts checks and collects mismatches, so one run reports all of them."""

    def __init__(self) -> None:
        self.count = 0
        self.failures: list[str] = []

    def equal(self, what: str, got, want) -> None:
        self.count += 1
        if got != want:
            self.failures.append(f"{what}:\n    cluster:  {_short(got)}\n    embedded: {_short(want)}")

    def true(self, what: str, ok: bool) -> None:
        self.count += 1
        if not ok:
            self.failures.append(what)


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 600 else text[:600] + "…"


def check_project(checks: Checks, node: str, client, project: str, want: dict, link_base: str) -> None:
    """`link_base`: where this node's download links must point (the node itself with proxy transfer, the
    S3 server with direct transfer)."""
    where = f"[{node}] {project}"
    files = want["files"]
    ids = [int(i) for i in files]

    # Every file by id, in one call and one by one by externalId, with every field the SDK returns.
    got = client.files.retrieve_multiple(ids=ids)
    checks.equal(f"{where}: files by id", {str(f.id): f.dump(camel_case=True) for f in got}, files)
    for fid, dumped in files.items():
        xid = dumped.get("externalId")
        if xid is not None:
            fm = client.files.retrieve(external_id=xid)
            checks.equal(f"{where}: file by externalId {xid!r}", fm.dump(camel_case=True) if fm else None, dumped)
    gone = client.files.retrieve_multiple(ids=want["deleted"], ignore_unknown_ids=True)
    checks.equal(f"{where}: deleted files stay deleted", [f.id for f in gone], [])

    for label, flt in LIST_FILTERS.items():
        checks.equal(f"{where}: list {label}", [f["id"] for f in list_all_raw(client, flt)], want["lists"][label])
        checks.equal(f"{where}: aggregate {label}", aggregate(client, flt), want["aggregates"][label])
    for label, kwargs in SDK_LIST_FILTERS.items():
        checks.equal(f"{where}: SDK list {label}", sdk_list(client, kwargs), want["sdk_lists"][label])
    partitioned = client.files.list(limit=None, partitions=3)
    checks.equal(f"{where}: SDK list in 3 partitions", sorted(f.id for f in partitioned), sorted(ids))
    for label, query in SEARCHES.items():
        checks.equal(f"{where}: search {label}", search(client, query), want["searches"][label])
    for label, taken in want["cursors"].items():
        rest = follow(client, LIST_FILTERS[label], taken["cursor"], len(taken["first"]))
        checks.equal(f"{where}: the embedded server's cursor of '{label}' continued", rest, taken["rest"])

    # Content: every uploaded file's bytes through download_bytes, some through download links.
    for fid, digest in want["contents"].items():
        data = client.files.download_bytes(id=int(fid))
        checks.equal(f"{where}: SHA-256 of file {fid} (download_bytes)", sha256(data), digest)
    linked = [int(fid) for fid in list(want["contents"])[:LINKS_PER_PROJECT]]
    links = client.files.retrieve_download_urls(id=linked)
    for fid in linked:
        checks.true(f"{where}: download link {links[fid]} is not under {link_base}", links[fid].startswith(link_base))
        status, body = http_get(links[fid])
        checks.equal(f"{where}: download link of file {fid}", (status, sha256(body)), (200, want["contents"][str(fid)]))

    if node == "proxy":
        for fid, path in want["embedded_links"].items():
            status, body = http_get(client.config.base_url + path)
            got = (status, sha256(body))
            what = f"{where}: the embedded server's download link of file {fid}"
            checks.equal(what, got, (200, want["contents"][fid]))

    groups = client.iam.groups.list(all=True)
    checks.equal(f"{where}: groups", [g.dump(camel_case=True) for g in groups], want["groups"])
    checks.equal(
        f"{where}: security categories",
        [c.dump(camel_case=True) for c in client.iam.security_categories.list(limit=None)],
        want["categories"],
    )


def check_new_files(checks: Checks, node: str, client, project: str, migrated: set[int]) -> None:
    """Files made on the cluster get ids no migrated (or deleted) file has, and work end to end."""
    where = f"[{node}] {project}"
    made = [client.files.create(FileMetadataWrite(name=f"new on {node} {k}"))[0] for k in range(10)]
    data = f"new content through {node}".encode()
    uploaded = client.files.upload_bytes(data, name=f"new upload {node}.txt", external_id=f"new-{node}")
    new_ids = [f.id for f in made] + [uploaded.id]
    clash = sorted(set(new_ids) & migrated)
    checks.true(f"{where}: new files got ids of migrated files: {clash}", not clash)
    checks.equal(f"{where}: new upload's bytes", sha256(client.files.download_bytes(id=uploaded.id)), sha256(data))
    client.files.delete(id=new_ids)


def main() -> None:
    manifest_path, work = Path(sys.argv[1]), Path(sys.argv[2])
    if "--metadata" not in os.environ.get("CABINET_SERVE_ARGS", ""):
        sys.exit("the read phase runs on the cluster: CABINET_SERVE_ARGS must name --metadata and --content")
    manifest = json.loads(manifest_path.read_text())
    config = work / "cabinet.toml"
    migrated: set[int] = set()
    for want in manifest["projects"].values():
        migrated |= {int(i) for i in want["files"]} | set(want["deleted"])

    checks = Checks()
    for node in ("proxy", "direct"):
        args = ("--config", str(config), "--content-transfer", node)
        srv = start_server(work / f"node-{node}", work, name=f"node-{node}", args=args)
        try:
            link_base = srv.base_url + "/" if node == "proxy" else os.environ["CABINET_TEST_S3_ENDPOINT"] + "/"
            for project, want in manifest["projects"].items():
                client = make_client(srv.base_url, project, ADMIN_TOKEN)
                check_project(checks, node, client, project, want, link_base)
            for project in manifest["projects"]:
                check_new_files(checks, node, make_client(srv.base_url, project, ADMIN_TOKEN), project, migrated)
        finally:
            stop_server(srv)

    if checks.failures:
        print(f"read phase: {len(checks.failures)} of {checks.count} checks FAILED:", file=sys.stderr)
        for failure in checks.failures:
            print("  - " + failure, file=sys.stderr)
        sys.exit(1)
    print(f"read phase: all {checks.count} checks passed on both nodes (proxy and direct transfer)")


if __name__ == "__main__":
    main()
