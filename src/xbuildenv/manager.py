"""The Python API: :class:`XBuildEnvManager` and :func:`default_xbuildenv_path`.

Names and shapes follow pyodide-build's ``CrossBuildEnvManager``; for an exact drop-in
(``current_version`` a property, ``install()`` returning the path) use
:mod:`xbuildenv.compat`. The manager makes the decisions the CLI needs (which release,
whether it fits) with the plain functions in :mod:`xbuildenv.index.compatibility`, and
leaves the disk work to :mod:`xbuildenv.install` and :mod:`xbuildenv.cache`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .cache.owners import read_owner, record_use
from .cache.root import ResolvedRoot, resolve_root
from .cache.root_layout import RootLayout
from .errors import ChecksumError, NotInstalledError, UsageError

# Heavier modules (packaging via compatibility, tarfile via archive, the download
# pipeline) are imported where they are used, so that installing an installed version
# and the read commands start fast.
from .index.choice import untagged
from .index.index_cache import IndexPolicy, index_max_age
from .index.reader import IndexReader
from .index.releases import Channel, Release, Releases, channel_flags
from .install.installer import InstallResult, install_version, tidy_root
from .install.origins import remote_store_for
from .install.reporter import Reporter, WarningsTo
from .install.request import InstallRequest, InstallSource
from .install.sources import (
    channel_of,
    label_for,
    release_source,
    replacement_note,
    source_from_url,
)
from .settings.build_settings import build_setting
from .settings.config import (
    DEFAULT_MAX_UNPACKED,
    ENV_MAX_UNPACKED,
    KEY_DEFAULT_URL,
    ProjectConfig,
    env_number,
    load_project_config,
)
from .settings.pyodide_root import PinnedRoot, pinned_pyodide_root
from .settings.target import TargetEnv, resolve_target

if TYPE_CHECKING:
    from .cache.treelink import LinkMode
    from .install.remote_store import RemoteStore

__all__ = ["XBuildEnvManager", "default_xbuildenv_path"]


def default_xbuildenv_path(python: str | None = None) -> Path:
    """The root pyodide-build would use for the target environment (see :mod:`root`)."""
    return resolve_root(resolve_target(python), load_project_config()).path


class XBuildEnvManager:
    """Manage the cross-build environments of one cache root.

    ``env_dir`` is the root (default: resolved as pyodide-build does). ``metadata_url``
    overrides the release index (a URL or a local path). ``target`` describes the
    Python the environments are for (default: this interpreter, or the active venv
    when running from pipx/uv tool).
    """

    def __init__(
        self,
        env_dir: str | os.PathLike[str] | None = None,
        metadata_url: str | None = None,
        *,
        target: TargetEnv | None = None,
        pyodide_build_version: str | None = None,
        project: ProjectConfig | None = None,
        refresh: bool = False,
        offline: bool = False,
        link_mode: str | None = None,
        warn: Callable[[str], None] | None = None,
        exclude_newer: str | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.target = target or resolve_target()
        self.project = project if project is not None else load_project_config()
        self.resolved: ResolvedRoot = resolve_root(self.target, self.project, env_dir)
        # A root named by the caller beats PYODIDE_ROOT; a default one does not.
        self._explicit_root = env_dir is not None
        self.layout = RootLayout(self.resolved.path)
        self.metadata_url = metadata_url
        self._pyodide_build_version = pyodide_build_version
        self.warn = warn
        self.note = note  # what -v adds (a release kept for want of a date, ...)
        from .index.cooldown import cooldown_from

        self.index = IndexReader(
            metadata_url,
            IndexPolicy(index_max_age(self.project), refresh=refresh, offline=offline),
            # uv's --exclude-newer: releases published at or after the cut-off are not seen
            cooldown_from(self.project, exclude_newer),
            warn=warn,
            note=note,
        )
        from .cache.treelink import link_mode_from

        self.link_mode: LinkMode = link_mode_from(self.project, link_mode)

    # --- facts ---------------------------------------------------------------
    @property
    def env_dir(self) -> Path:
        return self.layout.root

    @property
    def symlink_dir(self) -> Path:
        """The ``xbuildenv`` link that points at the active version."""
        return self.layout.link

    @property
    def pinned_root(self) -> PinnedRoot | None:
        """The pyodide-root ``PYODIDE_ROOT`` or a Pyodide source tree pins, if any.

        None when the manager was given a root (``env_dir``): that root's active
        version is what the caller asked for.
        """
        if self._explicit_root:
            return None
        return pinned_pyodide_root(self.project)

    @property
    def pyodide_root(self) -> Path:
        """The pyodide-root to read: pinned (see :attr:`pinned_root`), else
        ``<active version>/xbuildenv/pyodide-root``; raises when nothing is active."""
        pinned = self.pinned_root
        if pinned is not None:
            return pinned.path
        version = self.current_version()
        if version is None:
            raise NotInstalledError(
                f"no cross-build environment is active in {self.env_dir}",
                "run 'xbuildenv install' first",
            )
        return self.layout.pyodide_root(version)

    @property
    def python_version(self) -> str:
        return self.target.python_version

    @property
    def pyodide_build_version(self) -> str | None:
        return self._pyodide_build_version or self.target.pyodide_build_version

    @property
    def pyodide_build_source(self) -> str | None:
        """Where :attr:`pyodide_build_version` came from (None: nowhere, no range applies)."""
        if self._pyodide_build_version:
            return "--pyodide-build-version"
        return "target environment" if self.target.pyodide_build_version else None

    def current_version(self) -> str | None:
        return self.layout.current_version()

    def list_versions(self) -> list[str]:
        """Installed (complete) versions, oldest first (the order of ``versions``)."""
        return [v.name for v in self.layout.list_versions()]

    # --- releases ------------------------------------------------------------
    def _channel(self, channel: Channel) -> tuple[bool, bool]:
        """``(nightly, debug)`` of ``channel``, refused with a given index."""
        nightly, debug = channel_flags(channel)
        self.index.check_channel(nightly, debug)
        return nightly, debug

    def releases(self, *, nightly: bool = False, debug: bool = False) -> Releases:
        """The usable releases of the index; malformed ones are left out with a warning
        (once per index and manager) and listed in ``Releases.broken``."""
        return self.index.releases(nightly=nightly, debug=debug)

    def is_compatible(self, release: Release) -> bool:
        from .index.compatibility import is_compatible

        return is_compatible(release, self.python_version, self.pyodide_build_version)

    def resolve_release(
        self,
        version: str | None,
        *,
        nightly: bool = False,
        debug: bool = False,
        force: bool = False,
    ) -> Release:
        """The release to install: the named one (checked) or the latest compatible."""
        from .index.choice import choose_release

        return choose_release(
            self.releases(nightly=nightly, debug=debug),
            version,
            self.python_version,
            self.pyodide_build_version,
            by_published=nightly,
            force=force,
        )

    # --- actions -------------------------------------------------------------
    def install(
        self,
        version: str | None = None,
        *,
        url: str | None = None,
        force_install: bool = False,
        channel: Channel = "stable",
        upload: bool = True,
        reporter: Reporter | None = None,
    ) -> InstallResult:
        """Install (or verify) a version and make it active.

        With neither ``version`` nor ``url``, ``DEFAULT_CROSS_BUILD_ENV_URL`` or else
        ``default_cross_build_env_url`` from pyproject.toml is used if set, else the
        latest compatible release of ``channel``. ``force_install`` skips the
        compatibility check and reinstalls. ``upload=False`` never writes to the remote
        store (see :mod:`xbuildenv.install.remote_store`). ``reporter`` hears of phases,
        progress, waits and warnings (default: warnings go to the manager's ``warn``).
        """
        if url and version:
            raise UsageError("give a VERSION or --url, not both")
        if self.metadata_url and channel != "stable":  # even when nothing is resolved
            raise UsageError("--metadata cannot be combined with --nightly or --debug")
        reporter = reporter or WarningsTo(self.warn)
        if version is not None:
            version = untagged(version)
        if url is None and version is None:
            # DEFAULT_CROSS_BUILD_ENV_URL, else the pyproject key (pyodide-build's order)
            url = build_setting(self.project, KEY_DEFAULT_URL).value or None
        nightly, debug = self._channel(channel)  # checked before the fast path too
        label = self._label(nightly, debug)
        # Fast path: an installed version needs no index and no network, unless it came
        # from another channel (a stable and a debug build share the version's folder).
        if url is None and version is not None and self._have(version, label, force_install):
            # (a marker for another Python is refreshed locally by install_version)
            installed = InstallRequest(
                source=InstallSource(version, "", label=label), python=self.python_version
            )
            return self._install(installed, reporter)
        started = time.monotonic()
        reporter.phase("resolve")
        source, release, replace_it = self._resolve(url, version, channel, force_install, reporter)
        resolved = time.monotonic() - started
        # The owner record is written when the root is first made, not at the end: gc
        # must never take a root in its first install for one of pyodide-build's.
        self.layout.ensure_root()
        if read_owner(self.env_dir) is None:
            self._record_use()
        remote = remote_store_for(self.project, reporter.warning, upload)
        request = self._request(source, force_install or replace_it, remote)
        result = self._install_verified(request, release, channel, reporter)
        if result.phases:
            result = replace(result, phases=(("resolve", resolved), *result.phases))
        return result

    def _install_verified(
        self, request: InstallRequest, release: Release | None, channel: Channel, reporter: Reporter
    ) -> InstallResult:
        """Install; when the archive does not match a cached index entry, once more
        against the entry a fresh index has (see :meth:`.IndexReader.replaced`)."""
        try:
            return self._install(request, reporter)
        except ChecksumError as exc:
            if release is None:
                raise  # a bare URL: no index to ask again
            nightly, debug = channel_flags(channel)
            fresh = self.index.replaced(exc, release, nightly, debug, reporter.warning)
            source = self._release_source(fresh, nightly, debug)
            return self._install(replace(request, source=source), reporter)

    def _have(self, version: str, label: str, force: bool) -> bool:
        """``version`` is installed from the channel ``label`` stands for: nothing to
        fetch, not even the index."""
        return (
            not force
            and self.layout.is_installed(version)
            and channel_of(self.layout.source_of(version)) == channel_of(label)
        )

    def _request(
        self, source: InstallSource, force: bool, remote: RemoteStore | None
    ) -> InstallRequest:
        """The request for ``source`` with this manager's settings."""
        return InstallRequest(
            source=source,
            python=self.python_version,
            force=force,
            max_unpacked=int(env_number(ENV_MAX_UNPACKED, DEFAULT_MAX_UNPACKED, minimum=1)),
            link_mode=self.link_mode,
            remote=remote,
        )

    def _resolve(
        self,
        url: str | None,
        version: str | None,
        channel: Channel,
        force: bool,
        reporter: Reporter,
    ) -> tuple[InstallSource, Release | None, bool]:
        """The archive to install, the release it is (None for a URL), and whether it
        replaces an installed build of the same version from another channel."""
        if url is not None:
            return source_from_url(url), None, False
        nightly, debug = channel_flags(channel)
        release = self.resolve_release(version, nightly=nightly, debug=debug, force=force)
        source = self._release_source(release, nightly, debug)
        label = self._label(nightly, debug)
        return source, release, self._other_build(release, label, force, reporter)

    def _install(self, request: InstallRequest, reporter: Reporter) -> InstallResult:
        result = install_version(self.layout, request, reporter)
        self._record_use()
        return result

    def _other_build(self, release: Release, label: str, force: bool, reporter: Reporter) -> bool:
        """Whether an installed build of ``release`` from another channel is replaced."""
        note = replacement_note(self.layout, release, label, force)
        if note is not None:
            reporter.waiting(note)
        return note is not None

    def _label(self, nightly: bool, debug: bool) -> str:
        return label_for(self.metadata_url, nightly, debug)

    def _release_source(self, release: Release, nightly: bool, debug: bool) -> InstallSource:
        index = self.index.url(nightly, debug)
        return release_source(self.project, index, release, self._label(nightly, debug))

    def _record_use(self) -> None:
        record_use(self.env_dir, self.target, self.resolved.install_id)

    def use_version(self, version: str) -> None:
        """Make an installed version the active one."""
        from .install.versions import use_version

        use_version(self.layout, version)
        self._record_use()

    def uninstall_version(self, version: str | None = None) -> str:
        """Remove a version (default: the active one); removing the active one unlinks it."""
        from .install.versions import uninstall_version

        return uninstall_version(self.layout, version)

    def uninstall_all(self) -> list[str]:
        """Remove every installed version of this root (and the active link)."""
        return [self.uninstall_version(v) for v in self.list_versions()]

    def tidy(self) -> list[Path]:
        """Remove leftovers of killed or failed runs (never a complete version)."""
        from .cache.store import ArchiveStore

        ArchiveStore().tidy_temp()
        if not self.env_dir.is_dir():
            return []
        return tidy_root(self.layout)
