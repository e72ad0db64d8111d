"""The build-tool commands: ``config``, ``install-packages``, ``install-emscripten``,
``env`` and ``run``. Parsing and printing only; the modules they call do the work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ..settings.registry import where
from . import options as o


# --- helpers ------------------------------------------------------------------
def _build_config(args: argparse.Namespace) -> Any:
    from ..tools.build_config import load_build_config, python_mismatch
    from .output import warn

    manager = o.manager(args)
    root = manager.pyodide_root
    config = load_build_config(
        root, project=manager.project, pyodide_build_dir=manager.target.pyodide_build_dir
    )
    if config.unresolved and args.verbose:
        warn("not evaluated (they would run commands): " + ", ".join(sorted(config.unresolved)))
    stale = python_mismatch(root, manager.python_version, manager.resolved)
    if stale is not None:
        warn(stale)
    return manager, config


def show_tool_tail(lines: list[str]) -> None:
    for line in lines:
        sys.stderr.write(f"  | {line}\n")


def tool_printer(enabled: bool) -> Callable[[str], None] | None:
    """Pass a tool's output through to stderr as it comes, or (None) keep it quiet."""
    if not enabled:
        return None

    def show(line: str) -> None:
        # Indented like a failure's tail: a tool's own "error:" lines must not read as ours.
        sys.stderr.write(f"  | {line}\n")
        sys.stderr.flush()

    return show


# --- commands -----------------------------------------------------------------
def cmd_config_list(args: argparse.Namespace) -> int:
    _, config = _build_config(args)
    values = config.as_dict()
    if args.json:
        from .output import print_json

        print_json(values)  # the keys are config's own: see docs/reference/json.md
        return 0
    for key, value in values.items():
        print(f'{key}="{value}"')  # pyodide config list's format, for scripts that parse it
    return 0


def cmd_config_get(args: argparse.Namespace) -> int:
    _, config = _build_config(args)
    print(config.get(args.key))
    return 0


def cmd_install_packages(args: argparse.Namespace) -> int:
    from ..errors import ToolError
    from ..tools.host_options import installer_args, resolve_installer
    from ..tools.host_packages import install_host_packages
    from .output import info

    manager, config = _build_config(args)
    installer = resolve_installer(manager.project, args.installer)
    extra = installer_args(
        index_url=args.index_url, find_links=args.find_links, extra=args.installer_args
    )
    try:
        result = install_host_packages(
            config.pyodide_root,
            config.host_site_packages,
            args.names,
            python=manager.target.interpreter(args.python),
            installer=installer,
            installer_args=extra,
            force=args.force,
            on_line=tool_printer(args.verbose),
        )
    except ToolError as exc:
        if not args.verbose:
            show_tool_tail(exc.output)
        raise
    for name, version in result.installed:
        info(f"installed {name} {version}", args.quiet)
    for name, old, new in result.replaced:
        info(f"replaced {name} {old} with {new}", args.quiet)
    for name, version in result.skipped:
        info(f"{name} {version} is already installed", args.quiet)
    if result.extras_copied:
        info(
            f"copied {result.extras_copied} cross-build files from site-packages-extras", args.quiet
        )
    info(f"cross-build packages are in {result.site_packages}", args.quiet)
    return 0


def cmd_install_emscripten(args: argparse.Namespace) -> int:
    return setup_emscripten(args, args.version, force=args.force, hint=True)


def setup_emscripten(
    args: argparse.Namespace, version: str | None, *, force: bool, hint: bool
) -> int:
    """install-emscripten, and the second half of ``install --with-emscripten``."""
    from ..errors import ToolError
    from ..tools.emsdk import activation_hint, emsdk_url, install_emscripten
    from ..tools.emsdk_sources import sdk_sources
    from ..tools.shell_env import default_shell
    from .output import info, warn

    manager, config = _build_config(args)
    wanted = version or config.emscripten_version
    streaming = not args.quiet and not getattr(args, "json", False)
    try:
        result = install_emscripten(
            config.pyodide_root,
            wanted,
            url=emsdk_url(manager.project, getattr(args, "emsdk_url", None)),
            force=force,
            on_line=tool_printer(streaming),
            expected_version=config.emscripten_version or None,
            warn=warn,
            sources=sdk_sources(
                manager.project, warn, upload=not getattr(args, "no_upload", False)
            ),
            link_mode=manager.link_mode,
        )
    except ToolError as exc:
        if not streaming:
            show_tool_tail(exc.output)
        raise
    if args.verbose and result.key:
        how = {
            "built": "built",
            "store": "linked from the SDK store",
            "remote": "from the remote store",
            "mirror": "from the mirror",
            None: "in place",
        }[result.source]
        info(f"SDK {result.key} ({how}; emsdk revision {result.revision})", args.quiet)
    if result.action == "already installed":
        info(f"Emscripten {result.version} is already installed in {result.emsdk_dir}", args.quiet)
    else:
        info(f"Emscripten {result.version} installed in {result.emsdk_dir}", args.quiet)
    if args.quiet or not hint:
        return 0
    shell = default_shell()
    # The activation line goes to stdout so that it can be copied or eval'd.
    print(f"To use it in this shell: {activation_hint(result.emsdk_dir, shell)}")
    print(
        {
            "powershell": "Or: xbuildenv env --shell powershell | Out-String | Invoke-Expression",
            "cmd": "Or: xbuildenv env --shell cmd > xbuildenv-env.bat && call xbuildenv-env.bat",
            "fish": "Or set every build variable at once: xbuildenv env --shell fish | source",
        }.get(shell, 'Or set every build variable at once: eval "$(xbuildenv env)"')
    )
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from ..tools.shell_env import build_env, default_shell, render

    _, config = _build_config(args)
    text = render(build_env(config), args.shell or default_shell())
    # A value from the process environment may hold bytes that are not UTF-8
    # (surrogate escapes): they go out as the very bytes that came in.
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode(sys.stdout.encoding or "utf-8", "surrogateescape"))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from ..tools.shell_env import build_env, run_in

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    _, config = _build_config(args)
    return run_in(build_env(config), cmd)


