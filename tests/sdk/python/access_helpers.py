"""Set-up shared by the access tests that start a server of their own with a configuration file: the
tokens and their hashes (the configuration holds only SHA-256 hashes), and a server whose scopes name data
sets created before it starts.

Data set ids come from a sequence shared by the whole run when the suite runs on PostgreSQL, so a scope
cannot name them in advance: :func:`server_scoped_to_new_data_sets` creates the data sets with a first
server, then starts a second one on the same data (directory and database) whose configuration names the
ids they got.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cognite.client.data_classes import DataSet, DataSetWrite

from conftest import Server, start_server, stop_server
from sdk_helpers import make_client


def new_token(role: str) -> str:
    """A fresh static token, named after its role for the server log."""
    return f"{role}-{secrets.token_hex(16)}"


def sha256_hex(token: str) -> str:
    """What a `[[project.service_token]]` holds of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


@contextmanager
def configured_server(tmp: Path, name: str, config: str) -> Iterator[Server]:
    """A server on `tmp`'s data directory with `config` as its configuration file, stopped afterwards."""
    path = tmp / "cabinet.toml"
    path.write_text(config)
    srv = start_server(tmp / "data", tmp, name=name, args=("--config", str(path)))
    try:
        yield srv
    finally:
        stop_server(srv)


@contextmanager
def server_scoped_to_new_data_sets(
    tmp: Path,
    name: str,
    project: str,
    config: Callable[[Sequence[int]], str],
    token: str,
    data_sets: Sequence[DataSetWrite],
) -> Iterator[tuple[Server, list[DataSet]]]:
    """Creates `data_sets` as `token` on a server configured by `config` with placeholder ids, then yields a
    server configured by `config` of the ids they got, with the data sets. `token` must be able to create
    data sets in both configurations."""
    with configured_server(tmp, name, config([1] * len(data_sets))) as first:
        created = list(make_client(first.base_url, project, token).data_sets.create(list(data_sets)))
    with configured_server(tmp, name, config([d.id for d in created])) as srv:
        yield srv, created
