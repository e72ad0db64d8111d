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

import os
from pathlib import Path

from .cache.layout import PYTHON_MARKER
from .errors import NotInstalledError, RootError
from .manager import XBuildEnvManager

CDN_BASE = "https://cdn.jsdelivr.net/pyodide/v{version}/full/"
PYTHON_VERSION_MARKER_FILE = PYTHON_MARKER
EMSCRIPTEN_VERSION_MARKER_FILE = ".emscripten-version"

__all__ = [
    "CDN_BASE",
    "EMSCRIPTEN_VERSION_MARKER_FILE",
    "PYTHON_VERSION_MARKER_FILE",
    "CrossBuildEnvManager",
]


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
        self._native = XBuildEnvManager(self.env_dir, metadata_url)
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
        return self.symlink_dir.resolve() / "xbuildenv" / "pyodide-root"

    @property
    def current_version(self) -> str | None:
        """The active version, or None."""
        return self._native.current_version()

    def list_versions(self) -> list[str]:
        """Installed versions, sorted by name as pyodide-build sorts them."""
        return sorted(self._native.list_versions())

    def use_version(self, version: str) -> None:
        """Make an installed version the active one (``ValueError`` when it is not)."""
        self._native.use_version(version)

    def install(
        self, version: str | None = None, *, url: str | None = None, force_install: bool = False
    ) -> Path:
        """Install (or keep) a version, make it active, return its pyodide-root.

        With neither ``version`` nor ``url``: ``DEFAULT_CROSS_BUILD_ENV_URL`` /
        ``default_cross_build_env_url`` if set, else the latest compatible release.
        ``ValueError`` for a version and a URL together and for an incompatible release.
        """
        result = self._native.install(version, url=url, force_install=force_install)
        return result.path / "xbuildenv" / "pyodide-root"

    def uninstall_version(self, version: str | None) -> str:
        """Remove ``version`` (None: the active one); return the version removed."""
        return self._native.uninstall_version(version)

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
