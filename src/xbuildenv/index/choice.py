"""Which release a request names: a version, a series (``0.27``), a tag's spelling
(``v0.27.7``) or nothing (the latest compatible). A plain decision over the parsed
index, with the one-line errors a person needs when the answer is "none".
"""

from __future__ import annotations

import re

from ..errors import IncompatibleError, MetadataError, VersionNotFoundError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .releases import Release, Releases

__all__ = ["choose_release", "untagged"]

_SERIES = re.compile(r"^\d+\.\d+$")  # "0.27": a release series
_TAGGED = re.compile(r"^[vV]\d")  # "v0.27.7": a git tag's spelling of 0.27.7


def untagged(version: str) -> str:
    """``v0.27.7`` (as the release tags are spelled) is ``0.27.7``."""
    return version[1:] if _TAGGED.match(version) else version


def choose_release(
    releases: Releases,
    version: str | None,
    python: str,
    pyodide_build: str | None,
    *,
    by_published: bool = False,
    force: bool = False,
) -> Release:
    """The named release (checked unless ``force``), else the latest compatible one.

    A series such as ``0.27`` (as ``uv python install 3.12``) is the newest compatible
    ``0.27.x``, or with ``force`` the newest ``0.27.x`` at all.
    """
    # packaging, through compatibility: loaded only when an index is consulted, so that
    # installing an installed version (which never gets here) starts fast
    from .compatibility import (
        is_compatible,
        latest_compatible,
        nearest_versions,
        sort_releases,
        why_not_compatible,
    )

    if version is None:
        return latest_compatible(
            releases.values(), python, pyodide_build, by_published=by_published
        )
    release = releases.get(version)
    if release is None and version in releases.broken:
        raise MetadataError(
            f"release {version!r}: {releases.broken[version]}",
            "the release index has this release wrong; pick another version "
            "(see 'xbuildenv search') or use --url",
        )
    if release is None and version in releases.held:
        raise VersionNotFoundError(
            f"release {version} was published at {releases.held[version]}, not before "
            f"the cut-off {releases.cooldown}",
            "pick an older version (see 'xbuildenv search') or move the cut-off",
        )
    if release is None and _SERIES.match(version):
        series = [r for r in releases.values() if r.version.startswith(version + ".")]
        if series:
            if force:
                return sort_releases(series, by_published=by_published)[0]
            return latest_compatible(series, python, pyodide_build, by_published=by_published)
    if release is None:
        near = nearest_versions(releases, version)
        hint = f"nearest available: {', '.join(near)}" if near else "the index is empty"
        raise VersionNotFoundError(
            f"version {version} is not in the release index",
            hint + " (see 'xbuildenv search --all')",
        )
    if not force and not is_compatible(release, python, pyodide_build):
        raise IncompatibleError(
            why_not_compatible(release, python, pyodide_build),
            "pick another version (see 'xbuildenv search') or pass --force",
        )
    return release
