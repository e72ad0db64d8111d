"""``xbuildenv completion bash|zsh|fish``: a completion script generated from the parser.

The scripts come from ``shtab``, imported only here. The VERSION of ``use`` and
``uninstall`` completes to the installed versions (of the default root: a ``--path`` on
the command line being completed is not seen), ``--path`` to folders, ``--metadata`` and
``--url`` to files.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import options as o

SHELLS = ("bash", "zsh", "fish")
# "* 0.29.4" / "  0.29.3 (nightly)" -> the names (the marker and the channel note cut
# off); nothing at all when no root exists yet. No "$" in it: fish would expand it
# inside the double quotes shtab puts the command in.
INSTALLED = "xbuildenv versions 2>/dev/null | cut -c3- | sed -e 's/ (.*//'"


def register(sub: Any, root: argparse.ArgumentParser) -> None:
    p = o.add(
        sub,
        "completion",
        "print a shell completion script",
        "source <(xbuildenv completion bash)     # or in ~/.bashrc",
        'xbuildenv completion zsh > "${fpath[1]}/_xbuildenv"',
        "xbuildenv completion fish > ~/.config/fish/completions/xbuildenv.fish",
    )
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    p.set_defaults(handler=cmd_completion, root_parser=root)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _mark(parser: argparse.ArgumentParser, shtab: Any, command: str = "") -> None:
    """Tell shtab what each value is: installed versions, folders, files."""
    for action in parser._actions:
        if command in ("use", "uninstall") and action.dest == "version":
            action.complete = shtab.cmd(INSTALLED)  # type: ignore[attr-defined]
        elif action.dest == "path":
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
        elif action.dest in ("metadata", "url"):
            action.complete = shtab.FILE  # type: ignore[attr-defined]
    for name, child in _subparsers(parser).items():
        _mark(child, shtab, name)


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    parser: argparse.ArgumentParser = args.root_parser
    _mark(parser, shtab)
    print(shtab.complete(parser, shell=args.shell))
    return 0
