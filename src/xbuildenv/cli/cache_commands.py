"""CLI commands for the machine-wide cache: ``cache dir|list|clean`` and ``gc``.

Parsing and printing only; the decisions live in :mod:`xbuildenv.cache_scan`.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from typing import Any

from ..errors import UsageError


def register(sub: Any) -> None:
    p = sub.add_parser("cache", help="see and clean the machine-wide cache")
    csub = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    q = csub.add_parser("dir", help="print the cache folder (roots, archive store, indexes)")
    q.set_defaults(handler=cmd_cache_dir)
    q = csub.add_parser("list", help="list every root: owner, versions, size, last use")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=cmd_cache_list)
    q = csub.add_parser("clean", help="remove cached indexes and archives (--all: and every root)")
    q.add_argument("--all", action="store_true", help="also remove every root in the cache folder")
    q.set_defaults(handler=cmd_cache_clean)
    for q in list(csub.choices.values()):
        _output_flags(q)

    p = sub.add_parser("gc", help="remove roots of deleted environments and unused archives")
    p.add_argument("--dry-run", action="store_true", help="only show what would be removed")
    p.add_argument(
        "--include-unknown", action="store_true", help="also remove roots without an owner record"
    )
    p.add_argument(
        "--older-than",
        metavar="AGE",
        help="also remove roots unused for longer than AGE (e.g. 30d, 12h, 3600s)",
    )
    _output_flags(p)
    p.set_defaults(handler=cmd_gc)


def _output_flags(p: Any) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")
    p.add_argument("-v", "--verbose", action="store_true", help="show details and tracebacks")


def parse_age(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise UsageError(f"--older-than {text!r} is not an age", "use e.g. 30d, 12h or 3600s")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    return float(match.group(1)) * unit


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _paths() -> tuple[Any, Any]:
    from ..cache.store import ArchiveStore
    from ..settings.root import cache_home

    return cache_home(), ArchiveStore()


def cmd_cache_dir(args: argparse.Namespace) -> int:
    print(_paths()[0])
    return 0


def cmd_cache_list(args: argparse.Namespace) -> int:
    from ..cache.scan import scan
    from .output import print_json, table

    home, store = _paths()
    report = scan(home, store)
    if args.json:
        print_json(
            {
                "cache_dir": str(home),
                "roots": [
                    {
                        "path": str(r.path),
                        "install_id": r.install_id,
                        "owner": r.owner.prefix if r.owner else None,
                        "owner_exists": r.owner.exists if r.owner else None,
                        "versions": r.versions,
                        "active": r.active,
                        "size_bytes": r.size,
                        "last_used": r.last_used,
                    }
                    for r in report.roots
                ],
                "archives": [{"sha256": a.sha256, "size_bytes": a.size} for a in report.archives],
                "index_bytes": report.index_bytes,
            }
        )
        return 0
    rows = []
    for r in report.roots:
        owner = r.owner.prefix if r.owner else "(unknown: made by pyodide-build?)"
        if r.owner_state == "gone":
            owner += " (gone)"
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.last_used)) if r.last_used else "-"
        versions = ", ".join(("*" if v == r.active else "") + v for v in r.versions) or "-"
        rows.append([r.install_id, owner, versions, human(r.size), used])
    print(table(["Install id", "Owner", "Versions", "Size", "Last used"], rows))
    total = sum(r.size for r in report.roots)
    archives = sum(a.size for a in report.archives)
    print(
        f"\n{len(report.roots)} root(s), {human(total)} (shared files counted once); "
        f"{len(report.archives)} stored archive(s), {human(archives)}; in {home}"
    )
    return 0


def cmd_cache_clean(args: argparse.Namespace) -> int:
    from ..cache.layout import remove_tree
    from ..cache.scan import GcPlan, apply, scan
    from .output import info, warn

    home, store = _paths()
    report = scan(home, store)
    plan = GcPlan(roots=report.roots if args.all else [], archives=report.archives)
    done = apply(plan, home)
    for r in done.busy:
        warn(f"kept root {r.path}: an install is running in it")
    for folder in ("index", "urls"):
        # remove_tree unlinks a symlink planted in the folder's place, never its target
        remove_tree(store.path / folder) if os.path.lexists(store.path / folder) else None
    store.tidy_temp()  # partial downloads of processes that are gone (not running ones)
    freed = done.bytes + report.index_bytes
    info(
        f"removed {len(done.archives)} archive(s), the index cache"
        + (f" and {len(done.roots)} root(s)" if args.all else "")
        + f"; freed {human(freed)}",
        args.quiet,
    )
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from ..cache.scan import apply, plan_gc, scan
    from .output import info, warn

    older = parse_age(args.older_than) if args.older_than else None
    home, store = _paths()
    plan = plan_gc(scan(home, store), include_unknown=args.include_unknown, older_than=older)
    verb = "would remove" if args.dry_run else "removing"
    for r in plan.roots:
        why = {"gone": "owner is gone", "unknown": "no owner record"}.get(r.owner_state, "unused")
        print(f"{verb} root {r.path} ({why}; {human(r.size)})")
    for a in plan.archives:
        print(f"{verb} archive {a.sha256[:12]} ({human(a.size)}; no root uses it)")
    if args.dry_run:
        info(f"would free {human(plan.bytes)}", args.quiet)
        return 0
    done = apply(plan, home)
    for r in done.busy:
        warn(f"kept root {r.path}: an install is running in it")
    for path in done.leftovers:
        print(f"removed {path.name} (left by a gc that was stopped)")
    info(f"freed {human(done.bytes)}", args.quiet)
    return 0
