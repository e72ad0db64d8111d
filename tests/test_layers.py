"""The package's shape: each module imports alone, and imports only go down the layers.

The layers, lowest first, are named in ``LAYERS``; a module may import its own layer
and any layer below it, never one above. Lazy imports inside functions and imports
under ``TYPE_CHECKING`` count too: they are dependencies all the same.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import xbuildenv

PACKAGE = Path(xbuildenv.__file__).resolve().parent

# Lowest first. Top-level modules are named by file; subpackages by folder.
LAYERS: list[set[str]] = [
    {"errors", "records", "checkpoints"},
    {"settings"},
    {"net"},
    {"cache"},
    {"index"},
    {"install"},
    {"tools", "mirror"},
    # the facade, pyodide-build's names, and the 0.1 import paths kept for one release
    {"manager", "compat", "build_config", "host_packages", "emsdk", "shell_env", "makefile_envs"},
    {"cli"},
    {"__init__", "__main__"},
]


def rank(unit: str) -> int:
    for number, names in enumerate(LAYERS):
        if unit in names:
            return number
    raise AssertionError(f"{unit} is in no layer: add it to LAYERS")


def modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        names.append(".".join(("xbuildenv", *parts)))
    return names


def unit_of(module: str) -> str:
    """The layer unit of a dotted module name: its subpackage, or its top-level name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module) for every import of this package in ``path``."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("xbuildenv"):
                if target == "xbuildenv" or not node.module:
                    # ``from . import x``: the names are modules (or package attributes)
                    found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
                else:
                    found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("xbuildenv")]
    return found


def upward_imports() -> list[str]:
    problems = []
    for module in modules():
        path = PACKAGE.joinpath(*module.split(".")[1:])
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        own = rank(unit_of(module))
        for line, target in imports_of(path, module):
            if target in ("xbuildenv", "xbuildenv.__version__"):
                continue  # the version string: defined at the top, read by the CLI
            if rank(unit_of(target)) > own:
                problems.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}")
    return problems


def test_imports_go_down_the_layers_only() -> None:
    assert upward_imports() == []


def test_every_module_is_in_a_layer() -> None:
    for module in modules():
        rank(unit_of(module))


@pytest.mark.parametrize("module", [m for m in modules() if m != "xbuildenv.__main__"])
def test_each_module_imports_alone(module: str) -> None:
    """A fresh interpreter imports the module by itself: no hidden order dependency."""
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_public_names_and_old_paths_are_the_same_objects() -> None:
    from xbuildenv import build_config, emsdk, host_packages, makefile_envs, shell_env

    assert build_config.load_build_config is xbuildenv.load_build_config
    assert emsdk.install_emscripten is xbuildenv.install_emscripten
    assert host_packages.install_host_packages is xbuildenv.install_host_packages
    assert makefile_envs.parse_makefile_envs is xbuildenv.parse_makefile_envs
    assert shell_env.render is xbuildenv.render
    for name in xbuildenv.__all__:
        assert getattr(xbuildenv, name) is not None
