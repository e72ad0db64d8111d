"""pyodide-build's ``CrossBuildEnvManager``, so code written against it runs unchanged.

``from xbuildenv.compat import CrossBuildEnvManager`` in place of
``from pyodide_build.xbuildenv import CrossBuildEnvManager``: the same constructor,
the same names (``current_version`` is a property here, as there; on
:class:`~xbuildenv.manager.XBuildEnvManager` it is a method), ``install()`` returns the
pyodide-root path, and every failure pyodide-build raised as ``ValueError`` is one
here too (our exceptions for those cases also subclass ``ValueError``), while being
an :class:`~xbuildenv.errors.XBuildEnvError` with a one-line message. The work is done
by :class:`~xbuildenv.manager.XBuildEnvManager`, the native API.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .cache.layout import EMSDK_MARKER, LINK_NAME, PYTHON_MARKER, pyodide_root_in
from .errors import (
    IncompatibleError,
    NotInstalledError,
    RootError,
    UsageError,
    VersionNotFoundError,
)
from .index.releases import Release
from .manager import XBuildEnvManager
from .settings.config import KEY_DEFAULT_URL

CDN_BASE = "https://cdn.jsdelivr.net/pyodide/v{version}/full/"
PYTHON_VERSION_MARKER_FILE = PYTHON_MARKER
EMSCRIPTEN_VERSION_MARKER_FILE = EMSDK_MARKER  # pyodide-build's name for it

__all__ = [
    "CDN_BASE",
    "EMSCRIPTEN_VERSION_MARKER_FILE",
    "PYTHON_VERSION_MARKER_FILE",
    "CrossBuildEnvManager",
]


_LOG = logging.getLogger("xbuildenv")


class CrossBuildEnvManager:
    """Manager for the cross-build environments under ``env_dir``.

    ``metadata_url`` is the release index (URL or path; default: the stable channel,
    or ``PYODIDE_CROSS_BUILD_ENV_METADATA_URL``).
    """

    def __init__(self, env_dir: str | os.PathLike[str], metadata_url: str | None = None) -> None:
        self.env_dir = Path(env_dir).resolve()
        try:
            self.env_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RootError(
                f"Failed to create cross-build environment at {self.env_dir} ({exc})"
            ) from exc
        # pyodide-build reports through logging; so do we (a library prints nothing):
        # a malformed release left out of the index is said, not dropped silently.
        self._native = XBuildEnvManager(self.env_dir, metadata_url, warn=_LOG.warning)
        self.metadata_url = metadata_url

    @property
    def native(self) -> XBuildEnvManager:
        """The :class:`~xbuildenv.manager.XBuildEnvManager` doing the work."""
        return self._native

    @property
    def symlink_dir(self) -> Path:
        """The link to the active version (``<env_dir>/xbuildenv``)."""
        return self._native.symlink_dir

    @property
    def pyodide_root(self) -> Path:
        """``<active version>/xbuildenv/pyodide-root`` (computed even when none is active,
        as pyodide-build does)."""
        return pyodide_root_in(self.symlink_dir.resolve())

    @property
    def current_version(self) -> str | None:
        """The version the link points at, or None (any folder, as pyodide-build)."""
        if not self.symlink_dir.exists():
            return None
        return self.symlink_dir.resolve().name

    def list_versions(self) -> list[str]:
        """Every version folder of the root, sorted by name, as pyodide-build lists them.

        Unlike :meth:`XBuildEnvManager.list_versions` this includes folders without a
        finished install (pyodide-build does not tell them apart); our private
        dot-folders (staging, trash) are never versions.
        """
        try:
            entries = list(os.scandir(self.env_dir))
        except FileNotFoundError:
            return []
        return sorted(
            e.name
            for e in entries
            if e.is_dir(follow_symlinks=False)
            and e.name != LINK_NAME
            and not e.name.startswith(".")
        )

    def _missing(self, version: str) -> NotInstalledError:
        return NotInstalledError(
            f"Cannot find cross-build environment version {version}, "
            f"available versions: {self.list_versions()}"
        )

    def _path_for_version(self, version: str) -> Path:
        return self.env_dir / version

    def use_version(self, version: str) -> None:
        """Point the link at an existing version folder (``ValueError`` when none)."""
        from .cache.locks import link_lock

        if not self._native.layout.version_dir(version).is_dir():
            raise self._missing(version)
        with link_lock(self.env_dir):
            self._native.layout.activate(version, complete_only=False)

    def install(
        self, version: str | None = None, *, url: str | None = None, force_install: bool = False
    ) -> Path:
        """Install (or keep) a version, make it active, return its pyodide-root.

        With neither ``version`` nor ``url``: ``DEFAULT_CROSS_BUILD_ENV_URL`` /
        ``default_cross_build_env_url`` if set, else the latest compatible release.
        ``ValueError`` for a version and a URL together and for an incompatible release.
        """
        if url and version:
            raise UsageError("Cannot specify both version and url")
        if not url and not version and not self._get_default_xbuildenv_url():
            version = self._find_latest_version()
        try:
            result = self._native.install(version, url=url, force_install=force_install)
        except IncompatibleError as exc:
            raise IncompatibleError(
                f"Version {version} is not compatible with the current environment.", str(exc)
            ) from None
        return pyodide_root_in(result.path)

    def uninstall_version(self, version: str | None) -> str:
        """Remove ``version`` (None: the active one); return the version removed."""
        from .cache.locks import link_lock

        if version is None:
            version = self.current_version
        if version is None:
            raise NotInstalledError("No xbuildenv version is currently in use")
        if not self._native.layout.version_dir(version).is_dir():
            raise self._missing(version)
        if self.current_version == version:
            with link_lock(self.env_dir):
                self._native.layout.deactivate()
        return self._native.uninstall_version(version)

    # --- pyodide-build's helpers that callers (and its tests) use ----------------------
    def _get_default_xbuildenv_url(self) -> str:
        """``DEFAULT_CROSS_BUILD_ENV_URL`` or the pyproject key; "" when neither is set."""
        from .settings.build_settings import build_setting

        return build_setting(self._native.project, KEY_DEFAULT_URL).value or ""

    def _find_remote_release(self, version: str) -> Release:
        release = self._native.releases().get(version)
        if release is None:
            raise VersionNotFoundError(f"Cannot find cross-build environment release {version}")
        return release

    def _find_latest_version(self) -> str:
        """The latest compatible release, or ``ValueError`` in pyodide-build's words."""
        from .index.compatibility import latest_compatible

        index = self._native.releases()
        releases = list(index.values())
        python = self._native.python_version
        pyodide_build = self._native.pyodide_build_version
        try:
            return latest_compatible(releases, python, pyodide_build).version
        except IncompatibleError as exc:
            why = str(exc)
        pythons = sorted({_major_minor(r.python_version) for r in releases})
        if not pythons:
            source = self._native.metadata_url or "the default index"
            raise IncompatibleError(
                f"No cross-build environment releases are available in the metadata at {source}.",
                index.describe_broken("every release is malformed") if index.broken else None,
            )
        mine = _major_minor(python)
        if mine > pythons[-1]:
            newest = ".".join(map(str, pythons[-1]))
            raise IncompatibleError(
                f"Python version {python} is not yet supported. "
                f"The newest supported version of Python is {newest}."
            )
        if mine < pythons[0]:
            oldest = ".".join(map(str, pythons[0]))
            raise IncompatibleError(
                f"Python version {python} is too old. "
                f"The oldest supported version of Python is {oldest}."
            )
        raise IncompatibleError(
            f"Python version {python} is not compatible with pyodide build version {pyodide_build}",
            why,
        )

    def install_emscripten(
        self, emscripten_version: str = "latest", *, force: bool = False
    ) -> Path:
        """Install Emscripten into the active version (``<version>/emsdk``); return that folder."""
        from .settings.config import load_project_config
        from .tools.emsdk import emsdk_url, install_emscripten

        if self.current_version is None:
            raise NotInstalledError(
                "No active xbuildenv. Run `pyodide xbuildenv install` first.",
                "or 'xbuildenv install'",
            )
        result = install_emscripten(
            self._native.layout.pyodide_root(self.current_version),
            emscripten_version,
            url=emsdk_url(load_project_config()),
            force=force,
        )
        return result.emsdk_dir

    def version_marker_matches(self) -> tuple[bool, str | None]:
        """Whether the active version was installed for this Python, and if not, why."""
        if not self.symlink_dir.is_dir():
            return False, "cross-build env directory does not exist"
        marker = self.symlink_dir / PYTHON_MARKER
        if not marker.exists():
            return False, "Python version marker file not found"
        local = self._native.python_version
        on_install = marker.read_text().strip()
        if on_install != local:
            return False, (
                f"local Python version ({local}) does not match the Python version "
                f"({on_install}) used to create the Pyodide cross-build environment. "
                "Please switch back to the original Python version, or reinstall the "
                "xbuildenv, by running `xbuildenv uninstall` and then `xbuildenv install`"
            )
        return True, None


def _major_minor(version: str) -> tuple[int, ...]:
    """``(3, 13)`` from ``"3.13.2"``; an unreadable version sorts first."""
    import re

    match = re.match(r"^\s*(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)
