"""The one registry of settings: code reads nothing it lacks, it lists nothing unread,
the README's tables are made from it, and an unknown key warns once per command.

The scan walks the AST of every module under ``src/xbuildenv`` and collects each read
of an environment variable (``os.environ.get/[...]/in``, ``os.getenv``, ``env_str``,
``env_number``, ``setting``) and of a pyproject key (``setting``'s key,
``project.own.get``, ``build_setting``, ``get_str``/``get_path``), resolving names
through the module-level string constants of the whole package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from helpers.cli import REPO, clean_env, run

import xbuildenv
from xbuildenv.settings import registry

PACKAGE = Path(xbuildenv.__file__).resolve().parent

# Reads by a name that is not a constant: the accessors themselves (their callers are
# what the scan checks), and ``$(NAME)`` in a pyproject value, replaced by the variable
# NAME (pyodide-build's rule) whatever NAME the user wrote.
DYNAMIC_OK = {
    ("settings.config", "env_str"),
    ("settings.config", "env_number"),
    ("settings.config", "setting"),
    ("settings.config", "get_path"),
    ("settings.config", "get_str"),
}


def _module_name(path: Path, package: Path) -> str:
    return ".".join(path.relative_to(package).with_suffix("").parts)


def _constants(package: Path) -> dict[str, tuple[str, ...]]:
    """Module-level ``NAME = "text"`` / ``NAME = ("a", "b")`` across the package."""
    found: dict[str, tuple[str, ...]] = {}
    for path in package.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
                strings: tuple[str, ...] | None = None
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    strings = (value.value,)
                elif isinstance(value, ast.Tuple) and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
                ):
                    strings = tuple(e.value for e in value.elts)  # type: ignore[attr-defined]
                for target in targets:
                    if strings is not None and isinstance(target, ast.Name):
                        found[target.id] = strings
    return found


def _is_os_environ(node: ast.AST) -> bool:
    """``os.environ``, or ``(os.environ if environ is None else environ)``."""
    if isinstance(node, ast.IfExp):
        return _is_os_environ(node.body) or _is_os_environ(node.orelse)
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


class _Scan(ast.NodeVisitor):
    """Collect (module, kind, name) for every read; names that cannot be resolved
    become ``(module, kind, None)`` with the enclosing function for the message."""

    def __init__(self, module: str, constants: dict[str, tuple[str, ...]]) -> None:
        self.module, self.constants = module, constants
        self.reads: list[tuple[str, str, str | None, str]] = []
        self.loops: dict[str, ast.expr] = {}
        self.function = "<module>"

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    def visit_For(self, node: ast.For) -> None:
        if isinstance(node.target, ast.Name):
            self.loops[node.target.id] = node.iter
        self.generic_visit(node)

    def _resolve(self, node: ast.expr | None) -> tuple[str, ...] | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return (node.value,)
        if isinstance(node, ast.Name):
            if node.id in self.constants:
                return self.constants[node.id]
            if node.id in self.loops:
                loop = self.loops[node.id]
                if isinstance(loop, ast.Tuple):
                    parts = [self._resolve(e) for e in loop.elts]
                    if all(p is not None for p in parts):
                        return tuple(v for p in parts for v in p or ())
                return self._resolve(loop)
        return None

    def _add(self, kind: str, node: ast.expr | None) -> None:
        names = self._resolve(node)
        if names is None:
            self.reads.append((self.module, kind, None, self.function))
        for name in names or ():
            self.reads.append((self.module, kind, name, self.function))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        args = node.args
        if (
            (isinstance(func, ast.Attribute) and func.attr == "get" and _is_os_environ(func.value))
            or name == "getenv"
            or (name in ("env_str", "env_number") and args)
        ):
            self._add("variable", args[0])
        elif name == "setting" and len(args) == 3:
            self._add("variable", args[1])
            self._add("own key", args[2])
        elif name == "build_setting" and len(args) >= 2:
            self._add("build key", args[1])
        elif name in ("get_str", "get_path") and args:
            self._add("build key", args[0])
        elif (
            isinstance(func, ast.Attribute)
            and func.attr == "get"
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "own"
        ):
            self._add("own key", args[0])
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if _is_os_environ(node.value):
            self._add("variable", node.slice)
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        in_test = len(node.ops) == 1 and isinstance(node.ops[0], ast.In | ast.NotIn)
        if in_test and _is_os_environ(node.comparators[0]):
            self._add("variable", node.left)
        self.generic_visit(node)


def scan(package: Path = PACKAGE) -> list[tuple[str, str, str | None, str]]:
    constants = _constants(package)
    reads = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "registry.py":
            continue
        visitor = _Scan(_module_name(path, package), constants)
        visitor.visit(ast.parse(path.read_text()))
        reads += visitor.reads
    return reads


def _known(kind: str, name: str) -> bool:
    try:
        if kind == "variable":
            registry.by_variable(name)
        elif kind == "own key":
            registry.by_key(name, registry.XBUILDENV_TABLE)
        else:
            registry.by_key(name, registry.BUILD_TABLE)
    except KeyError:
        return False
    return True


def test_the_scan_sees_the_reads_it_must() -> None:
    reads = {(m, k, n) for m, k, n, _ in scan()}
    # one of each shape: a constant, a literal, a loop over names, a key through setting()
    assert ("net.fetch", "variable", "XBUILDENV_BACKOFF") in reads
    assert ("cli.output", "variable", "NO_COLOR") in reads
    assert ("net.tls", "variable", "REQUESTS_CA_BUNDLE") in reads
    assert ("install.origins", "own key", "remote_store_read_only") in reads
    assert ("manager", "build key", "default_cross_build_env_url") in reads
    # os.environ picked by a conditional expression (an injectable environ)
    assert ("fs.platform", "variable", "XBUILDENV_PORTABLE") in reads


def test_code_reads_no_setting_the_registry_lacks() -> None:
    missing = []
    for module, kind, name, function in scan():
        if name is None:
            if (module, function) not in DYNAMIC_OK:
                missing.append(f"{module}.{function}: a {kind} read by a name not known here")
        elif not _known(kind, name):
            missing.append(f"{module}: {kind} {name}")
    assert missing == [], "add these to xbuildenv/settings/registry.py:\n" + "\n".join(missing)


def test_the_scan_fails_on_a_read_the_registry_lacks(tmp_path: Path) -> None:
    planted = tmp_path / "xbuildenv"
    (planted / "net").mkdir(parents=True)
    (planted / "net" / "extra.py").write_text(
        "import os\nENV_X = 'XBUILDENV_NOT_REGISTERED'\n"
        "def f(project):\n"
        "    return os.environ.get(ENV_X), project.own.get('nor_this'), os.environ[name()]\n"
    )
    reads = scan(planted)
    bad = [(k, n) for _, k, n, _ in reads if n is None or not _known(k, n)]
    assert bad == [
        ("variable", "XBUILDENV_NOT_REGISTERED"),
        ("own key", "nor_this"),
        ("variable", None),
    ]


def test_every_registered_setting_is_read_where_the_registry_says() -> None:
    reads = {(m, n) for m, _, n, _ in scan()}
    unread = []
    for entry in registry.SETTINGS:
        if entry.group == "build":
            continue  # read by key through build_keys(): checked below
        if entry.variable and (entry.read_by, entry.variable) not in reads:
            unread.append(f"{entry.variable} (said to be read by {entry.read_by})")
        if entry.key and (entry.read_by, entry.key) not in reads:
            unread.append(f"{entry.key} (said to be read by {entry.read_by})")
    assert unread == []
    from xbuildenv.settings.build_settings import OVERRIDABLE

    assert registry.build_keys() == OVERRIDABLE
    assert len(OVERRIDABLE) == 14


@pytest.mark.parametrize("group", ["ours", "shared", "build", "external", "test"])
def test_the_configuration_reference_is_made_from_the_registry(group: str) -> None:
    """The docs page holds a marker, never a copy; the site build puts the table there."""
    import sys

    sys.path.insert(0, str(REPO))
    from docs_gen.reference import expand

    page = (REPO / "docs" / "reference" / "configuration.md").read_text()
    assert f"<!-- generate: settings-{group} -->" in page
    assert registry.markdown(group) in expand(page)
    for entry in registry.SETTINGS:
        if entry.group == group:
            assert f"`{entry.variable}`" in expand(page)


def test_registered_own_keys_do_not_warn_and_a_typo_warns_once(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    folder = tmp_path / "store"
    (project / "pyproject.toml").write_text(
        "[tool.xbuildenv]\n"
        'mirror = "https://mirror.invalid/x"\n'
        'mirror_origin = "https://github.com/pyodide/pyodide/releases/download/"\n'
        f'remote_store = "{folder}"\n'
        "remote_store_read_only = true\n"
        "index_max_aeg = 60\n"
    )
    env = clean_env(tmp_path)
    commands = [("versions",), ("root",), ("search", "--offline"), ("install", "--offline")]
    for command in commands:
        r = run(*command, env=env, cwd=project)
        warnings = [line for line in r.err.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1, (command, r.err)
        assert "unknown key 'index_max_aeg'" in warnings[0]
        assert "did you mean 'index_max_age'?" in warnings[0]


def test_every_variable_a_help_text_names_is_registered(tmp_path: Path) -> None:
    """The ``--help`` texts name variables through the registry (``where()``); none
    names one it lacks."""
    env = clean_env(tmp_path)
    named: set[str] = set()
    for command in (
        ("install",),
        ("search",),
        ("root",),
        ("mirror", "sync"),
        ("install-packages",),
        ("install-emscripten",),
    ):
        r = run(*command, "--help", env=env)
        assert r.code == 0, r.err
        named |= set(re.findall(r"\$([A-Z][A-Z0-9_]+)", r.out))
    assert {"XBUILDENV_EXCLUDE_NEWER", "XBUILDENV_LINK_MODE", "PYODIDE_XBUILDENV_PATH"} <= named
    missing = []
    for name in sorted(named):
        try:
            registry.by_variable(name)
        except KeyError:
            missing.append(name)
    assert missing == []
