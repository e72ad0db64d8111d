"""``XBUILDENV_MIRROR``: the official index, the archives from a mirror.

As ``UV_PYTHON_INSTALL_MIRROR`` does for Python builds: an archive URL that starts with
the official download prefix gets that prefix replaced by the mirror's, and the rest
of the path is kept; the sha256 still comes from the official index, so a mirror can
make an install fail (then the origin is used) but never change what is installed.
``mirror sync`` lays a mirror out the same way, so one folder serves both uses.
"""

from __future__ import annotations

from urllib.parse import urlparse

# Where the official index's archives live (stable and stable-debug channels).
OFFICIAL_PREFIX = "https://github.com/pyodide/pyodide/releases/download/"
ENV_MIRROR = "XBUILDENV_MIRROR"
# The prefix XBUILDENV_MIRROR replaces, for mirrors of an index other than the official one.
ENV_MIRROR_ORIGIN = "XBUILDENV_MIRROR_ORIGIN"


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
