"""Seeing the machine-wide cache: the first step of scan → plan → execute.

:func:`scan_cache` reports every root under pyodide-build's cache folder (including
roots pyodide-build made), the archives of the store and who uses each, and sizes on
disk where hard-linked files count once across all roots. It only reads. The report
plans (:meth:`CacheReport.plan_gc`, :meth:`CacheReport.plan_clean`), and the plan, a
value that says what it would remove and free, is executed in
:mod:`xbuildenv.cache.cleanup`::

    report = scan_cache()
    plan = report.plan_gc(older_than="30d")
    print(plan.freed_bytes)
    result = plan.execute()
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..fs.paths import read_bounded, real_dir
from ..records import iso_utc
from .layout import ARCHIVE_MARKER, ROOT_PREFIX, STORE_INDEX
from .owners import Owner, last_used, read_owner
from .root_layout import RootLayout
from .store import ArchiveStore
from .trees import TreeStore, links_elsewhere

if TYPE_CHECKING:
    from .cleanup import CachePlan

OwnerState = Literal["present", "gone", "unknown"]
GcReason = Literal["owner is gone", "no owner record", "unused"]


@dataclass(frozen=True)
class RootInfo:
    """One root in the cache folder: whose it is, what it holds, what it weighs."""

    path: Path
    install_id: str
    owner: Owner | None
    versions: tuple[str, ...]
    active: str | None
    archives: frozenset[str]  # sha256 of the archives its versions came from
    size: int  # bytes on disk not already counted for an earlier root
    last_used: float

    @property
    def owner_state(self) -> OwnerState:
        """``gone`` when the Python environment that made it no longer exists."""
        if self.owner is None:
            return "unknown"
        return "present" if self.owner.exists else "gone"

    @property
    def gc_reason(self) -> GcReason:
        """Why ``gc`` would remove this root, in words."""
        state = self.owner_state
        if state == "gone":
            return "owner is gone"
        return "no owner record" if state == "unknown" else "unused"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "install_id": self.install_id,
            "owner": self.owner.prefix if self.owner else None,
            "owner_exists": self.owner.exists if self.owner else None,
            "owner_state": self.owner_state,
            "versions": list(self.versions),
            "active": self.active,
            "size_bytes": self.size,
            "last_used": iso_utc(self.last_used),
        }


@dataclass(frozen=True)
class ArchiveInfo:
    """One verified archive in the store, named by its sha256."""

    path: Path
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size_bytes": self.size}


@dataclass(frozen=True)
class TreeInfo:
    """A tree unpacked from an archive and kept in the store (cache/trees.py)."""

    path: Path
    sha256: str
    size: int  # bytes on disk not already counted for a root
    links: int  # hard links to its files outside the store: the roots that use it

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size_bytes": self.size, "links": self.links}


@dataclass(frozen=True)
class CacheReport:
    """What :func:`scan_cache` found: roots, stored archives and trees, the index
    cache's size."""

    cache_dir: Path
    store_dir: Path
    roots: tuple[RootInfo, ...]
    archives: tuple[ArchiveInfo, ...]
    index_bytes: int
    trees: tuple[TreeInfo, ...] = ()

    @property
    def roots_bytes(self) -> int:
        """All roots together, files they share counted once."""
        return sum(r.size for r in self.roots)

    @property
    def archives_bytes(self) -> int:
        return sum(a.size for a in self.archives)

    def users(self, sha256: str) -> tuple[RootInfo, ...]:
        """The roots with a version installed from the archive ``sha256``."""
        return tuple(r for r in self.roots if sha256 in r.archives)

    def plan_gc(
        self,
        *,
        include_unknown: bool = False,
        older_than: float | str | None = None,
        now: float | None = None,
    ) -> CachePlan:
        """Roots whose owner is gone (unknown ones with ``include_unknown``, any root
        unused for ``older_than`` seconds or an age like ``"30d"``), and the archives
        no kept root uses."""
        from .cleanup import plan_gc

        return plan_gc(self, include_unknown=include_unknown, older_than=older_than, now=now)

    def plan_clean(self, *, roots: bool = False) -> CachePlan:
        """Every stored archive and the index cache; with ``roots`` every root too."""
        from .cleanup import plan_clean

        return plan_clean(self, roots=roots)

    def to_json(self) -> dict[str, Any]:
        return {
            "cache_dir": str(self.cache_dir),
            "roots": [r.to_json() for r in self.roots],
            "archives": [
                {**a.to_json(), "used_by": [r.install_id for r in self.users(a.sha256)]}
                for a in self.archives
            ],
            "trees": [t.to_json() for t in self.trees],
            "index_bytes": self.index_bytes,
        }


def scan_cache(
    cache_dir: Path | str | None = None, *, store_dir: Path | str | None = None
) -> CacheReport:
    """Read the cache: ``cache_dir`` (default: pyodide-build's cache folder) for roots,
    ``store_dir`` (default: the archive store, ``$XBUILDENV_CACHE_DIR``) for archives.

    Nothing is changed. A symlink in place of a root or of the store's folders is
    someone else's: it is not followed, and so never planned for removal.
    """
    if cache_dir is None:
        from ..settings.dirs import cache_home

        cache_dir = cache_home()
    home = Path(cache_dir)
    store = ArchiveStore(Path(store_dir) if store_dir is not None else None)
    seen: set[tuple[int, int]] = set()
    roots = tuple(_root(home / name, name, seen) for name in _root_names(home))
    index_dir = store.path / STORE_INDEX
    index_bytes = _tree_size(index_dir, set()) if real_dir(index_dir) else 0
    trees = tuple(
        TreeInfo(t.path, t.sha256, _tree_size(t.path, seen), links_elsewhere(t))
        for t in TreeStore(store.path).entries()
    )
    return CacheReport(home, store.path, roots, _archives(store), index_bytes, trees)


def _root_names(home: Path) -> list[str]:
    try:
        names = sorted(e.name for e in os.scandir(home) if e.name.startswith(ROOT_PREFIX))
    except OSError:
        return []
    return [n for n in names if real_dir(home / n)]  # a symlink to elsewhere is not ours


def _root(path: Path, name: str, seen: set[tuple[int, int]]) -> RootInfo:
    layout = RootLayout(path)
    versions = tuple(v.name for v in layout.list_versions())
    archives = set()
    for v in versions:
        try:
            archives.add(read_bounded(path / v / ARCHIVE_MARKER, 256).decode().strip())
        except (OSError, ValueError):
            pass
    return RootInfo(
        path,
        name[len(ROOT_PREFIX) :],
        read_owner(path),
        versions,
        layout.current_version(),
        frozenset(archives),
        _tree_size(path, seen),
        last_used(path),
    )


def _archives(store: ArchiveStore) -> tuple[ArchiveInfo, ...]:
    # Only the store's own folder: a symlink in its place points at someone else's
    # files, which gc would otherwise delete.
    try:
        entries = list(os.scandir(store.archives)) if real_dir(store.archives) else []
    except OSError:
        return ()
    found = []
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                found.append(ArchiveInfo(Path(entry.path), entry.name, entry.stat().st_size))
        except OSError:
            continue
    return tuple(sorted(found, key=lambda a: a.sha256))


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
