"""Release metadata: the index of published cross-build environments.

The index is JSON, ``{"releases": {"<version>": {...}}}``. This module turns it into
:class:`Release` objects, checking every field it relies on and naming the release
and field when one is wrong. Fields it does not know are ignored, so newer indexes
keep working.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import MetadataError
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

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_REQUIRED = ("version", "url", "python_version", "emscripten_version")
_OPTIONAL = ("sha256", "published_at", "min_pyodide_build_version", "max_pyodide_build_version")


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

    @property
    def python_major_minor(self) -> str:
        """``"3.13"`` from ``"3.13.2"`` (or from ``"3.15.0rc1"``)."""
        match = re.match(r"^\s*(\d+)\.(\d+)", self.python_version)
        return f"{match.group(1)}.{match.group(2)}" if match else self.python_version


def channel_name(nightly: bool, debug: bool) -> str:
    return ("nightly" if nightly else "stable") + ("-debug" if debug else "")


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
    )


def parse_index(data: bytes | str, source: str = "release index") -> dict[str, Release]:
    """Parse and validate an index document; raise :class:`MetadataError` when bad."""
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
    return {str(key): _release_from(str(key), raw) for key, raw in doc["releases"].items()}


def load_index(source: str) -> dict[str, Release]:
    """Fetch (URL) or read (path) an index; release URLs relative to it are resolved."""
    from dataclasses import replace

    from ..net.fetch import fetch_bytes, resolve_relative

    body = fetch_bytes(source).body
    releases = parse_index(body, f"release index {source}")
    return {k: replace(r, url=resolve_relative(source, r.url)) for k, r in releases.items()}
