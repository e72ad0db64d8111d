"""Cleaning the machine-wide cache: the plan and execute steps of scan → plan → execute.

A :class:`CachePlan` is a value: what would be removed and how many bytes that frees,
decided from a :class:`~xbuildenv.cache.scan.CacheReport` by :func:`plan_gc` (roots of
deleted environments, unused archives and trees) or :func:`plan_clean` (the archive
store, its trees and the index cache, with every root on request). Showing it
(``gc --dry-run``) changes nothing;
:meth:`CachePlan.execute` removes, with the locks an install takes, and returns a
:class:`CacheResult` saying what went and what was kept because it was in use.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..checkpoints import checkpoint
from ..errors import PathEscapeError, UsageError, XBuildEnvError
from ..fs.files import remove_tree
from ..fs.paths import real_dir
from .layout import (
    GC_PREFIX,
    ROOT_PREFIX,
    STORE_ARCHIVES,
    STORE_INDEX,
    STORE_TREES,
    STORE_URLS,
)
from .locks import try_root_exclusive
from .scan import ArchiveInfo, CacheReport, RootInfo, TreeInfo
from .store import ArchiveStore
from .trees import TreeStore

PlanKind = Literal["gc", "clean"]
_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str, name: str = "older_than") -> float:
    """Seconds in an age such as ``30d``, ``12h``, ``3600s`` (``name`` is for the message)."""
    match = _AGE.fullmatch(text)
    if not match:
        raise UsageError(f"{name} {text!r} is not an age", "use e.g. 30d, 12h or 3600s")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _removal_json(
    roots: tuple[RootInfo, ...],
    archives: tuple[ArchiveInfo, ...],
    trees: tuple[TreeInfo, ...],
    index_bytes: int,
    **head: Any,
) -> dict[str, Any]:
    return {
        **head,
        "roots": [{**r.to_json(), "reason": r.gc_reason} for r in roots],
        "archives": [a.to_json() for a in archives],
        "trees": [t.to_json() for t in trees],
        "index_bytes": index_bytes,
        "freed_bytes": _freed(roots, archives, trees, index_bytes),
    }


def _freed(
    roots: tuple[RootInfo, ...],
    archives: tuple[ArchiveInfo, ...],
    trees: tuple[TreeInfo, ...],
    index_bytes: int,
) -> int:
    found = sum(r.size for r in roots) + sum(a.size for a in archives)
    return found + sum(t.size for t in trees) + index_bytes


@dataclass(frozen=True)
class CachePlan:
    """What :meth:`execute` would remove: ``roots``, ``archives``, and for a ``clean``
    the index cache (``index_bytes``) and the store's URL records and stale downloads."""

    kind: PlanKind
    cache_dir: Path
    store_dir: Path
    roots: tuple[RootInfo, ...] = ()
    archives: tuple[ArchiveInfo, ...] = ()
    index_bytes: int = 0
    trees: tuple[TreeInfo, ...] = ()

    @property
    def freed_bytes(self) -> int:
        """Bytes executing the plan frees, if nothing it names is in use by then."""
        return _freed(self.roots, self.archives, self.trees, self.index_bytes)

    def to_json(self) -> dict[str, Any]:
        """The plan as ``gc --dry-run --json`` prints it (docs/reference/json.md, ``removal``)."""
        return _removal_json(self.roots, self.archives, self.trees, self.index_bytes, dry_run=True)

    def execute(self) -> CacheResult:
        """Remove what the plan names; see :func:`execute`."""
        return execute(self)


@dataclass(frozen=True)
class CacheResult:
    """What :meth:`CachePlan.execute` removed, and what it kept because it was in use."""

    plan: CachePlan
    roots: tuple[RootInfo, ...]  # removed
    busy: tuple[RootInfo, ...]  # kept: an install held the root's lock
    archives: tuple[ArchiveInfo, ...]  # removed (an archive in use is kept)
    leftovers: tuple[Path, ...]  # .gc-* folders of killed runs, removed
    index_bytes: int  # the index cache, removed by a clean
    trees: tuple[TreeInfo, ...] = ()  # removed (one being published is kept)

    @property
    def freed_bytes(self) -> int:
        return _freed(self.roots, self.archives, self.trees, self.index_bytes)

    def to_json(self) -> dict[str, Any]:
        """As ``gc --json`` and ``cache clean --json`` print it (docs/reference/json.md)."""
        return _removal_json(self.roots, self.archives, self.trees, self.index_bytes, dry_run=False)


def plan_gc(
    report: CacheReport,
    *,
    include_unknown: bool = False,
    older_than: float | str | None = None,
    now: float | None = None,
) -> CachePlan:
    """Roots whose owner is gone (or unknown/unused, when asked); archives nobody uses."""
    age = parse_age(older_than) if isinstance(older_than, str) else older_than
    now = time.time() if now is None else now
    roots = []
    for root in report.roots:
        stale = age is not None and now - root.last_used > age
        if (
            root.owner_state == "gone"
            or (root.owner_state == "unknown" and (include_unknown or stale))
            or (root.owner_state == "present" and stale)
        ):
            roots.append(root)
    used = set().union(*(r.archives for r in report.roots if r not in roots))
    archives = tuple(a for a in report.archives if a.sha256 not in used)
    # A tree no kept root came from, whose files have no names but the store's and those
    # of the roots removed here: no root elsewhere (e.g. under --path) links it. Removing
    # a tree never breaks a root (its hard links keep the files), it costs an unpack.
    trees = tuple(
        t
        for t in report.trees
        if t.sha256 not in used and t.links <= sum(t.sha256 in r.archives for r in roots)
    )
    return CachePlan("gc", report.cache_dir, report.store_dir, tuple(roots), archives, trees=trees)


