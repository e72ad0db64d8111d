"""The core commands: ``install``, ``use``, ``version``, ``versions``, ``uninstall``,
``search`` and ``root``. Parsing and printing only; the library does the work.

Each ``add_*`` function adds one command, so that ``main`` can build a parser with just
the command asked for; the read commands (``root``, ``version``, ``versions``) import
only the small modules they need, so that they answer in milliseconds.
"""

from __future__ import annotations

import argparse

from ..errors import UsageError, XBuildEnvError
from . import options as o

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from typing import Any


# --- parsers ----------------------------------------------------------------------
def add_install(sub: Any) -> None:
    p = o.add(
        sub,
        "install",
        "download, verify and activate an environment",
        "xbuildenv install                 # the newest release compatible with this Python",
        "xbuildenv install 0.29            # the newest compatible 0.29.x",
        "xbuildenv install --url https://example.org/xbuildenv.tar.bz2 --json",
    )
    p.add_argument(
        "version",
        nargs="?",
        metavar="VERSION",
        help="X.Y.Z, vX.Y.Z, or X.Y for the newest compatible X.Y.* "
        "(default: default_cross_build_env_url in [tool.pyodide.build] "
        "or $DEFAULT_CROSS_BUILD_ENV_URL, else the newest compatible)",
    )
    p.add_argument("--url", help="install an archive from this URL instead of a release")
    p.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="install even if incompatible; reinstall if present",
    )
    from ..cache.treelink import LINK_MODES

    p.add_argument(
        "--link-mode",
        choices=LINK_MODES,
        help="how to share a tree another root already unpacked "
        "(default: $XBUILDENV_LINK_MODE, link_mode in [tool.xbuildenv], else hardlink)",
    )
    p.add_argument(
        "--no-upload",
        action="store_true",
        help="read from the remote store ($XBUILDENV_REMOTE_STORE, remote_store in "
        "[tool.xbuildenv]) but never write to it",
    )
    p.add_argument(
        "--with-emscripten",
        action="store_true",
        help="also set up the environment's Emscripten SDK (as install-emscripten)",
    )
    o.channel(p)
    o.json_flag(p)
    o.common(p)
    p.set_defaults(handler=cmd_install)


def add_use(sub: Any) -> None:
    p = o.add(
        sub,
        "use",
        "make an installed version the active one",
        "xbuildenv use 0.29.4",
        "xbuildenv use 0.29.4 --path ./envs --json",
    )
    p.add_argument("version", metavar="VERSION", help="an installed version (see 'versions')")
    o.json_flag(p)
    o.common(p)
    p.set_defaults(handler=cmd_use)


def add_version(sub: Any) -> None:
    p = o.add(
        sub,
        "version",
        "print the active version",
        "xbuildenv version",
        "xbuildenv version --json",
    )
    o.json_flag(p)
    o.common(p)
    p.set_defaults(handler=cmd_version)


def add_versions(sub: Any) -> None:
    p = o.add(
        sub,
        "versions",
        "list installed versions (active one marked '* ')",
        "xbuildenv versions",
        "xbuildenv versions --json --path ./envs",
    )
    o.json_flag(p)
    o.common(p)
    p.set_defaults(handler=cmd_versions)


def add_uninstall(sub: Any) -> None:
    p = o.add(
        sub,
        "uninstall",
        "remove a version (default: the active one)",
        "xbuildenv uninstall 0.27.7",
        "xbuildenv uninstall --all --json",
    )
    p.add_argument("version", nargs="?", metavar="VERSION", help="default: the active one")
    p.add_argument("--all", action="store_true", help="remove every version in the root")
    o.json_flag(p)
    o.common(p)
    p.set_defaults(handler=cmd_uninstall)


def add_search(sub: Any) -> None:
    p = o.add(
        sub,
        "search",
        "list published environments",
        "xbuildenv search",
        "xbuildenv search --all --nightly",
        "xbuildenv search --json --metadata ./index.json",
        description=(
            "List published environments, the compatible ones first. A release is "
            "compatible when its Python major.minor is the target's and, when a "
            "pyodide-build version is known (installed in the target environment, or "
            "given with --pyodide-build-version), that version lies in the release's "
            "pyodide-build range. Without one no range is checked; the line under the "
            "table and the 'compatibility' object of --json say which was checked."
        ),
    )
    p.add_argument("-a", "--all", action="store_true", help="include incompatible releases")
    o.json_flag(p)
    o.channel(p)
    o.common(p)
    p.set_defaults(handler=cmd_search)


def add_root(sub: Any) -> None:
    p = o.add(
        sub,
        "root",
        "print the cache root and why it was chosen",
        "xbuildenv root",
        "PYODIDE_XBUILDENV_PATH=/opt/envs xbuildenv root --json",
    )
    o.json_flag(p)
    o.common(p)
    p.set_defaults(handler=cmd_root)


PARSERS = {
    "install": add_install,
    "use": add_use,
    "version": add_version,
    "versions": add_versions,
    "uninstall": add_uninstall,
    "search": add_search,
    "root": add_root,
}


# --- commands ---------------------------------------------------------------------
def cmd_root(args: argparse.Namespace) -> int:
    r = o.resolved(args)
    if args.json:
        from .output import print_json

        print_json(r.to_json())
    else:
        print(r.path)
    return 0


