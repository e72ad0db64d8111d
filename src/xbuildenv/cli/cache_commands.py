"""CLI commands for the machine-wide cache: ``cache dir|list|clean|key`` and ``gc``.

Parsing and printing only; the decisions live in the cache-management API,
:func:`xbuildenv.cache.scan_cache` → ``plan_gc``/``plan_clean`` → ``execute``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from . import options as o
from .units import format_bytes


def cmd_cache_dir(args: argparse.Namespace) -> int:
    from ..settings.dirs import cache_home

    print(cache_home())
    return 0


def cmd_cache_list(args: argparse.Namespace) -> int:
    from ..cache.scan import scan_cache
    from .output import print_json, table
    from .sdk_commands import print_sdks, sdk_rows

    report = scan_cache()
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
    print(
        f"\n{len(report.roots)} root(s), {format_bytes(report.roots_bytes)} (shared files "
        f"counted once); {len(report.archives)} stored archive(s), "
        f"{format_bytes(report.archives_bytes)}; {len(report.trees)} unpacked tree(s), "
        f"{format_bytes(sum(t.size for t in report.trees))} more; {len(sdks)} Emscripten "
        f"SDK(s), {format_bytes(sum(e.size for e in sdks))}; in {report.cache_dir}"
    )
    print_sdks(sdks, sdk_table)
    return 0


def _warn_busy(result: Any) -> None:
    from .output import warn

    for r in result.busy:
        warn(f"kept root {r.path}: an install is running in it")


def cmd_cache_clean(args: argparse.Namespace) -> int:
    from ..cache.scan import scan_cache
    from . import sdk_commands
    from .output import info, print_json

    result = scan_cache().plan_clean(roots=args.all).execute()
    _warn_busy(result)
    sdks = (
        sdk_commands.remove(sdk_commands.all_sdks(), unused_only=False) if args.emscripten else []
    )
    if args.json:
        print_json(sdk_commands.with_sdks(result.to_json(), sdks))
        return 0
    for e in sdks:
        info(f"removed Emscripten SDK {e.key.name} ({format_bytes(e.size)})", args.quiet)
    info(
        f"removed {len(result.archives)} archive(s), {len(result.trees)} unpacked tree(s), "
        "the index cache"
        + (f" and {len(result.roots)} root(s)" if args.all else "")
        + f"; freed {format_bytes(result.freed_bytes)}",
        args.quiet,
    )
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from ..cache.cleanup import parse_age
    from ..cache.scan import scan_cache
    from . import sdk_commands
    from .output import info, print_json

    older = parse_age(args.older_than, "--older-than") if args.older_than else None
    plan = scan_cache().plan_gc(include_unknown=args.include_unknown, older_than=older)
    unused = sdk_commands.unused_sdks()
    if args.json and args.dry_run:
        print_json(sdk_commands.with_sdks(plan.to_json(), unused))
        return 0
    if args.json:
        result = plan.execute()
        _warn_busy(result)
        sdks = sdk_commands.remove(unused, unused_only=True)
        print_json(sdk_commands.with_sdks(result.to_json(), sdks))
        return 0
    verb = "would remove" if args.dry_run else "removing"
    for r in plan.roots:
        print(f"{verb} root {r.path} ({r.gc_reason}; {format_bytes(r.size)})")
    for a in plan.archives:
        print(f"{verb} archive {a.sha256[:12]} ({format_bytes(a.size)}; no root uses it)")
    for t in plan.trees:
        print(f"{verb} unpacked tree {t.sha256[:12]} ({format_bytes(t.size)}; no root uses it)")
    for e in unused:
        print(f"{verb} Emscripten SDK {e.key.name} ({format_bytes(e.size)}; no root uses it)")
    if args.dry_run:
        sdk_bytes = sum(e.size for e in unused)
        info(f"would free {format_bytes(plan.freed_bytes + sdk_bytes)}", args.quiet)
        return 0
    result = plan.execute()
    _warn_busy(result)
    for path in result.leftovers:
        print(f"removed {path.name} (left by a gc that was stopped)")
    sdks = sdk_commands.remove(unused, unused_only=True)
    info(f"freed {format_bytes(result.freed_bytes + sum(e.size for e in sdks))}", args.quiet)
    return 0


def cmd_cache_key(args: argparse.Namespace) -> int:
    release = o.manager(args).resolve_release(args.version, nightly=args.nightly, debug=args.debug)
    if args.emscripten:
        from .sdk_commands import cache_key_emscripten

        print(cache_key_emscripten(args, release))
        return 0
    print(release.cache_key)
    return 0


def cmd_cache_verify(args: argparse.Namespace) -> int:
    from .sdk_commands import cmd_cache_verify as verify

    return verify(args)


_V = ("verbosity",)
COMMANDS = {
    c.name: c
    for c in (
        o.Command(
            "cache",
            "see and clean the machine-wide cache",
            ("xbuildenv cache list", "xbuildenv cache clean --json"),
            shared=_V,
            children=(
                o.Command(
                    "dir",
                    "print the cache folder (roots, archive store, indexes)",
                    ("xbuildenv cache dir", 'du -sh "$(xbuildenv cache dir)"'),
                    shared=_V,
                    handler=cmd_cache_dir,
                ),
                o.Command(
                    "list",
                    "list every root: owner, versions, size, last use",
                    ("xbuildenv cache list", "xbuildenv cache list --json"),
                    shared=("json", *_V),
                    handler=cmd_cache_list,
                ),
                o.Command(
                    "clean",
                    "remove cached indexes and archives (--all: and every root)",
                    ("xbuildenv cache clean", "xbuildenv cache clean --all --json"),
                    args=(
                        o.Opt(
                            "--all",
                            action="store_true",
                            help="also remove every root in the cache folder",
                        ),
                        o.Opt(
                            "--emscripten",
                            action="store_true",
                            help="also remove every stored Emscripten SDK (roots keep their own)",
                        ),
                    ),
                    shared=("json", *_V),
                    handler=cmd_cache_clean,
                ),
                o.Command(
                    "key",
                    "print a CI cache key for a release (changes when its archive does)",
                    ("xbuildenv cache key", "xbuildenv cache key 0.29.4"),
                    args=(
                        o.Opt(
                            "version",
                            nargs="?",
                            metavar="VERSION",
                            help="default: latest compatible",
                        ),
                        o.Opt(
                            "--emscripten",
                            action="store_true",
                            help="the key of the release's Emscripten SDK instead",
                        ),
                    ),
                    shared=("channel", *o.COMMON),
                    handler=cmd_cache_key,
                ),
                o.Command(
                    "verify",
                    "hash every stored archive, unpacked tree and SDK; drop the damaged ones",
                    ("xbuildenv cache verify", "xbuildenv cache verify --json"),
                    shared=("json", *_V),
                    handler=cmd_cache_verify,
                ),
            ),
        ),
        o.Command(
            "gc",
            "remove roots of deleted environments and unused archives",
            (
                "xbuildenv gc --dry-run",
                "xbuildenv gc --older-than 30d",
                "xbuildenv gc --include-unknown --json",
            ),
            args=(
                o.Opt("--dry-run", action="store_true", help="only show what would be removed"),
                o.Opt(
                    "--include-unknown",
                    action="store_true",
                    help="also remove roots without an owner record",
                ),
                o.Opt(
                    "--older-than",
                    metavar="AGE",
                    help="also remove roots unused for longer than AGE (e.g. 30d, 12h, 3600s)",
                ),
            ),
            shared=("json", *_V),
            handler=cmd_gc,
        ),
    )
}
