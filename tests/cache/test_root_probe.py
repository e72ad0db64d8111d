"""Writability is decided by creating a file, as pyodide-build does since #426 (issue 19,
item 5): on a read-only bind mount a configured root is reported and skipped, and the
default root falls back to the working directory, the same choices pyodide-build makes.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import clean_env, one_error, run, snapshot

from xbuildenv.settings.dirs import is_writable


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path/ro``: a read-only bind mount of ``tmp_path/rw`` (skipped where mount
    is not permitted)."""
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (rw / "inside.txt").write_text("kept\n")
    made = subprocess.run(["mount", "--bind", str(rw), str(ro)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"mount --bind is not permitted here: {made.stderr.strip()}")
    try:
        again = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True, text=True
        )
        if again.returncode != 0:
            pytest.skip(f"remount read-only is not permitted here: {again.stderr.strip()}")
        yield ro
    finally:
        subprocess.run(["umount", str(ro)], check=True)


def test_probe_says_no_on_a_read_only_mount_even_as_root(read_only: Path) -> None:
    before = snapshot(read_only)
    assert not is_writable(read_only)
    assert not is_writable(read_only / "not" / "yet" / "made")  # its nearest ancestor
    assert is_writable(read_only.parent / "rw")  # the same folder, writable mount
    assert snapshot(read_only) == before  # the probe left nothing behind


def test_configured_root_on_a_read_only_mount_is_skipped(read_only: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path, PYODIDE_XBUILDENV_PATH=str(read_only / "root"))
    r = run("root", "--json", env=env, cwd=tmp_path)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["rule"] == "user cache", data
    errors = [line for line in r.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and str(read_only / "root") in errors[0], r.err
    assert "PYODIDE_XBUILDENV_PATH" in errors[0] and "not writable" in errors[0]
    # the same from pyproject.toml
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[tool.pyodide.build]\nxbuildenv_path = "{read_only / "root"}"\n'
    )
    r = run("root", "--json", env=clean_env(tmp_path), cwd=project)
    assert r.code == 0 and json.loads(r.out)["rule"] == "user cache", r.err


def test_default_root_on_a_read_only_mount_falls_back_to_the_working_directory(
    read_only: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = clean_env(tmp_path, XDG_CACHE_HOME=str(read_only / "cache"))
    r = run("root", "--json", env=env, cwd=work)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["rule"] == "working directory", data
    assert Path(data["root"]).parent == work


def test_install_into_a_read_only_mount_is_one_error(read_only: Path, tmp_path: Path) -> None:
    before = snapshot(read_only.parent / "rw")
    archive = tmp_path / "env.tar"
    archive.write_bytes(b"")  # never read: the root is refused first
    r = run(
        "install", "--url", str(archive), "--path", str(read_only / "root"), env=clean_env(tmp_path)
    )
    line = one_error(r)
    assert str(read_only) in line, line
    assert snapshot(read_only.parent / "rw") == before
    assert os.listdir(read_only) == ["inside.txt"]
