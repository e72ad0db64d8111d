"""Which releases a mirror holds: channels, versions (PEP 440 specifiers), Pythons, latest N."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import UsageError
from ..index.compatibility import sort_releases
from ..index.releases import Release

# channel -> (nightly, debug), as channel_url() takes them
CHANNELS = {
    "stable": (False, False),
    "stable-debug": (False, True),
    "nightly": (True, False),
    "nightly-debug": (True, True),
}
# The mirror's index file for each channel; the stable one keeps the official name.
INDEX_NAMES = {
    "stable": "pyodide-cross-build-environments.json",
    "stable-debug": "debug.json",
    "nightly": "nightly.json",
    "nightly-debug": "nightly-debug.json",
}
_OPERATORS = ("<", ">", "=", "!", "~")


@dataclass(frozen=True)
class Selection:
    """Which releases to mirror; checked when made (a bad ``--python`` or ``--latest`` is
    a usage error before anything is read)."""

    versions: tuple[str, ...] = ()  # exact versions or PEP 440 specifier sets; any may match
    pythons: tuple[str, ...] = ()  # "X.Y"
    latest: int | None = None  # the N newest of what the other filters keep, per channel

    def __post_init__(self) -> None:
        if self.latest is not None and self.latest < 1:
            raise UsageError(f"--latest {self.latest}: give a number of releases, 1 or more")
        for mm in self.pythons:
            if not mm.replace(".", "").isdigit() or mm.count(".") != 1:
                raise UsageError(
                    f"--python {mm!r} is not a Python version X.Y", "e.g. --python 3.13"
                )


def _version_matcher(text: str) -> object:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if text.strip().startswith(_OPERATORS):
        try:
            return SpecifierSet(text)
        except InvalidSpecifier:
            raise UsageError(
                f"--version {text!r} is not a PEP 440 specifier", "use e.g. '>=0.28,<0.30'"
            ) from None
    return text.strip()


def _matches(matcher: object, version: str) -> bool:
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    if isinstance(matcher, SpecifierSet):
        try:
            # Pre-releases only when the specifier names one (PEP 440's default).
            return matcher.contains(Version(version), prereleases=bool(matcher.prereleases))
        except InvalidVersion:
            return False
    if matcher == version:
        return True
    try:
        return Version(str(matcher)) == Version(version)
    except InvalidVersion:
        return False


def select(releases: Iterable[Release], selection: Selection, *, nightly: bool) -> list[Release]:
    """The selected releases, newest first."""
    matchers = [_version_matcher(v) for v in selection.versions]
    kept = [
        r
        for r in releases
        if (not matchers or any(_matches(m, r.version) for m in matchers))
        and (not selection.pythons or r.python_major_minor in selection.pythons)
    ]
    ordered = sort_releases(kept, by_published=nightly)
    if selection.latest is not None:
        ordered = ordered[: selection.latest]
    return ordered
