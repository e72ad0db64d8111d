"""Switching and removing the versions of one root, under the locks installs take.

Plain functions over a :class:`~xbuildenv.cache.root_layout.RootLayout`; the manager and the
drop-in API call them, so the locking rule (uninstall unlinks and renames under the link
lock that ``use`` also takes) is written once.
"""

from __future__ import annotations

from ..cache.locks import link_lock, version_lock
from ..cache.root_layout import RootLayout
from ..errors import NotInstalledError
from ..fs.files import remove_tree

__all__ = ["installed_hint", "uninstall_version", "use_version"]


def installed_hint(layout: RootLayout, version: str) -> str:
    """For an error about ``version`` not being installed: the nearest installed
    version (a typo, or ``0.29`` for ``0.29.4``), else what is installed."""
    installed = [v.name for v in layout.list_versions()]
    if not installed:
        return "nothing is installed yet"
    import difflib  # only on this error path

    near = difflib.get_close_matches(version, installed, n=1, cutoff=0.6)
    if near:
        return f"did you mean {near[0]}? (installed: {', '.join(installed)})"
    return f"installed: {', '.join(installed)}"


def use_version(layout: RootLayout, version: str) -> None:
    """Make an installed version the active one."""
    if not layout.is_installed(version):
        raise NotInstalledError(
            f"version {version} is not installed in {layout.root}",
            f"{installed_hint(layout, version)}; run 'xbuildenv install {version}'",
        )
    with link_lock(layout.root):
        layout.activate(version)


def uninstall_version(layout: RootLayout, version: str | None = None) -> str:
    """Remove a version (default: the active one); removing the active one unlinks it."""
    if version is None:
        version = layout.current_version()
        if version is None:
            raise NotInstalledError(
                f"no cross-build environment is active in {layout.root}",
                "name the version to uninstall (see 'xbuildenv versions')",
            )
    target = layout.version_dir(version)
    if not target.exists():
        raise NotInstalledError(
            f"version {version} is not installed in {layout.root}",
            installed_hint(layout, version),
        )
    with version_lock(layout.root, version):
        # Unlink and rename under the link lock: a concurrent 'use' checks that the
        # version is installed under that lock too, so it can never link to a folder
        # that is about to vanish.
        with link_lock(layout.root):
            if not target.exists():  # a concurrent uninstall got there first
                raise NotInstalledError(f"version {version} is not installed in {layout.root}")
            if layout.current_version() == version:
                layout.deactivate()
            trash = layout.retire_version(version)
        remove_tree(trash)
    return version
