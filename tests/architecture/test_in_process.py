"""The in-process runner (helpers.in_process) stands in for a process faithfully.

Two checks: every piece of module-level state the package keeps is one the runner
resets (a new cache would otherwise carry one command's credentials or warnings into
the next), and commands give the same exit code and output both ways.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from helpers import in_process
from helpers.archives import make_tar
from helpers.cli import REPO, Result, clean_env, run_process
from helpers.servers import Server

PACKAGE = REPO / "src" / "xbuildenv"
_EMPTY_CALLS = {"dict", "list", "set"}


def _is_empty_container(node: ast.expr | None) -> bool:
    if isinstance(node, (ast.Dict, ast.List, ast.Set)):
        return not getattr(node, "keys", None) and not getattr(node, "elts", None)
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _EMPTY_CALLS
        and not node.args
    )


def mutable_module_state(package: Path = PACKAGE) -> set[tuple[str, str]]:
    """(module, name) of every module-level empty container (filled at run time) and
    every name a function rebinds with ``global``."""
    found: set[tuple[str, str]] = set()
    for path in package.rglob("*.py"):
        rel = path.relative_to(package.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if not _is_empty_container(value):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[union-attr]
            found.update((module, t.id) for t in targets if isinstance(t, ast.Name))
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                found.update((module, name) for name in node.names)
    return found


def test_the_runner_resets_all_module_state() -> None:
    reset = {(module, name) for module, name, _ in in_process.PROCESS_STATE}
    assert mutable_module_state() == reset


def test_a_new_cache_in_the_package_is_found(tmp_path: Path) -> None:
    planted = tmp_path / "xbuildenv"
    (planted / "net").mkdir(parents=True)
    (planted / "net" / "dns.py").write_text("_answers: dict[str, str] = {}\n")
    (planted / "tls.py").write_text("_ctx = None\ndef get():\n    global _ctx\n")
    assert mutable_module_state(planted) == {
        ("xbuildenv.net.dns", "_answers"),
        ("xbuildenv.tls", "_ctx"),
    }


def _both_ways(args: list[str], env: dict[str, str], cwd: Path) -> tuple[Result, Result]:
    here = Result(*in_process.run_in_process(args, env, cwd, timeout=60))
    there = run_process(*args, env=env, cwd=cwd)
    return here, there


@pytest.mark.parametrize(
    "args",
    [
        ["version"],
        ["--help"],
        ["install", "--help"],
        ["install", "--no-such-option"],  # argparse's usage error: exit 2
        ["instal"],  # a misspelt command and its suggestion
        ["config", "get", "no_such_key"],
        ["versions", "--json"],
        ["cache", "list", "--json"],
    ],
)
def test_commands_print_the_same_in_process_and_as_a_process(
    args: list[str], home: Path, tmp_path: Path
) -> None:
    env = clean_env(home)
    here, there = _both_ways(args, env, tmp_path)
    assert here == there


def test_an_install_and_its_output_are_the_same_both_ways(
    server: Server, home: Path, tmp_path: Path
) -> None:
    url = server.add("/env.tar.gz", make_tar({"xbuildenv/pyodide-root/Makefile.envs": b"X=1\n"}))
    env = clean_env(home)
    results = []
    for name in ("in", "out"):
        args = ["install", "--url", url, "--path", str(tmp_path / name), "--json", "--force"]
        runner = in_process.run_in_process if name == "in" else None
        r = (
            Result(*runner(args, env, tmp_path, 60))
            if runner
            else run_process(*args, env=env, cwd=tmp_path)
        )
        results.append(r)
    here, there = results
    assert here.code == there.code == 0, (here.err, there.err)
    shape = [sorted(json.loads(r.out)) for r in results]
    assert shape[0] == shape[1]
