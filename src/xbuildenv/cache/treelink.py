"""Sharing unpacked trees between roots: hard links, reflinks or copies.

When a root is about to unpack an archive that was unpacked on this machine before
(same sha256), it links the files of the tree kept in the store
(:mod:`xbuildenv.cache.trees`) instead. Shared files are made read-only, and only
files no build writes are shared: the archive's own, and the package index generated
for the same release version (:func:`unshared`). What a build writes (host
site-packages under ``packages/.artifacts``, emsdk) and the markers are never linked,
so one root cannot change another's environment through them.

Mode bits do not stop root, so the source tree is checked file by file against the
manifest written when it was unpacked (:mod:`xbuildenv.cache.manifest`);
a tree that differs in any way is not linked. The check of the store's tree reads no
bytes: each file must still be a regular file inside the tree (never followed through a
symlink) with the size, inode and mtime recorded when the tree was published (see the
trust decision in cache/manifest.py); only a file whose identity changed, or a tree
whose manifest has no identities, is hashed.

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
from typing import TYPE_CHECKING, Literal

from ..checkpoints import checkpoint
from ..errors import ConfigError, TreeMismatchError
from ..fs.clone import clone_file
from ..fs.paths import chmod_here
from .layout import ARCHIVE_TOP, HOST_PACKAGES_IN_VERSION, PACKAGE_INDEX_IN_VERSION
from .manifest import Manifest, file_digest

if TYPE_CHECKING:
    from ..settings.config import ProjectConfig

# How a tree another root unpacked is shared: hard links, or private copies (reflinks
# where the filesystem has them).
LinkMode = Literal["hardlink", "copy"]
LINK_MODES: tuple[LinkMode, ...] = ("hardlink", "copy")


def link_mode_from(project: ProjectConfig, given: str | None = None) -> LinkMode:
    """The link mode: ``given`` (the caller's), else ``XBUILDENV_LINK_MODE``, else
    ``link_mode`` in ``[tool.xbuildenv]``, else ``hardlink``; any other is refused."""
    from ..settings.config import ENV_LINK_MODE, setting

    mode = given or setting(project, ENV_LINK_MODE, "link_mode") or "hardlink"
    if mode not in LINK_MODES:
        raise ConfigError(
            f"link mode {mode!r} is not one of: {', '.join(LINK_MODES)}",
            f"fix {ENV_LINK_MODE} or link_mode in [tool.xbuildenv]",
        )
    return mode


# Paths (relative to the version folder) that are private to each root: an archive's
# own files there are never shared or checked.
PRIVATE = (PACKAGE_INDEX_IN_VERSION, HOST_PACKAGES_IN_VERSION)


def unshared(manifest: Manifest, version: str | None) -> tuple[str, ...]:
    """What of a tree with ``manifest`` a root installing ``version`` keeps private.

    The package index is a function of the lock file and the release version only, and
    no build writes it: a store tree keeps the index its publisher generated (named in
    its manifest with ``index_version``), and a root installing that same version
    shares it like the archive's files. A root installing the archive under another
    version name (or a tree published without an index) generates its own.
    """
    if version is not None and manifest.index_version == version:
        return (HOST_PACKAGES_IN_VERSION,)
    return PRIVATE


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

    def __call__(self, src: str, dst: str, st_mode: int) -> None:
        if self.reflinks:
            if clone_file(src, dst):
                shutil.copymode(src, dst)
                return
            self.reflinks = False
        if self.mode != "hardlink":
            shutil.copyfile(src, dst)
            shutil.copymode(src, dst)
            return
        if st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            _make_read_only(src)
        try:
            os.link(src, dst)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
                raise
            _copy(src, dst)


def _mismatch(source: Path, what: str) -> TreeMismatchError:
    return TreeMismatchError(f"{source} does not match its manifest ({what})")


def link_tree(
    source: Path,
    dest: Path,
    mode: LinkMode = "hardlink",
    *,
    check: bool = True,
    stamp: bool = False,
    index_version: str | None = None,
    manifest: Manifest | None = None,
) -> int:
    """Recreate ``source/xbuildenv`` under ``dest`` sharing file contents; return files.

    Every file is checked against ``source``'s manifest and the tree must hold exactly
    the manifest's names; :class:`TreeMismatchError` otherwise (the caller then unpacks
    from the store). A file whose size, inode and mtime are the ones the manifest
    stamped is taken as is; any other is hashed where it landed in ``dest``.
    ``dest`` gets the manifest too (without stamps, unless ``stamp``: then with the
    identities of the files as they are in ``dest``, for the store's tree).
    ``check=False`` skips reading the bytes, for a tree this process has just
    unpacked and hashed itself (publishing it: see cache/trees.py); names and sizes
    are still checked.
    ``index_version`` is the release ``dest`` is installed as: the package index is
    shared too when ``source``'s was generated for it (see :func:`unshared`).
    ``manifest`` is ``source``'s manifest when the caller has read it already.
    """
    found = manifest if manifest is not None else Manifest.read(source)
    if found is None:
        raise _mismatch(source, "no manifest")
    private = unshared(found, index_version)
    expected = found.without(private)
    stamps = expected.stamps
    made: dict[str, list[int]] = {}
    share = _Sharer(mode)
    base = str(source)
    count = 0
    seen_links: set[str] = set()
    os.makedirs(os.path.join(dest, ARCHIVE_TOP), exist_ok=True)
    pending = [ARCHIVE_TOP]
    while pending:  # one scandir per folder: no extra stat for names or types
        rel = pending.pop()
        out_dir = os.path.join(dest, rel)
        with os.scandir(os.path.join(base, rel)) as entries:
            listed = list(entries)
        for entry in listed:
            key = f"{rel}/{entry.name}"
            if entry.is_symlink():
                target = os.readlink(entry.path)
                if expected.links.get(key) != target:
                    raise _mismatch(source, f"symlink {key} changed or was added")
                os.symlink(target, os.path.join(out_dir, entry.name))
                seen_links.add(key)
            elif entry.is_dir(follow_symlinks=False):
                if key not in private:
                    os.mkdir(os.path.join(out_dir, entry.name))
                    pending.append(key)
            else:
                want = expected.files.get(key)
                if want is None:
                    raise _mismatch(source, f"{key} was added")
                info = entry.stat(follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode) or info.st_size != want[0]:
                    raise _mismatch(source, f"{key} changed size")
                dst = os.path.join(out_dir, entry.name)
                checkpoint("treelink.file")
                share(entry.path, dst, info.st_mode)
                # Unchanged since it was published (see cache/manifest.py: any write
                # sets the mtime); else hashed where it landed: for a hard link that is
                # the shared inode itself, for a copy or reflink the bytes this root got.
                if (
                    check
                    and stamps.get(key) != [info.st_ino, info.st_mtime_ns]
                    and file_digest(dst) != want
                ):
                    raise _mismatch(source, f"{key} changed")
                if stamp:
                    landed = os.lstat(dst)
                    made[key] = [landed.st_ino, landed.st_mtime_ns]
                count += 1
    if count != len(expected.files) or seen_links != set(expected.links):
        raise _mismatch(source, "files are missing")
    Manifest(expected.files, expected.links, made, expected.index_version).write(dest)
    return count


def _make_read_only(path: str) -> None:
    info = os.lstat(path)
    wanted = stat.S_IMODE(info.st_mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if wanted != stat.S_IMODE(info.st_mode):
        chmod_here(path, wanted)
