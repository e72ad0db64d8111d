"""``mirror sync DEST``: a mirror for air-gapped networks or a CI fleet.

Parsing and printing only; the work (and the checks of its inputs) is in
:mod:`xbuildenv.mirror`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from . import options as o
from .units import format_bytes

if TYPE_CHECKING:
    from ..mirror.plan import Plan


def _human(n: int | None) -> str:
    return "unknown size" if n is None else format_bytes(n)


def _print_plan(plan: Plan) -> None:
    """``mirror sync --dry-run``: a line per archive, then the totals."""
    for item in plan.items:
        verb = {"fetch": "fetch", "store": "copy from store", "present": "keep"}[item.action]
        print(f"{verb:<16}{item.channel:<15}{item.version:<14}{item.path} ({_human(item.size)})")
    unknown = plan.unknown_sizes
    print(
        f"would fetch {len(plan.to_fetch)} archive(s), {_human(plan.bytes('fetch'))}"
        + (f" plus {unknown} of unknown size" if unknown else "")
        + f"; copy {plan.count('store')} from the local store; "
        f"{plan.count('present')} already in {plan.dest}"
    )


def cmd_mirror_sync(args: argparse.Namespace) -> int:
    from ..cache.store import ArchiveStore
    from ..index.cooldown import cooldown_from
    from ..mirror.plan import make_plan
    from ..mirror.selection import Selection
    from ..mirror.sync import check_base_url, run_sync
    from ..net.storage import open_storage
    from .output import info, print_json

    selection = Selection(tuple(args.version or ()), tuple(args.python or ()), args.latest)
    check_base_url(args.base_url)
    storage = open_storage(args.dest)
    store = ArchiveStore()
    plan = make_plan(
        storage,
        args.channel or ["stable"],
        selection,
        metadata=args.metadata,
        store=store,
        sizes=args.dry_run,
        cooldown=cooldown_from(o.project_config(), args.exclude_newer),
        note=info if args.verbose else None,
    )
    quiet = args.quiet or args.json
    if args.dry_run and args.json:
        print_json(plan.to_json([], [], dry_run=True))
        return 0
    if args.dry_run:
        _print_plan(plan)
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
        print_json(plan.to_json(result.indexes, result.pruned, dry_run=False))
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


COMMANDS = {
    "mirror": o.Command(
        "mirror",
        "make a mirror for air-gapped networks or a CI fleet",
        ("xbuildenv mirror sync ./mirror --python 3.13 --latest 2",),
        children=(
            o.Command(
                "sync",
                "copy release indexes and their archives (verified) to a folder or object store",
                (
                    "xbuildenv mirror sync ./mirror --python 3.13 --latest 2",
                    "xbuildenv mirror sync s3://bucket/xbuildenv --channel stable "
                    "--channel nightly --prune",
                    "xbuildenv mirror sync ./mirror --base-url https://mirror.example/xbuildenv "
                    "--dry-run",
                ),
                args=(
                    o.Opt(
                        "dest",
                        metavar="DEST",
                        help="a folder, or an fsspec URL (s3://bucket/prefix)",
                    ),
                    o.Opt(
                        "--channel",
                        action="append",
                        choices=("stable", "stable-debug", "nightly", "nightly-debug"),
                        help="channel to mirror (repeatable; default: stable)",
                    ),
                    o.Opt(
                        "--version",
                        action="append",
                        metavar="SPEC",
                        help="a version or PEP 440 specifier such as '>=0.28,<0.30' (repeatable)",
                    ),
                    o.Opt(
                        "--python",
                        action="append",
                        metavar="X.Y",
                        help="only releases for this Python (repeatable)",
                    ),
                    o.Opt(
                        "--latest",
                        type=int,
                        metavar="N",
                        help="only the N newest selected releases",
                    ),
                    o.Opt(
                        "--prune",
                        action="store_true",
                        help="remove archives no index lists any more",
                    ),
                    o.Opt(
                        "--base-url",
                        metavar="URL",
                        help="write absolute archive URLs under URL (pyodide-build needs them); "
                        "default: relative to the index",
                    ),
                    o.Opt(
                        "--metadata",
                        metavar="URL_OR_PATH",
                        help="mirror this index instead of the stable channel",
                    ),
                    o.Opt("--dry-run", action="store_true", help="only say what would be fetched"),
                    o.Opt(
                        "--emscripten",
                        action="store_true",
                        help="also add this machine's stored Emscripten SDKs, packed (for "
                        "install-emscripten through XBUILDENV_MIRROR)",
                    ),
                ),
                shared=("exclude_newer", "json", "verbosity"),
                handler=cmd_mirror_sync,
            ),
        ),
    )
}