def _active_json(root: Any, version: str) -> dict[str, Any]:
    """``version --json`` and ``use --json``: the active ``version`` of ``root``."""
    from ..cache.layout import InstalledVersion, RootLayout

    layout = RootLayout(root)
    found = InstalledVersion(
        version, layout.version_dir(version), layout.python_marker(version), True
    )
    return {"root": str(root), **found.to_json()}


def cmd_version(args: argparse.Namespace) -> int:
    from ..cache.layout import RootLayout

    project = o.project_config()
    if not args.path:  # as pyodide-build: PYODIDE_ROOT or a source tree pins the version
        from ..settings.pyodide_root import pinned_pyodide_root

        pinned = pinned_pyodide_root(project)
        if pinned is not None:
            pinned_version = _pinned_version(pinned.path, pinned.source)
            if args.json:
                from .output import print_json

                print_json(
                    {"schema": 1, "version": pinned_version, "pyodide_root": str(pinned.path)}
                )
            else:
                print(pinned_version)
            return 0
    root = o.resolved(args, project).path
    version = RootLayout(root).current_version()
    if version is None:
        raise XBuildEnvError(
            "no cross-build environment is active",
            "run 'xbuildenv install' or 'xbuildenv use VERSION'",
        )
    if args.json:
        from .output import print_json

        print_json(_active_json(root, version))
        return 0
    print(version)
    return 0


def _pinned_version(pyodide_root: Any, source: str) -> str:
    """The version folder of a pinned pyodide-root, else its ``PYODIDE_VERSION``."""
    from ..settings.pyodide_root import version_of

    version = version_of(pyodide_root)
    if version is not None:
        return version
    import os

    from ..tools.makefile_envs import parse_makefile_envs

    made = parse_makefile_envs(pyodide_root, dict(os.environ)).exported()
    version = made.get("PYODIDE_VERSION", "").strip()
    if not version:
        raise XBuildEnvError(
            f"the pyodide-root {pyodide_root} (from {source}) names no PYODIDE_VERSION",
            "check its Makefile.envs",
        )
    return version


def cmd_versions(args: argparse.Namespace) -> int:
    from ..cache.layout import RootLayout

    root = o.resolved(args).path
    found = RootLayout(root).list_versions()  # in version order
    if args.json:
        from .output import print_json

        print_json({"root": str(root), "versions": [v.to_json() for v in found]})
        return 0
    for v in found:
        print(("* " if v.active else "  ") + v.name)
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from .install_report import report_install
    from .output import info
    from .progress import ProgressBar, interactive

    manager = o.manager(args)
    if args.metadata and (args.nightly or args.debug):
        raise UsageError("--metadata cannot be combined with --nightly or --debug")
    manager.tidy()
    progress = ProgressBar("downloading", enabled=interactive() and not args.quiet)
    try:
        result = manager.install(
            args.version,
            url=args.url,
            force_install=args.force,
            nightly=args.nightly,
            debug=args.debug,
            on_progress=progress.update,
            on_wait=lambda msg: info(msg, args.quiet),
            upload=not args.no_upload,
        )
    finally:
        progress.close()
    report_install(args, manager, result)
    if args.with_emscripten:
        from .tools_commands import setup_emscripten

        setup_emscripten(args, None, force=False, hint=False)
    return 0


def cmd_use(args: argparse.Namespace) -> int:
    from .output import info

    manager = o.manager(args)
    manager.use_version(args.version)
    if args.json:
        from .output import print_json

        print_json(_active_json(manager.env_dir, args.version))
        return 0
    info(f"Pyodide cross-build environment {args.version} is now in use", args.quiet)
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    from .output import info

    manager = o.manager(args)
    if args.all:
        if args.version:
            raise UsageError("give a VERSION or --all, not both")
        removed = manager.uninstall_all()
    else:
        removed = [manager.uninstall_version(args.version)]
    if args.json:
        from .output import print_json

        print_json({"root": str(manager.env_dir), "uninstalled": removed})
        return 0
    for version in removed:
        info(f"Pyodide cross-build environment {version} uninstalled", args.quiet)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from ..index.compatibility import sort_releases
    from ..index.releases import channel_name
    from .output import print_json
    from .search_view import Checked, as_json, as_table, checked_line

    manager = o.manager(args)
    releases = manager.releases(nightly=args.nightly, debug=args.debug)
    ordered = sort_releases(releases.values(), by_published=args.nightly)
    rows = [(r, manager.is_compatible(r)) for r in ordered]
    if not args.all:
        rows = [(r, ok) for r, ok in rows if ok]
    source = channel_name(args.nightly, args.debug) if args.nightly or args.debug else None
    checked = Checked(
        manager.python_version, manager.pyodide_build_version, manager.pyodide_build_source
    )
    if args.json:
        print_json(as_json(rows, source, checked))
        return 0
    if not rows:
        raise XBuildEnvError(
            f"no cross-build environment is compatible with Python {manager.python_version}",
            "run 'xbuildenv search --all' to see every release",
        )
    print(as_table(rows, source))
    print(checked_line(checked))
    return 0
