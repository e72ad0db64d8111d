"""What every command module shares: the parser class; the declarations a command
module's ``COMMANDS`` table is written in (:class:`Command`, :class:`Opt`) with the
options several commands take, once, in ``SHARED``; and the two ways a command reaches
the library (the resolved root, or a manager).

Kept small and free of heavy imports: the read commands load it on every run.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..settings.registry import where

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn

# The parser that ran last is the innermost one (a subcommand's): its options are the
# ones an unrecognised option was most likely meant to be.
_innermost: list[argparse.ArgumentParser] = []


def _columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing ``shutil``.

    argparse's formatter asks shutil for the width each time it is made, and it is
    made for every argument added; importing shutil (and with it bz2, lzma and zlib)
    is a twentieth of what ``xbuildenv version`` takes. Same rules: ``$COLUMNS`` if
    positive, else the terminal of ``sys.__stdout__``, else 80.
    """
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Epilogs and descriptions printed as written; the width found without shutil."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
        **kwargs: Any,
    ) -> None:
        if width is None:
            width = _columns() - 2  # as argparse does
        super().__init__(prog, indent_increment, max_help_position, width, **kwargs)


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), "did you mean" suggestions, no
    prefix matching (``--meta`` must not silently mean ``--metadata``) and epilogs
    printed as written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        _innermost.append(self)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        from .output import error
        from .suggest import with_suggestion

        where = _innermost[-1] if _innermost else self
        error(f"{with_suggestion(message, where)} (see '{where.prog} --help')")
        raise SystemExit(2)


class Opt:
    """One argparse argument, declared: ``Opt("--path", metavar="DIR", help=...)``.

    A ``choices`` given as a function is called only when the argument is added, so
    that a table of commands can name choices whose module is slow to import.
    """

    __slots__ = ("flags", "kwargs")

    def __init__(self, *flags: str, **kwargs: Any) -> None:
        self.flags = flags
        self.kwargs = kwargs

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        kwargs = dict(self.kwargs)
        if callable(kwargs.get("choices")):
            kwargs["choices"] = kwargs["choices"]()
        parser.add_argument(*self.flags, **kwargs)


def _verbosity(default: Any) -> tuple[Opt, ...]:
    return (
        Opt(
            "-v",
            "--verbose",
            action="store_true",
            default=default,
            help="show details and tracebacks",
        ),
        Opt(
            "-q",
            "--quiet",
            action="store_true",
            default=default,
            help="print only results and errors",
        ),
    )


# The options several commands share, by name; a command lists the names it takes.
SHARED: dict[str, tuple[Opt, ...]] = {
    # After the command -q/-v default to SUPPRESS, so that a subcommand's parser does
    # not overwrite what was given before the command with its own default.
    "verbosity": _verbosity(argparse.SUPPRESS),
    "json": (Opt("--json", action="store_true", help="machine-readable output (see the docs)"),),
    "path": (
        Opt(
            "--path",
            metavar="DIR",
            help=f"cache root to use (default: {where('PYODIDE_XBUILDENV_PATH')}, "
            "else as pyodide-build)",
        ),
    ),
    "python": (
        Opt(
            "--python",
            metavar="PYTHON",
            help="target interpreter (default: this one, or the active venv under pipx/uv tool)",
        ),
    ),
    "channel": (
        Opt("--nightly", action="store_true", help="use the nightly channel"),
        Opt(
            "--debug", action="store_true", help="use debug builds (stable-debug or nightly-debug)"
        ),
        Opt(
            "--metadata",
            metavar="URL_OR_PATH",
            help="release index to use instead of the channel's "
            f"(default: {where('PYODIDE_CROSS_BUILD_ENV_METADATA_URL')})",
        ),
        Opt(
            "--pyodide-build-version",
            metavar="V",
            help="check compatibility against this pyodide-build version",
        ),
        Opt(
            "--refresh",
            action="store_true",
            help="fetch the release index even if cached "
            f"(max age: {where('XBUILDENV_INDEX_MAX_AGE')})",
        ),
        Opt("--offline", action="store_true", help="use only the cached release index"),
    ),
    "exclude_newer": (
        Opt(
            "--exclude-newer",
            metavar="DATE|SPAN",
            help="ignore releases published at or after this date/time, or this long ago "
            f"(2026-01-31, 7 days, P7D; as uv; default: {where('XBUILDENV_EXCLUDE_NEWER')})",
        ),
    ),
}
# The handler of a command that, given no subcommand, prints its help.
PRINT_HELP = "print help"
# What every command that reaches a root takes: which root, for which Python, how loud.
COMMON = ("path", "python", "verbosity")


