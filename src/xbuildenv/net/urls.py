"""What a source string names, and what a remote index may name.

A source is a URL (``http(s)://``, ``file://``) or a local path. These rules are
the trust boundary for indexes: a remote index may only name remote archives of the
same or a stronger scheme, so nothing it says makes the tool read the local disk.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

__all__ = ["local_path", "remote_archive_problem", "resolve_relative"]


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
