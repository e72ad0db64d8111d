"""The ``xbuildenv`` command: the parser, and dispatch to the command modules.

``core_commands`` (install, use, version, versions, uninstall, search, root),
``cache_commands`` (cache, gc), ``tools_commands`` (config, env, run, ...) and
``completion`` each add their commands to the parser; shared options live in
``options``. Nothing here imports more than the command asked for needs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import INTERRUPTED_EXIT_CODE, XBuildEnvError
from . import core_commands, options


def _command_word(argv: Sequence[str]) -> str | None:
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; given the command line ``argv``, only what that command needs.

    A core command named in ``argv`` gets a parser with just that command: setting up
    argparse for all of them is a tenth of what `xbuildenv versions` takes, and the
    cache and build-tool modules cost tens of milliseconds to import. ``--help``, an
    unknown command or none at all get everything.
    """
    parser = options.Parser(
        prog="xbuildenv",
        description="Manage Pyodide cross-build environments (compatible with pyodide-build).",
        epilog=options.examples(
            "xbuildenv install && xbuildenv install-emscripten",
            "xbuildenv -v install 0.29 --json",
            "xbuildenv COMMAND --help          # each command's options and examples",
        ),
    )
    parser.add_argument("--version", action="version", version=f"xbuildenv {__version__}")
    options.top_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=options.Parser)
    word = _command_word(argv) if argv is not None else None
    if word in core_commands.COMMANDS:
        core_commands.COMMANDS[word].add_to(sub)
        return parser
    from . import cache_commands, completion, mirror_commands, tools_commands

    for group in (core_commands, cache_commands, tools_commands, mirror_commands):
        for command in group.COMMANDS.values():
            command.add_to(sub)
    completion.register(sub, parser)
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C: a BaseException, so no ``except Exception`` on the
    way (a retry loop, a best-effort probe) can swallow it and carry on installing."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    from .output import RedactingStream

    streams = sys.stdout, sys.stderr
    # Every byte the command prints goes through redaction (and back afterwards, for
    # callers that run main() in-process).
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
    if not args.command:
        parser.print_help()
        return 2
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(args.handler(args))
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
        return INTERRUPTED_EXIT_CODE
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
