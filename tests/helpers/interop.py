"""pyodide-build and cibuildwheel next to xbuildenv: the venvs they run in, and what
pyodide-build 0.39.2 is known to do (tests/e2e/, and the drop-in tests that check we do
the same).

Venvs are built once and kept in ``tests/.interop-cache/`` (git-ignored), keyed by
the Python version, the requirements and this project's pyproject.toml. Whatever
cannot be set up (no Python 3.12+, no network for PyPI) skips, never fails.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.cli import REPO

PYODIDE_BUILD = "pyodide-build==0.39.2"


CACHE = REPO / "tests" / ".interop-cache"


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


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        pytest.skip("uv (a test dependency) is not installed")
    return found


@dataclass(frozen=True)
class Venv:
    path: Path
    python_mm: str

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)


def cached_venv(name: str, requirements: list[str]) -> Venv:
    """A venv with ``requirements`` and this project (editable), built once per key.

    The key is the requirements, this checkout's path and its pyproject.toml; a file
    lock makes a second pytest worker wait for the first one's build instead of
    building the same folder at the same time. Skips when it cannot be set up.
    """
    found = find_python()
    if found is None:
        pytest.skip("no Python 3.12+ found")
    python, mm = found
    key = hashlib.sha256(
        "\0".join([*requirements, str(REPO)]).encode() + (REPO / "pyproject.toml").read_bytes()
    ).hexdigest()[:12]
    folder = CACHE / f"venv-{mm}-{name}"
    stamp = folder / ".xbuildenv-interop-ready"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".venv-{mm}-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text() == key:
            return Venv(folder, mm)
        shutil.rmtree(folder, ignore_errors=True)
        # uv (a test dependency) builds it: pip took most of a minute per venv. What is
        # tested is the tools in the venv, not the installer that put them there.
        uv = _uv()
        steps = [
            [uv, "venv", "-q", "--seed", "--python", python, str(folder)],
            [uv, "pip", "install", "-q", "--python", str(folder / "bin" / "python"),
             *requirements, "-e", str(REPO)],
        ]  # fmt: skip
        for step in steps:
            try:
                proc = subprocess.run(step, capture_output=True, text=True, timeout=900)
            except (OSError, subprocess.SubprocessError) as exc:
                pytest.skip(f"cannot set up {name}: {exc}")
            if proc.returncode != 0:
                pytest.skip(f"cannot set up {name}: {proc.stderr.strip().splitlines()[-1:]}")
        stamp.write_text(key)
    return Venv(folder, mm)


@dataclass(frozen=True)
class Published:
    meta: str
    url: str
    version: str


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


# Written against pyodide_build.xbuildenv.CrossBuildEnvManager; ``Manager`` is either.
SCRIPT = """
def drive(Manager, root, meta, good, bad):
    seen = []
    m = Manager(root, metadata_url=meta)
    assert m.current_version is None
    assert m.list_versions() == []
    path = m.install(good)
    assert path == m.env_dir / good / "xbuildenv" / "pyodide-root", path
    assert (path / "Makefile.envs").is_file()
    assert m.current_version == good
    assert m.pyodide_root == path
    assert m.symlink_dir == m.env_dir / "xbuildenv"
    assert m.list_versions() == [good]
    assert m.version_marker_matches() == (True, None)
    for call, words in (
        (lambda: m.install(good, url="https://example.org/x.tar.gz"), "both version and url"),
        (lambda: m.install(bad), f"Version {bad} is not compatible with the current environment"),
        (lambda: m.use_version("0.0.0-nope"), "environment version 0.0.0-nope, available"),
        (lambda: m.uninstall_version("0.0.0-nope"), "Cannot find cross-build environment version"),
    ):
        try:
            call()
        except ValueError as exc:
            assert words in str(exc), (words, str(exc))
            seen.append(type(exc).__name__)
        else:
            raise AssertionError("no ValueError")
    # A bare folder is a version to pyodide-build: listed, usable, removable.
    (m.env_dir / "0.0.1").mkdir()
    assert m.list_versions() == ["0.0.1", good]
    m.use_version("0.0.1")
    assert m.current_version == "0.0.1" and m.symlink_dir.resolve() == m.env_dir / "0.0.1"
    assert m.uninstall_version(None) == "0.0.1"
    assert m.current_version is None and m.list_versions() == [good]
    m.use_version(good)
    assert m.uninstall_version(None) == good
    assert m.current_version is None
    for call in (lambda: m.uninstall_version(None), lambda: m.install_emscripten("4.0.9")):
        try:
            call()
        except ValueError as exc:
            seen.append(type(exc).__name__)
        else:
            raise AssertionError("no ValueError")
    return seen
"""


# pyodide-build 0.39.2's own answer on the real index (computed with it:
# CrossBuildEnvReleaseSpec.is_compatible(python_version=mm, pyodide_build_version="0.39.2")).
PYODIDE_BUILD_0392 = {
    "3.11": set(),
    "3.12": {"0.26.0", "0.26.1", "0.26.2", "0.26.3", "0.26.4", "0.27.0", "0.27.0a2", "0.27.1",
             "0.27.2", "0.27.3", "0.27.4", "0.27.5", "0.27.6", "0.27.7"},
    "3.13": {"0.28.0", "0.28.0a1", "0.28.0a2", "0.28.0a3", "0.28.1", "0.28.2", "0.28.3",
             "0.29.0", "0.29.1", "0.29.2", "0.29.3", "0.29.4"},
    "3.14": {"314.0.0", "314.0.0a1", "314.0.0a2", "314.0.1", "314.0.2", "314.0.3", "314.0.4",
             "314.0.5"},
}  # fmt: skip
