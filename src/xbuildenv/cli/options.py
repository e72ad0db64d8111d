"""What every command module shares: the parser class, the common options, and the
two ways a command reaches the library (the resolved root, or a manager).

Kept small and free of heavy imports: the read commands load it on every run.
"""

from __future__ import annotations

import argparse

from ..settings.registry import where

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn

# The parser that ran last is the innermost one (a subcommand's): its options are the
# ones an unrecognised option was most likely meant to be.
_innermost: list[argparse.ArgumentParser] = []


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), "did you mean" suggestions, no
    prefix matching (``--meta`` must not silently mean ``--metadata``) and epilogs
    printed as written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
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


def flags(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-q`` and ``-v``: accepted before the command (``top``) and after it.

    After the command they default to SUPPRESS, so that a subcommand's parser does not
    overwrite what was given before the command with its own default.
    """
    default: Any = False if top else argparse.SUPPRESS
    p.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="show details and tracebacks"
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="print only results and errors",
    )


def common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--path",
        metavar="DIR",
        help=f"cache root to use (default: {where('PYODIDE_XBUILDENV_PATH')}, "
        "else as pyodide-build)",
    )
    p.add_argument(
        "--python",
        metavar="PYTHON",
        help="target interpreter (default: this one, or the active venv under pipx/uv tool)",
    )
    flags(p)


def json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output (docs/json.md)")


def channel(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nightly", action="store_true", help="use the nightly channel")
    p.add_argument(
        "--debug", action="store_true", help="use debug builds (stable-debug or nightly-debug)"
    )
    p.add_argument(
        "--metadata",
        metavar="URL_OR_PATH",
        help="release index to use instead of the channel's "
        f"(default: {where('PYODIDE_CROSS_BUILD_ENV_METADATA_URL')})",
    )
    p.add_argument(
        "--pyodide-build-version",
        metavar="V",
        help="check compatibility against this pyodide-build version",
    )
    p.add_argument(
        "--refresh",
        action="store_true",
        help="fetch the release index even if cached "
        f"(max age: {where('XBUILDENV_INDEX_MAX_AGE')})",
    )
    p.add_argument("--offline", action="store_true", help="use only the cached release index")
    exclude_newer(p)


def exclude_newer(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--exclude-newer",
        metavar="DATE|SPAN",
        help="ignore releases published at or after this date/time, or this long ago "
        f"(2026-01-31, 7 days, P7D; as uv; default: {where('XBUILDENV_EXCLUDE_NEWER')})",
    )


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
    for line in result.warnings:  # the SPEC reports these as errors, then falls through
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
