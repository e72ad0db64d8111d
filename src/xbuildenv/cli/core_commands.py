"""The core commands: ``install``, ``use``, ``version``, ``versions``, ``uninstall``,
``search`` and ``root``. Parsing and printing only; the library does the work.

``COMMANDS`` declares each command, so that ``main`` can build a parser with just the
command asked for; the read commands (``root``, ``version``, ``versions``) import
only the small modules they need, so that they answer in milliseconds.
"""

from __future__ import annotations

import argparse

from ..errors import UsageError, XBuildEnvError
from ..settings.registry import where
from . import options as o

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from typing import Any

    from ..install.reporter import Reporter


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
    return {"root": str(root), **_active(root, version).to_json()}


def _active(root: Any, version: str) -> Any:
    from ..cache.root_layout import InstalledVersion, RootLayout

    layout = RootLayout(root)
    return InstalledVersion(
        version,
        layout.version_dir(version),
        layout.python_marker(version),
        True,
        layout.source_of(version),
    )


def cmd_version(args: argparse.Namespace) -> int:
    from ..cache.root_layout import RootLayout

    project = o.project_config()
    if not args.path:  # as pyodide-build: PYODIDE_ROOT or a source tree pins the version
        from ..settings.pyodide_root import pinned_pyodide_root

        pinned = pinned_pyodide_root(project)
        if pinned is not None:
            from ..tools.makefile_envs import pinned_version

            found = pinned_version(pinned.path, pinned.source)
            if args.json:
                from .output import print_json

                print_json({"schema": 1, "version": found, "pyodide_root": str(pinned.path)})
            else:
                print(found)
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
    print(version + _active(root, version).channel_note)
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    from ..cache.root_layout import RootLayout

    root = o.resolved(args).path
    found = RootLayout(root).list_versions()  # in version order
    if args.json:
        from .output import print_json

        print_json({"root": str(root), "versions": [v.to_json() for v in found]})
        return 0
    for v in found:
        print(("* " if v.active else "  ") + v.name + v.channel_note)
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    import sys

    from ..index.releases import channel_of
    from ..install import FAST_SWITCH_INTERVAL
    from .install_report import report_install
    from .progress import InstallReporter

    manager = o.manager(args)
    # This process is ours alone (a library call leaves the interval to its caller).
    sys.setswitchinterval(FAST_SWITCH_INTERVAL)
    manager.tidy()
    reporter = InstallReporter(args.quiet)
    told: Reporter = reporter  # (checked by mypy: the CLI's reporter is a Reporter)
    try:
        result = manager.install(
            args.version,
            url=args.url,
            force_install=args.force,
            channel=channel_of(args.nightly, args.debug),
            upload=not args.no_upload,
            reporter=told,
        )
    finally:
        reporter.close()
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
    from ..index.compatibility import listing
    from ..index.releases import channel_name
    from .output import print_json
    from .search_view import Checked, as_json, as_table, checked_line

    manager = o.manager(args)
    releases = manager.releases(nightly=args.nightly, debug=args.debug)
    rows = listing(
        releases.values(),
        manager.is_compatible,
        by_published=args.nightly,
        include_incompatible=args.all,
    )
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


# --- the commands, declared -------------------------------------------------------
def _link_modes() -> tuple[str, ...]:
    from ..cache.treelink import LINK_MODES  # slow to import: only when install is parsed

    return LINK_MODES


_OUT = ("json", *o.COMMON)
_SEARCH = (
    "List published environments, the compatible ones first. A release is "
    "compatible when its Python major.minor is the target's and, when a "
    "pyodide-build version is known (installed in the target environment, or "
    "given with --pyodide-build-version), that version lies in the release's "
    "pyodide-build range. Without one no range is checked; the line under the "
    "table and the 'compatibility' object of --json say which was checked."
)
_INSTALL_EXAMPLES = (
    "xbuildenv install                 # the newest release compatible with this Python",
    "xbuildenv install 0.29            # the newest compatible 0.29.x",
    "xbuildenv install --url https://example.org/xbuildenv.tar.bz2 --json",
)
_INSTALL_ARGS = (
    o.Opt(
        "version",
        nargs="?",
        metavar="VERSION",
        help="X.Y.Z, vX.Y.Z, or X.Y for the newest compatible X.Y.* "
        "(default: default_cross_build_env_url in [tool.pyodide.build] "
        "or $DEFAULT_CROSS_BUILD_ENV_URL, else the newest compatible)",
    ),
    o.Opt("--url", help="install an archive from this URL instead of a release"),
    o.Opt(
        "-f",
        "--force",
        action="store_true",
        help="install even if incompatible; reinstall if present",
    ),
    o.Opt(
        "--link-mode",
        choices=_link_modes,
        help="how to share a tree another root already unpacked "
        f"(default: {where('XBUILDENV_LINK_MODE')}, else hardlink)",
    ),
    o.Opt(
        "--no-upload",
        action="store_true",
        help=f"read from the remote store ({where('XBUILDENV_REMOTE_STORE')}) "
        "but never write to it",
    ),
    o.Opt(
        "--with-emscripten",
        action="store_true",
        help="also set up the environment's Emscripten SDK (as install-emscripten)",
    ),
)
COMMANDS = {
    c.name: c
    for c in (
        o.Command(
            "install",
            "download, verify and activate an environment",
            _INSTALL_EXAMPLES,
            args=_INSTALL_ARGS,
            shared=("channel", "exclude_newer", *_OUT),
            handler=cmd_install,
        ),
        o.Command(
            "use",
            "make an installed version the active one",
            ("xbuildenv use 0.29.4", "xbuildenv use 0.29.4 --path ./envs --json"),
            args=(
                o.Opt("version", metavar="VERSION", help="an installed version (see 'versions')"),
            ),
            shared=_OUT,
            handler=cmd_use,
        ),
        o.Command(
            "version",
            "print the active version",
            ("xbuildenv version", "xbuildenv version --json"),
            shared=_OUT,
            handler=cmd_version,
        ),
        o.Command(
            "versions",
            "list installed versions (active one marked '* ')",
            ("xbuildenv versions", "xbuildenv versions --json --path ./envs"),
            shared=_OUT,
            handler=cmd_versions,
        ),
        o.Command(
            "uninstall",
            "remove a version (default: the active one)",
            ("xbuildenv uninstall 0.27.7", "xbuildenv uninstall --all --json"),
            args=(
                o.Opt("version", nargs="?", metavar="VERSION", help="default: the active one"),
                o.Opt("--all", action="store_true", help="remove every version in the root"),
            ),
            shared=_OUT,
            handler=cmd_uninstall,
        ),
        o.Command(
            "search",
            "list published environments",
            (
                "xbuildenv search",
                "xbuildenv search --all --nightly",
                "xbuildenv search --json --metadata ./index.json",
            ),
            description=_SEARCH,
            args=(o.Opt("-a", "--all", action="store_true", help="include incompatible releases"),),
            shared=("json", "channel", "exclude_newer", *o.COMMON),
            handler=cmd_search,
        ),
        o.Command(
            "root",
            "print the cache root and why it was chosen",
            ("xbuildenv root", "PYODIDE_XBUILDENV_PATH=/opt/envs xbuildenv root --json"),
            shared=_OUT,
            handler=cmd_root,
        ),
    )
}
