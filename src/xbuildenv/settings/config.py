"""Configuration: environment variables and ``[tool.pyodide.build]`` in pyproject.toml.

The keys and variables are pyodide-build's own, so a project configured for
``pyodide build`` is configured for ``xbuildenv`` too. Reading is lazy and cheap: the
TOML parser is only imported when a pyproject.toml is actually found.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError
from ..records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ENV_XBUILDENV_PATH = "PYODIDE_XBUILDENV_PATH"
ENV_METADATA_URL = "PYODIDE_CROSS_BUILD_ENV_METADATA_URL"
# Our own additions, documented in the README.
ENV_MAX_UNPACKED = "XBUILDENV_MAX_UNPACKED_BYTES"
DEFAULT_MAX_UNPACKED = 4 * 1024**3  # far above any real environment; stops archive bombs
ENV_RETRIES = "XBUILDENV_RETRIES"
ENV_TIMEOUT = "XBUILDENV_TIMEOUT"
ENV_INDEX_MAX_AGE = "XBUILDENV_INDEX_MAX_AGE"
ENV_LINK_MODE = "XBUILDENV_LINK_MODE"
# Mirrors of the channels PYODIDE_CROSS_BUILD_ENV_METADATA_URL does not cover (the
# stable one it does): for air-gapped CI, and so every channel can be tested offline.
ENV_DEBUG_METADATA_URL = "XBUILDENV_DEBUG_METADATA_URL"
ENV_NIGHTLY_METADATA_URL = "XBUILDENV_NIGHTLY_METADATA_URL"
ENV_NIGHTLY_DEBUG_METADATA_URL = "XBUILDENV_NIGHTLY_DEBUG_METADATA_URL"

PYPROJECT_TABLE = ("tool", "pyodide", "build")
KEY_XBUILDENV_PATH = "xbuildenv_path"
KEY_DEFAULT_URL = "default_cross_build_env_url"


class ProjectConfig(Record):
    """The ``[tool.pyodide.build]`` table of the nearest pyproject.toml (maybe empty)."""

    __slots__ = ("own", "path", "source_tree", "values")

    def __init__(
        self,
        path: Path | None = None,
        values: dict[str, Any] | None = None,
        own: dict[str, Any] | None = None,
        source_tree: bool = False,
    ) -> None:
        self.path = path
        self.values = values or {}
        self.own = own or {}  # our ``[tool.xbuildenv]`` table
        # ``[tool._pyodide]`` present: the file is the top of a Pyodide source tree,
        # which pyodide-build then uses as the pyodide-root.
        self.source_tree = source_tree

    def get_str(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ConfigError(
                f"{self.path}: [tool.pyodide.build] {key} must be a string, "
                f"not {type(value).__name__}",
                "fix the value in that file",
            )
        if "$(" in value:  # pyodide-build replaces $(NAME) with the variable NAME
            import re

            value = re.sub(r"\$\(([^)]+)\)", lambda m: os.environ.get(m.group(1), ""), value)
        return value or None

    def get_path(self, key: str) -> Path | None:
        """A path value; a relative one is taken relative to the pyproject's folder."""
        value = self.get_str(key)
        if value is None:
            return None
        p = Path(value).expanduser()
        if not p.is_absolute() and self.path is not None:
            p = self.path.parent / p
        return p


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml at or above ``start`` (the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_project_config(start: Path | None = None) -> ProjectConfig:
    """Read ``[tool.pyodide.build]`` from the nearest pyproject.toml.

    A pyproject.toml without the table gives an empty config; a file that is not
    valid TOML is an error, because silently ignoring it would pick the wrong root.
    """
    path = find_pyproject(start)
    if path is None:
        return ProjectConfig()
    import tomllib

    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not valid UTF-8", "fix or remove that file") from None
    except (OSError, ValueError, RecursionError) as exc:  # TOMLDecodeError is a ValueError
        what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ConfigError(f"cannot read {path}: {what}", "fix or remove that file") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(
            f"{path}: 'tool' must be a table, not {type(tool).__name__}",
            "fix that file (e.g. [tool.pyodide.build])",
        )
    table: Any = data
    for part in PYPROJECT_TABLE:
        table = table.get(part, {}) if isinstance(table, dict) else {}
    if not isinstance(table, dict):
        table = {}
    own = tool.get("xbuildenv", {})
    return ProjectConfig(
        path=path,
        values=table,
        own=own if isinstance(own, dict) else {},
        source_tree="_pyodide" in tool,
    )


def env_str(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def env_number(name: str, default: float, *, minimum: float = 0) -> float:
    """A numeric environment variable; a bad value is a clear error, not a crash."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a number", f"set {name} to a number or unset it"
        ) from None
    if value != value or value in (float("inf"), float("-inf")):  # nan, inf: no limit
        raise ConfigError(
            f"{name}={raw!r} is not a finite number", f"set {name} to a number or unset it"
        )
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum:g}", f"fix {name}")
    return value


def setting(project: ProjectConfig, env_name: str, key: str) -> str | None:
    """One of our own settings: the environment variable wins over ``[tool.xbuildenv]``."""
    value = env_str(env_name)
    if value is not None:
        return value
    raw = project.own.get(key)
    return None if raw is None else str(raw)


def unknown_own_keys(project: ProjectConfig) -> list[str]:
    """One warning line per key of ``[tool.xbuildenv]`` that the registry of settings
    lacks: a typo (``index_max_aeg``) would otherwise be ignored without a word."""
    from .registry import own_keys

    known = own_keys()
    unknown = sorted(key for key in project.own if key not in known)
    if not unknown:
        return []
    import difflib  # only when there is something to warn about

    lines = []
    for key in unknown:
        near = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
        hint = f"; did you mean '{near[0]}'?" if near else f"; known keys: {', '.join(known)}"
        lines.append(f"{project.path}: unknown key '{key}' in [tool.xbuildenv]{hint}")
    return lines
