"""pyodide-build's overridable settings, read where and in the order pyodide-build 0.39 reads them.

For each key below (``OVERRIDABLE_BUILD_KEYS`` of pyodide-build 0.39.2, with the
variable ``BUILD_KEY_TO_VAR`` gives it), the first of these that is present wins:

1. the environment variable, even when it is set to the empty string (pyodide-build
   merges ``os.environ`` last and does not skip empty values);
2. the key in ``[tool.pyodide.build]`` of the nearest pyproject.toml, with ``$(NAME)``
   replaced by the environment variable ``NAME`` and TOML booleans written ``1``/``0``;
3. pyodide-build's default.

The build variables that come from an environment (``Makefile.envs``) sit between 3 and
2; :mod:`xbuildenv.tools.build_config` layers those in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ..records import Record
from .config import ProjectConfig
from .registry import build_keys

# key -> environment variable, from the one registry of settings
OVERRIDABLE: dict[str, str] = build_keys()

_REF = re.compile(r"\$\(([^)]+)\)")


def substitute(value: str, environ: Mapping[str, str]) -> str:
    """``$(NAME)`` -> ``environ[NAME]`` (empty when unset), as pyodide-build does."""
    if "$(" not in value:
        return value
    return _REF.sub(lambda m: environ.get(m.group(1), ""), value)


def pyproject_value(raw: object, environ: Mapping[str, str]) -> str:
    """A ``[tool.pyodide.build]`` value as pyodide-build turns it into a string."""
    # TOML booleans become "1"/"0", like the environment variable convention.
    text = ("1" if raw else "0") if isinstance(raw, bool) else str(raw)
    return substitute(text, environ)


class BuildSetting(Record):
    """The winning value of one overridable key and where it came from."""

    __slots__ = ("key", "source", "value", "variable")

    def __init__(self, key: str, variable: str, value: str | None, source: str) -> None:
        self.key = key
        self.variable = variable
        self.value = value  # None: no source set it (pyodide-build's default applies)
        self.source = source


def build_setting(
    project: ProjectConfig, key: str, environ: Mapping[str, str] | None = None
) -> BuildSetting:
    """The value of ``key`` from the variable, else the pyproject key, else None."""
    env = os.environ if environ is None else environ
    variable = OVERRIDABLE[key]
    if variable in env:
        return BuildSetting(key, variable, env[variable], f"${variable}")
    raw = project.values.get(key)
    if raw is not None:
        where = f"{key} in {project.path}"
        return BuildSetting(key, variable, pyproject_value(raw, env), where)
    return BuildSetting(key, variable, None, "default")


def project_overrides(project: ProjectConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """Variable -> value for every overridable key the pyproject.toml sets."""
    return {
        variable: pyproject_value(project.values[key], environ)
        for key, variable in OVERRIDABLE.items()
        if project.values.get(key) is not None
    }
