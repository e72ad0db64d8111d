"""The platform's folders and the writability probe that root resolution relies on.

``cache_home`` is pyodide-build's cache folder (``platformdirs``, honouring
``XDG_CACHE_HOME``): default roots and the machine-wide store live inside it, so it
must be computed exactly as pyodide-build computes it (on Linux, in the common cases,
without loading platformdirs: see :func:`_xdg_cache_base`).
"""

from __future__ import annotations

import os
import posixpath
import sys
from pathlib import Path

__all__ = ["cache_home", "is_writable"]


def cache_home() -> Path:
    """pyodide-build's cache folder; every default root lives inside it."""
    base = _xdg_cache_base()
    if base is not None:
        return Path(os.path.join(base, "pyodide-build"))
    import platformdirs

    return Path(platformdirs.user_cache_dir("pyodide-build"))


def _xdg_cache_base() -> str | None:
    """``platformdirs``' Linux cache folder where every version of it agrees, without
    importing it (13 ms of every command's start-up, with the ``tempfile`` it loads).

    Only the two cases the XDG spec settles: ``XDG_CACHE_HOME`` an absolute path, or
    unset (or empty) with an absolute ``HOME``. Anything else (a relative value, which
    platformdirs 4.14 ignores and older versions used; no ``HOME``; Android's CPython;
    another platform) is left to platformdirs. tests/settings/test_dirs.py compares
    the two.
    """
    if sys.platform != "linux" or hasattr(sys, "getandroidapilevel"):
        return None  # Android's CPython has its own folders
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg:
        return xdg if posixpath.isabs(xdg) else None
    if not posixpath.isabs(os.environ.get("HOME", "")):
        return None
    return os.path.expanduser("~/.cache")


def is_writable(path: Path) -> bool:
    """Probe by creating and removing a unique file in the nearest existing ancestor.

    Never ``os.access`` or mode bits: those disagree with what a write does on
    read-only (bind) mounts, ACLs and root-squashed network mounts. pyodide-build
    decides the same way since its #426, so both tools pick the same root.
    """
    probe_dir = path
    while not probe_dir.exists():
        if probe_dir.parent == probe_dir:
            return False
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        return False
    probe = probe_dir / f".xbuildenv-probe-{os.getpid()}-{os.urandom(8).hex()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:
        return False
    os.close(fd)
    try:
        probe.unlink()
    except OSError:
        pass
    return True
