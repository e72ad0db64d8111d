"""Release metadata: the index of published cross-build environments.

The index is JSON, ``{"releases": {"<version>": {...}}}``. This module turns it into
:class:`Release` objects, checking every field it relies on and naming the release
and field when one is wrong. Fields it does not know are ignored, so newer indexes
keep working.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import MetadataError
from ..records import iso_utc_text
from ..settings.config import (
    ENV_DEBUG_METADATA_URL,
    ENV_METADATA_URL,
    ENV_NIGHTLY_DEBUG_METADATA_URL,
    ENV_NIGHTLY_METADATA_URL,
    env_str,
)

STABLE_URL = "https://pyodide.github.io/pyodide/api/v2/pyodide-cross-build-environments.json"
STABLE_DEBUG_URL = "https://pyodide.github.io/pyodide/api/v2/debug.json"
NIGHTLY_URL = "https://pyodide.github.io/pyodide-build-environment-nightly/api/v2/release.json"
NIGHTLY_DEBUG_URL = "https://pyodide.github.io/pyodide-build-environment-nightly/api/v2/debug.json"
# (nightly, debug) -> the official index of that channel
OFFICIAL_INDEXES = {
    (False, False): STABLE_URL,
    (False, True): STABLE_DEBUG_URL,
    (True, False): NIGHTLY_URL,
    (True, True): NIGHTLY_DEBUG_URL,
}

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_REQUIRED = ("version", "url", "python_version", "emscripten_version")
_OPTIONAL = (
    "sha256",
    "published_at",
    "min_pyodide_build_version",
    "max_pyodide_build_version",
    "origin_url",  # written by `mirror sync`: where the mirror's copy came from
)


@dataclass(frozen=True)
class Release:
    """One published cross-build environment."""

    version: str
    url: str
    python_version: str
    emscripten_version: str
    sha256: str | None = None
    published_at: str | None = None
    min_pyodide_build_version: str | None = None
    max_pyodide_build_version: str | None = None
    origin_url: str | None = None  # a mirror's release: the archive's original URL

    @property
    def python_major_minor(self) -> str:
        """``"3.13"`` from ``"3.13.2"`` (or from ``"3.15.0rc1"``)."""
        match = re.match(r"^\s*(\d+)\.(\d+)", self.python_version)
        return f"{match.group(1)}.{match.group(2)}" if match else self.python_version

    @property
    def cache_key(self) -> str:
        """A CI cache key that changes when the archive does (``xbuildenv cache key``):
        its sha256 where the index gives one, else the hash of its URL."""
        from ..cache.store import url_key

        return f"xbuildenv-{self.version}-{(self.sha256 or url_key(self.url))[:16]}"

    def to_json(self, compatible: bool, source: str | None = None) -> dict[str, Any]:
        """One entry of ``search --json``; ``source`` (the channel) only when chosen."""
        item: dict[str, Any] = {
            "version": self.version,
            "python": self.python_version,
            "emscripten": self.emscripten_version,
            "pyodide_build": {
                "min": self.min_pyodide_build_version,
                "max": self.max_pyodide_build_version,
            },
            # as pyodide-build prints a missing one: ""
            "published_at": iso_utc_text(self.published_at) or "",
            "compatible": compatible,
        }
        if source is not None:
            item["source"] = source
        return item


def channel_name(nightly: bool, debug: bool) -> str:
    return ("nightly" if nightly else "stable") + ("-debug" if debug else "")


# The four release indexes: stable or nightly builds, each plain or with debug symbols.
Channel = Literal["stable", "nightly", "debug", "nightly-debug"]


def channel_of(nightly: bool = False, debug: bool = False) -> Channel:
    """The channel ``--nightly`` and ``--debug`` name."""
    if nightly:
        return "nightly-debug" if debug else "nightly"
    return "debug" if debug else "stable"


def channel_flags(channel: Channel) -> tuple[bool, bool]:
    """``(nightly, debug)`` for ``channel``: the inverse of :func:`channel_of`."""
    return channel in ("nightly", "nightly-debug"), channel in ("debug", "nightly-debug")


def channel_url(nightly: bool = False, debug: bool = False) -> str:
    """The index URL of a channel; each can be overridden by an environment variable."""
    if nightly and debug:
        return env_str(ENV_NIGHTLY_DEBUG_METADATA_URL) or NIGHTLY_DEBUG_URL
    if nightly:
        return env_str(ENV_NIGHTLY_METADATA_URL) or NIGHTLY_URL
    if debug:
        return env_str(ENV_DEBUG_METADATA_URL) or STABLE_DEBUG_URL
    return env_str(ENV_METADATA_URL) or STABLE_URL


def _release_from(key: str, raw: Any) -> Release:
    if not isinstance(raw, Mapping):
        raise MetadataError(f"release {key!r}: expected an object, got {type(raw).__name__}")
    values: dict[str, str | None] = {}
    for name in _REQUIRED:
        value = raw.get(name)
        if value is None:
            raise MetadataError(f"release {key!r}: field {name!r} is missing")
        if not isinstance(value, str) or not value.strip():
            raise MetadataError(
                f"release {key!r}: field {name!r} must be a non-empty string, got {value!r}"
            )
        if not value.strip().isprintable():  # a newline would forge lines in listings
            raise MetadataError(f"release {key!r}: field {name!r} holds a control character")
        values[name] = value.strip()
    for name in _OPTIONAL:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise MetadataError(f"release {key!r}: field {name!r} must be a string, got {value!r}")
        if isinstance(value, str) and not value.isprintable():
            raise MetadataError(f"release {key!r}: field {name!r} holds a control character")
        values[name] = value or None
    sha = values["sha256"]
    if sha is not None and not _SHA256.match(sha):
        raise MetadataError(f"release {key!r}: field 'sha256' is not 64 hex digits: {sha!r}")
    if not re.match(r"^\s*\d+\.\d+", values["python_version"] or ""):
        raise MetadataError(
            f"release {key!r}: field 'python_version' is not a Python version: "
            f"{values['python_version']!r}"
        )
    return Release(
        version=key,
        url=values["url"] or "",
        python_version=values["python_version"] or "",
        emscripten_version=values["emscripten_version"] or "",
        sha256=sha.lower() if sha else None,
        published_at=values["published_at"],
        min_pyodide_build_version=values["min_pyodide_build_version"],
        max_pyodide_build_version=values["max_pyodide_build_version"],
        origin_url=values["origin_url"],
    )


class Releases(dict[str, Release]):
    """The usable releases of an index, by version.

    ``broken`` maps each release left out of a tolerant parse to why (one line naming
    the field), so that asking for it by name can say what is wrong with it.
    """

    def __init__(
        self,
        releases: Mapping[str, Release] | None = None,
        broken: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(releases or {})
        self.broken: dict[str, str] = dict(broken or {})
        # set by a cooldown (index/cooldown.py): held back (version -> published_at),
        # kept for want of a date, and the cut-off in words
        self.held: dict[str, str] = {}
        self.undated: list[str] = []
        self.cooldown: str | None = None
        # whether the index was read from its source by this command (a cached copy
        # within its max age was not): a checksum mismatch against it is final
        self.checked = True

    def with_urls(self, resolve: Callable[[str], str]) -> Releases:
        """A copy with every release URL passed through ``resolve``."""
        from dataclasses import replace

        out = Releases({k: replace(r, url=resolve(r.url)) for k, r in self.items()}, self.broken)
        out.held, out.undated, out.cooldown = self.held, self.undated, self.cooldown
        out.checked = self.checked
        return out

    def describe_broken(self, source: str) -> str | None:
        """One line naming every release left out and its field, or None."""
        if not self.broken:
            return None
        items = "; ".join(f"{key} ({why})" for key, why in sorted(self.broken.items()))
        what = "release" if len(self.broken) == 1 else f"{len(self.broken)} releases"
        return f"{source}: left out malformed {what}: {items}"


def parse_index(
    data: bytes | str, source: str = "release index", *, tolerant: bool = False
) -> Releases:
    """Parse and validate an index document; raise :class:`MetadataError` when bad.

    A document that is not an index always raises. A malformed release raises too,
    unless ``tolerant``: then it is left out and recorded in ``Releases.broken``, so
    that one bad entry does not make every other release unusable.
    """
    try:
        doc = json.loads(data)
    except RecursionError:
        raise MetadataError(
            f"{source} is nested too deeply to be a release index",
            "check the URL or file, or use --metadata to point at a good index",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MetadataError(
            f"{source} is not valid JSON ({exc})",
            "check the URL or file, or use --metadata to point at a good index",
        ) from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("releases"), Mapping):
        raise MetadataError(
            f"{source} has no 'releases' object",
            "is this a cross-build environment index (v2)?",
        )
    good: dict[str, Release] = {}
    broken: dict[str, str] = {}
    for raw_key, raw in doc["releases"].items():
        key = str(raw_key)
        try:
            good[key] = _release_from(key, raw)
        except MetadataError as exc:
            if not tolerant:
                raise
            broken[key] = exc.message.removeprefix(f"release {key!r}: ")
    return Releases(good, broken)
