"""Small helpers shared by the test modules (plain HTTP access to blob URLs, content generation)."""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from cognite.client import ClientConfig, CogniteClient
from cognite.client.credentials import OAuthClientCredentials, Token

import suite_access

MiB = 1024 * 1024

# Far above anything a fresh project hands out, still a valid id (<= 2^53-1).
UNKNOWN_ID = 9_007_199_254_740_000


def now_ms() -> int:
    return int(time.time() * 1000)


def http_request(
    url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, bytes]:
    """Plain HTTP request without any Cognite headers or bearer token.

    Returns (status, body) and never raises on HTTP error statuses.
    """
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_get(url: str) -> tuple[int, bytes]:
    return http_request(url, "GET")


def distinct_blocks(size: int, seed: bytes | None = None) -> bytes:
    """`size` bytes in which every 1 MiB block is different, so parts stored in the wrong order are detected."""
    base = seed if seed is not None else os.urandom(MiB)
    out = bytearray()
    i = 0
    while len(out) < size:
        out += i.to_bytes(8, "big") + base[8:]
        i += 1
    return bytes(out[:size])


def write_distinct_file(path: Path, size: int) -> str:
    """Write `size` bytes (every MiB block distinct) to `path`; return the sha256 hex digest."""
    base = os.urandom(MiB)
    h = hashlib.sha256()
    written = 0
    i = 0
    with open(path, "wb") as fh:
        while written < size:
            block = (i.to_bytes(8, "big") + base[8:])[: size - written]
            fh.write(block)
            h.update(block)
            written += len(block)
            i += 1
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(4 * MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def make_client(base_url: str, project: str, token: str | None = None) -> CogniteClient:
    """A client of `project`: with `token` as a static token; without, as the suite's mode says (open mode:
    any token; ``CABINET_SDK_ACCESS=oidc``: OAuth client credentials against the suite's IdP)."""
    if token is None and suite_access.ACTIVE is not None:
        credentials = OAuthClientCredentials(
            token_url=suite_access.ACTIVE.idp.token_url,
            client_id=suite_access.CLIENT_ID,
            client_secret=suite_access.ACTIVE.secret,
            scopes=[],
        )
    else:
        credentials = Token(token or "test-token")
    return CogniteClient(
        ClientConfig(
            client_name="cabinet-tests",
            project=project,
            credentials=credentials,
            base_url=base_url,
            timeout=30,
            file_transfer_timeout=120,
        )
    )