# --- the commands, declared -----------------------------------------------------
def _shells() -> tuple[str, ...]:
    from ..tools.shell_env import SHELLS

    return SHELLS


_FORCE = "-f", "--force"
_CONFIG = o.Command(
    "config",
    "show the build variables of the active environment",
    (
        "xbuildenv config list",
        "xbuildenv config get emscripten_version",
        "xbuildenv config list --json",
    ),
    shared=("verbosity",),
    handler=o.PRINT_HELP,
    metavar="SUBCOMMAND",
    children=(
        o.Command(
            "list",
            'every key with its value (key="value")',
            ("xbuildenv config list", "xbuildenv config list --json"),
            shared=("json", *o.COMMON),
            handler=cmd_config_list,
        ),
        o.Command(
            "get",
            "the value of one key",
            ("xbuildenv config get pyodide_root", "xbuildenv config get cflags_base"),
            args=(o.Opt("key", metavar="KEY"),),
            shared=o.COMMON,
            handler=cmd_config_get,
        ),
    ),
)
_INSTALL_PACKAGES = o.Command(
    "install-packages",
    "install the pinned cross-build packages into the host site-packages",
    (
        "xbuildenv install-packages",
        "xbuildenv install-packages numpy --installer uv",
        "xbuildenv install-packages --find-links ./wheels --installer-args '--no-deps'",
    ),
    args=(
        o.Opt("names", nargs="*", metavar="NAME", help="packages to install (default: every pin)"),
        o.Opt(
            "--installer",
            choices=("pip", "uv"),
            help=f"default: {where('XBUILDENV_INSTALLER')}, else pip",
        ),
        o.Opt("--index-url", metavar="URL", help="package index to install from"),
        o.Opt(
            "--find-links",
            metavar="URL_OR_DIR",
            action="append",
            default=[],
            help="extra place to look for wheels (repeatable)",
        ),
        o.Opt(
            "--installer-args",
            metavar="ARGS",
            default="",
            help="more options for pip/uv, as one shell-quoted string",
        ),
        o.Opt(*_FORCE, action="store_true", help="reinstall even if at the pinned version"),
    ),
    shared=o.COMMON,
    handler=cmd_install_packages,
)
_INSTALL_EMSCRIPTEN = o.Command(
    "install-emscripten",
    "install the Emscripten SDK the environment needs",
    ("xbuildenv install-emscripten", "xbuildenv install-emscripten --version 4.0.9 --force"),
    args=(
        o.Opt("--version", metavar="V", help="Emscripten version (default: from Makefile.envs)"),
        o.Opt(*_FORCE, action="store_true", help="reinstall even if installed"),
        o.Opt(
            "--emsdk-url",
            metavar="URL",
            help=f"git URL of emsdk (default: {where('XBUILDENV_EMSDK_URL')}, or upstream)",
        ),
    ),
    shared=o.COMMON,
    handler=cmd_install_emscripten,
)
COMMANDS = {
    c.name: c
    for c in (
        _CONFIG,
        _INSTALL_PACKAGES,
        _INSTALL_EMSCRIPTEN,
        o.Command(
            "env",
            "print shell commands that set the build variables",
            ('eval "$(xbuildenv env)"', "xbuildenv env --shell fish | source"),
            args=(o.Opt("--shell", choices=_shells, help="default: from $SHELL"),),
            shared=o.COMMON,
            handler=cmd_env,
        ),
        o.Command(
            "run",
            "run a command with the build variables set",
            ("xbuildenv run -- make", "xbuildenv run -- sh -c 'echo $PYODIDE_ROOT'"),
            args=(o.Opt("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARG ...]"),),
            shared=o.COMMON,
            handler=cmd_run,
        ),
    )
}
