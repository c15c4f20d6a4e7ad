"""The plugin's options, each run as a user's pytest session of its own (pytester, in a subprocess)."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import socket
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TIMEOUT_S = 120


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=TIMEOUT_S)


def record_test(out: Path) -> str:
    """A user test that uploads a file and writes what it saw of the server to `out`."""
    return f"""
import json, uuid

def test_record(cabinet_server, cognite_client):
    cognite_client.files.upload_bytes(b"x", name="f", external_id=uuid.uuid4().hex)
    seen = {{"base_url": cabinet_server.base_url, "port": cabinet_server.port,
             "data_dir": str(cabinet_server.data_dir), "project": cabinet_server.project,
             "count": len(cognite_client.files.list(limit=None))}}
    with open({str(out)!r}, "a") as fh:
        fh.write(json.dumps(seen) + "\\n")
"""


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_data_dir_removed_by_default(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "seen.jsonl"
    pytester.makepyfile(test_user=record_test(out))
    run(pytester).assert_outcomes(passed=1)
    (seen,) = records(out)
    assert seen["project"] == "cabinet-test"
    assert not Path(seen["data_dir"]).exists()


def test_keep_data_dir_on_command_line(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "seen.jsonl"
    pytester.makepyfile(test_user=record_test(out))
    result = run(pytester, "--cabinet-keep-data")
    result.assert_outcomes(passed=1)
    (seen,) = records(out)
    data_dir = Path(seen["data_dir"])
    try:
        assert data_dir.is_dir() and any(data_dir.iterdir())
        result.stdout.fnmatch_lines([f"cabinet data directory kept: {data_dir}"])
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def test_fixed_port_and_project_in_ini(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This test may itself run in an xdist worker, whose number would offset the inner run's port.
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "seen.jsonl"
    pytester.makeini(f"[pytest]\ncabinet_port = {port}\ncabinet_project = my-app\n")
    pytester.makepyfile(test_user=record_test(out))
    run(pytester).assert_outcomes(passed=1)
    (seen,) = records(out)
    assert seen["port"] == port and seen["base_url"] == f"http://127.0.0.1:{port}"
    assert seen["project"] == "my-app"


def test_seed_dir(pytester: pytest.Pytester) -> None:
    seed = pytester.mkdir("seed")
    (seed / "a.txt").write_bytes(b"alpha")
    (seed / "sub").mkdir()
    (seed / "sub" / "b.csv").write_bytes(b"x,y\n1,2\n")
    pytester.makeini("[pytest]\ncabinet_seed_dir = seed\n")
    pytester.makepyfile(
        test_user="""
def test_seeded(cognite_client):
    assert sorted(f.external_id for f in cognite_client.files.list(limit=None)) == ["a.txt", "sub/b.csv"]
    assert cognite_client.files.download_bytes(external_id="sub/b.csv") == b"x,y\\n1,2\\n"
    assert cognite_client.files.retrieve(external_id="a.txt").name == "a.txt"
"""
    )
    run(pytester).assert_outcomes(passed=1)


def test_session_scope_shares_one_server(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "seen.jsonl"
    pytester.makepyfile(test_a=record_test(out), test_b=record_test(out))
    run(pytester).assert_outcomes(passed=2)
    first, second = records(out)
    assert first["base_url"] == second["base_url"]
    assert (first["count"], second["count"]) == (1, 2)


def test_function_scope_gives_each_test_a_fresh_server(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "seen.jsonl"
    pytester.makepyfile(test_a=record_test(out), test_b=record_test(out))
    run(pytester, "--cabinet-scope=function").assert_outcomes(passed=2)
    first, second = records(out)
    assert first["data_dir"] != second["data_dir"]
    assert (first["count"], second["count"]) == (1, 1)


def test_server_factory_in_one_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
from pytest_cabinet.plugin import make_client
from cognite.client.credentials import Token

def test_two_servers(cabinet_server, cabinet_server_factory):
    other = cabinet_server_factory(project="other")
    assert other.base_url != cabinet_server.base_url
    client = make_client(other, Token("t"))
    client.files.upload_bytes(b"1", name="one", external_id="one")
    assert [f.external_id for f in client.files.list()] == ["one"]
    pytest_other = other
    globals()["OTHER"] = other

def test_factory_server_stopped():
    assert OTHER.proc.poll() == 0
    assert not OTHER.data_dir.exists()
"""
    )
    run(pytester).assert_outcomes(passed=2)


def test_config_file_and_token(pytester: pytest.Pytester) -> None:
    token = secrets.token_hex(16)
    pytester.makefile(
        ".toml",
        cabinet=f"""
[[project]]
name = "plant-a"

[[project.group]]
name = "writers"
capabilities = [{{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.service_token]]
subject = "ci"
sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"
groups = ["writers"]
""",
    )
    pytester.makeini(f"[pytest]\ncabinet_config = cabinet.toml\ncabinet_project = plant-a\ncabinet_token = {token}\n")
    pytester.makepyfile(
        test_user="""
import pytest
from cognite.client.exceptions import CogniteProjectAccessError
from cognite.client.credentials import Token
from pytest_cabinet.plugin import make_client

def test_token_works(cognite_client):
    cognite_client.files.upload_bytes(b"ok", name="n", external_id="n")
    assert cognite_client.files.download_bytes(external_id="n") == b"ok"

def test_other_token_refused(cabinet_server):
    # The SDK turns the server's 401 into its project access error.
    with pytest.raises(CogniteProjectAccessError, match="401"):
        make_client(cabinet_server, Token("wrong")).files.list()
"""
    )
    run(pytester).assert_outcomes(passed=2)


def test_xdist_one_server_per_worker(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "seen.jsonl"
    pytester.makepyfile(**{f"test_{i}": record_test(out) for i in range(4)})
    run(pytester, "-n", "2", "--dist", "loadfile").assert_outcomes(passed=4)
    assert len({r["base_url"] for r in records(out)}) == 2
