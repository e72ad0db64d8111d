"""Unpacked environment trees kept in the store, so each archive is unpacked once per
machine and every root links it, wherever the root lives.

``<store>/trees/<archive sha256>/`` holds the archive's ``xbuildenv/`` tree less the
private folders (:data:`~xbuildenv.cache.treelink.PRIVATE`), the package index its
publisher generated (for the release version its manifest names), and its manifest. The
first install of an archive unpacks it into its own staging folder as before, then
publishes it here: every file linked (a reflink where the file system has them, else
a hard link) into a private ``.staging-<hex>-<pid>`` folder, the manifest written,
and the folder renamed to its final name. So a tree under its final name is complete;
a publisher killed half-way leaves only a staging folder, which :meth:`TreeStore.tidy`
removes once its process is gone.

Every other root on the same file system links from it (see
:func:`~xbuildenv.cache.treelink.link_tree`: every file checked against the identity
the manifest recorded at publish time, without reading its bytes); a tree that fails
the check is never linked, and the next install that unpacks the archive publishes a
good one in its place. Roots on another file system cannot link: they unpack from the
stored archive, as before.

The store tree is a root-independent name for the inodes every root shares: deleting
every root keeps it (and the next root still links), and ``gc`` removes a tree only
when no root uses it (see :mod:`xbuildenv.cache.scan`).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from ..checkpoints import checkpoint
from ..errors import PathEscapeError, TreeMismatchError
from ..fs.files import exchange, remove_tree, write_atomic
from ..fs.paths import chmod_here, contained, make_real_dir, real_dir
from .layout import (
    ARCHIVE_TOP,
    MANIFEST,
    PACKAGE_INDEX_IN_VERSION,
    STAGING_PREFIX,
    STORE_TREES,
    TRASH_PREFIX,
)
from .manifest import Manifest, file_digest
from .store import pid_alive
from .treelink import LinkMode, link_tree, unshared

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# A publisher's or remover's folder: <prefix><8 hex>-<pid>.
_TEMP = re.compile(
    rf"^(?:{re.escape(STAGING_PREFIX)}|{re.escape(TRASH_PREFIX)})[0-9a-f]{{8}}-(\d+)$"
)


@dataclass(frozen=True)
class StoredTree:
    """A published tree; ``ident`` tells one publication from the next (a tree that
    failed its check is replaced by a new folder, with a new inode)."""

    path: Path
    sha256: str
    ident: tuple[int, int]


class TreeStore:
    """The ``trees/`` folder of an archive store (:class:`~xbuildenv.cache.store.ArchiveStore`)."""

    def __init__(self, store_path: Path) -> None:
        self.path = store_path / STORE_TREES

    def find(self, sha256: str | None) -> StoredTree | None:
        """The published tree of an archive, if there is one (real folders only)."""
        key = (sha256 or "").lower()
        if not _HEX64.match(key) or not real_dir(self.path):
            return None
        tree = self.path / key
        try:
            info = os.lstat(tree)
            if not stat.S_ISDIR(info.st_mode) or not real_dir(tree / ARCHIVE_TOP):
                return None
            if not stat.S_ISREG(os.lstat(tree / MANIFEST).st_mode):
                return None
        except OSError:
            return None
        return StoredTree(tree, key, (info.st_dev, info.st_ino))

    def linkable(self, sha256: str | None, dest: Path) -> StoredTree | None:
        """The published tree, if ``dest`` is on its file system (else a link would be
        a copy: unpacking the stored archive is the better route then)."""
        found = self.find(sha256)
        if found is None:
            return None
        try:
            if os.stat(dest).st_dev != found.ident[0]:
                return None
        except OSError:
            return None
        return found

    def link_into(
        self,
        tree: StoredTree,
        dest: Path,
        mode: LinkMode,
        index_version: str | None = None,
        manifest: Manifest | None = None,
    ) -> int:
        """Link a published tree into ``dest``, with its package index when that was
        generated for ``index_version``; every file is checked as it lands
        (:class:`TreeMismatchError` or ``OSError``: the caller empties ``dest`` and
        unpacks instead). ``manifest``: the tree's, when the caller has read it."""
        count = link_tree(tree.path, dest, mode, index_version=index_version, manifest=manifest)
        checkpoint("trees.linked")
        return count

    def publish(self, staging: Path, sha256: str, mode: LinkMode) -> StoredTree | None:
        """Publish the tree just unpacked into ``staging`` (which holds its manifest) as
        the archive's store tree, replacing a damaged one; None when it cannot be
        (another file system, a read-only or full store: that only costs speed)."""
        key = sha256.lower()
        if not _HEX64.match(key):
            return None
        temp = None
        try:
            folder = make_real_dir(self.path)
            if os.stat(folder).st_dev != os.stat(staging).st_dev:
                return None
            temp = folder / f"{STAGING_PREFIX}{os.urandom(4).hex()}-{os.getpid()}"
            temp.mkdir()
            checkpoint("trees.staging")
            # The same walk as linking into a root, the manifest written last; the
            # bytes were hashed as they were unpacked (or the index pages as they were
            # generated), a moment ago, by this process.
            found = Manifest.read(staging)
            version = found.index_version if found is not None else None
            link_tree(
                staging, temp, mode, check=False, stamp=True, index_version=version, manifest=found
            )
            checkpoint("trees.staged")
            self._put(temp, key)
            temp = None
            checkpoint("trees.published")
        except (OSError, TreeMismatchError):
            return None
        finally:
            if temp is not None:
                remove_tree(temp)
        return self.find(key)

    def _put(self, temp: Path, key: str) -> None:
        """Move a finished tree to its final name in one rename (or one swap with the
        tree it replaces), so no reader sees a half tree under that name."""
        target = self.path / key
        if os.path.lexists(target):
            if exchange(temp, target):
                remove_tree(temp)  # the old tree, now under the temporary name
                return
            self._retire(target)
        try:
            os.rename(temp, target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # Another publisher (one that gave up waiting for the lock) was first:
            # its tree is as good as ours.
            remove_tree(temp)

    def _retire(self, path: Path) -> None:
        trash = self.path / f"{TRASH_PREFIX}{os.urandom(4).hex()}-{os.getpid()}"
        os.rename(path, trash)
        remove_tree(trash)

    def remove(self, sha256: str) -> bool:
        """Remove a published tree (the roots that link it keep their files)."""
        found = self.find(sha256)
        if found is None:
            return False
        try:
            self._retire(found.path)
        except OSError:
            return False
        return True

    def entries(self) -> list[StoredTree]:
        """Every published tree."""
        if not real_dir(self.path):
            return []
        try:
            names = sorted(n for n in os.listdir(self.path) if _HEX64.match(n))
        except OSError:
            return []
        return [t for n in names if (t := self.find(n)) is not None]

    def tidy(self, older_than: float = 24 * 3600) -> list[Path]:
        """Remove the staging and trash folders of publishers and removers that are
        gone (or older than a day, in case the pid was reused)."""
        removed: list[Path] = []
        if not real_dir(self.path):
            return removed  # a symlink in its place: never clean someone else's folder
        try:
            entries = [e for e in os.scandir(self.path) if _TEMP.match(e.name)]
        except OSError:
            return removed
        now = time.time()
        for entry in entries:
            match = _TEMP.match(entry.name)
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > older_than
            except OSError:
                continue
            if match is not None and (old or not pid_alive(int(match.group(1)))):
                remove_tree(Path(entry.path))
                removed.append(Path(entry.path))
        return removed


def identities(tree: StoredTree) -> dict[str, list[int]]:
    """The current [inode, mtime_ns] of each file the tree's manifest names (a name
    that leads outside the tree, by ``..`` or through a symlink, is left out: the
    manifest is a cache record, and the tree's check reports it as missing)."""
    found = Manifest.read(tree.path)
    out: dict[str, list[int]] = {}
    for rel in _shared(found).files if found is not None else ():
        try:
            info = os.lstat(contained(tree.path, rel, "a name in a store tree's manifest"))
        except (OSError, PathEscapeError):
            continue
        if stat.S_ISREG(info.st_mode):
            out[rel] = [info.st_ino, info.st_mtime_ns]
    return out


def restamp_tree(tree: StoredTree, before: dict[str, list[int]]) -> None:
    """Record the files' identities in the tree's manifest after :func:`tree_problem`
    found every byte matching (a tree restored from a CI cache has new inodes: without
    this every link would hash the files again). ``before`` is :func:`identities` taken
    before the bytes were read: a file whose identity changed meanwhile (a write while
    it was hashed) is left unstamped, so it is hashed at the next link."""
    found = Manifest.read(tree.path)
    if found is None:
        return
    now = identities(tree)
    stamps = {rel: ident for rel, ident in now.items() if before.get(rel) == ident}
    if stamps == found.stamps:
        return
    path = tree.path / MANIFEST
    try:
        write_atomic(path, Manifest(found.files, found.links, stamps, found.index_version).dump())
        chmod_here(path, 0o444)
    except OSError:
        pass  # a read-only store: links hash the files, as before


def tree_problem(tree: StoredTree) -> str | None:
    """Why a published tree differs from its manifest, reading every byte (None: it
    matches): a file changed, added, missing, or replaced by a symlink or anything else.

    For ``cache verify`` (after a CI cache restore): linking checks each file as it
    lands, but a damaged tree costs every root a failed link and an unpack first.
    """
    found = Manifest.read(tree.path)
    if found is None:
        return "its manifest is missing or damaged"
    try:
        return _differences(tree.path, _shared(found), unshared(found, found.index_version))
    except OSError as exc:
        return f"{exc.filename or 'a file'} is unreadable ({exc.strerror})"


def _shared(manifest: Manifest) -> Manifest:
    """What of a store tree roots share: the archive's files, and the package index
    when the publisher kept one."""
    return manifest.without(unshared(manifest, manifest.index_version))


def _differences(top: Path, expected: Manifest, private: tuple[str, ...]) -> str | None:
    files: set[str] = set()
    links: set[str] = set()
    base = str(top)
    for dirpath, dirnames, filenames in os.walk(os.path.join(base, ARCHIVE_TOP)):
        rel_dir = os.path.relpath(dirpath, base).replace(os.sep, "/")
        keep = []
        for name in [*dirnames, *filenames]:
            rel = f"{rel_dir}/{name}"
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                if rel in expected.files:
                    return f"{rel} was replaced by a symlink"
                if expected.links.get(rel) != os.readlink(path):
                    return f"symlink {rel} was added or changed"
                links.add(rel)
            elif stat.S_ISDIR(info.st_mode):
                if rel not in private:  # never shared: not checked (as when linking)
                    keep.append(name)
            elif rel not in expected.files:
                return f"{rel} was added"
            elif not stat.S_ISREG(info.st_mode):
                return f"{rel} was replaced by something that is not a file"
            elif file_digest(path) != expected.files[rel]:
                return f"{rel} changed"
            else:
                files.add(rel)
        dirnames[:] = [d for d in dirnames if d in keep]
    missing = sorted((set(expected.files) - files) | (set(expected.links) - links))
    return f"{missing[0]} is missing" if missing else None


def links_elsewhere(tree: StoredTree) -> int:
    """How many names a file of the tree has outside the store: the roots that share it
    by hard link, wherever they live (reflinked and copied roots share no inode and are
    not counted: the caller also asks the roots it knows). The package index is not
    asked: roots installing the archive under another version name do not share it."""
    index = os.path.join(tree.path, *PACKAGE_INDEX_IN_VERSION.split("/"))
    for dirpath, dirs, files in os.walk(tree.path / ARCHIVE_TOP):
        dirs[:] = [d for d in dirs if os.path.join(dirpath, d) != index]
        for name in files:
            try:
                info = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                return info.st_nlink - 1
    return 0
