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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..cache.layout import (
    INSTALLED_MARKER,
    LINK_NAME,
    LINK_TMP_PREFIX,
    REPLACED_PREFIX,
    ROOT_LOCK_PREFIX,
    TRASH_PREFIX,
    check_version_name,
    leftover_version,
    pyodide_root_in,
)
from ..cache.locks import link_lock, lock_dir, root_lock, version_lock
from ..cache.root_layout import RootLayout
from ..cache.store import ArchiveStore, url_key
from ..checkpoints import checkpoint
from ..errors import LockTimeoutError, RootError, UsageError
from ..fs.files import remove_tree
from ..fs.locks import FileLock, sweep_stale_locks
from ..fs.paths import contained, real_dir
from ..settings.config import env_number
from .reporter import NullReporter, Reporter
from .request import InstallRequest, InstallSource

if TYPE_CHECKING:  # at run time, materialize loads only when a tree is unpacked
    from ..cache.trees import StoredTree
    from .materialize import Obtained, Route
    from .package_index import IndexBuilder


# What an install did: a new version, a forced reinstall, nothing (already there), or
# the markers rewritten for another host Python.
InstallAction = Literal["installed", "reinstalled", "already installed", "refreshed"]

# How long an install waits for another process's download of the same archive before
# going on without the store (that process may be stopped with Ctrl-Z, or stuck).
ENV_STORE_LOCK_TIMEOUT = "XBUILDENV_STORE_LOCK_TIMEOUT"
DEFAULT_STORE_LOCK_TIMEOUT = 300.0


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


def install_version(
    layout: RootLayout, request: InstallRequest, reporter: Reporter | None = None
) -> InstallResult:
    """Install ``request.source`` into ``layout`` for host Python ``request.python``."""
    reporter = reporter or NullReporter()
    version = check_version_name(request.version)  # before any lock or path
    layout.ensure_root()
    # Shared for the whole install: gc and 'cache clean --all' take it exclusively,
    # so they skip a root that is being installed instead of deleting it under us.
    with (
        root_lock(layout.root, on_wait=reporter.waiting),
        version_lock(layout.root, version, on_wait=reporter.waiting),
    ):
        checkpoint("install.locked")
        if layout.is_foreign_link(version):
            raise RootError(
                f"{layout.version_dir(version)} is a symlink, not an installed version",
                "remove the link (xbuildenv never installs into or through it)",
            )
        tidy_version(layout, version)
        result = _install_locked(layout, request, reporter)
        if request.activate:
            reporter.phase("activate")
            # Still under the version lock (order: version, then link, as uninstall
            # takes them), so an uninstall cannot remove the version between the
            # check in activate() and the new link: no dangling link.
            with link_lock(layout.root, on_wait=reporter.waiting):
                checkpoint("install.activate")
                layout.activate(version)
                checkpoint("install.activated")
    return result


def _install_locked(
    layout: RootLayout, request: InstallRequest, reporter: Reporter
) -> InstallResult:
    version = request.version
    target = layout.version_dir(version)
    was_installed = layout.is_installed(version)
    if was_installed and not request.force:
        label = request.source.label
        if label is not None and layout.source_of(version) is None:
            layout.write_source(target, label)  # installed before the record: now said
        return _keep_installed(layout, version, request.python)
    try:
        got, phases = _Staged(layout, request, reporter).run()
    except OSError as exc:
        raise _os_error(exc, layout.root) from None
    return InstallResult(
        version,
        target,
        "reinstalled" if was_installed else "installed",
        got.downloaded,
        got.sha256,
        got.route,
        url=request.source.url,
        archive_bytes=got.size,
        phases=phases,
    )


def _keep_installed(layout: RootLayout, version: str, python: str) -> InstallResult:
    """An installed version: nothing to do, or (installed for another host Python)
    drop its host packages and rewrite the marker."""
    target = layout.version_dir(version)
    if layout.python_marker(version) == python:
        return InstallResult(version, target, "already installed")
    # Host packages built for another Python are unusable: drop them, keep the rest
    # (only inside this version's folder: never through a link planted in it).
    for site in host_site_packages_dirs(layout.pyodide_root(version)):
        remove_tree(contained(target, os.path.relpath(site, target), "host site-packages"))
    layout.write_python_marker(target, python)
    return InstallResult(version, target, "refreshed")


