"""A tiny CDF application: reports are files under a directory, with the kind in their metadata."""

from __future__ import annotations

from cognite.client import CogniteClient
from cognite.client.data_classes import FileMetadata

DIRECTORY = "/reports"


def publish(client: CogniteClient, external_id: str, kind: str, content: bytes) -> FileMetadata:
    """Upload (or replace) a report."""
    return client.files.upload_bytes(
        content,
        name=f"{external_id}.txt",
        external_id=external_id,
        directory=DIRECTORY,
        mime_type="text/plain",
        metadata={"kind": kind},
        overwrite=True,
    )


def list_kind(client: CogniteClient, kind: str) -> list[str]:
    """External ids of the reports of one kind, sorted."""
    files = client.files.list(directory_prefix=DIRECTORY, metadata={"kind": kind}, limit=None)
    return sorted(f.external_id for f in files)


def fetch(client: CogniteClient, external_id: str) -> bytes:
    return client.files.download_bytes(external_id=external_id)


def retire(client: CogniteClient, external_id: str) -> None:
    client.files.delete(external_id=external_id)
