"""The cache's locks: which lock file guards what in a root and in the store.

The lock itself (:class:`~xbuildenv.fs.locks.FileLock`) is the base layer's; this
module names the files and says who holds them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import LockTimeoutError, RootError
from ..fs.locks import FileLock, make_lock_dir
from .layout import ROOT_LOCK_PREFIX, STORE_LOCKS


def lock_dir(root: Path) -> Path:
    """A lock folder (the store's), created on demand; refuses a symlink in its place."""
    path = root / STORE_LOCKS
    make_lock_dir(path)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise RootError(f"{path} is not a folder (a symlink or file is in its way)", "remove it")
    return path


# A root's lock files sit in the root itself, as dot-files: pyodide-build lists every
# *folder* of a root as a version, so a lock folder there would show up as one.


def _root_lock(root: Path, name: str, kwargs: dict[str, object]) -> FileLock:
    make_lock_dir(root)
    return FileLock(root / name, **kwargs)  # type: ignore[arg-type]


def version_lock(root: Path, version: str, **kwargs: object) -> FileLock:
    """The lock guarding one version folder of ``root``: ``.xbuildenv-<version>.lock``.

    The name is checked first: a version like ``a/../../victim`` must not make us
    create (and later unlink) a lock file outside the root.
    """
    from .layout import check_version_name

    check_version_name(version)
    return _root_lock(root, f"{ROOT_LOCK_PREFIX}-{version}.lock", kwargs)


ROOT_LOCK = f"{ROOT_LOCK_PREFIX}-root.lock"


def root_lock(root: Path, **kwargs: object) -> FileLock:
    """Held shared by every install in ``root``; gc takes it exclusively before
    deleting the root, so a root being installed is never deleted."""
    return FileLock(root / ROOT_LOCK, shared=True, **kwargs)  # type: ignore[arg-type]


def try_root_exclusive(root: Path) -> FileLock | None:
    """The root's lock held exclusively (the caller releases it), or None if busy."""
    lock = FileLock(root / ROOT_LOCK, timeout=0, pid_record=True)
    try:
        lock.acquire()
    except (LockTimeoutError, RootError):
        return None
    return lock


def link_lock(root: Path, **kwargs: object) -> FileLock:
    """The lock guarding the active-version link of ``root``: ``.xbuildenv.lock``."""
    return _root_lock(root, f"{ROOT_LOCK_PREFIX}.lock", kwargs)
