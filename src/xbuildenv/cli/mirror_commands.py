"""``mirror sync DEST``: a mirror for air-gapped networks or a CI fleet.

Parsing and printing only; the work (and the checks of its inputs) is in
:mod:`xbuildenv.mirror`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from . import options as o
from .units import format_bytes

if TYPE_CHECKING:
    from ..cache.store import ArchiveStore
    from ..mirror.emsdk import SdkItem
    from ..mirror.plan import Plan
    from ..net.storage import Storage


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


_SDK_VERBS = {"present": "keep", "store": "pack from store", "remote": "fetch and pack",
              "build": "build and pack", "unknown": "after fetching"}  # fmt: skip
_SDK_DONE = {"store": "from the SDK store", "remote": "from the remote store",
             "build": "built here"}  # fmt: skip


def _print_sdk_plan(sdks: list[SdkItem] | None, dest: str) -> None:
    """``mirror sync --emscripten --dry-run``: a line per SDK, then the totals."""
    if sdks is None:
        return
    for item in sdks:
        what = item.key or f"Emscripten {item.emscripten or '(from its Makefile.envs)'}"
        print(f"{_SDK_VERBS[item.action]:<16}{what} for {', '.join(item.environments)}")
    count = {a: sum(i.action == a for i in sdks) for a in _SDK_VERBS}
    later = f"; {count['unknown']} once their archives are fetched" if count["unknown"] else ""
    print(
        f"would build {count['build']} Emscripten SDK(s), pack {count['store']} from the SDK "
        f"store, fetch {count['remote']} from the remote store; {count['present']} already "
        f"in {dest}{later}"
    )


def _sdks(
    args: argparse.Namespace, storage: Storage, plan: Plan, store: ArchiveStore, *, dry_run: bool
) -> list[SdkItem] | None:
    """``--emscripten``: the SDKs the mirrored environments need (added unless a dry run)."""
    if not args.emscripten:
        return None
    from ..errors import ToolError
    from ..mirror.emsdk import sync_sdks
    from .output import info, warn
    from .tools_commands import show_tool_tail, tool_printer

    quiet = args.quiet or args.json
    streaming = bool(args.verbose) and not quiet

    def done(item: SdkItem) -> None:
        info(f"packed Emscripten SDK {item.key} ({_SDK_DONE[item.action]}) for "
             f"{', '.join(item.environments)}", quiet)  # fmt: skip

    try:
        return sync_sdks(storage, plan, store, o.project_config(), dry_run=dry_run, warn=warn,
                         on_line=tool_printer(streaming), on_item=done)  # fmt: skip
    except ToolError as exc:
        if not streaming:
            show_tool_tail(exc.output)
        raise


def _with_sdks(data: dict[str, Any], sdks: list[SdkItem] | None) -> dict[str, Any]:
    return data if sdks is None else {**data, "sdks": [i.to_json() for i in sdks]}


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
    if args.dry_run:
        sdks = _sdks(args, storage, plan, store, dry_run=True)
        if args.json:
            print_json(_with_sdks(plan.to_json([], [], dry_run=True), sdks))
            return 0
        _print_plan(plan)
        _print_sdk_plan(sdks, plan.dest)
        return 0
    result = run_sync(
        storage,
        plan,
        base_url=args.base_url,
        prune=args.prune,
        store=store,
        on_item=lambda i: info(f"{i.action:<6} {i.version} ({i.channel}) -> {i.path}", quiet),
    )
    sdks = _sdks(args, storage, plan, store, dry_run=False)
    if args.json:
        print_json(_with_sdks(plan.to_json(result.indexes, result.pruned, dry_run=False), sdks))
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
                        help="also add the mirrored environments' Emscripten SDKs, packed (for "
                        "install-emscripten through XBUILDENV_MIRROR), building those that "
                        "neither this machine nor the remote store has",
                    ),
                ),
                shared=("exclude_newer", "json", "verbosity"),
                handler=cmd_mirror_sync,
            ),
        ),
    )
}
