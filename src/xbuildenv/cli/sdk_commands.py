"""The Emscripten SDK store in the cache commands: parsing and printing only.

``cache list`` (an SDK table / ``"sdks"``), ``gc`` (unused SDKs), ``cache clean
--emscripten``, ``cache verify`` and ``cache key --emscripten``; the decisions live
in :mod:`xbuildenv.cache.sdk_scan`.
"""

from __future__ import annotations

import argparse
from typing import Any

from .units import format_bytes


def sdk_rows() -> tuple[list[Any], list[list[str]]]:
    """The stored SDKs and their table rows (key, size, roots using each)."""
    from ..cache.sdk_scan import list_sdks
    from ..cache.sdk_store import SdkStore

    entries = list_sdks(SdkStore())
    rows = [
        [e.key.name, e.key.revision[:12], format_bytes(e.size), str(len(e.roots))] for e in entries
    ]
    return entries, rows


def print_sdks(entries: list[Any], rows: list[list[str]]) -> None:
    from .output import table

    if not entries:
        return
    print()
    print(table(["Emscripten SDK", "emsdk revision", "Size", "Roots"], rows))
    for e in entries:
        for root in e.roots:
            print(f"  {e.key.name}: {root}")


def unused_sdks() -> list[Any]:
    from ..cache.sdk_scan import list_sdks
    from ..cache.sdk_store import SdkStore

    return [e for e in list_sdks(SdkStore()) if not e.roots]


def remove(entries: list[Any], *, unused_only: bool) -> list[Any]:
    from ..cache.sdk_scan import remove_sdks
    from ..cache.sdk_store import SdkStore

    return remove_sdks(SdkStore(), entries, unused_only=unused_only)


def all_sdks() -> list[Any]:
    from ..cache.sdk_scan import list_sdks
    from ..cache.sdk_store import SdkStore

    return list_sdks(SdkStore())


def cmd_cache_verify(args: argparse.Namespace) -> int:
    from ..cache.sdk_scan import verify_all
    from ..cache.sdk_store import SdkStore
    from ..cache.store import ArchiveStore
    from .output import info, print_json, warn

    checked = verify_all(ArchiveStore(), SdkStore())
    if args.json:
        print_json({"checked": [c.to_json() for c in checked],
                    "dropped": sum(c.dropped for c in checked)})  # fmt: skip
        return 0
    for c in checked:
        if c.problem and c.dropped:
            warn(f"dropped {c.kind} {c.name}: {c.problem}")
        elif c.problem:
            warn(f"{c.kind} {c.name} is damaged ({c.problem}) but in use by an install; "
                 "run cache verify again when it is done")  # fmt: skip
    good = sum(c.problem is None for c in checked)
    dropped = sum(c.dropped for c in checked)
    info(f"checked {len(checked)} item(s): {good} good, {dropped} dropped", args.quiet)
    return 0


def cache_key_emscripten(args: argparse.Namespace, release: Any) -> str:
    """A CI cache key for the SDK of ``release``: it changes when the Emscripten version,
    the environment (its patch set) or the platform does."""
    from ..cache.sdk_store import host_platform
    from ..cache.store import url_key

    digest = release.sha256 or url_key(release.url)
    version = release.emscripten_version or "unknown"
    return f"xbuildenv-emsdk-{version}-{digest[:16]}-{host_platform()}"


def with_sdks(data: dict[str, Any], sdks: list[Any]) -> dict[str, Any]:
    """A removal report (``gc``, ``cache clean``) with the SDKs removed counted in."""
    freed = int(data.get("freed_bytes", 0)) + sum(e.size for e in sdks)
    return {**data, "freed_bytes": freed, "sdks": [e.to_json() for e in sdks]}
