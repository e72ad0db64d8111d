"""Sharing unpacked trees between roots: hard links, reflinks or copies.

When a root is about to unpack an archive that another root on this machine has
already unpacked (same sha256, recorded in ``<version>/.archive-sha256``), it links
the other root's files instead. Shared files are made read-only, and only the
archive's own files are shared: what an install or a build writes (the package
index, markers, host site-packages under ``packages/.artifacts``, emsdk) is never
linked, so one root cannot change another's environment through them.

Mode bits do not stop root, so the other root's tree is first checked file by file
against the manifest written when it was installed (:mod:`xbuildenv.cache.manifest`);
a tree that differs in any way is not linked.

Modes: ``hardlink`` (default: a reflink where the filesystem has them, else a hard
link, else a copy per file, e.g. across filesystems) and ``copy`` (a reflink where
the filesystem supports it, else a plain copy: private files at the cost of disk).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path
from typing import Literal

from ..errors import TreeMismatchError
from ..fs.clone import clone_file
from ..fs.paths import chmod_here, read_bounded, real_dir
from .layout import ARCHIVE_MARKER, ARCHIVE_TOP, INSTALLED_MARKER, ROOT_PREFIX
from .manifest import Manifest, file_digest

# How a tree another root unpacked is shared: hard links, or private copies (reflinks
# where the filesystem has them).
LinkMode = Literal["hardlink", "copy"]
LINK_MODES: tuple[LinkMode, ...] = ("hardlink", "copy")
# Paths (relative to the version folder) that are private to each root.
PRIVATE = (
    "xbuildenv/pyodide-root/package_index",
    "xbuildenv/pyodide-root/packages/.artifacts",
)


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
            if (folder / INSTALLED_MARKER).is_file() and real_dir(folder / ARCHIVE_TOP):
                return folder
    return None


def _copy(src: str, dst: str) -> None:
    if not clone_file(src, dst):
        shutil.copyfile(src, dst)
    shutil.copymode(src, dst)


class _Sharer:
    """Puts one file of the source tree in place: a reflink where the file system has
    them (a private copy that costs no space: nothing another root does can reach
    it), else a hard link (``hardlink`` mode) or a copy."""

    def __init__(self, mode: LinkMode) -> None:
        self.mode = mode
        self.reflinks = True  # until the file system says it has none

    def __call__(self, src: str, dst: str) -> None:
        if self.reflinks:
            if clone_file(src, dst):
                shutil.copymode(src, dst)
                return
            self.reflinks = False
        if self.mode != "hardlink":
            shutil.copyfile(src, dst)
            shutil.copymode(src, dst)
            return
        _make_read_only(src)
        try:
            os.link(src, dst)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
                raise
            _copy(src, dst)


def _mismatch(source: Path, what: str) -> TreeMismatchError:
    return TreeMismatchError(f"{source} does not match its manifest ({what})")


def link_tree(source: Path, dest: Path, mode: LinkMode = "hardlink") -> int:
    """Recreate ``source/xbuildenv`` under ``dest`` sharing file contents; return files.

    Every file is checked against ``source``'s manifest (size and sha256, taken on
    what landed in ``dest``) and the tree must hold exactly the manifest's names;
    :class:`TreeMismatchError` otherwise (the caller then unpacks from the store).
    ``dest`` gets the manifest too, so the next root can link from it in turn.
    """
    found = Manifest.read(source)
    if found is None:
        raise _mismatch(source, "no manifest")
    expected = found.without(PRIVATE)
    share = _Sharer(mode)
    base = str(source)
    count = 0
    seen_links: set[str] = set()
    private = {os.path.join(base, p) for p in PRIVATE}
    for dirpath, dirnames, filenames in os.walk(os.path.join(base, ARCHIVE_TOP)):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in private]
        rel = os.path.relpath(dirpath, base)
        out_dir = os.path.join(dest, rel)
        os.makedirs(out_dir, exist_ok=True)
        for name in [*dirnames, *filenames]:  # symlinked folders appear in dirnames
            src = os.path.join(dirpath, name)
            if not os.path.islink(src):
                continue
            key = f"{rel}/{name}"
            target = os.readlink(src)
            if expected.links.get(key) != target:
                raise _mismatch(source, f"symlink {key} changed or was added")
            os.symlink(target, os.path.join(out_dir, name))
            seen_links.add(key)
        for name in filenames:
            src = os.path.join(dirpath, name)
            if os.path.islink(src):
                continue
            key = f"{rel}/{name}"
            want = expected.files.get(key)
            if want is None:
                raise _mismatch(source, f"{key} was added")
            if os.lstat(src).st_size != want[0]:
                raise _mismatch(source, f"{key} changed size")
            dst = os.path.join(out_dir, name)
            share(src, dst)
            # Hashed where it landed: for a hard link that is the shared inode itself,
            # for a copy or reflink the bytes this root actually got.
            if file_digest(dst) != want:
                raise _mismatch(source, f"{key} changed")
            count += 1
    if count != len(expected.files) or seen_links != set(expected.links):
        raise _mismatch(source, "files are missing")
    expected.write(dest)
    return count


def _make_read_only(path: str) -> None:
    info = os.lstat(path)
    wanted = stat.S_IMODE(info.st_mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if wanted != stat.S_IMODE(info.st_mode):
        chmod_here(path, wanted)
