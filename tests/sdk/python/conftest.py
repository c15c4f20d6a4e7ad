"""Fixtures for the official-Python-SDK conformance suite.

One cabinet server is started per test session (``$CABINET_BIN serve --listen 127.0.0.1:0 --data-dir <tmp>``);
every test gets its own, freshly named project, so tests are isolated from each other. With
``CABINET_SDK_ACCESS=oidc`` the same tests run against a server with access control on (``suite_access.py``).
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cognite.client import CogniteClient, global_config

import suite_access
from sdk_helpers import make_client
from suite_access import new_project

global_config.disable_pypi_version_check = True
global_config.max_retry_backoff = 1

READY_RE = re.compile(r"^cabinet listening on (http://127\.0\.0\.1:\d+)$")
READY_TIMEOUT_S = 10
STOP_TIMEOUT_S = 15


@dataclass
class Server:
    base_url: str
    proc: subprocess.Popen
    data_dir: Path
    stderr_path: Path

    def check_alive(self) -> None:
        rc = self.proc.poll()
        if rc is not None:
            pytest.fail(f"cabinet server exited early with code {rc}; stderr tail:\n{self.stderr_tail()}")

    def stderr_tail(self, lines: int = 60, offset: int = 0) -> str:
        try:
            with open(self.stderr_path, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except OSError as e:  # pragma: no cover - diagnostics only
            return f"<cannot read {self.stderr_path}: {e}>"
        text = data.decode("utf-8", "replace").splitlines()
        return "\n".join(text[-lines:])

    def stderr_size(self) -> int:
        try:
            return self.stderr_path.stat().st_size
        except OSError:
            return 0


_SERVER: Server | None = None


def _cabinet_bin() -> Path:
    default = Path(__file__).resolve().parents[3] / "target" / "debug" / "cabinet"
    path = Path(os.environ.get("CABINET_BIN") or default)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"cabinet binary not found or not executable at {path}. "
            "Build it (cargo build) or set CABINET_BIN.",
            pytrace=False,
        )
    return path


def start_server(data_dir: Path, log_dir: Path, name: str = "server", args: tuple[str, ...] = ()) -> Server:
    """Start `cabinet serve` on a free port with `data_dir` (and extra `args`); wait for its ready line."""
    binary = _cabinet_bin()
    data_dir.mkdir(parents=True, exist_ok=True)
    access = suite_access.ACTIVE
    if access is not None and "--config" not in args:
        # With access control on, every server of the suite knows the suite's projects and IdP.
        if access.config_path is None:
            access.write_config(log_dir / "suite-access.toml")
        args = ("--config", str(access.config_path), *args)
    # CABINET_SERVE_ARGS (shell words) adds arguments to every server, e.g. `--content s3://…` to run the
    # suite with content on S3 (scripts/with-seaweedfs sets it).
    args = (*args, *shlex.split(os.environ.get("CABINET_SERVE_ARGS", "")))
    stderr_path = log_dir / f"{name}-stderr.log"
    stdout_rest_path = log_dir / f"{name}-stdout.log"
    with open(stderr_path, "ab") as stderr_fh:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_fh,
            # A CABINET_CONFIG of the caller's environment must not turn the suite's open server into another.
            env={**{k: v for k, v in os.environ.items() if k != "CABINET_CONFIG"}, "NO_COLOR": "1"},
        )
    lines: queue.Queue[bytes] = queue.Queue()

    def pump_stdout() -> None:
        # First line goes to the queue, anything after it into a file (the server should print nothing more).
        assert proc.stdout is not None
        first = proc.stdout.readline()
        lines.put(first)
        with open(stdout_rest_path, "wb") as rest:
            for chunk in iter(lambda: proc.stdout.read(4096), b""):
                rest.write(chunk)
                rest.flush()

    threading.Thread(target=pump_stdout, name=f"cabinet-{name}-stdout", daemon=True).start()
    srv = Server(base_url="", proc=proc, data_dir=data_dir, stderr_path=stderr_path)
    try:
        first = lines.get(timeout=READY_TIMEOUT_S)
    except queue.Empty:
        proc.kill()
        proc.wait()
        pytest.fail(f"cabinet did not print its ready line within {READY_TIMEOUT_S} s; stderr:\n{srv.stderr_tail()}")
    line = first.decode("utf-8", "replace").rstrip("\r\n")
    m = READY_RE.match(line)
    if not m:
        proc.kill()
        proc.wait()
        pytest.fail(
            f"unexpected first stdout line from cabinet: {line!r} (exit code {proc.poll()}); "
            f"stderr:\n{srv.stderr_tail()}"
        )
    srv.base_url = m.group(1)
    return srv


def stop_server(srv: Server) -> None:
    """SIGTERM the server; it must exit with code 0 within STOP_TIMEOUT_S."""
    proc = srv.proc
    still_running = proc.poll() is None
    if still_running:
        proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"cabinet did not exit within {STOP_TIMEOUT_S} s of SIGTERM; stderr:\n{srv.stderr_tail()}")
    assert still_running, f"cabinet had already exited (code {rc}) before it was stopped"
    assert rc == 0, f"cabinet exited with code {rc} after SIGTERM; stderr:\n{srv.stderr_tail()}"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    global _SERVER
    tmp = tmp_path_factory.mktemp("cabinet")
    srv = start_server(tmp / "data", tmp)
    _SERVER = srv
    try:
        yield srv
    finally:
        _SERVER = None
        stop_server(srv)


@pytest.fixture
def base_url(server: Server) -> str:
    server.check_alive()
    return server.base_url


@pytest.fixture
def project() -> str:
    # 3-32 chars, letters/digits/hyphens, contains a letter.
    return new_project()


# Modules that start servers with their own access configuration: they test access control itself, the
# same way whatever the suite's mode, so they run in the open-mode pass only.
OWN_ACCESS_MODULES = {
    "test_access",
    "test_oidc",
    "test_dataset_scope",
    "test_iam",
    "test_security_categories",
    "test_datasets_access",
    "test_assets_access",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if suite_access.ACTIVE is None:
        return
    kept, deselected = [], []
    for item in items:
        (deselected if item.module.__name__ in OWN_ACCESS_MODULES else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    if suite_access.ACTIVE is None:
        return "cabinet access: open mode (any bearer token)"
    return (
        f"cabinet access: OIDC, OAuthClientCredentials against the test IdP at {suite_access.ACTIVE.idp.url}, "
        f"{suite_access.POOL_SIZE} configured projects"
    )


@pytest.fixture
def client(base_url: str, project: str) -> CogniteClient:
    return make_client(base_url, project)


# ---------------------------------------------------------------------------------------------------------------
# Attach the server's stderr (what it logged while the test ran) to failing test reports.

_LOG_OFFSET = pytest.StashKey[int]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    item.stash[_LOG_OFFSET] = _SERVER.stderr_size() if _SERVER else 0
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _SERVER is not None:
        offset = item.stash.get(_LOG_OFFSET, 0)
        time.sleep(0.05)  # let the server flush
        tail = _SERVER.stderr_tail(lines=80, offset=offset)
        report.sections.append((f"cabinet stderr during test (tail, {_SERVER.stderr_path})", tail or "<empty>"))
