"""Owner records: which Python environment a root belongs to, and when it was used.

Each root that xbuildenv touches gets ``.xbuildenv-owner.json`` (pyodide-build
ignores dot-files): the owner's ``sys.prefix``, its Python, the install id, and the
time of last use. ``gc`` uses it to find roots whose virtual environment is gone.
Roots without one (made by pyodide-build alone) are "unknown" and kept by default.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..fs.files import write_atomic
from ..fs.paths import read_bounded
from ..settings.target import TargetEnv
from .layout import LINK_NAME, OWNER_FILE


@dataclass(frozen=True)
class Owner:
    prefix: str
    python: str | None
    install_id: str | None
    last_used: float | None

    @property
    def exists(self) -> bool:
        return Path(self.prefix).is_dir()


def read_owner(root: Path) -> Owner | None:
    try:
        data = json.loads(read_bounded(root / OWNER_FILE, 64 * 1024))
        return Owner(
            str(data["prefix"]),
            data.get("python"),
            data.get("install_id"),
            _finite(data.get("last_used")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def _finite(value: object) -> float | None:
    """A time from the record, or None when it is missing, not a number, inf or nan."""
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def record_use(root: Path, target: TargetEnv, install_id: str) -> None:
    """Write or refresh the record; best effort (a read-only root is not an error)."""
    if not root.is_dir():
        return
    data = {
        "prefix": str(target.prefix),
        "python": target.python_version,
        "install_id": install_id,
        "last_used": time.time(),
    }
    try:
        write_atomic(root / OWNER_FILE, json.dumps(data, indent=1).encode())
    except OSError:
        pass


def last_used(root: Path) -> float:
    """The owner record's time, else the newest mtime among the root and its link."""
    owner = read_owner(root)
    if owner is not None and owner.last_used is not None:
        return owner.last_used
    times = []
    for p in (root, root / LINK_NAME):
        try:
            times.append(os.lstat(p).st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)
