"""Which installer ``install-packages`` runs, and the options it passes on to it.

Resolved here rather than on the command line so that library callers get the same
rules: ``installer`` given, else ``XBUILDENV_INSTALLER``, else ``installer`` in
``[tool.xbuildenv]``, else pip; and the extra options as pip and uv both spell them.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from ..errors import UsageError
from ..settings.config import ProjectConfig, setting

INSTALLERS = ("pip", "uv")
ENV_INSTALLER = "XBUILDENV_INSTALLER"


def resolve_installer(project: ProjectConfig, given: str | None = None) -> str:
    """``pip`` or ``uv``; a configured value that is neither is a usage error."""
    installer = given or setting(project, ENV_INSTALLER, "installer") or "pip"
    if installer not in INSTALLERS:
        raise UsageError(
            f"installer {installer!r} is not one of: {', '.join(INSTALLERS)}",
            f"fix {ENV_INSTALLER}",
        )
    return installer


def installer_args(
    *, index_url: str | None = None, find_links: Sequence[str] = (), extra: str = ""
) -> list[str]:
    """pip/uv options: the index, extra places for wheels, and ``extra`` (one
    shell-quoted string, as ``--installer-args`` takes it) split into words."""
    args: list[str] = []
    if index_url:
        args += ["--index-url", index_url]
    for link in find_links:
        args += ["--find-links", link]
    try:
        args += shlex.split(extra)
    except ValueError as exc:
        raise UsageError(f"--installer-args is not valid shell quoting: {exc}") from None
    return args
