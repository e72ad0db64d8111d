"""What ``install`` says when it is done: a sentence per outcome, or JSON."""

from __future__ import annotations

import argparse
from typing import Any

from ..install.installer import InstallResult
from .output import info, print_json


def report_install(args: argparse.Namespace, manager: Any, result: InstallResult) -> None:
    if args.json:
        print_json({"root": str(manager.env_dir), **result.to_json()})
        return
    quiet = args.quiet
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
            "shared the files of an identical environment in another root: nothing downloaded",
            quiet,
        )
    elif result.route == "store":
        info("unpacked from the machine-wide archive store: nothing downloaded", quiet)
    info(f"Pyodide cross-build environment {result.version} installed at {manager.env_dir}", quiet)