def plan_clean(report: CacheReport, *, roots: bool = False) -> CachePlan:
    """Every stored archive and tree and the index cache; with ``roots``, every root."""
    return CachePlan(
        "clean",
        report.cache_dir,
        report.store_dir,
        report.roots if roots else (),
        report.archives,
        report.index_bytes,
        report.trees,
    )


def execute(plan: CachePlan) -> CacheResult:
    """Delete what ``plan`` names, with the locks an install takes.

    A root is deleted only while we hold its root lock exclusively (every install
    holds it shared), so a root being installed is kept, not deleted. It is renamed
    to ``.gc-<name>`` first so it vanishes at once; the folders of a gc that was killed
    mid-delete are removed first, so nothing is left for ever. Archives are removed
    under their store lock, kept while one is held. A plan naming a path that is not a
    root of its cache folder or an archive of its store is refused before anything goes.
    """
    _check(plan)
    leftovers = tuple(remove_gc_leftovers(plan.cache_dir))
    removed, busy = [], []
    for root in plan.roots:
        outcome = _remove_root(root)
        if outcome == "busy":
            busy.append(root)
        elif outcome == "removed":
            removed.append(root)
    archives = tuple(a for a in plan.archives if remove_archive(a.path))
    trees = tuple(t for t in plan.trees if remove_stored_tree(t.path))
    if plan.kind == "clean":
        _clean_store(plan.store_dir)
    index_bytes = plan.index_bytes if plan.kind == "clean" else 0
    return CacheResult(plan, tuple(removed), tuple(busy), archives, leftovers, index_bytes, trees)


def _check(plan: CachePlan) -> None:
    for root in plan.roots:
        if (
            root.path.parent != plan.cache_dir
            or not root.path.name.startswith(ROOT_PREFIX)
            or not real_dir(root.path)
        ):
            raise PathEscapeError(f"{root.path} is not a root in {plan.cache_dir}; not removing")
    archives = plan.store_dir / STORE_ARCHIVES
    for archive in plan.archives:
        if archive.path.parent != archives or archive.path.name != archive.sha256:
            raise PathEscapeError(f"{archive.path} is not an archive in {archives}; not removing")
    trees = plan.store_dir / STORE_TREES
    for tree in plan.trees:
        if tree.path.parent != trees or tree.path.name != tree.sha256:
            raise PathEscapeError(f"{tree.path} is not a tree in {trees}; not removing")


def _remove_root(root: RootInfo) -> Literal["removed", "busy", "failed"]:
    lock = try_root_exclusive(root.path)
    if lock is None:
        return "busy"
    checkpoint("gc.locked")
    trash = root.path.with_name(f"{GC_PREFIX}{root.path.name}-{os.urandom(4).hex()}")
    try:
        os.rename(root.path, trash)
    except OSError:
        return "failed"
    finally:
        lock.release()
    checkpoint("gc.renamed")
    remove_tree(trash)
    return "removed"


def _clean_store(store_dir: Path) -> None:
    store = ArchiveStore(store_dir)
    for folder in (STORE_INDEX, STORE_URLS):
        # remove_tree unlinks a symlink planted in the folder's place, never its target
        if os.path.lexists(store.path / folder):
            remove_tree(store.path / folder)
    store.tidy_temp()  # partial downloads of processes that are gone (not running ones)


def remove_gc_leftovers(cache_home: Path) -> list[Path]:
    """``.gc-*`` folders of killed gc runs (already renamed away: nobody uses them)."""
    found: list[Path] = []
    try:
        names = [n for n in os.listdir(cache_home) if n.startswith(GC_PREFIX)]
    except OSError:
        return found
    for name in names:
        remove_tree(cache_home / name)
        found.append(cache_home / name)
    return found


def remove_archive(path: Path) -> bool:
    """Delete a stored archive unless an install holds its store lock."""
    return _under_store_lock(path, lambda: path.unlink(missing_ok=True))


def remove_stored_tree(path: Path) -> bool:
    """Delete a stored tree unless an install holds its store lock (it may be
    publishing it); a root linking it meanwhile notices, and unpacks instead."""
    return _under_store_lock(path, lambda: TreeStore(path.parent.parent).remove(path.name))


def _under_store_lock(path: Path, remove: Callable[[], object]) -> bool:
    """Run ``remove`` for the store entry ``<store>/<folder>/<sha256>`` while holding
    its store lock; False (nothing removed) when an install holds it."""
    from ..fs.locks import FileLock
    from .locks import lock_dir

    try:
        folder = lock_dir(path.parent.parent)
    except (XBuildEnvError, OSError):
        remove()  # no usable lock folder: no install can hold one
        return True
    lock = FileLock(folder / f"{path.name}.lock", timeout=0)
    try:
        lock.acquire()
    except XBuildEnvError:
        return False  # in use (or the lock folder is not usable): keep it
    try:
        remove()
    finally:
        lock.release()
    return True
