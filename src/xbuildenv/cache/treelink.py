"""Sharing unpacked trees between roots: hard links, reflinks or copies.

When a root is about to unpack an archive that another root on this machine has
already unpacked (same sha256, recorded in ``<version>/.archive-sha256``), it links
the other root's files instead. Shared files are made read-only, and only the
archive's own files are shared: what an install or a build writes (the package
index, markers, host site-packages under ``packages/.artifacts``, emsdk) is never
linked, so one root cannot change another's environment through them.

Modes: ``hardlink`` (default; falls back to a copy per file where linking fails,
e.g. across filesystems) and ``copy`` (a reflink where the filesystem supports it,
else a plain copy: private files at the cost of disk).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

from ..settings.root import ROOT_PREFIX
from .layout import INSTALLED_MARKER
from .paths import read_bounded

ARCHIVE_MARKER = ".archive-sha256"
LINK_MODES = ("hardlink", "copy")
# Paths (relative to the version folder) that are private to each root.
PRIVATE = (
    "xbuildenv/pyodide-root/package_index",
    "xbuildenv/pyodide-root/packages/.artifacts",
)
_FICLONE = 0x40049409  # Linux ioctl: share extents copy-on-write


def find_tree(cache_home: Path, sha256: str, exclude: Path) -> Path | None:
    """A complete version folder, in another root under ``cache_home``, made from ``sha256``."""
    try:
        roots = [e.path for e in os.scandir(cache_home) if e.name.startswith(ROOT_PREFIX)]
    except OSError:
        return None
    for root in roots:
        if Path(root) == exclude:
            continue
        try:
            versions = list(os.scandir(root))
        except OSError:
            continue
        for entry in versions:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            folder = Path(entry.path)
            try:
                if read_bounded(folder / ARCHIVE_MARKER, 256).decode().strip() != sha256:
                    continue
            except (OSError, ValueError):
                continue
            if (folder / INSTALLED_MARKER).is_file() and (folder / "xbuildenv").is_dir():
                return folder
    return None


def _reflink(src: str, dst: str) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return False
    with open(src, "rb") as s, open(dst, "wb") as d:
        try:
            fcntl.ioctl(d.fileno(), _FICLONE, s.fileno())
            return True
        except OSError:
            return False


def _copy(src: str, dst: str) -> None:
    if not _reflink(src, dst):
        shutil.copyfile(src, dst)
    shutil.copymode(src, dst)


def link_tree(source: Path, dest: Path, mode: str = "hardlink") -> int:
    """Recreate ``source/xbuildenv`` under ``dest`` sharing file contents; return files."""
    base = str(source)
    count = 0
    private = {os.path.join(base, p) for p in PRIVATE}
    for dirpath, dirnames, filenames in os.walk(os.path.join(base, "xbuildenv")):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in private]
        rel = os.path.relpath(dirpath, base)
        out_dir = os.path.join(dest, rel)
        os.makedirs(out_dir, exist_ok=True)
        for d in dirnames:  # symlinked folders appear here, not in filenames
            src = os.path.join(dirpath, d)
            if os.path.islink(src):
                os.symlink(os.readlink(src), os.path.join(out_dir, d))
        for name in filenames:
            src = os.path.join(dirpath, name)
            dst = os.path.join(out_dir, name)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
                continue
            if mode == "hardlink":
                _make_read_only(src)
                try:
                    os.link(src, dst)
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
                        raise
                    _copy(src, dst)
            else:
                _copy(src, dst)
            count += 1
    return count


def _make_read_only(path: str) -> None:
    info = os.lstat(path)
    wanted = stat.S_IMODE(info.st_mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if wanted != stat.S_IMODE(info.st_mode):
        os.chmod(path, wanted)
