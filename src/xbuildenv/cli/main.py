"""The ``xbuildenv`` command: parsing and printing only; the library does the work.

Read commands (``root``, ``version``, ``versions``) import just the small modules
they need so that they answer in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import Interrupted, UsageError, XBuildEnvError

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from typing import Any, NoReturn


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        from .output import error

        error(f"{message}; see '{self.prog} --help'")
        raise SystemExit(2)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--path", metavar="DIR", help="cache root to use (default: as pyodide-build)")
    p.add_argument(
        "--python",
        metavar="PYTHON",
        help="target interpreter (default: this one, or the active venv under pipx/uv tool)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show details and tracebacks")
    p.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")


def _channel(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nightly", action="store_true", help="use the nightly channel")
    p.add_argument(
        "--debug", action="store_true", help="use debug builds (stable-debug or nightly-debug)"
    )
    p.add_argument(
        "--metadata", metavar="URL_OR_PATH", help="release index to use instead of the channel's"
    )
    p.add_argument(
        "--pyodide-build-version",
        metavar="V",
        help="check compatibility against this pyodide-build version",
    )
    p.add_argument("--refresh", action="store_true", help="fetch the release index even if cached")
    p.add_argument("--offline", action="store_true", help="use only the cached release index")


# Commands defined in this module; the others come from modules that import more.
def _command_word(argv: Sequence[str]) -> str | None:
    return next((word for word in argv if not word.startswith("-")), None)


def _add_install(sub: Any) -> None:
    p = sub.add_parser("install", help="download, verify and activate an environment")
    p.add_argument("version", nargs="?", metavar="VERSION", help="default: latest compatible")
    p.add_argument("--url", help="install an archive from this URL instead of a release")
    p.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="install even if incompatible; reinstall if present",
    )
    p.add_argument(
        "--link-mode",
        choices=("hardlink", "copy"),
        help="how to share a tree another root already unpacked (default: hardlink)",
    )
    p.add_argument(
        "--no-upload",
        action="store_true",
        help="read from the remote store (XBUILDENV_REMOTE_STORE) but never write to it",
    )
    _channel(p)
    _common(p)


def _add_use(sub: Any) -> None:
    p = sub.add_parser("use", help="make an installed version the active one")
    p.add_argument("version", metavar="VERSION")
    _common(p)


def _add_version(sub: Any) -> None:
    _common(sub.add_parser("version", help="print the active version"))


def _add_versions(sub: Any) -> None:
    p = sub.add_parser("versions", help="list installed versions (active one marked '* ')")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _common(p)


def _add_uninstall(sub: Any) -> None:
    p = sub.add_parser("uninstall", help="remove a version (default: the active one)")
    p.add_argument("version", nargs="?", metavar="VERSION")
    p.add_argument("--all", action="store_true", help="remove every version in the root")
    _common(p)


def _add_search(sub: Any) -> None:
    p = sub.add_parser("search", help="list published environments")
    p.add_argument("-a", "--all", action="store_true", help="include incompatible releases")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _channel(p)
    _common(p)


def _add_root(sub: Any) -> None:
    p = sub.add_parser("root", help="print the cache root and why it was chosen")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _common(p)


_CORE_COMMANDS = {
    "install": _add_install,
    "use": _add_use,
    "version": _add_version,
    "versions": _add_versions,
    "uninstall": _add_uninstall,
    "search": _add_search,
    "root": _add_root,
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; given the command line ``argv``, only what that command needs.

    A core command named in ``argv`` gets a parser with just that command: setting up
    argparse for all of them is a tenth of what `xbuildenv versions` takes, and the
    cache and build-tool modules cost tens of milliseconds to import. ``--help``, an
    unknown command or none at all get everything.
    """
    parser = _Parser(
        prog="xbuildenv",
        description="Manage Pyodide cross-build environments (compatible with pyodide-build).",
    )
    parser.add_argument("--version", action="version", version=f"xbuildenv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    word = _command_word(argv) if argv is not None else None
    if word in _CORE_COMMANDS:
        _CORE_COMMANDS[word](sub)
        return parser
    for add in _CORE_COMMANDS.values():
        add(sub)
    from . import cache_commands as cli_cache

    cli_cache.register(sub)
    from . import tools_commands as cli_tools

    cli_tools.register(sub)
    from . import mirror_commands as cli_mirror

    cli_mirror.register(sub)
    return parser


# --- helpers ------------------------------------------------------------------
def _resolved(args: argparse.Namespace) -> Any:
    from ..settings.config import load_project_config
    from ..settings.root import resolve_root
    from ..settings.target import resolve_target
    from .output import error

    resolved = resolve_root(resolve_target(args.python), load_project_config(), args.path)
    for line in resolved.warnings:  # the SPEC reports these as errors, then falls through
        error(line)
    return resolved


def _manager(args: argparse.Namespace) -> Any:
    from ..manager import XBuildEnvManager
    from ..settings.config import load_project_config
    from ..settings.target import resolve_target
    from .output import error, warn

    manager = XBuildEnvManager(
        args.path,
        getattr(args, "metadata", None),
        target=resolve_target(args.python),
        pyodide_build_version=getattr(args, "pyodide_build_version", None),
        project=load_project_config(),
        refresh=getattr(args, "refresh", False),
        offline=getattr(args, "offline", False),
        link_mode=getattr(args, "link_mode", None),
        warn=warn,
    )
    for line in manager.resolved.warnings:
        error(line)
    return manager


# --- commands -----------------------------------------------------------------
def cmd_root(args: argparse.Namespace) -> int:
    from .output import print_json

    r = _resolved(args)
    if args.json:
        print_json({"root": str(r.path), "rule": r.rule, "install_id": r.install_id})
    else:
        print(r.path)
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    from ..cache.layout import RootLayout

    version = RootLayout(_resolved(args).path).current_version()
    if version is None:
        raise XBuildEnvError(
            "no cross-build environment is active",
            "run 'xbuildenv install' or 'xbuildenv use VERSION'",
        )
    print(version)
    return 0


def _natural(name: str) -> tuple[Any, ...]:
    """PEP 440 order (so 0.28.0a1 lists before 0.28.0); URL-named folders after, by text."""
    from ..cache.ordering import installed_version_key

    return installed_version_key(name)


def cmd_versions(args: argparse.Namespace) -> int:
    from ..cache.layout import RootLayout

    root = _resolved(args).path
    found = sorted(RootLayout(root).list_versions(), key=lambda v: _natural(v.name))
    if args.json:
        from .output import print_json

        print_json(
            {
                "root": str(root),
                "versions": [
                    {"version": v.name, "active": v.active, "python": v.python, "path": str(v.path)}
                    for v in found
                ],
            }
        )
        return 0
    for v in found:
        print(("* " if v.active else "  ") + v.name)
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from .output import info
    from .progress import ProgressBar, interactive

    manager = _manager(args)
    if args.metadata and (args.nightly or args.debug):
        raise UsageError("--metadata cannot be combined with --nightly or --debug")
    manager.tidy()
    bar = ProgressBar("downloading", enabled=interactive() and not args.quiet)
    try:
        result = manager.install(
            args.version,
            url=args.url,
            force_install=args.force,
            nightly=args.nightly,
            debug=args.debug,
            on_progress=bar.update,
            on_wait=lambda msg: info(msg, args.quiet),
            upload=not args.no_upload,
        )
    finally:
        bar.close()
    if result.action == "already installed":
        info(f"Pyodide cross-build environment {result.version} is already installed", args.quiet)
    elif result.action == "refreshed":
        info(
            f"Pyodide cross-build environment {result.version} was made for another Python; "
            f"dropped its host packages and marked it for Python {manager.python_version}",
            args.quiet,
        )
    elif result.route == "linked":
        info(
            "shared the files of an identical environment in another root: nothing downloaded",
            args.quiet,
        )
    elif result.route == "store":
        info("unpacked from the machine-wide archive store: nothing downloaded", args.quiet)
    elif result.route == "remote":
        info("fetched from the remote store: nothing downloaded from the origin", args.quiet)
    info(
        f"Pyodide cross-build environment {result.version} installed at {manager.env_dir}",
        args.quiet,
    )
    return 0


def cmd_use(args: argparse.Namespace) -> int:
    from .output import info

    _manager(args).use_version(args.version)
    info(f"Pyodide cross-build environment {args.version} is now in use", args.quiet)
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    from .output import info

    manager = _manager(args)
    if args.all:
        if args.version:
            raise UsageError("give a VERSION or --all, not both")
        for removed in manager.uninstall_all():
            info(f"Pyodide cross-build environment {removed} uninstalled", args.quiet)
        return 0
    removed = manager.uninstall_version(args.version)
    info(f"Pyodide cross-build environment {removed} uninstalled", args.quiet)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from ..index.compatibility import sort_releases
    from ..index.releases import channel_name
    from .output import print_json
    from .search_view import as_json, as_table

    manager = _manager(args)
    releases = manager.releases(nightly=args.nightly, debug=args.debug)
    ordered = sort_releases(releases.values(), by_published=args.nightly)
    rows = [(r, manager.is_compatible(r)) for r in ordered]
    if not args.all:
        rows = [(r, ok) for r, ok in rows if ok]
    source = channel_name(args.nightly, args.debug) if args.nightly or args.debug else None
    if args.json:
        print_json(as_json(rows, source))
        return 0
    if not rows:
        raise XBuildEnvError(
            f"no cross-build environment is compatible with Python {manager.python_version}",
            "run 'xbuildenv search --all' to see every release",
        )
    print(as_table(rows, source))
    return 0


COMMANDS = {
    "root": cmd_root,
    "install": cmd_install,
    "use": cmd_use,
    "version": cmd_version,
    "versions": cmd_versions,
    "uninstall": cmd_uninstall,
    "search": cmd_search,
}


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C: a BaseException, so no ``except Exception`` on the
    way (a retry loop, a best-effort probe) can swallow it and carry on installing."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
    if not args.command:
        parser.print_help()
        return 2
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        handler = getattr(args, "handler", None) or COMMANDS[args.command]
        return int(handler(args))
    except XBuildEnvError as exc:
        from .output import error

        if args.verbose:
            import traceback

            traceback.print_exc()
        error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt as exc:
        from .output import error

        what = "terminated" if isinstance(exc, _Terminated) else "interrupted"
        error(f"{what}; the work in progress was rolled back")
        return Interrupted.exit_code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # the last line of defence: never a bare traceback
        from .output import error

        if args.verbose:
            import traceback

            traceback.print_exc()
        error(f"unexpected {type(exc).__name__}: {exc}; rerun with --verbose and report it")
        return 1
