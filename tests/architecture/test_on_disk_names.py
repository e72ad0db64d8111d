"""Every on-disk name is spelled once, in ``cache/layout.py``.

A name spelled again elsewhere drifts: one module renames a marker, another keeps
looking for the old one, and a root looks half-installed. So no other module of the
package may hold a string literal equal to a layout name where it can only be that
name: a distinctive one (a dot-file, a hyphenated or nested name) anywhere, and any
of them, even a plain word such as ``emsdk``, joined onto a path (``/``,
``os.path.join``) or made a constant of its own. Plain words elsewhere (a JSON key
``"archives"``, the program name ``"xbuildenv"``) are other things spelled alike.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import xbuildenv
from xbuildenv.cache import layout

PACKAGE = Path(xbuildenv.__file__).resolve().parent
LAYOUT = PACKAGE / "cache" / "layout.py"
NAMES = {
    value
    for key, value in vars(layout).items()
    if key.isupper() and isinstance(value, str) and value and not key.startswith("_")
}
# settings/ sits below cache/ and cannot import the layout: its one copy, by name.
EXEMPT = {("settings/pyodide_root.py", "MAKEFILE_ENVS")}
# Names no plain word can be mistaken for.
DISTINCTIVE = {n for n in NAMES if n.startswith(".") or "-" in n or "/" in n}


def _joined(tree: ast.AST, where: str) -> set[int]:
    """ids of the string constants joined onto a path, or made a constant, in ``tree``."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and all(
            isinstance(t, ast.Name) and t.id.isupper() and (where, t.id) not in EXEMPT
            for t in node.targets
        ):
            found.add(id(node.value))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            found.update(id(side) for side in (node.left, node.right))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("join", "joinpath", "with_name")
        ):
            found.update(id(arg) for arg in node.args)
    return found


def offences(source: str, where: str) -> list[str]:
    tree = ast.parse(source)
    joined = _joined(tree, where)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if node.value in DISTINCTIVE or (node.value in NAMES and id(node) in joined):
            found.append(f"{where}:{node.lineno}: {node.value!r}")
    return found


def test_no_module_but_layout_spells_an_on_disk_name() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != LAYOUT:
            found += offences(path.read_text(), str(path.relative_to(PACKAGE)))
    assert found == [], "use the constant from cache/layout.py instead:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "planted",
    [
        'MARK = ".installed"',
        'p = root / v / "emsdk"',
        'p = os.path.join(base, "xbuildenv")',
        'p = version_dir / "xbuildenv" / "pyodide-root"',
        'LOCK = "dist/pyodide-lock.json"',
        'MAKEFILE = "Makefile.envs"',
    ],
)
def test_a_planted_literal_is_found(planted: str) -> None:
    # The check itself, on a line as it would be written: a check that finds nothing
    # would pass the test above for ever.
    assert offences(planted, "planted.py")


def test_plain_words_that_are_not_paths_pass() -> None:
    assert offences('data = {"archives": [], "index": 1}; prog = "xbuildenv"', "x.py") == []
