"""The cache-management API, in-process: scan → plan → execute on real caches.

Roots are made by real installs (loopback server, real archives) into a private cache
folder; a root whose owner is gone is one whose owner record names a deleted folder,
as it is after its virtual environment is removed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.cli import snapshot
from helpers.servers import Server, serve_env, serve_index

import xbuildenv
from xbuildenv import CachePlan, XBuildEnvManager, scan_cache
from xbuildenv.cache.layout import OWNER_FILE, ROOT_PREFIX
from xbuildenv.cache.locks import root_lock
from xbuildenv.errors import PathEscapeError, UsageError

pytestmark = pytest.mark.usefixtures("private_process_env")
VERSION = "0.29.4"


@pytest.fixture
def cache(server: Server, tmp_path: Path) -> Path:
    """Two roots in the cache folder, each with VERSION installed from one archive."""
    meta = serve_index(server, serve_env(server, VERSION))
    home = tmp_path / "cache" / "pyodide-build"
    for name in ("aaaaaaaaaaaa", "bbbbbbbbbbbb"):
        XBuildEnvManager(home / f"{ROOT_PREFIX}{name}", meta).install(VERSION)
    return home


def _owner_gone(root: Path, tmp_path: Path) -> None:
    record = json.loads((root / OWNER_FILE).read_text())
    record["prefix"] = str(tmp_path / "deleted-venv")
    (root / OWNER_FILE).write_text(json.dumps(record))


def test_scan_reports_roots_archives_and_who_uses_them(cache: Path) -> None:
    report = scan_cache()
    assert report.cache_dir == cache
    assert [r.install_id for r in report.roots] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
    assert all(r.versions == (VERSION,) and r.active == VERSION for r in report.roots)
    assert all(r.owner_state == "present" for r in report.roots)
    (archive,) = report.archives
    assert archive.path.is_file() and archive.size == archive.path.stat().st_size
    assert report.users(archive.sha256) == report.roots
    assert report.roots_bytes > 0 and report.archives_bytes == archive.size
    listed = report.to_json()
    assert listed["archives"][0]["used_by"] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
    assert xbuildenv.scan_cache is xbuildenv.cache.scan_cache  # one public name


def test_gc_plan_is_a_value_and_execute_removes_what_it_names(cache: Path, tmp_path: Path) -> None:
    gone = cache / f"{ROOT_PREFIX}bbbbbbbbbbbb"
    _owner_gone(gone, tmp_path)
    plan = scan_cache().plan_gc()
    assert [r.path for r in plan.roots] == [gone]
    assert plan.archives == ()  # the other root still uses it
    assert plan.freed_bytes == plan.roots[0].size > 0
    assert plan.to_json()["dry_run"] is True and gone.exists()  # planning changes nothing

    result = plan.execute()
    assert not gone.exists() and (cache / f"{ROOT_PREFIX}aaaaaaaaaaaa" / VERSION).is_dir()
    assert result.roots == plan.roots and result.busy == ()
    assert result.freed_bytes == plan.freed_bytes
    assert result.to_json()["dry_run"] is False

    # Unused for "0s" or more: the last root goes, and with it the archive nobody uses.
    plan = scan_cache().plan_gc(older_than="0s")
    assert len(plan.roots) == 1 and len(plan.archives) == 1
    plan.execute()
    after = scan_cache()
    assert after.roots == () and after.archives == ()


def test_clean_plan_keeps_roots_unless_asked(cache: Path) -> None:
    report = scan_cache()
    plan = report.plan_clean()
    assert plan.roots == () and plan.archives == report.archives
    trees = sum(t.size for t in report.trees)  # the unpacked trees in the store
    assert plan.freed_bytes == report.archives_bytes + report.index_bytes + trees
    plan.execute()
    after = scan_cache()
    assert after.archives == () and len(after.roots) == 2
    everything = after.plan_clean(roots=True).execute()
    assert len(everything.roots) == 2 and scan_cache().roots == ()


def test_a_root_being_installed_is_kept(cache: Path, tmp_path: Path) -> None:
    busy = cache / f"{ROOT_PREFIX}aaaaaaaaaaaa"
    _owner_gone(busy, tmp_path)
    plan = scan_cache().plan_gc()
    with root_lock(busy):  # what every install holds
        result = plan.execute()
    assert [r.path for r in result.busy] == [busy] and result.roots == ()
    assert busy.is_dir() and result.freed_bytes == 0


def test_bad_age_is_a_usage_error(cache: Path) -> None:
    with pytest.raises(UsageError, match="30d"):
        scan_cache().plan_gc(older_than="soon")


def test_a_plan_naming_folders_outside_the_cache_is_refused(cache: Path, tmp_path: Path) -> None:
    decoy = tmp_path / "decoy"
    (decoy / f"{ROOT_PREFIX}cccccccccccc").mkdir(parents=True)
    (decoy / f"{ROOT_PREFIX}cccccccccccc" / "precious.txt").write_text("keep me")
    before = snapshot(decoy)
    report = scan_cache()
    outside = scan_cache(decoy).roots
    assert len(outside) == 1
    forged = CachePlan("gc", report.cache_dir, report.store_dir, roots=outside)
    with pytest.raises(PathEscapeError):
        forged.execute()
    assert snapshot(decoy) == before
    assert len(scan_cache().roots) == 2  # nothing of the cache went either
