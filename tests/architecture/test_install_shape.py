"""The install path stays small enough to read: short functions, short parameter lists.

One :class:`~xbuildenv.install.request.InstallRequest` and one
:class:`~xbuildenv.install.reporter.Reporter` travel from the manager to the byte
stream instead of a dozen parameters and five callbacks; this test keeps it that way
by reading the source (the AST), so a new long function or parameter list fails here
rather than in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import xbuildenv

PACKAGE = Path(xbuildenv.__file__).parent
# Every module an install goes through below the CLI.
INSTALL_PATH = [*sorted((PACKAGE / "install").glob("*.py")), PACKAGE / "manager.py"]
MAX_LINES = 60
MAX_PARAMS = 6  # besides self/cls and an InstallRequest
# The facade's constructor: the configuration of a manager (root, index, target, policy),
# named as pyodide-build names it; it is not handed down the install path.
CONSTRUCTORS = {("manager.py", "XBuildEnvManager.__init__")}


def _functions(path: Path) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((f"{prefix}{child.name}", child))
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = fn.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return [
        a.arg
        for a in every
        if a.arg not in ("self", "cls")
        and not (a.annotation is not None and "InstallRequest" in ast.unparse(a.annotation))
    ]


def test_the_install_path_is_where_this_test_looks() -> None:
    names = {p.name for p in INSTALL_PATH}
    assert {"installer.py", "materialize.py", "pipeline.py", "archive.py", "manager.py"} <= names
    # the request and the reporter are what replaced the parameter lists
    assert {"request.py", "reporter.py"} <= names


def test_no_long_function_on_the_install_path() -> None:
    long = [
        f"{path.name}:{fn.lineno} {name} ({fn.end_lineno - fn.lineno + 1} lines)"  # type: ignore[operator]
        for path in INSTALL_PATH
        for name, fn in _functions(path)
        if fn.end_lineno - fn.lineno + 1 > MAX_LINES  # type: ignore[operator]
    ]
    assert long == []


def test_no_long_parameter_list_on_the_install_path() -> None:
    wide = [
        f"{path.name}:{fn.lineno} {name} ({len(_params(fn))}: {', '.join(_params(fn))})"
        for path in INSTALL_PATH
        for name, fn in _functions(path)
        if len(_params(fn)) > MAX_PARAMS and (path.name, name) not in CONSTRUCTORS
    ]
    assert wide == []


def test_contexts_are_not_entered_by_hand_on_the_install_path() -> None:
    by_hand = [
        f"{path.name}:{node.lineno} .{node.func.attr}()"
        for path in INSTALL_PATH
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("__enter__", "__exit__")
    ]
    assert by_hand == []
