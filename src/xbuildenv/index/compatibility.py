"""Decisions about releases: which are compatible, which is the latest, what to say.

Plain functions over :class:`~xbuildenv.releases.Release` objects, with no I/O, so
they are easy to test and reuse. Versions that are not valid PEP 440 never crash a
sort: they order below every valid version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import IncompatibleError
from .releases import Release


def version_key(text: str) -> tuple[int, Any]:
    """Sort key: valid PEP 440 versions by their order, anything else below them."""
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def _major_minor_key(mm: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in mm.split(".")[:2])
    except ValueError:
        return (0, 0)


def pyodide_build_in_range(release: Release, pyodide_build_version: str | None) -> bool:
    """True when the given pyodide-build version lies in ``[min, max]`` (or none given)."""
    if pyodide_build_version is None:
        return True
    # packaging (and with it typing's heavier parts) only when there is a range to
    # check or releases to order: an install of a named version usually has neither
    from packaging.version import InvalidVersion, Version

    try:
        current = Version(pyodide_build_version)
    except InvalidVersion:
        return True  # we cannot judge; do not block the user on a local dev build
    for bound, sign in (
        (release.min_pyodide_build_version, 1),
        (release.max_pyodide_build_version, -1),
    ):
        if bound is None:
            continue
        try:
            limit = Version(bound)
        except InvalidVersion:
            continue  # an unreadable bound does not constrain
        if (sign > 0 and current < limit) or (sign < 0 and current > limit):
            return False
    return True


def is_compatible(release: Release, python: str, pyodide_build_version: str | None) -> bool:
    return release.python_major_minor == python and pyodide_build_in_range(
        release, pyodide_build_version
    )


def sort_releases(releases: Iterable[Release], *, by_published: bool = False) -> list[Release]:
    """Newest first: by PEP 440 version, or by ``published_at`` for nightlies."""
    if by_published:
        return sorted(
            releases, key=lambda r: (r.published_at or "", version_key(r.version)), reverse=True
        )
    return sorted(releases, key=lambda r: version_key(r.version), reverse=True)


def listing(
    releases: Iterable[Release],
    is_compatible: Callable[[Release], bool],
    *,
    by_published: bool = False,
    include_incompatible: bool = False,
) -> list[tuple[Release, bool]]:
    """Releases newest first (as :func:`sort_releases`), each with whether it is
    compatible; the incompatible ones only with ``include_incompatible``."""
    rows = [(r, is_compatible(r)) for r in sort_releases(releases, by_published=by_published)]
    return rows if include_incompatible else [(r, ok) for r, ok in rows if ok]


def latest_compatible(
    releases: Iterable[Release],
    python: str,
    pyodide_build_version: str | None,
    *,
    by_published: bool = False,
) -> Release:
    """The release to install when none was named, or :class:`IncompatibleError`."""
    pool = list(releases)
    fitting = [r for r in pool if is_compatible(r, python, pyodide_build_version)]
    if fitting:
        return sort_releases(fitting, by_published=by_published)[0]
    raise IncompatibleError(explain_incompatible(pool, python, pyodide_build_version))


def explain_incompatible(
    releases: Sequence[Release], python: str, pyodide_build_version: str | None
) -> str:
    """Why nothing fits: Python too old, not yet supported, or pyodide-build out of range."""
    pythons = sorted({r.python_major_minor for r in releases}, key=_major_minor_key)
    if not pythons:
        return "the release index lists no environments"
    if python not in pythons:
        if _major_minor_key(python) < _major_minor_key(pythons[0]):
            return (
                f"Python {python} is too old for Pyodide cross-build environments: "
                f"the oldest supported is Python {pythons[0]}; use Python {pythons[0]} or newer"
            )
        if _major_minor_key(python) > _major_minor_key(pythons[-1]):
            return (
                f"Python {python} is not yet supported by any Pyodide cross-build environment: "
                f"the newest supported is Python {pythons[-1]}; use Python {pythons[-1]}"
            )
        return (
            f"no cross-build environment is published for Python {python}; "
            f"supported: {', '.join(pythons)}"
        )
    return (
        f"no cross-build environment for Python {python} supports pyodide-build "
        f"{pyodide_build_version}; upgrade or downgrade pyodide-build, "
        "or pass --pyodide-build-version"
    )


def why_not_compatible(release: Release, python: str, pyodide_build_version: str | None) -> str:
    """One phrase saying why a specific release does not fit."""
    if release.python_major_minor != python:
        return (
            f"{release.version} is for Python {release.python_major_minor}, "
            f"but the target Python is {python}"
        )
    low = release.min_pyodide_build_version or "any"
    high = release.max_pyodide_build_version or "any"
    return (
        f"{release.version} needs pyodide-build between {low} and {high}, "
        f"but the target has {pyodide_build_version}"
    )


def nearest_versions(available: Iterable[str], wanted: str, n: int = 3) -> list[str]:
    """Versions close to ``wanted``: similar spelling first, then neighbours in order."""
    pool = list(available)
    import difflib  # only for the unknown-version message

    close = difflib.get_close_matches(wanted, pool, n=n, cutoff=0.5)
    if len(close) < n:
        ordered = sorted(pool, key=version_key)
        key = version_key(wanted)
        below = [v for v in ordered if version_key(v) < key][-n:]
        above = [v for v in ordered if version_key(v) > key][:n]
        for v in [*reversed(below), *above]:
            if v not in close and len(close) < n:
                close.append(v)
    return close
