"""Installing one environment into a root, all or nothing.

The sequence, under the version's lock:

1. tidy what earlier, killed runs left for this version (staging folders, a
   version moved aside by an interrupted forced reinstall, which is put back);
2. if the version is installed: done, or (Python marker mismatch) drop the host
   packages and rewrite the marker;
3. otherwise stream download + sha256 + extraction into a private staging folder,
   build the package index, write the markers, ``.installed`` last;
4. publish by one rename; then, under the link lock, make it active.

Any failure before 4 removes only the staging folder, so a version installed before
the call is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..cache.layout import (
    INSTALLED_MARKER,
    LINK_TMP_PREFIX,
    REPLACED_PREFIX,
    ROOT_LOCK_PREFIX,
    RootLayout,
    check_version_name,
    leftover_version,
)
from ..cache.locks import link_lock, lock_dir, root_lock, version_lock
from ..cache.store import ArchiveStore, url_key
from ..checkpoints import checkpoint
from ..errors import LockTimeoutError, RootError, UsageError
from ..fs.files import remove_tree
from ..fs.locks import FileLock, sweep_stale_locks
from ..fs.paths import contained, real_dir
from ..net.fetch import FetchSettings
from ..settings.config import DEFAULT_MAX_UNPACKED, env_number

if TYPE_CHECKING:  # at run time, materialize loads only when a tree is unpacked
    from ..cache.treelink import LinkMode
    from ..cache.trees import StoredTree
    from .materialize import Obtained, Route
    from .package_index import IndexBuilder
    from .remote_store import RemoteStore


# What an install did: a new version, a forced reinstall, nothing (already there), or
# the markers rewritten for another host Python.
InstallAction = Literal["installed", "reinstalled", "already installed", "refreshed"]

# How long an install waits for another process's download of the same archive before
# going on without the store (that process may be stopped with Ctrl-Z, or stuck).
ENV_STORE_LOCK_TIMEOUT = "XBUILDENV_STORE_LOCK_TIMEOUT"
DEFAULT_STORE_LOCK_TIMEOUT = 300.0


@dataclass(frozen=True)
class InstallSource:
    """Where a version comes from: a release of an index, or a bare URL."""

    version: str
    url: str
    sha256: str | None = None
    release_version: str | None = None  # set for index releases: names the CDN in the index
    origin_url: str | None = None  # when ``url`` is a mirror's copy: where it came from


@dataclass(frozen=True)
class InstallResult:
    version: str
    path: Path
    action: InstallAction
    downloaded_bytes: int = 0
    sha256: str | None = None
    route: Route | None = None  # how the tree arrived; None when nothing was fetched
    url: str | None = None  # where the archive came from (None: nothing was fetched)
    archive_bytes: int | None = None  # size of the archive read (None: linked or none)
    # Seconds per phase, in order: "resolve" (the release index), "fetch" (download or
    # store, verify, unpack; or link), "index" (the package index), "publish".
    phases: tuple[tuple[str, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "path": str(self.path),
            "action": self.action,
            "route": self.route,
            "url": self.url,
            "sha256": self.sha256,
            "downloaded_bytes": self.downloaded_bytes,
            "archive_bytes": self.archive_bytes,
            "seconds": {name: round(sec, 3) for name, sec in self.phases},
        }


def host_site_packages_dirs(pyodide_root: Path) -> list[Path]:
    """Host packages installed by builds (``packages/.artifacts/lib/python*/site-packages``)."""
    lib = pyodide_root / "packages" / ".artifacts" / "lib"
    return sorted(lib.glob("python*/site-packages")) if lib.is_dir() else []


def tidy_version(layout: RootLayout, version: str) -> None:
    """Clean up after killed runs for ``version``; the caller holds its lock."""
    target = layout.version_dir(version)
    for path in layout.leftovers():
        found = leftover_version(path.name)
        if found is None or found[1] != version:
            continue
        restorable = (
            real_dir(path) and (path / INSTALLED_MARKER).is_file() and not os.path.lexists(target)
        )
        if found[0] == REPLACED_PREFIX and restorable:
            os.rename(path, target)  # a forced reinstall died mid-swap: restore
            continue
        remove_tree(path)


def _os_error(exc: OSError, where: Path) -> RootError:
    if exc.errno == errno.ENOSPC:
        return RootError(
            f"no space left on the device holding {where}",
            "free some space and run the command again; nothing was installed",
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return RootError(
            f"cannot write to {where}: {exc.strerror}",
            "pass --path or set PYODIDE_XBUILDENV_PATH to a writable folder",
        )
    return RootError(f"cannot write to {where}: {exc.strerror or exc}")


@dataclass(frozen=True)
class InstallOptions:
    """How to install; the defaults are what the CLI does."""

    force: bool = False  # reinstall even when installed
    activate: bool = True
    max_unpacked: int = DEFAULT_MAX_UNPACKED
    link_mode: LinkMode = "hardlink"  # how to share a tree another root already unpacked
    use_store: bool = True  # the machine-wide archive store and tree sharing
    settings: FetchSettings | None = None
    remote: RemoteStore | None = None  # the fleet's shared store (XBUILDENV_REMOTE_STORE)
    warn: Callable[[str], None] | None = None  # one-line warnings (remote store, mirror)


def install_version(
    layout: RootLayout,
    source: InstallSource,
    python: str,
    options: InstallOptions | None = None,
    *,
    on_progress: Callable[[int, int | None], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> InstallResult:
    """Install ``source`` into ``layout`` for host Python ``python`` ("X.Y")."""
    options = options or InstallOptions()
    version = check_version_name(source.version)  # before any lock or path
    layout.ensure_root()
    # Shared for the whole install: gc and 'cache clean --all' take it exclusively,
    # so they skip a root that is being installed instead of deleting it under us.
    with (
        root_lock(layout.root, on_wait=on_wait),
        version_lock(layout.root, version, on_wait=on_wait),
    ):
        checkpoint("install.locked")
        if layout.is_foreign_link(version):
            raise RootError(
                f"{layout.version_dir(version)} is a symlink, not an installed version",
                "remove the link (xbuildenv never installs into or through it)",
            )
        tidy_version(layout, version)
        result = _install_locked(layout, source, python, options, on_progress, on_wait)
        if options.activate:
            # Still under the version lock (order: version, then link, as uninstall
            # takes them), so an uninstall cannot remove the version between the
            # check in activate() and the new link: no dangling link.
            with link_lock(layout.root, on_wait=on_wait):
                checkpoint("install.activate")
                layout.activate(version)
                checkpoint("install.activated")
    return result


def _install_locked(
    layout: RootLayout,
    source: InstallSource,
    python: str,
    options: InstallOptions,
    on_progress: Callable[[int, int | None], None] | None,
    on_wait: Callable[[str], None] | None,
) -> InstallResult:
    version = source.version
    target = layout.version_dir(version)
    was_installed = layout.is_installed(version)
    if was_installed and not options.force:
        if layout.python_marker(version) == python:
            return InstallResult(version, target, "already installed")
        # Host packages built for another Python are unusable: drop them, keep the rest
        # (only inside this version's folder: never through a link planted in it).
        for site in host_site_packages_dirs(layout.pyodide_root(version)):
            remove_tree(contained(target, os.path.relpath(site, target), "host site-packages"))
        layout.write_python_marker(target, python)
        return InstallResult(version, target, "refreshed")

    from .package_index import IndexBuilder

    store = ArchiveStore() if options.use_store else None
    staging = None
    index = None
    try:
        staging = layout.new_staging(version)
        checkpoint("install.staging")
        if source.release_version is not None:
            index = IndexBuilder(staging, source.release_version)
        started = time.monotonic()
        got = _obtain(layout, source, staging, store, options, index, on_progress, on_wait)
        checkpoint("install.obtained")
        obtained = time.monotonic()
        if index is not None:
            index.finish(staging / "xbuildenv" / "pyodide-root")
            checkpoint("install.index")
        indexed = time.monotonic()
        layout.write_python_marker(staging, python)
        checkpoint("install.python-marker")
        (staging / INSTALLED_MARKER).touch()
        checkpoint("install.installed-marker")
        layout.publish(staging, version)
        staging = None
        checkpoint("install.published")
    except OSError as exc:
        raise _os_error(exc, layout.root) from None
    finally:
        if index is not None:
            index.close()  # its thread writes into the staging folder
        if staging is not None:
            remove_tree(staging)
    action: InstallAction = "reinstalled" if was_installed else "installed"
    phases = (
        ("fetch", obtained - started),
        ("index", indexed - obtained),
        ("publish", time.monotonic() - indexed),
    )
    return InstallResult(
        version,
        target,
        action,
        got.downloaded,
        got.sha256,
        got.route,
        url=source.url,
        archive_bytes=got.size,
        phases=phases,
    )


def _obtain(
    layout: RootLayout,
    source: InstallSource,
    staging: Path,
    store: ArchiveStore | None,
    options: InstallOptions,
    index: IndexBuilder | None,
    on_progress: Callable[[int, int | None], None] | None,
    on_wait: Callable[[str], None] | None,
) -> Obtained:
    """The tree: linked from the store without any lock when it is published there;
    else under the archive's store lock, where the first root unpacks and publishes it
    and the others wait, then link it (again without the lock, so all at once)."""
    from .materialize import link_stored, obtain_tree  # the download pipeline

    on_file = index.saw if index is not None else None
    on_restart = index.restart if index is not None else None
    tried = None  # the published tree tried last (one that failed is not tried again)
    for first in (True, False):
        if store is not None and source.sha256:
            got, tried = link_stored(
                source.sha256, staging, store, options.link_mode, on_file, on_restart, tried
            )
            if got is not None:
                return got
        guard = _store_lock(store, source, on_wait)
        try:
            guard.__enter__()
        except (LockTimeoutError, RootError):  # also: a lock file the store has no room for
            # A stopped (Ctrl-Z) or stuck holder must not block this release for every
            # root on the machine: go on without the store (no sharing, no tee).
            if on_wait is not None:
                on_wait("the archive store is busy for too long; installing without it")
            store, guard = None, contextlib.nullcontext()
            guard.__enter__()
        try:
            if first and store is not None and _published_since(store, source, staging, tried):
                continue  # a root published it while we waited: link it without the lock
            return obtain_tree(
                source.url,
                source.sha256,
                staging,
                root=layout.root,
                store=store,
                link_mode=options.link_mode,
                max_unpacked=options.max_unpacked,
                settings=options.settings,
                on_progress=on_progress,
                on_file=on_file,
                remote=options.remote,
                origin_url=source.origin_url,
                warn=options.warn,
                on_restart=on_restart,
                skip_tree=tried,
            )
        finally:
            guard.__exit__(None, None, None)
    raise AssertionError("unreachable: the second pass returns")


def _published_since(
    store: ArchiveStore, source: InstallSource, staging: Path, tried: StoredTree | None
) -> bool:
    from ..cache.trees import TreeStore

    found = TreeStore(store.path).linkable(source.sha256, staging)
    return found is not None and (tried is None or found.ident != tried.ident)


def _store_lock(
    store: ArchiveStore | None, source: InstallSource, on_wait: Callable[[str], None] | None
) -> contextlib.AbstractContextManager[object]:
    """Serialise roots fetching the same archive, so the second one links instead."""
    if store is None:
        return contextlib.nullcontext()
    try:
        folder = lock_dir(store.path)  # refuses a planted symlink in place of the folder
    except (OSError, RootError):
        return contextlib.nullcontext()  # an unusable store costs speed, not the install
    key = source.sha256 or url_key(source.url)
    wait = env_number(ENV_STORE_LOCK_TIMEOUT, DEFAULT_STORE_LOCK_TIMEOUT)
    return FileLock(folder / f"{key}.lock", timeout=wait, on_wait=on_wait, pid_record=True)


def tidy_root(layout: RootLayout) -> list[Path]:
    """Remove every leftover whose owner is gone; return what was removed.

    A leftover belongs to a version; if that version's lock is free, no live process
    is working on it, so its leftovers are safe to clean.
    """
    before = set(layout.leftovers())
    versions = {found[1] for p in before if (found := leftover_version(p.name))}
    for version in sorted(versions):
        try:
            with version_lock(layout.root, version, timeout=0):
                tidy_version(layout, version)
        except (LockTimeoutError, UsageError):
            continue  # busy (or a name we would not make): leave it for a later run
    try:
        with link_lock(layout.root, timeout=0.5):
            for path in layout.leftovers():
                if path.name.startswith(LINK_TMP_PREFIX):
                    path.unlink(missing_ok=True)
    except LockTimeoutError:
        pass
    # Lock files of killed processes (a live holder's lock is never touched) and the
    # store's partial downloads whose process is gone.
    sweep_stale_locks(layout.root, ROOT_LOCK_PREFIX)
    ArchiveStore().tidy()
    return sorted(before - set(layout.leftovers()))
