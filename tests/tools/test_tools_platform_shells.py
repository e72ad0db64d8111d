"""Paths with spaces (macOS ``Application Support``, Windows user folders) through
``env`` and ``run``, and the text printed for Windows shells (cmd, PowerShell)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers.cli import install_env, one_error, run
from helpers.servers import Server

from xbuildenv.errors import UsageError
from xbuildenv.tools.emsdk import activation_hint
from xbuildenv.tools.shell_env import BuildEnv, render


def test_a_root_with_spaces_through_env_and_run(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "Library" / "Application Support" / "my root"
    pyroot = install_env(server, env, root)
    assert " " in str(pyroot)
    r = run("env", "--shell", "bash", "--path", str(root), env=env)
    assert r.code == 0, r.err
    probe = 'eval "$(cat)"; printf "%s" "$PYODIDE_ROOT"; test -f "$PYODIDE_ROOT/Makefile.envs"'
    got = subprocess.run(["bash", "-c", probe], input=r.out, capture_output=True, text=True)
    assert got.returncode == 0 and got.stdout == str(pyroot), (got.stdout, got.stderr)
    # run: the path arrives as one argument, and the tool finds its files through it
    script = 'test "$PYODIDE_ROOT" = "$1" && test -f "$1/Makefile.envs" && exit 7'
    r = run("run", "--path", str(root), "--", "sh", "-c", script, "sh", str(pyroot), env=env)
    assert r.code == 7, r.err


def test_the_emsdk_hint_is_quoted(tmp_path: Path) -> None:
    emsdk = tmp_path / "Application Support" / "emsdk"
    emsdk.mkdir(parents=True)
    (emsdk / "emsdk_env.sh").write_text("XB_SOURCED=yes\n")
    hint = activation_hint(emsdk, "bash")
    got = subprocess.run(
        ["bash", "-c", f'{hint}; printf %s "$XB_SOURCED"'], capture_output=True, text=True
    )
    assert got.stdout == "yes", (hint, got.stderr)
    assert (
        activation_hint(Path("C:/Users/A B/emsdk"), "cmd")
        == 'call "C:/Users/A B/emsdk/emsdk_env.bat"'
    )
    assert activation_hint(Path("/a b/emsdk"), "powershell") == "& '/a b/emsdk/emsdk_env.ps1'"


def test_cmd_text() -> None:
    env = BuildEnv({"PYODIDE_ROOT": r"C:\Users\A B\root", "CFLAGS": "-O2 100%"}, [r"C:\e m"])
    assert render(env, "cmd").splitlines() == [
        r'set "PYODIDE_ROOT=C:\Users\A B\root"',
        'set "CFLAGS=-O2 100%%"',
        r'set "PATH=C:\e m;%PATH%"',
    ]
    with pytest.raises(UsageError, match="which cmd cannot set safely"):
        render(BuildEnv({"X": 'a"&calc&"'}), "cmd")


def test_env_for_cmd_from_the_cli(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "A B"
    pyroot = install_env(server, env, root)
    r = run("env", "--shell", "cmd", "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == f'set "PYODIDE_ROOT={pyroot}"'
    line = one_error(run("env", "--shell", "tcsh", "--path", str(root), env=env), 2)
    assert "cmd" in line
