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
    {"_version", "redaction", "errors", "records", "checkpoints"},
    {"fs"},
    {"settings"},
    {"net"},
    {"cache"},
    {"index"},
    {"install"},
    {"tools", "mirror"},
    # the facade and pyodide-build's names
    {"manager", "compat"},
    {"cli"},
    {"__init__", "__main__"},
]


def rank(unit: str) -> int:
    for number, names in enumerate(LAYERS):
        if unit in names:
            return number
    raise AssertionError(f"{unit} is in no layer: add it to LAYERS")


def modules(package: Path = PACKAGE) -> list[str]:
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        names.append(".".join(("xbuildenv", *parts)))
    return names


def unit_of(module: str) -> str:
    """The layer unit of a dotted module name: its subpackage, or its top-level name."""
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    if not (PACKAGE / parts[1]).is_dir() and not (PACKAGE / f"{parts[1]}.py").is_file():
        return "__init__"  # ``from xbuildenv import name``: an attribute of the package
    return parts[1]


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


def upward_imports(package: Path = PACKAGE) -> list[str]:
    problems = []
    for module in modules(package):
        path = package.joinpath(*module.split(".")[1:])
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        own = rank(unit_of(module))
        for line, target in imports_of(path, module):
            if rank(unit_of(target)) > own:
                problems.append(f"{path.relative_to(package)}:{line} imports {target}")
    return problems


def test_imports_go_down_the_layers_only() -> None:
    assert upward_imports() == []


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("fs/paths.py", "from ..cache import layout"),
        ("fs/locks.py", "from ..settings.dirs import cache_home"),
        ("cache/root.py", "from ..index import releases"),
        ("net/fetch.py", "from .. import __version__"),
    ],
)
def test_a_planted_upward_import_is_found(tmp_path: Path, module: str, line: str) -> None:
    """The check is live: a copy of the package with one upward import fails it."""
    import shutil

    copy = tmp_path / "xbuildenv"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}\n")
    found = upward_imports(copy)
    assert len(found) == 1 and found[0].startswith(module), found


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


def test_public_names_resolve_and_the_old_alias_modules_are_gone() -> None:
    import importlib
    import inspect

    for name in xbuildenv.__all__:
        value = getattr(xbuildenv, name)
        assert inspect.isclass(value) or inspect.isfunction(value) or name == "__version__", name
    for old in ("build_config", "emsdk", "host_packages", "makefile_envs", "shell_env"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"xbuildenv.{old}")


def test_the_version_is_written_once() -> None:
    """pyproject reads the version from _version.py; the installed metadata agrees."""
    import importlib.metadata
    import tomllib

    from xbuildenv._version import __version__

    pyproject = tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"]
    assert "version" not in pyproject["project"]
    assert importlib.metadata.version("xbuildenv") == __version__ == xbuildenv.__version__
