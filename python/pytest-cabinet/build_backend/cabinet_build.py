"""A minimal PEP 517 backend that puts the cabinet binary into the pytest-cabinet wheel.

Why not maturin: maturin runs its own `cargo build`, with its own flags, so the test command would compile
cabinet a second time; this backend copies the binary the caller already has. Which binary:

- ``CABINET_BIN``: that file (scripts/build-wheel --dev passes target/debug/cabinet);
- otherwise ``cargo build --release --bin cabinet`` of the repository this directory is in, and its result.

The wheel holds ``pytest_cabinet/`` (the plugin, from ``src/``) and ``pytest_cabinet/bin/cabinet``; it is
tagged for this platform only (``py3-none-<platform>``), since the binary is native. Only wheels are built:
an sdist would have to carry the whole Rust workspace.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sysconfig
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
REPO_ROOT = HERE.parents[1]
NAME = "pytest_cabinet"
DIST = "pytest-cabinet"


def _version() -> str:
    """The crate's version, so the wheel says which cabinet it carries."""
    text = (REPO_ROOT / "crates" / "cabinet" / "Cargo.toml").read_text()
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    return m.group(1) if m else "0.0.0"


def _binary() -> Path:
    given = os.environ.get("CABINET_BIN")
    if given:
        path = Path(given)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RuntimeError(f"CABINET_BIN={given} is not an executable file")
        return path
    manifest = REPO_ROOT / "crates" / "cabinet" / "Cargo.toml"
    subprocess.run(
        ["cargo", "build", "--release", "--bin", "cabinet", "--manifest-path", str(manifest)], check=True
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
    return target / "release" / "cabinet"


def _stripped(binary: Path, tmp: Path) -> Path:
    """A copy of ``binary`` without debug information (a debug build is ~300 MB, mostly DWARF), when
    ``strip`` is installed and ``CABINET_WHEEL_STRIP`` is not ``0``; else the binary itself."""
    strip = shutil.which("strip")
    if os.environ.get("CABINET_WHEEL_STRIP") == "0" or strip is None:
        return binary
    out = tmp / "cabinet"
    subprocess.run([strip, "--strip-debug", "-o", str(out), str(binary)], check=True)
    return out


def _tag() -> str:
    platform = re.sub(r"[-.]", "_", sysconfig.get_platform())
    return f"py3-none-{platform}"


def _metadata(version: str) -> str:
    pyproject = (HERE / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies\s*=\s*\[(.*?)\]", pyproject, re.M | re.S)
    requires = re.findall(r'"([^"]+)"', deps.group(1)) if deps else []
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {DIST}",
        f"Version: {version}",
        "Summary: A real cabinet (CDF Files API) server for pytest: cabinet_server, cognite_client, cabinet_faults",
        "Requires-Python: >=3.10",
        "Classifier: Framework :: Pytest",
        *[f"Requires-Dist: {r}" for r in requires],
    ]
    return "\n".join(lines) + "\n"


def _dist_info_files(version: str, tag: str) -> dict[str, bytes]:
    wheel = f"Wheel-Version: 1.0\nGenerator: cabinet_build\nRoot-Is-Purelib: false\nTag: {tag}\n"
    entry_points = "[pytest11]\ncabinet = pytest_cabinet.plugin\n"
    return {
        "METADATA": _metadata(version).encode(),
        "WHEEL": wheel.encode(),
        "entry_points.txt": entry_points.encode(),
    }


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def _write(zf: zipfile.ZipFile, arcname: str, data: bytes, mode: int, record: list[str]) -> None:
    info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)
    record.append(_record_line(arcname, data))


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with tempfile.TemporaryDirectory() as tmp:
        return _build(Path(wheel_directory), _stripped(_binary(), Path(tmp)))


def _build(wheel_directory: Path, binary: Path) -> str:
    version = _version()
    tag = _tag()
    dist_info = f"{NAME}-{version}.dist-info"
    filename = f"{NAME}-{version}-{tag}.whl"
    record: list[str] = []
    with zipfile.ZipFile(Path(wheel_directory) / filename, "w") as zf:
        for src in sorted((HERE / "src" / NAME).rglob("*.py")):
            arc = f"{NAME}/{src.relative_to(HERE / 'src' / NAME).as_posix()}"
            _write(zf, arc, src.read_bytes(), 0o644, record)
        # The binary is streamed from disk: a debug build is large.
        arc = f"{NAME}/bin/cabinet"
        info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o100755) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        h = hashlib.sha256()
        size = 0
        with open(binary, "rb") as src_fh, zf.open(info, "w", force_zip64=True) as dst:
            for chunk in iter(lambda: src_fh.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
                dst.write(chunk)
        digest = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
        record.append(f"{arc},sha256={digest},{size}")
        for name, data in _dist_info_files(version, tag).items():
            _write(zf, f"{dist_info}/{name}", data, 0o644, record)
        record.append(f"{dist_info}/RECORD,,")
        info = zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o100644) << 16
        zf.writestr(info, "\n".join(record) + "\n")
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    version = _version()
    dist_info = Path(metadata_directory) / f"{NAME}-{version}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    for name, data in _dist_info_files(version, _tag()).items():
        (dist_info / name).write_bytes(data)
    return dist_info.name
