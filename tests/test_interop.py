"""Interop with pyodide-build 0.39.2, in one venv that holds both tools.

The venv is built once and kept in ``tests/.interop-cache/`` (git-ignored), keyed by
the Python version, the pyodide-build pin and this project's pyproject.toml. These
tests skip, never fail, when no Python 3.12+ is found or the venv cannot be set up
(no network for PyPI, no ``venv`` module, ...). Every tool runs as a subprocess with
a private HOME and XDG_CACHE_HOME, so both resolve their *default* root.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import DATA, Server, clean_env, default_files, make_tar, release, serve_index, sha256

pytestmark = pytest.mark.interop

PYODIDE_BUILD = "pyodide-build==0.39.2"
REPO = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".interop-cache"
FIXTURE_PYTHON = {"3.13": "3.13.2", "3.14": "3.14.2"}  # the real stripped archives


def _python_version(exe: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [exe, "-c", "import sys, venv; print('%d %d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def find_python() -> tuple[str, str] | None:
    """A Python 3.12+ interpreter; one that a real fixture archive fits is preferred."""
    candidates = [shutil.which(n) for n in ("python3.13", "python3.14", "python3.12")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[234]*/bin/python")))
    found: list[tuple[str, str]] = []
    for exe in candidates:
        if exe is None:
            continue
        version = _python_version(exe)
        if version is not None and version >= (3, 12):
            found.append((exe, f"{version[0]}.{version[1]}"))
    found.sort(key=lambda item: item[1] not in FIXTURE_PYTHON)
    return found[0] if found else None


@dataclass(frozen=True)
class Venv:
    path: Path
    python_mm: str

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)


def _build_venv(python: str, folder: Path) -> str | None:
    """Create the venv; return why it failed, or None."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [python, "-m", "venv", str(folder)],
        [
            str(folder / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            PYODIDE_BUILD,
            "-e",
            str(REPO),
        ],
    ]
    for step in steps:
        try:
            proc = subprocess.run(step, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{step[:3]}: {exc}"
        if proc.returncode != 0:
            return f"{' '.join(step[:4])} failed: {proc.stderr.strip().splitlines()[-1:]}"
    return None


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


@dataclass(frozen=True)
class Published:
    meta: str
    url: str
    version: str


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


def tool(
    venv: Venv, env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv.bin(args[0]), *args[1:]],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (proc.args, proc.stdout, proc.stderr)
    return proc.stdout


def pyodide_build_root(venv: Venv, env: dict[str, str], cwd: Path) -> Path:
    code = (
        "from pyodide_build.common import default_xbuildenv_path; print(default_xbuildenv_path())"
    )
    return Path(ok(tool(venv, env, cwd, "python", "-c", code)).strip())


def hrefs(package_index: Path) -> dict[str, list[str]]:
    return {
        page.parent.name: re.findall(r'href="([^"]+)"', page.read_text())
        for page in sorted(package_index.glob("*/index.html"))
    }


# --- the tests ----------------------------------------------------------------------------
def test_same_default_root(venv: Venv, ienv: dict[str, str], tmp_path: Path) -> None:
    ours = Path(ok(tool(venv, ienv, tmp_path, "xbuildenv", "root")).strip())
    assert ours == pyodide_build_root(venv, ienv, tmp_path)
    assert ours.parent == tmp_path / "home" / ".cache" / "pyodide-build"
    # The same with the root configured in pyproject.toml (relative to that file).
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.pyodide.build]\nxbuildenv_path = "envs"\n')
    ours = Path(ok(tool(venv, ienv, project / "sub", "xbuildenv", "root")).strip())
    assert ours == project / "envs"


def xbuildenv_install(venv: Venv, ienv: dict[str, str], cwd: Path, published: Published) -> None:
    """``xbuildenv install`` of the published version, run inside the interop venv."""
    ok(
        tool(
            venv, ienv, cwd, "xbuildenv", "install", published.version, "--metadata", published.meta
        )
    )


