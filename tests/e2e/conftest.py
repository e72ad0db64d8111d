"""Fixtures of the end-to-end suites: the venv with pyodide-build 0.39.2 and this project,
a private environment for its tools, and one release published for the venv's Python."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.archives import DATA, default_files, make_tar, release, sha256
from helpers.cli import REPO, clean_env
from helpers.interop import (
    CACHE,
    FIXTURE_PYTHON,
    PYODIDE_BUILD,
    Published,
    Venv,
    _build_venv,
    find_python,
)
from helpers.servers import Server, serve_index


@pytest.fixture(scope="module")
def venv() -> Venv:
    found = find_python()
    if found is None:
        pytest.skip("no Python 3.12+ found for pyodide-build")
    python, mm = found
    # Rebuild when the pin or our own dependencies change.
    key = hashlib.sha256(
        f"{PYODIDE_BUILD}\0{REPO}\0".encode() + (REPO / "pyproject.toml").read_bytes()
    ).hexdigest()[:12]
    folder = CACHE / f"venv-{mm}-{PYODIDE_BUILD.replace('==', '-')}"
    stamp = folder / ".xbuildenv-interop-ready"
    if not (stamp.is_file() and stamp.read_text() == key):
        why = _build_venv(python, folder)
        if why is not None:
            pytest.skip(f"cannot set up a venv with {PYODIDE_BUILD}: {why}")
        stamp.write_text(key)
    return Venv(folder, mm)


@pytest.fixture
def ienv(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return clean_env(home)


@pytest.fixture
def published(server: Server, venv: Venv) -> Iterator[Published]:
    """One release for the venv's Python on the loopback server (the real fixture if any)."""
    if venv.python_mm in FIXTURE_PYTHON:
        body = (DATA / f"xbuildenv-test-{venv.python_mm}.tar.gz").read_bytes()
        python = FIXTURE_PYTHON[venv.python_mm]
    else:
        python = f"{venv.python_mm}.0"
        body = make_tar(default_files(python))
    version = "0.29.4" if venv.python_mm == "3.13" else "9.0.0"
    url = server.add(f"/dl/{version}/xbuildenv-{version}.tar.gz", body)
    meta = serve_index(
        server,
        release(version, url, python, sha256=sha256(body), min_pyodide_build_version="0.26.0"),
    )
    yield Published(meta, url, version)