class Command:
    """One subcommand, declared: its words, its own arguments (``args``), the names of
    the ``SHARED`` options it takes (added after ``args``, in the order named), the
    function that runs it, and any subcommands (``children``).

    A command with subcommands and no handler requires one of them (a usage error
    without); with ``handler=PRINT_HELP`` it prints its help instead (exit 2)."""

    __slots__ = (
        "args",
        "children",
        "description",
        "examples",
        "handler",
        "help",
        "metavar",
        "name",
        "shared",
    )

    def __init__(
        self,
        name: str,
        help: str,
        examples: Sequence[str],
        *,
        args: Sequence[Opt] = (),
        shared: Sequence[str] = (),
        handler: Callable[[argparse.Namespace], int] | str | None = None,
        description: str | None = None,
        children: Sequence[Command] = (),
        metavar: str = "ACTION",
    ) -> None:
        self.name, self.help, self.examples = name, help, tuple(examples)
        self.args, self.shared, self.handler = tuple(args), tuple(shared), handler
        self.description, self.children = description, tuple(children)
        self.metavar = metavar  # what the usage line calls the subcommand

    def add_to(self, sub: Any) -> argparse.ArgumentParser:
        """Add this command (and its subcommands) to the subparsers object ``sub``."""
        parser = add(sub, self.name, self.help, *self.examples, description=self.description)
        for opt in self.args:
            opt.add_to(parser)
        for name in self.shared:
            for opt in SHARED[name]:
                opt.add_to(parser)
        if self.children:
            children = parser.add_subparsers(
                dest=f"{self.name}_command", metavar=self.metavar, parser_class=type(parser)
            )
            for child in self.children:
                child.add_to(children)
            children.required = self.handler is None
        if self.handler == PRINT_HELP:
            parser.set_defaults(handler=lambda args: _usage(parser))
        elif self.handler is not None:
            parser.set_defaults(handler=self.handler)
        return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def top_flags(parser: argparse.ArgumentParser) -> None:
    """``-q`` and ``-v`` before the command, where they default to False."""
    for opt in _verbosity(False):
        opt.add_to(parser)


def examples(*lines: str) -> str:
    """An epilog listing example command lines."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def add(
    sub: Any, name: str, help: str, *example: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand parser with its examples as the epilog."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description or help[:1].upper() + help[1:] + ".",
        epilog=examples(*example),
    )
    return parser


_WARNED: set[str] = set()  # lines already printed by this command


def project_config() -> Any:
    """``[tool.pyodide.build]`` and ``[tool.xbuildenv]``, warning about unknown keys.

    A command may load the configuration more than once (the root, then the manager);
    each warning is printed the first time only.
    """
    from ..settings.config import load_project_config

    project = load_project_config()
    if project.own:
        from ..settings.config import unknown_own_keys

        for line in unknown_own_keys(project):
            if line not in _WARNED:
                from .output import warn

                _WARNED.add(line)
                warn(line)
    return project


def resolved(args: argparse.Namespace, project: Any = None) -> Any:
    from ..cache.root import resolve_root
    from ..settings.target import resolve_target
    from .output import error

    project = project if project is not None else project_config()
    result = resolve_root(resolve_target(args.python), project, args.path)
    for line in result.warnings:  # errors, though resolution falls through
        error(line)
    return result


def manager(args: argparse.Namespace) -> Any:
    from ..manager import XBuildEnvManager
    from ..settings.target import resolve_target
    from .output import error, info, warn

    made = XBuildEnvManager(
        args.path,
        getattr(args, "metadata", None),
        target=resolve_target(args.python),
        pyodide_build_version=getattr(args, "pyodide_build_version", None),
        project=project_config(),
        refresh=getattr(args, "refresh", False),
        offline=getattr(args, "offline", False),
        link_mode=getattr(args, "link_mode", None),
        warn=warn,
        exclude_newer=getattr(args, "exclude_newer", None),
        note=info if getattr(args, "verbose", False) else None,
    )
    for line in made.resolved.warnings:
        error(line)
    return made
