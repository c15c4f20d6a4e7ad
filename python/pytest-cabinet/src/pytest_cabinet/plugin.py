"""The pytest plugin: fixtures that give a test suite a fresh cabinet server and a CogniteClient on it.

Fixtures
- ``cabinet_server``: a ``CabinetServer`` (``base_url``, ``project``, ``data_dir``, ``port``), one per
  session by default (per xdist worker: each worker is its own session), one per test with
  ``--cabinet-scope=function`` / ini ``cabinet_scope = function``. Stopped at the end, its data directory
  removed unless ``--cabinet-keep-data``.
- ``cognite_client``: a ``CogniteClient`` of ``cabinet_server.project`` on it, same scope.
- ``cabinet_credentials``: the client's ``CredentialProvider``. Open mode takes any token; with
  ``--cabinet-config`` (access control on) give ``--cabinet-token`` or override this fixture (keep it
  session scoped; it is also used to upload the seed files).
- ``cabinet_server_factory``: starts extra servers inside one test (``factory(project=..., config=...)``),
  all stopped when the test ends.
- ``cabinet_faults``: ``Faults`` of ``cabinet_server``: ``with cabinet_faults(status=429,
  route="files/list", times=3): ...``; whatever a test armed is reset when it ends.

Options (command line, or the ini key in pytest.ini / ``[tool.pytest.ini_options]``):
``--cabinet-port`` / ``cabinet_port`` (fixed port; worker N of xdist uses port + N),
``--cabinet-keep-data`` / ``cabinet_keep_data``, ``--cabinet-config`` / ``cabinet_config``,
``--cabinet-token`` / ``cabinet_token``, ``--cabinet-seed-dir`` / ``cabinet_seed_dir`` (every file
uploaded before the tests, externalId = its path relative to the directory), ``--cabinet-project`` /
``cabinet_project``, ``--cabinet-scope`` / ``cabinet_scope``, ``--cabinet-bin`` / ``cabinet_bin``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from pytest_cabinet.faults import Faults
from pytest_cabinet.server import CabinetServer, start_cabinet

_OPTIONS: list[tuple[str, str, str]] = [
    # (name, ini type, help)
    ("port", "string", "fixed port of the cabinet server (default: a free one; xdist worker N uses port+N)"),
    ("keep_data", "bool", "keep the server's data directory after the run (its path is printed)"),
    ("config", "string", "cabinet configuration file for the server (access control)"),
    ("token", "string", "bearer token of the cognite_client (default: any token, for open mode)"),
    ("seed_dir", "string", "upload every file of this directory before the tests (externalId = relative path)"),
    ("project", "string", "CDF project of the cognite_client (default: cabinet-test)"),
    ("scope", "string", "session (default) or function: one server per test session or per test"),
    ("bin", "string", "the cabinet binary (default: CABINET_BIN, the one in this package, or PATH)"),
]

_KEPT = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cabinet", "cabinet test server")
    for name, kind, help_text in _OPTIONS:
        flag = "--cabinet-" + name.replace("_", "-")
        if kind == "bool":
            group.addoption(flag, action="store_true", default=None, help=help_text)
        else:
            group.addoption(flag, default=None, help=help_text)
        parser.addini("cabinet_" + name, help_text, type=kind, default=False if kind == "bool" else None)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEPT] = []


def _opt(config: pytest.Config, name: str) -> Any:
    value = config.getoption("cabinet_" + name)
    if value is None:
        value = config.getini("cabinet_" + name)
    return value if value not in ("", None) else None


def _scope(fixture_name: str, config: pytest.Config) -> str:
    scope = _opt(config, "scope") or "session"
    if scope not in ("session", "function"):
        raise pytest.UsageError(f"cabinet_scope must be session or function, not {scope!r}")
    return scope


def _port(config: pytest.Config) -> int:
    port = _opt(config, "port")
    if not port:
        return 0
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    offset = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    return int(port) + offset


def _path(config: pytest.Config, name: str) -> Path | None:
    """A path option; relative paths are relative to the rootdir (where pytest.ini / pyproject.toml is)."""
    value = _opt(config, name)
    if value is None:
        return None
    path = Path(value)
    return path if path.is_absolute() else Path(config.rootpath) / path


def make_client(server: CabinetServer, credentials: Any) -> Any:
    """A ``CogniteClient`` of ``server.project`` at ``server.base_url``, as an application would build it."""
    from cognite.client import ClientConfig, CogniteClient, global_config

    # The server is local: no reason to ask PyPI for a newer SDK.
    global_config.disable_pypi_version_check = True
    return CogniteClient(
        ClientConfig(
            client_name="pytest-cabinet",
            project=server.project,
            credentials=credentials,
            base_url=server.base_url,
            timeout=30,
        )
    )


def seed(client: Any, directory: Path) -> int:
    """Upload every file under ``directory`` (externalId and name: its path relative to it); returns how many."""
    count = 0
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        client.files.upload(str(path), external_id=rel, name=rel, overwrite=True)
        count += 1
    return count


@pytest.fixture(scope=_scope)
def cabinet_credentials(pytestconfig: pytest.Config) -> Any:
    from cognite.client.credentials import Token

    return Token(_opt(pytestconfig, "token") or "pytest-cabinet")


def _start(config: pytest.Config, credentials: Any, **overrides: Any) -> CabinetServer:
    kwargs: dict[str, Any] = {
        "project": _opt(config, "project") or "cabinet-test",
        "port": _port(config),
        "keep": bool(_opt(config, "keep_data")),
        "config": _path(config, "config"),
        "binary": _path(config, "bin"),
        "token": _opt(config, "token"),
    }
    seed_dir = overrides.pop("seed_dir", _path(config, "seed_dir"))
    kwargs.update(overrides)
    server = start_cabinet(**kwargs)
    if server.keep:
        config.stash[_KEPT].append(server.data_dir)
    if seed_dir is not None:
        try:
            seed(make_client(server, credentials), Path(seed_dir))
        except BaseException:
            server.stop()
            raise
    return server


def _stop(server: CabinetServer) -> None:
    code = server.stop()
    if code not in (0, None):
        pytest.fail(f"cabinet exited with code {code}; log:\n{server.log_tail()}", pytrace=False)


@pytest.fixture(scope=_scope)
def cabinet_server(pytestconfig: pytest.Config, cabinet_credentials: Any) -> Iterator[CabinetServer]:
    server = _start(pytestconfig, cabinet_credentials)
    try:
        yield server
    finally:
        _stop(server)


@pytest.fixture(scope=_scope)
def cognite_client(cabinet_server: CabinetServer, cabinet_credentials: Any) -> Any:
    return make_client(cabinet_server, cabinet_credentials)


@pytest.fixture
def cabinet_server_factory(
    pytestconfig: pytest.Config, cabinet_credentials: Any
) -> Iterator[Callable[..., CabinetServer]]:
    """``factory(**overrides)`` starts another server (overrides: project, port, keep, config, seed_dir, ...)."""
    started: list[CabinetServer] = []

    def factory(**overrides: Any) -> CabinetServer:
        server = _start(pytestconfig, cabinet_credentials, **overrides)
        started.append(server)
        return server

    try:
        yield factory
    finally:
        for server in started:
            _stop(server)


@pytest.fixture
def cabinet_faults(cabinet_server: CabinetServer) -> Iterator[Faults]:
    faults = Faults(cabinet_server.base_url, token=cabinet_server.token)
    used: list[bool] = []
    arm = faults.arm

    def arm_and_note(*items: Any, seed: int | None = None, **fields: Any) -> Any:
        used.append(True)
        return arm(*items, seed=seed, **fields)

    faults.arm = arm_and_note  # type: ignore[method-assign]
    try:
        yield faults
    finally:
        # A session's server outlives the test: faults a test left armed must not hit the next one.
        if used and cabinet_server.proc.poll() is None:
            faults.reset()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    kept = config.stash.get(_KEPT, [])
    for path in kept:
        terminalreporter.write_line(f"cabinet data directory kept: {path}")
