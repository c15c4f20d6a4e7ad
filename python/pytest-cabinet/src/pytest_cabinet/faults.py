"""The fault injection admin API of a cabinet server (``/_cabinet/faults``), as a small client.

The wire shape: ``POST /_cabinet/faults`` with ``{"items": [{"route": "files/list", "method": "POST",
"status": 429, "times": 3}]}`` (also ``probability``, ``latencyMs``, ``fault`` = ``reset`` | ``truncate``,
``retryAfter`` seconds; ``seed``, next to ``items``, makes ``probability`` repeatable);
``GET /_cabinet/faults`` lists them; ``POST /_cabinet/faults/reset``
removes them all. Keyword arguments may be given in Python style (``latency_ms``, ``retry_after``).
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from typing import Any, Iterator

_CAMEL = {"latency_ms": "latencyMs", "retry_after": "retryAfter"}


def fault_item(**fields: Any) -> dict[str, Any]:
    """One item of the admin API from keyword arguments; ``None`` values are left out."""
    return {_CAMEL.get(k, k): v for k, v in fields.items() if v is not None}


class FaultsError(RuntimeError):
    """The admin API answered with an error status."""


class Faults:
    """Arms, lists and resets faults of one server. Calling it gives a context manager that resets on exit::

        with cabinet_faults(status=429, route="files/list", times=3):
            client.files.list()
    """

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise FaultsError(f"{method} {path} -> {e.code}: {e.read()[:500]!r}") from None
        return json.loads(raw) if raw.strip() else None

    def arm(self, *items: dict[str, Any], seed: int | None = None, **fields: Any) -> Any:
        """Add faults: whole items (dicts in the wire shape) and/or one item from keyword arguments.

        ``seed`` restarts the server's generator behind ``probability``, for a repeatable run.
        """
        all_items = [dict(i) for i in items]
        if fields:
            all_items.append(fault_item(**fields))
        body: dict[str, Any] = {"items": all_items}
        if seed is not None:
            body["seed"] = seed
        return self._request("POST", "/_cabinet/faults", body)

    def list(self) -> list[dict[str, Any]]:
        """The armed faults, as the server lists them (``items``)."""
        body = self._request("GET", "/_cabinet/faults")
        return body.get("items", []) if isinstance(body, dict) else []

    def reset(self) -> None:
        """Remove every fault of the server."""
        self._request("POST", "/_cabinet/faults/reset", {})

    @contextlib.contextmanager
    def __call__(self, *items: dict[str, Any], seed: int | None = None, **fields: Any) -> Iterator["Faults"]:
        self.arm(*items, seed=seed, **fields)
        try:
            yield self
        finally:
            self.reset()
