"""What a source string names, what a remote index may name, and where a mirror has it.

A source is a URL (``http(s)://``, ``file://``) or a local path. These rules are
the trust boundary for indexes: a remote index may only name remote archives of the
same or a stronger scheme, so nothing it says makes the tool read the local disk.

``XBUILDENV_MIRROR`` works as ``UV_PYTHON_INSTALL_MIRROR`` does for Python builds: an
archive URL that starts with the official download prefix (or
``XBUILDENV_MIRROR_ORIGIN``) gets that prefix replaced by the mirror's, and the rest of
the path is kept; the sha256 still comes from the official index, so a mirror can make
an install fail (then the origin is used) but never change what is installed.
``mirror sync`` lays a mirror out the same way, so one folder serves both uses.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from ..settings.config import ProjectConfig, setting

__all__ = [
    "ENV_MIRROR",
    "ENV_MIRROR_ORIGIN",
    "OFFICIAL_PREFIX",
    "local_path",
    "mirror_origin",
    "mirrored_url",
    "relative_path",
    "remote_archive_problem",
    "resolve_relative",
]

# Where the official index's archives live (stable and stable-debug channels).
OFFICIAL_PREFIX = "https://github.com/pyodide/pyodide/releases/download/"
ENV_MIRROR = "XBUILDENV_MIRROR"
# The prefix XBUILDENV_MIRROR replaces, for mirrors of an index other than the official one.
ENV_MIRROR_ORIGIN = "XBUILDENV_MIRROR_ORIGIN"


def local_path(source: str) -> Path | None:
    """The filesystem path for a plain path or ``file://`` URL, else None."""
    parsed = urlparse(source)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme in ("http", "https"):
        return None
    return Path(source).expanduser()


def remote_archive_problem(index: str, url: str) -> str | None:
    """Why a remote index may not name ``url`` (None when it may).

    Only an http(s) URL with a host, of the same or a stronger scheme than the
    index's: never a local path, ``file://``, a protocol-relative ``//host/...`` (it
    reads as a local path) or another scheme.
    """
    base = urlparse(index).scheme
    if base not in ("http", "https"):
        return None  # a local index may name local archives
    parsed = urlparse(url)
    allowed = ("https",) if base == "https" else ("http", "https")
    if parsed.scheme not in allowed or not parsed.netloc:
        return f"it may only name {' or '.join(allowed)} archives"
    if not url.isprintable() or " " in url:
        return "a URL holds no spaces or control characters"
    return None


def resolve_relative(base: str, ref: str) -> str:
    """Resolve a release URL that may be relative to the index it came from."""
    if urlparse(ref).scheme or Path(ref).is_absolute():
        return ref
    base_path = local_path(base)
    if base_path is not None:
        return str(base_path.absolute().parent / ref)
    return urljoin(base, ref)


def mirror_origin(project: ProjectConfig) -> str:
    """The prefix a mirror replaces: ``XBUILDENV_MIRROR_ORIGIN``, ``mirror_origin`` in
    ``[tool.xbuildenv]``, else the official download prefix."""
    return setting(project, ENV_MIRROR_ORIGIN, "mirror_origin") or OFFICIAL_PREFIX


def relative_path(url: str, origin: str = OFFICIAL_PREFIX) -> str | None:
    """The part of ``url`` after ``origin``, if it is a plain relative path; else None."""
    prefix = origin if origin.endswith("/") else origin + "/"
    if not url.startswith(prefix):
        return None
    rest = url[len(prefix) :]
    parsed = urlparse(rest)
    if parsed.scheme or parsed.netloc or parsed.query or parsed.fragment or "\\" in rest:
        return None
    parts = rest.split("/")
    if not rest or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None  # never a path that climbs out of the mirror or hides in a dot-folder
    return rest


def mirrored_url(url: str, mirror: str, origin: str = OFFICIAL_PREFIX) -> str | None:
    """``url`` on the mirror, or None when ``url`` is not under ``origin``."""
    rest = relative_path(url, origin)
    if rest is None:
        return None
    return f"{mirror.rstrip('/')}/{rest}"
