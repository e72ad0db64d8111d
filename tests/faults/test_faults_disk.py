"""A hostile or broken disk: unwritable roots, a full device, odd things where the link
or a version should be, and a stale Python marker."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.archives import PY_MM, big_files, make_tar
from helpers.cli import one_error, run, snapshot
from helpers.faults import FAULT_STATS, Tmpfs, root_problems

if TYPE_CHECKING:
    from helpers.faults import Case, World


def test_root_is_a_file(case: Case, world: World) -> None:
    case.serve_index({"2.0.0": world.good["2.0.0"]})
    spot = case.root.parent / "a-file"
    spot.write_text("keep me")
    line = one_error(run("install", "2.0.0", "--path", str(spot), env=case.env))
    assert str(spot) in line and "not a folder" in line
    FAULT_STATS["bad_inputs"] += 1
    FAULT_STATS["cache_changes"] += int(spot.read_text() != "keep me")
    assert spot.read_text() == "keep me"


def test_read_only_root(case: Case, world: World, tmp_path: Path) -> None:
    case.serve_index({"2.0.0": world.good["2.0.0"]})
    mount = Tmpfs(tmp_path / "ro", size="4m")
    try:
        ro_case = case.at(mount.path / "root")
        shutil.copytree(case.root, ro_case.root, symlinks=True)
        (ro_case.root / "xbuildenv").unlink()
        os.symlink(ro_case.root / "1.0.0", ro_case.root / "xbuildenv")
        mount.read_only()
        before = ro_case.snapshot()
        line = one_error(ro_case.install("2.0.0"))
        assert str(ro_case.root) in line and "Read-only file system" in line
        assert "--path" in line or "PYODIDE_XBUILDENV_PATH" in line
        ro_case.unchanged(before)
    finally:
        mount.close()


def test_no_space_left_during_extraction(case: Case, world: World, tmp_path: Path) -> None:
    big = big_files(version="2.0.0", count=60)  # ~720 KB unpacked

    case.serve_index({"2.0.0": case.serve_archive("2.0.0", make_tar(big))})
    mount = Tmpfs(tmp_path / "full", size="400k")
    try:
        small = case.at(mount.path / "root")
        small.root.mkdir()
        before = small.snapshot()
        line = one_error(small.install("2.0.0"))
        assert "no space left" in line and str(small.root) in line
        small.unchanged(before)
        assert shutil.disk_usage(mount.path).used < 64 * 1024  # the partial tree is gone
    finally:
        mount.close()


def _leaves_1_0_0_alone(case: Case, before: dict[str, object]) -> None:
    FAULT_STATS["bad_inputs"] += 1
    ok = {k: v for k, v in case.snapshot().items() if k.startswith("1.0.0")} == before
    FAULT_STATS["cache_changes"] += int(not ok)
    assert ok


def _old(case: Case) -> dict[str, object]:
    return {k: v for k, v in case.snapshot().items() if k.startswith("1.0.0")}


def test_dangling_link(case: Case, world: World) -> None:
    case.serve_index({"2.0.0": world.good["2.0.0"]})
    (case.root / "xbuildenv").unlink()
    os.symlink(case.root / "9.9.9", case.root / "xbuildenv")
    before = _old(case)
    assert "no cross-build environment is active" in one_error(case.cli("version"))
    assert case.cli("versions").out.split() == ["1.0.0"]  # listed, not marked active
    assert case.install("2.0.0").code == 0
    assert os.readlink(case.root / "xbuildenv") == str(case.root / "2.0.0")
    _leaves_1_0_0_alone(case, before)


def test_foreign_link(case: Case, world: World, tmp_path: Path) -> None:
    foreign = tmp_path / "someone-elses"
    foreign.mkdir()
    (foreign / ".installed").write_text("")
    (foreign / "data").write_text("theirs")
    (case.root / "xbuildenv").unlink()
    os.symlink(foreign, case.root / "xbuildenv")
    case.serve_index({"2.0.0": world.good["2.0.0"]})
    before, theirs = _old(case), snapshot(foreign)
    assert "no cross-build environment is active" in one_error(case.cli("version"))
    assert case.cli("use", "1.0.0").code == 0
    assert os.readlink(case.root / "xbuildenv") == str(case.root / "1.0.0")
    assert snapshot(foreign) == theirs  # followed by nobody, changed by nobody
    _leaves_1_0_0_alone(case, before)


def test_file_or_folder_where_the_link_belongs(case: Case, world: World) -> None:
    case.serve_index({"2.0.0": world.good["2.0.0"]})
    for kind in ("file", "folder"):
        link = case.root / "xbuildenv"
        if link.is_symlink():
            link.unlink()
        if kind == "file":
            link.write_text("user data")
        else:
            link.mkdir()
            (link / "notes.txt").write_text("user data")
        before = _old(case)
        assert case.cli("versions").code == 0
        r = case.cli("use", "1.0.0")
        assert r.code == 0, r.err
        assert os.readlink(link) == str(case.root / "1.0.0")
        # Moved aside, never deleted: the user's bytes are still in the root.
        kept = [p for p in case.root.rglob("*") if p.is_file() and p.read_bytes() == b"user data"]
        assert kept, f"the {kind} in the link's place was deleted"
        _leaves_1_0_0_alone(case, before)


def test_version_folder_without_installed_marker(case: Case, world: World) -> None:
    case.serve_index({"2.0.0": world.good["2.0.0"]})
    half = case.root / "2.0.0" / "xbuildenv" / "pyodide-root"
    half.mkdir(parents=True)
    (half / "Makefile.envs").write_text("half written")
    r = case.cli("versions")
    assert r.code == 0 and r.out.split() == ["*", "1.0.0"]
    assert "not installed" in one_error(case.cli("use", "2.0.0"))
    r = case.install("2.0.0")
    assert r.code == 0, r.err
    assert root_problems(case.root, world.files) == []
    assert (case.root / "2.0.0" / ".installed").is_file()


def test_python_marker_mismatch(case: Case, world: World) -> None:
    case.serve_index({"1.0.0": world.good["1.0.0"]})
    marker = case.root / "1.0.0" / ".build-python-version"
    marker.write_text("3.0")
    artifacts = case.root / "1.0.0/xbuildenv/pyodide-root/packages/.artifacts"
    host = artifacts / "lib/python3.0/site-packages"
    host.mkdir(parents=True)
    (host / "built-for-3.0.py").write_text("")
    r = case.install("1.0.0")
    assert r.code == 0, r.err
    assert "another Python" in r.err
    assert marker.read_text() == PY_MM
    assert not host.exists()  # unusable host packages dropped
    assert root_problems(case.root, world.files) == []
