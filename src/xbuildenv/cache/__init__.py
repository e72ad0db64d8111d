"""Cache policy: every on-disk name (layout), a root on disk (root_layout), root resolution, the
machine-wide archive store, sharing of unpacked trees between roots, owner records,
and the cache-management API, scan → plan → execute (:func:`scan_cache`, then
:meth:`CacheReport.plan_gc` or :meth:`CacheReport.plan_clean`, then
:meth:`CachePlan.execute`). File-safety primitives live below it, in :mod:`xbuildenv.fs`.

The API names are imported on first use, so that importing a cache module stays cheap.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time

__all__ = ["CachePlan", "CacheReport", "CacheResult", "scan_cache"]

if TYPE_CHECKING:
    from typing import Any

    from .cleanup import CachePlan, CacheResult
    from .scan import CacheReport, scan_cache

_HOMES = {
    "CachePlan": "cleanup",
    "CacheResult": "cleanup",
    "CacheReport": "scan",
    "scan_cache": "scan",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'xbuildenv.cache' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{home}", __name__), name)
