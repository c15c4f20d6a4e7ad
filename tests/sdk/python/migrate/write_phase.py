"""Write phase of the migration test: fills an embedded data directory through the official Python SDK and
records in a JSON manifest what a reader must find there after `cabinet migrate`.

Usage: python write_phase.py DATA_DIR MANIFEST.json WORK_DIR

Runs `cabinet serve --data-dir DATA_DIR --config WORK_DIR/cabinet.toml` (sqlite+local: CABINET_SERVE_ARGS
must be unset) and stops it when done, leaving the data directory for the migration. The corpus, in each
of three projects: files created in batches with and without content, directories, metadata, source times,
labels, asset and data set ids, security categories created through the SDK; a directory uploaded with
`files.upload`; multipart uploads (a session of three parts, and a file large enough for the SDK to split);
an empty file; updates, an overwrite, deletes; and stored groups.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from common import (
    ADMIN_TOKEN,
    CURSOR_PAGE,
    LIST_FILTERS,
    PROJECTS,
    SDK_LIST_FILTERS,
    SEARCHES,
    aggregate,
    api_post,
    follow,
    list_all_raw,
    sdk_list,
    search,
    sha256,
    write_config,
)
from cognite.client.data_classes import FileMetadataUpdate, FileMetadataWrite, GroupWrite, Label, SecurityCategoryWrite
from cognite.client.data_classes.capabilities import FilesAcl

from conftest import start_server, stop_server
from sdk_helpers import MiB, distinct_blocks, make_client, write_distinct_file

# Files per project made one SDK call each, in batches of BATCH (a directory per batch).
BATCHES = 4
BATCH = 30
NAMES = ["pump", "report", "valve", "pump report", "compressor", "pumping station"]


def corpus(client, project: str, tmp: Path) -> dict:
    """Makes one project's files; returns the content SHA-256 by file id and the ids deleted."""
    contents: dict[int, str] = {}
    deleted: list[int] = []
    categories = client.iam.security_categories.create(
        [SecurityCategoryWrite(name=f"{project}-secret"), SecurityCategoryWrite(name=f"{project}-internal")]
    )
    cat_ids = [c.id for c in categories]
    client.iam.groups.create(
        GroupWrite(
            name=f"{project}-readers",
            members=["someone"],
            capabilities=[FilesAcl([FilesAcl.Action.Read], FilesAcl.Scope.All())],
            metadata={"origin": "migrate-test"},
        )
    )

    for b in range(BATCHES):
        for i in range(BATCH):
            n = b * BATCH + i
            name = f"{NAMES[n % len(NAMES)]} {n}"
            common = dict(
                external_id=f"doc-{n}",
                source="sensor-a" if n % 3 == 0 else "sensor-b",
                mime_type="text/csv" if n % 4 == 0 else "text/plain",
                metadata={"kind": "report" if n % 5 == 0 else "log", "n": str(n)},
                directory=f"/batch/{b}",
                asset_ids=[42, 1000 + n] if n % 6 == 0 else None,
                data_set_id=7 if n % 7 == 0 else None,
                labels=[Label("PUMP")] if "pump" in name else None,
                source_created_time=1_600_000_000_000 + n * 1000,
                source_modified_time=1_600_000_000_000 + n * 2000,
                security_categories=[cat_ids[n % 2]] if n % 11 == 0 else None,
            )
            if n % 3 == 2:
                # Metadata only: a file whose content never came.
                client.files.create(FileMetadataWrite(name=name, **common))
            else:
                data = f"{project} file {n}\n".encode() * (1 + n % 50)
                fm = client.files.upload_bytes(data, name=name, **common)
                contents[fm.id] = sha256(data)

    # A directory through files.upload (one upload per file, names kept).
    tree = tmp / f"tree-{project}"
    (tree / "sub").mkdir(parents=True)
    for k in range(4):
        (tree / f"part-{k}.txt").write_bytes(f"{project} tree part {k}\n".encode() * 100)
    (tree / "sub" / "deep.txt").write_bytes(b"deep\n" * 10)
    uploaded = client.files.upload(tree, recursive=True, directory="/tree", metadata={"from": "upload"})
    for fm in uploaded:
        path = next(p for p in tree.rglob(fm.name))
        contents[fm.id] = sha256(path.read_bytes())

    # A multipart session of three parts, uploaded out of order.
    parts = [distinct_blocks(5 * MiB + 3), distinct_blocks(5 * MiB + 1), b"the tail"]
    with client.files.multipart_upload_session(
        "session.bin", parts=3, external_id="multipart-session", mime_type="application/x-test"
    ) as session:
        for k in (2, 0, 1):
            session.upload_part(k, parts[k])
    contents[session.file_metadata.id] = sha256(b"".join(parts))

    # One file large enough that files.upload splits it (the SDK's part size is 50 MiB), in one project.
    if project == PROJECTS[0]:
        big = tmp / "big.bin"
        digest = write_distinct_file(big, 50 * MiB + 123)
        fm = client.files.upload(big, external_id="big", name="big.bin", source="perf")
        contents[fm.id] = digest
        big.unlink()

    empty = client.files.upload_bytes(b"", name="empty.txt", external_id="empty")
    contents[empty.id] = sha256(b"")

    # Updates: fields set, metadata and labels changed, an externalId renamed.
    client.files.update(
        FileMetadataUpdate(external_id="doc-1").metadata.add({"reviewed": "yes"}).labels.add(["CHECKED"])
    )
    client.files.update(FileMetadataUpdate(external_id="doc-4").external_id.set("renamed-4").source.set("sensor-a"))
    client.files.update(FileMetadataUpdate(external_id="doc-5").directory.set("/moved").asset_ids.set([42]))

    # An overwrite: the same externalId, new content (and a new file).
    data = b"overwritten content"
    fm = client.files.upload_bytes(data, name="overwritten.txt", external_id="doc-7", overwrite=True)
    contents[fm.id] = sha256(data)

    # Deletes.
    gone = [client.files.retrieve(external_id=x) for x in ("doc-10", "doc-11", "doc-12")]
    client.files.delete(id=[f.id for f in gone])
    for f in gone:
        contents.pop(f.id, None)
        deleted.append(f.id)
    return {"contents": contents, "deleted": deleted}


