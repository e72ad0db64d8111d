"""Seeing and cleaning the machine-wide cache: roots, archives, indexes.

``scan()`` reports every root under pyodide-build's cache folder (including roots
pyodide-build made), with sizes on disk where hard-linked files count once across
all roots. ``plan_gc()`` is a plain function over that report: it decides, and
``apply()`` does.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..records import iso_utc
from .fs import remove_tree
from .layout import ARCHIVE_MARKER, ROOT_PREFIX, STORE_INDEX, RootLayout
from .owners import Owner, last_used, read_owner
from .store import ArchiveStore


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
class Scan:
    cache_home: Path
    roots: list[RootInfo]
    archives: list[ArchiveInfo]
    index_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "cache_dir": str(self.cache_home),
            "roots": [r.to_json() for r in self.roots],
            "archives": [a.to_json() for a in self.archives],
            "index_bytes": self.index_bytes,
        }


@dataclass
class GcPlan:
    roots: list[RootInfo] = field(default_factory=list)
    archives: list[ArchiveInfo] = field(default_factory=list)
    index_bytes: int = 0  # the index cache, which ``cache clean`` removes too

    @property
    def bytes(self) -> int:
        roots = sum(r.size for r in self.roots)
        return roots + sum(a.size for a in self.archives) + self.index_bytes

    def to_json(self, *, dry_run: bool) -> dict[str, Any]:
        return {
            "dry_run": dry_run,
            "roots": [{**r.to_json(), "reason": r.gc_reason} for r in self.roots],
            "archives": [a.to_json() for a in self.archives],
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
        layout = RootLayout(path)
        versions = [v.name for v in layout.list_versions()]
        archives = set()
        for v in versions:
            try:
                archives.add((path / v / ARCHIVE_MARKER).read_text().strip())
            except OSError:
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
        for entry in os.scandir(store.archives):
            if entry.is_file():
                archive_list.append(ArchiveInfo(Path(entry.path), entry.name, entry.stat().st_size))
    except OSError:
        pass
    index_dir = store.path / STORE_INDEX
    index_bytes = _tree_size(index_dir, set()) if index_dir.is_dir() else 0
    return Scan(cache_home, roots, archive_list, index_bytes)


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
    return plan


def apply(plan: GcPlan) -> None:
    """Delete what the plan names; a root is renamed away first so it vanishes at once."""
    for root in plan.roots:
        trash = root.path.with_name(f".gc-{root.path.name}")
        try:
            os.rename(root.path, trash)
        except OSError:
            continue
        remove_tree(trash)
    for archive in plan.archives:
        archive.path.unlink(missing_ok=True)
