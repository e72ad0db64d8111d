"""The command line's shape: each command declared once, shared options from one table,
and no settings resolved or paths worked out in ``cli/`` (the library does that)."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

import xbuildenv.cli
from xbuildenv.cli import cache_commands, core_commands, mirror_commands, options, tools_commands
from xbuildenv.cli.main import build_parser

CLI = Path(xbuildenv.cli.__file__).resolve().parent
GROUPS = (core_commands, cache_commands, tools_commands, mirror_commands)
# Options whose meaning is the same wherever they appear: only the SHARED table says them.
ONE_MEANING = {"--json", "--path", "-v", "--verbose", "-q", "--quiet", "--nightly", "--debug"}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _declared(commands: dict[str, options.Command]) -> list[options.Command]:
    found: list[options.Command] = []
    for command in commands.values():
        found.append(command)
        found += _declared({c.name: c for c in command.children})
    return found


def test_each_command_is_declared_in_one_group() -> None:
    names = [name for group in GROUPS for name in group.COMMANDS]
    assert len(names) == len(set(names)), names
    parsed = set(_subcommands(build_parser()))
    assert parsed == {*names, "completion"}
    cache = _subcommands(_subcommands(build_parser())["cache"])
    assert set(cache) == {"dir", "list", "clean", "key", "verify"}  # all live with `cache`


def test_a_core_command_alone_gets_a_parser_with_just_itself() -> None:
    assert set(_subcommands(build_parser(["versions"]))) == {"versions"}


def offences(tree: ast.AST, where: str) -> list[str]:
    """Setting resolution and path arithmetic, which belong below the CLI."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in ("setting", "env_str", "env_number"):
                found.append(f"{where}:{node.lineno}: resolves a setting ({name})")
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "parent"
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parent"
        ):
            found.append(f"{where}:{node.lineno}: path arithmetic (.parent.parent)")
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "Opt":
            flags = {a.value for a in node.args if isinstance(a, ast.Constant)}
            if flags & ONE_MEANING and where != "options.py":
                found.append(f"{where}:{node.lineno}: declares {flags & ONE_MEANING} again")
    return found


def test_the_cli_resolves_no_settings_and_declares_shared_options_once() -> None:
    found = []
    for path in sorted(CLI.glob("*.py")):
        found += offences(ast.parse(path.read_text()), path.name)
    assert found == []


@pytest.mark.parametrize(
    "planted",
    [
        'installer = setting(project, "XBUILDENV_INSTALLER", "installer")',
        "version_dir = pyodide_root.parent.parent",
        'x = o.Opt("--json", action="store_true")',
    ],
)
def test_a_planted_decision_is_found(planted: str) -> None:
    assert offences(ast.parse(planted), "planted.py")