@dataclass
class _Staged:
    """A new version built in a private staging folder and published by one rename;
    on any failure the staging folder (and only it) is removed."""

    layout: RootLayout
    request: InstallRequest
    reporter: Reporter

    def run(self) -> tuple[Obtained, tuple[tuple[str, float], ...]]:
        """The tree, then the package index, then the markers and the rename; returns
        how the tree arrived and the seconds each step took."""
        with contextlib.ExitStack() as cleanup:
            staging = self.layout.new_staging(self.request.version)
            cleanup.callback(remove_tree, staging)
            checkpoint("install.staging")
            started = time.monotonic()
            got, obtained = self._fill(staging)
            indexed = time.monotonic()
            self._publish(staging)
            cleanup.pop_all()  # published: the staging folder is the version now
        phases = (
            ("fetch", obtained - started),
            ("index", indexed - obtained),
            ("publish", time.monotonic() - indexed),
        )
        return got, phases

    def _fill(self, staging: Path) -> tuple[Obtained, float]:
        """The tree and its package index (built alongside: see
        :class:`~xbuildenv.install.package_index.IndexBuilder`); returns how the tree
        arrived and when it was complete."""
        from .package_index import IndexBuilder

        release = self.request.source.release_version
        with contextlib.ExitStack() as stack:
            index = None
            if release is not None:
                index = IndexBuilder(staging, release)
                # Before the staging folder goes: its thread writes into it.
                stack.callback(index.close)
            got = self._obtain(staging, index)
            obtained = time.monotonic()
            if index is not None:
                self.reporter.phase("index")
                index.finish(pyodide_root_in(staging))
                checkpoint("install.index")
        return got, obtained

    def _obtain(self, staging: Path, watcher: IndexBuilder | None) -> Obtained:
        """The tree: linked from the store without any lock when it is published there;
        else under the store's lock for this archive (see :func:`_store_lock`), where the
        first root unpacks and publishes it while the others wait, then link it (again
        without the lock, so all at once)."""
        got = self._shared_or_fetched(staging, watcher)
        checkpoint("install.obtained")
        return got

    def _shared_or_fetched(self, staging: Path, watcher: IndexBuilder | None) -> Obtained:
        from .materialize import link_stored, obtain_tree  # the download pipeline

        store = ArchiveStore() if self.request.use_store else None
        sha256 = self.request.source.sha256
        tried = None  # the published tree tried last (one that failed is not tried again)
        for first in (True, False):
            if store is not None and sha256:
                got, tried = link_stored(
                    self.request, sha256, staging, store, watcher, tried, self.reporter
                )
                if got is not None:
                    return got
            with contextlib.ExitStack() as held:
                try:
                    held.enter_context(_store_lock(store, self.request.source, self.reporter))
                except (LockTimeoutError, RootError):  # also: a lock file the store has no room for
                    # A stopped (Ctrl-Z) or stuck holder must not block this release for
                    # every root on the machine: go on without the store (no sharing, no tee).
                    self.reporter.waiting(
                        "the archive store is busy for too long; installing without it"
                    )
                    store = None
                if first and store is not None and _published_since(store, sha256, staging, tried):
                    continue  # a root published it while we waited: link it without the lock
                return obtain_tree(
                    self.request,
                    staging,
                    root=self.layout.root,
                    store=store,
                    watcher=watcher,
                    reporter=self.reporter,
                    skip_tree=tried,
                )
        raise AssertionError("unreachable: the second pass returns")

    def _publish(self, staging: Path) -> None:
        self.reporter.phase("publish")
        self.layout.write_python_marker(staging, self.request.python)
        if self.request.source.label is not None:
            self.layout.write_source(staging, self.request.source.label)
        checkpoint("install.python-marker")
        (staging / INSTALLED_MARKER).touch()
        checkpoint("install.installed-marker")
        self.layout.publish(staging, self.request.version)
        checkpoint("install.published")


def _published_since(
    store: ArchiveStore, sha256: str | None, staging: Path, tried: StoredTree | None
) -> bool:
    """Whether a tree of ``sha256`` that was not tried yet is published (and linkable)."""
    from ..cache.trees import TreeStore

    found = TreeStore(store.path).linkable(sha256, staging)
    return found is not None and (tried is None or found.ident != tried.ident)


def _store_lock(
    store: ArchiveStore | None, source: InstallSource, reporter: Reporter
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
    return FileLock(folder / f"{key}.lock", timeout=wait, on_wait=reporter.waiting, pid_record=True)


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
            layout.restore_link()  # an activation killed half-way (no atomic replace)
            for path in layout.leftovers():
                if path.name.startswith(LINK_TMP_PREFIX):
                    path.unlink(missing_ok=True)
                elif leftover_version(path.name) == (TRASH_PREFIX, LINK_NAME):
                    # what stood where the link belongs, moved aside by activate(): no
                    # version lock guards it (no version has that name), the link lock does
                    remove_tree(path)
    except LockTimeoutError:
        pass
    # Lock files of killed processes (a live holder's lock is never touched) and the
    # store's partial downloads whose process is gone.
    sweep_stale_locks(layout.root, ROOT_LOCK_PREFIX)
    ArchiveStore().tidy()
    return sorted(before - set(layout.leftovers()))