def test_xbuildenv_installs_pyodide_build_uses(
    venv: Venv, ienv: dict[str, str], tmp_path: Path, published: Published
) -> None:
    xbuildenv_install(venv, ienv, tmp_path, published)
    root = pyodide_build_root(venv, ienv, tmp_path)
    assert (root / published.version / ".installed").is_file()

    listed = ok(tool(venv, ienv, tmp_path, "pyodide", "xbuildenv", "versions")).splitlines()
    assert f"* {published.version}" in listed
    assert (
        ok(tool(venv, ienv, tmp_path, "pyodide", "xbuildenv", "version")).strip()
        == published.version
    )
    # pyodide-build reads the build variables out of the environment we installed.
    config = ok(tool(venv, ienv, tmp_path, "pyodide", "config", "get", "pyodide_root"))
    assert Path(config.strip()) == root / published.version / "xbuildenv" / "pyodide-root"

    ok(tool(venv, ienv, tmp_path, "pyodide", "xbuildenv", "uninstall"))
    assert not (root / published.version).exists()
    assert ok(tool(venv, ienv, tmp_path, "xbuildenv", "versions")) == ""
    assert tool(venv, ienv, tmp_path, "xbuildenv", "version").returncode == 1


def test_pyodide_build_installs_xbuildenv_uses(
    server: Server, venv: Venv, ienv: dict[str, str], tmp_path: Path, published: Published
) -> None:
    env = {**ienv, "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": published.meta}
    ok(tool(venv, env, tmp_path, "pyodide", "xbuildenv", "install", published.version))
    root = Path(ok(tool(venv, env, tmp_path, "xbuildenv", "root")).strip())
    assert (root / published.version).is_dir()
    assert ok(tool(venv, env, tmp_path, "xbuildenv", "versions")) == f"* {published.version}\n"
    assert ok(tool(venv, env, tmp_path, "xbuildenv", "version")) == f"{published.version}\n"

    # Our install of the same version is a no-op: no index, no download.
    hits = sum(server.hits.values())
    proc = tool(venv, env, tmp_path, "xbuildenv", "install", published.version)
    assert "already installed" in ok(proc) + proc.stderr
    assert sum(server.hits.values()) == hits

    # A URL install by pyodide-build: both tools name the folder the same way.
    ok(tool(venv, env, tmp_path, "pyodide", "xbuildenv", "install", "--url", published.url))
    port = server.base.rsplit(":", 1)[1]
    mangled = f"http_127_0_0_1_{port}_dl_{published.version.replace('.', '_')}_xbuildenv-" + (
        published.version.replace(".", "_") + "_tar_gz"
    )
    assert ok(tool(venv, env, tmp_path, "xbuildenv", "version")) == f"{mangled}\n"
    listed = ok(tool(venv, env, tmp_path, "xbuildenv", "versions", "--json"))
    assert f'"{mangled}"' in listed and f'"{published.version}"' in listed

    ok(tool(venv, env, tmp_path, "xbuildenv", "use", published.version))
    assert (
        ok(tool(venv, env, tmp_path, "pyodide", "xbuildenv", "version")).strip()
        == published.version
    )
    ok(tool(venv, env, tmp_path, "xbuildenv", "uninstall", mangled))
    assert not (root / mangled).exists()


def test_package_index_matches_pyodide_build(
    venv: Venv, ienv: dict[str, str], tmp_path: Path, published: Published
) -> None:
    env = {**ienv, "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": published.meta}
    ok(tool(venv, env, tmp_path, "pyodide", "xbuildenv", "install", published.version))
    theirs = pyodide_build_root(venv, env, tmp_path) / published.version
    ours = tmp_path / "ours"
    ok(tool(venv, env, tmp_path, "xbuildenv", "install", published.version, "--path", str(ours)))
    index = Path("xbuildenv") / "pyodide-root" / "package_index"
    assert hrefs(ours / published.version / index) == hrefs(theirs / index)
    assert hrefs(theirs / index)  # not vacuous
    top_ours = re.findall(
        r'href="([^"]+)"', (ours / published.version / index / "index.html").read_text()
    )
    top_theirs = re.findall(r'href="([^"]+)"', (theirs / index / "index.html").read_text())
    assert top_ours == top_theirs
    assert (ours / published.version / ".build-python-version").read_text().strip() == (
        (theirs / ".build-python-version").read_text().strip()
    )


def test_pyodide_build_lists_only_versions(
    venv: Venv, ienv: dict[str, str], tmp_path: Path, published: Published
) -> None:
    xbuildenv_install(venv, ienv, tmp_path, published)
    listed = ok(tool(venv, ienv, tmp_path, "pyodide", "xbuildenv", "versions"))
    assert listed.splitlines() == [f"* {published.version}"]
