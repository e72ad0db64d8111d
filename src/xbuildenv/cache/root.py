"""Where environments live: the cache root and the install id.

The rules (first hit wins) are the ones pyodide-build uses, so both tools find the
same root in the same virtual environment:

1. ``--path DIR``
2. ``PYODIDE_XBUILDENV_PATH``
3. ``xbuildenv_path`` in ``[tool.pyodide.build]`` of the nearest pyproject.toml
4. ``user_cache_dir("pyodide-build")/.pyodide-xbuildenv-<install-id>``
5. ``<cwd>/.pyodide-xbuildenv-<install-id>`` when 4 is not writable

A configured root (2, 3) that is not writable is reported and skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..records import Record
from ..settings.config import ENV_XBUILDENV_PATH, KEY_XBUILDENV_PATH, ProjectConfig, env_str
from ..settings.dirs import cache_home, is_writable
from ..settings.target import TargetEnv
from .layout import ROOT_PREFIX

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ResolvedRoot", "install_id", "resolve_root"]


def install_id(target: TargetEnv) -> str:
    """12 hex digits naming one Python environment + one build-tool installation."""
    package_dir = target.pyodide_build_dir or Path(__file__).resolve().parent.parent
    scope = f"{target.prefix}\0{package_dir}"
    return _sha256_hex(scope.encode())[:12]


def _sha256_hex(data: bytes) -> str:
    # Every command computes the install id; hashlib loads OpenSSL for it (1.5-3 ms of
    # the ~30 ms `xbuildenv version` takes), where CPython's built-in sha256 is enough.
    try:
        from _sha2 import sha256  # type: ignore[import-not-found, unused-ignore]  # 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found, no-redef, unused-ignore]
        except ImportError:
            from hashlib import sha256
    return str(sha256(data).hexdigest())


class ResolvedRoot(Record):
    __slots__ = ("install_id", "path", "rule", "warnings")

    def __init__(
        self, path: Path, rule: str, install_id: str, warnings: tuple[str, ...] = ()
    ) -> None:
        self.path = path
        self.rule = rule  # human-readable name of the rule that chose it
        self.install_id = install_id
        self.warnings = warnings

    def to_json(self) -> dict[str, Any]:
        return {"root": str(self.path), "rule": self.rule, "install_id": self.install_id}


def resolve_root(
    target: TargetEnv,
    project: ProjectConfig,
    cli_path: str | os.PathLike[str] | None = None,
    cwd: Path | None = None,
) -> ResolvedRoot:
    """Apply the rules above; never raises for an unwritable configured root."""
    iid = install_id(target)
    if cli_path:
        return ResolvedRoot(Path(cli_path).expanduser().absolute(), "--path", iid)

    warnings: list[str] = []
    configured: list[tuple[Path, str]] = []
    env_value = env_str(ENV_XBUILDENV_PATH)
    if env_value:
        configured.append((Path(env_value).expanduser(), ENV_XBUILDENV_PATH))
    project_value = project.get_path(KEY_XBUILDENV_PATH)
    if project_value is not None:
        configured.append((project_value, f"{KEY_XBUILDENV_PATH} in {project.path}"))
    if configured:
        # Only the first configured source counts: the environment variable overrides
        # the file, it does not merely come before it.
        path, source = configured[0]
        path = path.absolute()
        if is_writable(path):
            return ResolvedRoot(path, source, iid)
        warnings.append(
            f"{path} (from {source}) is not writable; using the default location instead"
        )

    dirname = ROOT_PREFIX + iid
    default = cache_home() / dirname
    if is_writable(default):
        return ResolvedRoot(default, "user cache", iid, tuple(warnings))
    fallback = (cwd or Path.cwd()) / dirname
    if not is_writable(fallback):
        warnings.append(f"neither {default} nor {fallback} is writable")
    return ResolvedRoot(fallback, "working directory", iid, tuple(warnings))
