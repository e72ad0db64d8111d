"""The platform's folders and the writability probe that root resolution relies on.

``cache_home`` is pyodide-build's cache folder (``platformdirs``, honouring
``XDG_CACHE_HOME``): default roots and the machine-wide store live inside it, so it
must be computed exactly as pyodide-build computes it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_home", "is_writable"]


def cache_home() -> Path:
    """pyodide-build's cache folder; every default root lives inside it."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("pyodide-build"))


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
