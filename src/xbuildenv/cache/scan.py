"""Seeing and cleaning the machine-wide cache: roots, archives, trees, indexes.

``scan()`` reports every root under pyodide-build's cache folder (including roots
pyodide-build made), with sizes on disk where hard-linked files count once across
all roots. ``plan_gc()`` is a plain function over that report: it decides, and
``apply()`` does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checkpoints import checkpoint
from ..errors import XBuildEnvError
from ..fs.files import remove_tree
from ..fs.paths import read_bounded, real_dir
from ..records import iso_utc
from .layout import (
    ARCHIVE_MARKER,
    GC_PREFIX,
    ROOT_PREFIX,
    STORE_INDEX,
    RootLayout,
)
from .locks import try_root_exclusive
from .owners import Owner, last_used, read_owner
from .store import ArchiveStore
from .trees import TreeStore, links_elsewhere


@dataclass
class RootInfo:
    path: Path
    install_id: str
    owner: Owner | None
    versions: list[str]
    active: str | None
    archives: set[str]  # sha256 of the archives its versions came from
    size: int  # bytes on disk not already counted for an earlier root
    last_used: float

    @property
    def owner_state(self) -> str:
        if self.owner is None:
            return "unknown"
        return "present" if self.owner.exists else "gone"

    @property
    def gc_reason(self) -> str:
        """Why ``gc`` would remove this root, in words."""
        return {"gone": "owner is gone", "unknown": "no owner record"}.get(
            self.owner_state, "unused"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "install_id": self.install_id,
            "owner": self.owner.prefix if self.owner else None,
            "owner_exists": self.owner.exists if self.owner else None,
            "owner_state": self.owner_state,
            "versions": self.versions,
            "active": self.active,
            "size_bytes": self.size,
            "last_used": iso_utc(self.last_used),
        }


@dataclass
class ArchiveInfo:
    path: Path
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size_bytes": self.size}


@dataclass
class TreeInfo:
    """A tree published in the store (cache/trees.py)."""

    path: Path
    sha256: str
    size: int  # bytes on disk not already counted for a root
    links: int  # names each of its files has outside the store (roots that link it)

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size_bytes": self.size, "links": self.links}


@dataclass
class Scan:
    cache_home: Path
    roots: list[RootInfo]
    archives: list[ArchiveInfo]
    index_bytes: int
    trees: list[TreeInfo] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "cache_dir": str(self.cache_home),
            "roots": [r.to_json() for r in self.roots],
            "archives": [a.to_json() for a in self.archives],
            "trees": [t.to_json() for t in self.trees],
            "index_bytes": self.index_bytes,
        }


@dataclass
class GcPlan:
    roots: list[RootInfo] = field(default_factory=list)
    archives: list[ArchiveInfo] = field(default_factory=list)
    index_bytes: int = 0  # the index cache, which ``cache clean`` removes too
    trees: list[TreeInfo] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        roots = sum(r.size for r in self.roots) + sum(t.size for t in self.trees)
        return roots + sum(a.size for a in self.archives) + self.index_bytes

    def to_json(self, *, dry_run: bool) -> dict[str, Any]:
        return {
            "dry_run": dry_run,
            "roots": [{**r.to_json(), "reason": r.gc_reason} for r in self.roots],
            "archives": [a.to_json() for a in self.archives],
            "trees": [t.to_json() for t in self.trees],
            "index_bytes": self.index_bytes,
            "freed_bytes": self.bytes,  # with dry_run: what would be freed
        }


def _tree_size(path: Path, seen: set[tuple[int, int]]) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + dirnames:
            try:
                info = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            key = (info.st_dev, info.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += getattr(info, "st_blocks", 0) * 512 or info.st_size
    return total


def scan(cache_home: Path, store: ArchiveStore) -> Scan:
    seen: set[tuple[int, int]] = set()
    roots: list[RootInfo] = []
    try:
        names = sorted(e.name for e in os.scandir(cache_home) if e.name.startswith(ROOT_PREFIX))
    except OSError:
        names = []
    for name in names:
        path = cache_home / name
        if not real_dir(path):
            continue  # a symlink to elsewhere is not a root of ours: never follow it
        layout = RootLayout(path)
        versions = [v.name for v in layout.list_versions()]
        archives = set()
        for v in versions:
            try:
                archives.add(read_bounded(path / v / ARCHIVE_MARKER, 256).decode().strip())
            except (OSError, ValueError):
                pass
        roots.append(
            RootInfo(
                path,
                name[len(ROOT_PREFIX) :],
                read_owner(path),
                versions,
                layout.current_version(),
                archives,
                _tree_size(path, seen),
                last_used(path),
            )
        )
    archive_list = []
    try:
        # Only the store's own folder: a symlink in its place points at someone else's
        # files, which gc would otherwise delete.
        entries = list(os.scandir(store.archives)) if real_dir(store.archives) else []
    except OSError:
        entries = []
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                archive_list.append(ArchiveInfo(Path(entry.path), entry.name, entry.stat().st_size))
        except OSError:
            continue
    index_dir = store.path / STORE_INDEX
    index_bytes = _tree_size(index_dir, set()) if real_dir(index_dir) else 0
    trees = [
        TreeInfo(t.path, t.sha256, _tree_size(t.path, seen), links_elsewhere(t))
        for t in TreeStore(store.path).entries()
    ]
    return Scan(cache_home, roots, archive_list, index_bytes, trees)


def plan_gc(
    report: Scan,
    *,
    include_unknown: bool = False,
    older_than: float | None = None,
    now: float | None = None,
) -> GcPlan:
    """Roots whose owner is gone (or unknown/unused, when asked); archives nobody uses."""
    now = time.time() if now is None else now
    plan = GcPlan()
    for root in report.roots:
        stale = older_than is not None and now - root.last_used > older_than
        if (
            root.owner_state == "gone"
            or (root.owner_state == "unknown" and (include_unknown or stale))
            or (root.owner_state == "present" and stale)
        ):
            plan.roots.append(root)
    kept = [r for r in report.roots if r not in plan.roots]
    used = set().union(*(r.archives for r in kept)) if kept else set()
    plan.archives = [a for a in report.archives if a.sha256 not in used]
    # A tree no kept root came from, and whose files have no names but the store's and
    # those of the roots removed here (so no root elsewhere, e.g. under --path, links
    # it). Removing a tree never breaks a root: its hard links keep the files.
    for tree in report.trees:
        leaving = sum(tree.sha256 in r.archives for r in plan.roots)
        if tree.sha256 not in used and tree.links <= leaving:
            plan.trees.append(tree)
    return plan


@dataclass
class Applied:
    """What :func:`apply` removed and what it left because it was in use."""

    roots: list[RootInfo] = field(default_factory=list)
    busy: list[RootInfo] = field(default_factory=list)
    archives: list[ArchiveInfo] = field(default_factory=list)  # removed (not in use)
    leftovers: list[Path] = field(default_factory=list)  # .gc-* of killed runs, removed
    trees: list[TreeInfo] = field(default_factory=list)  # removed

    @property
    def bytes(self) -> int:
        roots = sum(r.size for r in self.roots) + sum(t.size for t in self.trees)
        return roots + sum(a.size for a in self.archives)


def apply(plan: GcPlan, cache_home: Path | None = None) -> Applied:
    """Delete what the plan names, with the locks an install takes.

    A root is deleted only while we hold its root lock exclusively (every install
    holds it shared), so a root being installed is skipped, not deleted. It is
    renamed to ``.gc-<name>`` first so it vanishes at once; the folders of a gc that
    was killed mid-delete are removed first (``cache_home``), so nothing is left for
    ever. Archives are removed under their store lock, skipped while one is held.
    """
    done = Applied()
    if cache_home is not None:
        done.leftovers = remove_gc_leftovers(cache_home)
    for root in plan.roots:
        lock = try_root_exclusive(root.path)
        if lock is None:
            done.busy.append(root)
            continue
        checkpoint("gc.locked")
        trash = root.path.with_name(f"{GC_PREFIX}{root.path.name}-{os.urandom(4).hex()}")
        try:
            os.rename(root.path, trash)
        except OSError:
            lock.release()
            continue
        lock.release()
        checkpoint("gc.renamed")
        remove_tree(trash)
        done.roots.append(root)
    for archive in plan.archives:
        if remove_archive(archive.path):
            done.archives.append(archive)
    for tree in plan.trees:
        if remove_stored_tree(tree.path):
            done.trees.append(tree)
    return done


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
    """Delete a published tree unless an install holds its store lock (it may be
    publishing it); a root linking it meanwhile notices and unpacks instead."""
    return _under_store_lock(path, lambda: TreeStore(path.parent.parent).remove(path.name))


def _under_store_lock(path: Path, remove: Callable[[], object]) -> bool:
    """Run ``remove`` for a store entry (``<store>/<folder>/<sha256>``) while holding
    the entry's store lock; False when an install holds it."""
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
