"""Start and stop a cabinet server: a fresh data directory, a free loopback port, its readiness line."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

READY_PREFIX = "cabinet listening on "
READY_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15


def cabinet_binary() -> Path:
    """The binary to run: ``CABINET_BIN`` when set, else the one inside this wheel, else ``cabinet`` on PATH."""
    given = os.environ.get("CABINET_BIN")
    if given:
        return Path(given)
    bundled = Path(__file__).resolve().parent / "bin" / "cabinet"
    if bundled.is_file():
        return bundled
    found = shutil.which("cabinet")
    if found:
        return Path(found)
    raise RuntimeError("no cabinet binary: this install carries none, CABINET_BIN is unset, none on PATH")


@dataclass
class CabinetServer:
    """A running server. ``base_url`` is what a ``ClientConfig`` takes; ``project`` the project tests use."""

    base_url: str
    port: int
    project: str
    data_dir: Path
    work_dir: Path
    keep: bool
    proc: subprocess.Popen = field(repr=False)
    token: str | None = None

    @property
    def log_path(self) -> Path:
        return self.work_dir / "cabinet.log"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; removes the data directory unless ``keep``.

        Returns the exit code. Calling it twice is harmless.
        """
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.keep:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        return self.proc.returncode


def start_cabinet(
    *,
    project: str = "cabinet-test",
    port: int = 0,
    keep: bool = False,
    config: str | os.PathLike | None = None,
    args: tuple[str, ...] = (),
    binary: str | os.PathLike | None = None,
    token: str | None = None,
) -> CabinetServer:
    """Start ``cabinet serve`` on 127.0.0.1:``port`` (0: a free one) with a new data directory.

    The server's log (stderr) is ``<work_dir>/cabinet.log``; the data directory is ``<work_dir>/data``.
    ``config`` is a cabinet configuration file (access control on: then give ``token`` or credentials of
    your own to the client). Raises RuntimeError with the log's tail when the server does not come up.
    """
    exe = Path(binary) if binary else cabinet_binary()
    work_dir = Path(tempfile.mkdtemp(prefix="pytest-cabinet-"))
    data_dir = work_dir / "data"
    data_dir.mkdir()
    cmd = [str(exe), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)]
    if config:
        cmd += ["--config", str(config)]
    cmd += list(args)
    # A CABINET_CONFIG of the caller's environment must not change the server the options describe.
    env = {k: v for k, v in os.environ.items() if k != "CABINET_CONFIG"}
    env["NO_COLOR"] = "1"
    with open(work_dir / "cabinet.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env)
    lines: queue.Queue[bytes] = queue.Queue()

    def pump() -> None:
        # The first line is the readiness line; anything after it is drained so the pipe never fills.
        assert proc.stdout is not None
        lines.put(proc.stdout.readline())
        for _ in iter(lambda: proc.stdout.read(4096), b""):
            pass

    threading.Thread(target=pump, name="cabinet-stdout", daemon=True).start()
    server = CabinetServer("", port, project, data_dir, work_dir, keep, proc, token)
    try:
        first = lines.get(timeout=READY_TIMEOUT_S).decode("utf-8", "replace").strip()
    except queue.Empty:
        first = ""
    if not first.startswith(READY_PREFIX):
        proc.kill()
        proc.wait()
        tail = server.log_tail()
        shutil.rmtree(work_dir, ignore_errors=True)
        raise RuntimeError(f"cabinet did not start (first line {first!r}, exit code {proc.returncode}):\n{tail}")
    server.base_url = first[len(READY_PREFIX) :]
    server.port = int(server.base_url.rsplit(":", 1)[1])
    return server
