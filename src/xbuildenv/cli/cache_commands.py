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
from . import options as o
from .units import format_bytes


def register(sub: Any) -> None:
    p = o.add(
        sub,
        "cache",
        "see and clean the machine-wide cache",
        "xbuildenv cache list",
        "xbuildenv cache clean --json",
    )
    o.flags(p)
    csub = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    q = o.add(
        csub,
        "dir",
        "print the cache folder (roots, archive store, indexes)",
        "xbuildenv cache dir",
        'du -sh "$(xbuildenv cache dir)"',
    )
    q.set_defaults(handler=cmd_cache_dir)
    q = o.add(
        csub,
        "list",
        "list every root: owner, versions, size, last use",
        "xbuildenv cache list",
        "xbuildenv cache list --json",
    )
    o.json_flag(q)
    q.set_defaults(handler=cmd_cache_list)
    q = o.add(
        csub,
        "clean",
        "remove cached indexes and archives (--all: and every root)",
        "xbuildenv cache clean",
        "xbuildenv cache clean --all --json",
    )
    q.add_argument("--all", action="store_true", help="also remove every root in the cache folder")
    q.add_argument(
        "--emscripten",
        action="store_true",
        help="also remove every stored Emscripten SDK (roots keep their own)",
    )
    o.json_flag(q)
    q.set_defaults(handler=cmd_cache_clean)
    for q in list(csub.choices.values()):
        o.flags(q)
    from .mirror_commands import add_cache_key

    add_cache_key(csub)  # with its own -q/-v (it takes --path and --python too)
    from .sdk_commands import add_verify

    add_verify(csub)

    p = o.add(
        sub,
        "gc",
        "remove roots of deleted environments and unused archives",
        "xbuildenv gc --dry-run",
        "xbuildenv gc --older-than 30d",
        "xbuildenv gc --include-unknown --json",
    )
    p.add_argument("--dry-run", action="store_true", help="only show what would be removed")
    p.add_argument(
        "--include-unknown", action="store_true", help="also remove roots without an owner record"
    )
    p.add_argument(
        "--older-than",
        metavar="AGE",
        help="also remove roots unused for longer than AGE (e.g. 30d, 12h, 3600s)",
    )
    o.json_flag(p)
    o.flags(p)
    p.set_defaults(handler=cmd_gc)


def parse_age(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise UsageError(f"--older-than {text!r} is not an age", "use e.g. 30d, 12h or 3600s")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    return float(match.group(1)) * unit


def _paths() -> tuple[Any, Any]:
    from ..cache.store import ArchiveStore
    from ..settings.dirs import cache_home

    return cache_home(), ArchiveStore()


def cmd_cache_dir(args: argparse.Namespace) -> int:
    print(_paths()[0])
    return 0


def cmd_cache_list(args: argparse.Namespace) -> int:
    from ..cache.scan import scan
    from .output import print_json, table
    from .sdk_commands import print_sdks, sdk_rows

    home, store = _paths()
    report = scan(home, store)
    sdks, sdk_table = sdk_rows()
    if args.json:
        print_json({**report.to_json(), "sdks": [e.to_json() for e in sdks]})
        return 0
    rows = []
    for r in report.roots:
        owner = r.owner.prefix if r.owner else "(unknown: made by pyodide-build?)"
        if r.owner_state == "gone":
            owner += " (gone)"
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.last_used)) if r.last_used else "-"
        versions = ", ".join(("*" if v == r.active else "") + v for v in r.versions) or "-"
        rows.append([r.install_id, owner, versions, format_bytes(r.size), used])
    print(table(["Install id", "Owner", "Versions", "Size", "Last used"], rows))
    total = sum(r.size for r in report.roots)
    archives = sum(a.size for a in report.archives)
    print(
        f"\n{len(report.roots)} root(s), {format_bytes(total)} (shared files counted once); "
        f"{len(report.archives)} stored archive(s), {format_bytes(archives)}; "
        f"{len(sdks)} Emscripten SDK(s), {format_bytes(sum(e.size for e in sdks))}; in {home}"
    )
    print_sdks(sdks, sdk_table)
    return 0


def cmd_cache_clean(args: argparse.Namespace) -> int:
    from ..cache.layout import STORE_INDEX, STORE_URLS
    from ..cache.scan import GcPlan, apply, scan
    from ..fs.files import remove_tree
    from . import sdk_commands
    from .output import info, warn

    home, store = _paths()
    report = scan(home, store)
    plan = GcPlan(
        roots=report.roots if args.all else [],
        archives=report.archives,
        index_bytes=report.index_bytes,
    )
    done = apply(plan, home)
    for r in done.busy:
        warn(f"kept root {r.path}: an install is running in it")
    for folder in (STORE_INDEX, STORE_URLS):
        # remove_tree unlinks a symlink planted in the folder's place, never its target
        remove_tree(store.path / folder) if os.path.lexists(store.path / folder) else None
    store.tidy_temp()  # partial downloads of processes that are gone (not running ones)
    removed = GcPlan(roots=done.roots, archives=done.archives, index_bytes=report.index_bytes)
    sdks = (
        sdk_commands.remove(sdk_commands.all_sdks(), unused_only=False) if args.emscripten else []
    )
    if args.json:
        from .output import print_json

        print_json(sdk_commands.with_sdks(removed.to_json(dry_run=False), sdks))
        return 0
    for e in sdks:
        info(f"removed Emscripten SDK {e.key.name} ({format_bytes(e.size)})", args.quiet)
    info(
        f"removed {len(done.archives)} archive(s), the index cache"
        + (f" and {len(done.roots)} root(s)" if args.all else "")
        + f"; freed {format_bytes(removed.bytes)}",
        args.quiet,
    )
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from ..cache.scan import GcPlan, apply, plan_gc, scan
    from . import sdk_commands
    from .output import info, warn

    older = parse_age(args.older_than) if args.older_than else None
    home, store = _paths()
    plan = plan_gc(scan(home, store), include_unknown=args.include_unknown, older_than=older)
    if args.json:
        from .output import print_json

        if args.dry_run:
            sdks = sdk_commands.unused_sdks()
            print_json(sdk_commands.with_sdks(plan.to_json(dry_run=True), sdks))
            return 0
        done = apply(plan, home)
        for r in done.busy:
            warn(f"kept root {r.path}: an install is running in it")
        sdks = sdk_commands.remove(sdk_commands.unused_sdks(), unused_only=True)
        removed = GcPlan(roots=done.roots, archives=done.archives, index_bytes=plan.index_bytes)
        print_json(sdk_commands.with_sdks(removed.to_json(dry_run=False), sdks))
        return 0
    verb = "would remove" if args.dry_run else "removing"
    for r in plan.roots:
        print(f"{verb} root {r.path} ({r.gc_reason}; {format_bytes(r.size)})")
    for a in plan.archives:
        print(f"{verb} archive {a.sha256[:12]} ({format_bytes(a.size)}; no root uses it)")
    unused = sdk_commands.unused_sdks()
    for e in unused:
        print(f"{verb} Emscripten SDK {e.key.name} ({format_bytes(e.size)}; no root uses it)")
    if args.dry_run:
        info(f"would free {format_bytes(plan.bytes)}", args.quiet)
        return 0
    done = apply(plan, home)
    for r in done.busy:
        warn(f"kept root {r.path}: an install is running in it")
    for path in done.leftovers:
        print(f"removed {path.name} (left by a gc that was stopped)")
    sdks = sdk_commands.remove(unused, unused_only=True)
    info(f"freed {format_bytes(done.bytes + sum(e.size for e in sdks))}", args.quiet)
    return 0
