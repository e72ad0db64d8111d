"""CLI commands for running past one machine: ``mirror sync DEST`` and ``cache key``.

Parsing and printing only; the work is in :mod:`xbuildenv.mirror`.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import UsageError
from . import options as o
from .units import format_bytes


def register(sub: Any) -> None:
    p = o.add(
        sub,
        "mirror",
        "make a mirror for air-gapped networks or a CI fleet",
        "xbuildenv mirror sync ./mirror --python 3.13 --latest 2",
    )
    msub = p.add_subparsers(
        dest="mirror_command", metavar="ACTION", required=True, parser_class=type(p)
    )
    q = o.add(
        msub,
        "sync",
        "copy release indexes and their archives (verified) to a folder or object store",
        "xbuildenv mirror sync ./mirror --python 3.13 --latest 2",
        "xbuildenv mirror sync s3://bucket/xbuildenv --channel stable --channel nightly --prune",
        "xbuildenv mirror sync ./mirror --base-url https://mirror.example/xbuildenv --dry-run",
    )
    q.add_argument("dest", metavar="DEST", help="a folder, or an fsspec URL (s3://bucket/prefix)")
    q.add_argument(
        "--channel",
        action="append",
        choices=("stable", "stable-debug", "nightly", "nightly-debug"),
        help="channel to mirror (repeatable; default: stable)",
    )
    q.add_argument(
        "--version",
        action="append",
        metavar="SPEC",
        help="a version or PEP 440 specifier such as '>=0.28,<0.30' (repeatable)",
    )
    q.add_argument(
        "--python",
        action="append",
        metavar="X.Y",
        help="only releases for this Python (repeatable)",
    )
    q.add_argument("--latest", type=int, metavar="N", help="only the N newest selected releases")
    q.add_argument("--prune", action="store_true", help="remove archives no index lists any more")
    q.add_argument(
        "--base-url",
        metavar="URL",
        help="write absolute archive URLs under URL (pyodide-build needs them); "
        "default: relative to the index",
    )
    q.add_argument(
        "--metadata", metavar="URL_OR_PATH", help="mirror this index instead of the stable channel"
    )
    q.add_argument("--dry-run", action="store_true", help="only say what would be fetched")
    q.add_argument(
        "--emscripten",
        action="store_true",
        help="also add this machine's stored Emscripten SDKs, packed (for install-emscripten "
        "through XBUILDENV_MIRROR)",
    )
    o.json_flag(q)
    o.flags(q)
    q.set_defaults(handler=cmd_mirror_sync)


def add_cache_key(csub: Any) -> None:
    """``cache key [VERSION]`` under the ``cache`` command (see cache_commands.register)."""
    q = o.add(
        csub,
        "key",
        "print a CI cache key for a release (changes when its archive does)",
        "xbuildenv cache key",
        "xbuildenv cache key 0.29.4",
    )
    q.add_argument("version", nargs="?", metavar="VERSION", help="default: latest compatible")
    q.add_argument(
        "--emscripten",
        action="store_true",
        help="the key of the release's Emscripten SDK instead (for a CI cache of it)",
    )
    o.channel(q)
    o.common(q)
    q.set_defaults(handler=cmd_cache_key)


def cmd_cache_key(args: argparse.Namespace) -> int:
    from ..cache.store import url_key

    if args.metadata and (args.nightly or args.debug):
        raise UsageError("--metadata cannot be combined with --nightly or --debug")
    release = o.manager(args).resolve_release(args.version, nightly=args.nightly, debug=args.debug)
    if args.emscripten:
        from .sdk_commands import cache_key_emscripten

        print(cache_key_emscripten(args, release))
        return 0
    digest = release.sha256 or url_key(release.url)
    print(f"xbuildenv-{release.version}-{digest[:16]}")
    return 0


def _human(n: int | None) -> str:
    return "unknown size" if n is None else format_bytes(n)


def cmd_mirror_sync(args: argparse.Namespace) -> int:
    from ..cache.store import ArchiveStore
    from ..index.mirror_prefix import ENV_MIRROR_ORIGIN, OFFICIAL_PREFIX
    from ..mirror.plan import make_plan
    from ..mirror.selection import Selection
    from ..mirror.sync import run_sync
    from ..net.storage import open_storage
    from ..settings.config import load_project_config, setting
    from .output import info, print_json

    if args.latest is not None and args.latest < 1:
        raise UsageError(f"--latest {args.latest}: give a number of releases, 1 or more")
    if args.base_url and not args.base_url.startswith(("http://", "https://", "file://")):
        raise UsageError(
            f"--base-url {args.base_url!r} is not an absolute URL",
            "give the URL the mirror will be served at, e.g. https://mirror.example/xbuildenv",
        )
    for mm in args.python or ():
        if not mm.replace(".", "").isdigit() or mm.count(".") != 1:
            raise UsageError(f"--python {mm!r} is not a Python version X.Y", "e.g. --python 3.13")
    selection = Selection(tuple(args.version or ()), tuple(args.python or ()), args.latest)
    storage = open_storage(args.dest)
    project = load_project_config()
    origin = setting(project, ENV_MIRROR_ORIGIN, "mirror_origin") or OFFICIAL_PREFIX
    store = ArchiveStore()
    plan = make_plan(
        storage,
        args.channel or ["stable"],
        selection,
        metadata=args.metadata,
        origin_prefix=origin,
        store=store,
        sizes=args.dry_run,
    )
    quiet = args.quiet or args.json
    if args.dry_run:
        to_fetch = [i for i in plan.items if i.action == "fetch"]
        known = all(i.size is not None for i in to_fetch)
        if args.json:
            print_json(plan.to_json([], [], dry_run=True, known=known))
            return 0
        for item in plan.items:
            verb = {"fetch": "fetch", "store": "copy from store", "present": "keep"}[item.action]
            print(
                f"{verb:<16}{item.channel:<15}{item.version:<14}{item.path} ({_human(item.size)})"
            )
        total = plan.bytes("fetch")
        unknown = sum(1 for i in to_fetch if i.size is None)
        print(
            f"would fetch {len(to_fetch)} archive(s), {_human(total)}"
            + (f" plus {unknown} of unknown size" if unknown else "")
            + f"; copy {plan.count('store')} from the local store; "
            f"{plan.count('present')} already in {plan.dest}"
        )
        return 0
    result = run_sync(
        storage,
        plan,
        base_url=args.base_url,
        prune=args.prune,
        store=store,
        on_item=lambda i: info(f"{i.action:<6} {i.version} ({i.channel}) -> {i.path}", quiet),
    )
    if args.emscripten:
        from ..cache.sdk_store import SdkStore
        from ..tools.emsdk_sources import RemoteSdks

        target = RemoteSdks(args.dest, "mirror", None, upload=True)
        for sdk in SdkStore().all():
            target.share(sdk)
            info(f"packed Emscripten SDK {sdk.key.name}", quiet)
    if args.json:
        print_json(plan.to_json(result.indexes, result.pruned, dry_run=False, known=True))
        return 0
    for name in result.pruned:
        info(f"pruned {name}", args.quiet)
    info(
        f"mirror {plan.dest}: fetched {len(result.fetched)} archive(s) "
        f"({_human(result.fetched_bytes)}), copied {len(result.copied)} from the local store, "
        f"{len(result.present)} already there; wrote {', '.join(result.indexes)}",
        args.quiet,
    )
    return 0
