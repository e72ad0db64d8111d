"""What ``install`` says when it is done: a sentence per outcome, the details with
``--verbose``, the fetched-archive line in logs, or JSON."""

from __future__ import annotations

import argparse
from typing import Any

from ..install.installer import InstallResult
from .output import info, print_json
from .progress import fetched_line, interactive
from .units import format_bytes


def details(result: InstallResult) -> list[str]:
    """``install -v``: release, URL, size, route, sha256 and the time of each phase."""
    size = result.archive_bytes
    lines = [
        f"  release: {result.version} ({result.action})",
        f"  url:     {result.url or '-'}",
        f"  size:    {f'{format_bytes(size)} ({size} bytes)' if size is not None else '-'}",
        f"  route:   {result.route or '-'}",
        f"  sha256:  {result.sha256 or '-'}",
    ]
    if result.phases:
        phases = ", ".join(f"{name} {sec:.2f} s" for name, sec in result.phases)
        lines.append(f"  time:    {phases}")
    return lines


def report_install(args: argparse.Namespace, manager: Any, result: InstallResult) -> None:
    if args.json:
        print_json({"root": str(manager.env_dir), **result.to_json()})
        return
    quiet = args.quiet
    if not interactive() and (line := fetched_line(result)):
        info(line, quiet)  # no bar was drawn: say once what was fetched, for logs
    if args.verbose:
        for line in details(result):
            info(line, quiet)
    if result.action == "already installed":
        info(f"Pyodide cross-build environment {result.version} is already installed", quiet)
    elif result.action == "refreshed":
        info(
            f"Pyodide cross-build environment {result.version} was made for another Python; "
            f"dropped its host packages and marked it for Python {manager.python_version}",
            quiet,
        )
    elif result.route == "linked":
        info(
            # Linked or copied (--link-mode copy): either way the files are the ones
            # unpacked before on this machine, not fetched again.
            "reused the environment unpacked before on this machine: nothing downloaded",
            quiet,
        )
    elif result.route == "store":
        info("unpacked from the machine-wide archive store: nothing downloaded", quiet)
    elif result.route == "remote":
        info("fetched from the remote store: nothing downloaded from the origin", quiet)
    info(f"Pyodide cross-build environment {result.version} installed at {manager.env_dir}", quiet)
