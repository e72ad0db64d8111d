"""Fixtures of the end-to-end suites: the venv with pyodide-build 0.39.2 and this project,
a private environment for its tools, and one release published for the venv's Python."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.archives import DATA, default_files, make_tar, release, sha256
from helpers.cli import clean_env
from helpers.interop import FIXTURE_PYTHON, PYODIDE_BUILD, Published, Venv, cached_venv
from helpers.servers import Server, serve_index


@pytest.fixture(scope="module")
def venv() -> Venv:
    return cached_venv(PYODIDE_BUILD.replace("==", "-"), [PYODIDE_BUILD])


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