def record(client, made: dict) -> dict:
    """What a reader of the project must find: every file as the SDK returns it, answers of queries."""
    files = client.files.list(limit=None)
    entry: dict = {
        "files": {str(f.id): f.dump(camel_case=True) for f in files},
        "contents": {str(k): v for k, v in made["contents"].items()},
        "deleted": made["deleted"],
        "lists": {},
        "sdk_lists": {},
        "searches": {},
        "aggregates": {},
        "cursors": {},
    }
    for label, flt in LIST_FILTERS.items():
        items = list_all_raw(client, flt)
        entry["lists"][label] = [f["id"] for f in items]
        entry["aggregates"][label] = aggregate(client, flt)
        assert entry["aggregates"][label] == len(items), (label, entry["aggregates"][label], len(items))
    for label, kwargs in SDK_LIST_FILTERS.items():
        entry["sdk_lists"][label] = sdk_list(client, kwargs)
    for label, query in SEARCHES.items():
        entry["searches"][label] = search(client, query)
    # Cursors taken mid-listing, with the rest they lead to on this server.
    for label in ("all", "uploaded", "label PUMP"):
        flt = LIST_FILTERS[label]
        first = api_post(client, "/files/list", {"filter": flt, "limit": CURSOR_PAGE})
        cursor = first.get("nextCursor")
        assert cursor, f"{label}: the listing must be longer than one page of {CURSOR_PAGE}"
        entry["cursors"][label] = {
            "cursor": cursor,
            "first": [f["id"] for f in first["items"]],
            "rest": follow(client, flt, cursor, CURSOR_PAGE),
        }
    # Download links the embedded server signed (extended expiration: an hour), without its address: the
    # migrated secret and key ring must make them good on a proxy node.
    base = client.config.base_url
    signed = [int(k) for k in list(made["contents"])[:5]]
    links = client.files.retrieve_download_urls(id=signed, extended_expiration=True)
    assert all(links[k].startswith(base + "/") for k in signed), links
    entry["embedded_links"] = {str(k): links[k][len(base) :] for k in signed}
    entry["groups"] = [g.dump(camel_case=True) for g in client.iam.groups.list(all=True)]
    entry["categories"] = [c.dump(camel_case=True) for c in client.iam.security_categories.list(limit=None)]
    return entry


def main() -> None:
    data_dir, manifest_path, work = (Path(a) for a in sys.argv[1:4])
    if os.environ.get("CABINET_SERVE_ARGS", "").strip():
        sys.exit("the write phase runs on the embedded default: unset CABINET_SERVE_ARGS")
    work.mkdir(parents=True, exist_ok=True)
    config = write_config(work / "cabinet.toml")
    srv = start_server(data_dir, work, name="embedded", args=("--config", str(config)))
    manifest: dict = {"projects": {}}
    try:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            for project in PROJECTS:
                client = make_client(srv.base_url, project, ADMIN_TOKEN)
                made = corpus(client, project, Path(tmp))
                manifest["projects"][project] = record(client, made)
    finally:
        stop_server(srv)
    total = sum(len(p["files"]) for p in manifest["projects"].values())
    manifest["total_files"] = total
    Path(manifest_path).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    print(f"write phase: {total} files in {len(PROJECTS)} projects recorded in {manifest_path}")


if __name__ == "__main__":
    main()
