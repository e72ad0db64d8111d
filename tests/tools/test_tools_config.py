"""Build variables: Makefile.envs parsing, ``config list/get``, ``env`` and ``run``."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from helpers.archives import DATA, fixture_files
from helpers.cli import install_env, one_error, run
from helpers.servers import Server

from xbuildenv.errors import UnknownKeyError
from xbuildenv.tools.build_config import load_build_config
from xbuildenv.tools.makefile_envs import (
    fold_continuations,
    parse_makefile_envs,
    parse_makefile_text,
)
from xbuildenv.tools.shell_env import BuildEnv, render

PYTHONS = ["3.13", "3.14"]
EXPECTED = {
    "3.13": {"PYVERSION": "3.13.2", "PYODIDE_EMSCRIPTEN_VERSION": "4.0.9",
             "PYODIDE_VERSION": "0.29.4", "PYODIDE_ABI_VERSION": "2025_0"},
    "3.14": {"PYVERSION": "3.14.2", "PYODIDE_EMSCRIPTEN_VERSION": "5.0.3",
             "PYODIDE_VERSION": "314.0.3", "PYODIDE_ABI_VERSION": "2026_0"},
}  # fmt: skip


def extract(python: str, dest: Path) -> Path:
    with tarfile.open(DATA / f"xbuildenv-test-{python}.tar.gz") as tf:
        tf.extractall(dest, filter="data")
    return dest / "xbuildenv" / "pyodide-root"


@pytest.mark.parametrize("python", PYTHONS)
def test_real_makefile_envs(python: str, tmp_path: Path) -> None:
    root = extract(python, tmp_path)
    mv = parse_makefile_envs(root, {})
    for name, value in EXPECTED[python].items():
        assert mv.get(name) == value
    mm = python
    assert mv.get("PYMAJOR") == "3" and mv.get("PYMINOR") == mm.split(".")[1]
    pyver = EXPECTED[python]["PYVERSION"]
    assert mv.get("PYTHONINCLUDE") == f"{root}/cpython/installs/python-{pyver}/include/python{mm}"
    # ${VAR} references, the ifdef'd CPYTHON_ABI_FLAGS (undefined: empty), continuation lines
    assert mv.get("SYSCONFIG_NAME") == "_sysconfigdata__emscripten_wasm32-emscripten"
    assert (mv.get("CFLAGS_BASE") or "").split()[:3] == ["-O2", "-g0", "-fPIC"]
    assert mv.is_exported("PYVERSION") and not mv.is_exported("EXPORTS")
    # $(shell ...) is never run: kept literally and reported
    assert (mv.get("HOSTPYTHONROOT") or "").startswith("$(shell python${PYMAJOR}")
    assert "HOSTPYTHONROOT" in mv.unresolved


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_same_values_as_gnu_make(python: str, tmp_path: Path) -> None:
    """Every exported variable equals what real make exports (except $(shell) ones)."""
    root = extract(python, tmp_path)
    for extra in ({}, {"CPYTHON_DEBUG": "1", "PYODIDE_SOURCEMAP": "1"}, {"PYVERSION": "3.99.1"}):
        environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **extra}
        makefile = tmp_path / "Dump.mk"
        makefile.write_text((root / "Makefile.envs").read_text() + "\n.dump:\n\t@env -0\n")
        out = subprocess.run(
            ["make", "-s", "-f", str(makefile), ".dump"],
            env={**environ, "PYODIDE_ROOT": str(root)},
            capture_output=True,
            check=True,
        ).stdout.decode()
        made = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
        mv = parse_makefile_envs(root, environ)
        ours = mv.exported()
        skip = {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "SHLVL", "_", "PWD", "OLDPWD"}
        for name in sorted((set(made) | set(ours)) - skip):
            if name in mv.unresolved or "HOSTPYTHONROOT" in (mv.raw(name) or ""):
                continue
            assert ours.get(name) == made.get(name), (extra, name)


def test_make_subset() -> None:
    text = (
        "export A ?= 1.2.3rc1\n"
        "B = $(subst ., ,$(A:v%=%))\n"
        "export C = $(word 2,$(B)) $(words $(B)) # trailing comment\n"
        "ifdef FLAG\n\texport D = on\nelse ifeq ($(A),1.2.3rc1)\n\texport D = eq\nendif\n"
        "export E := $(patsubst %.c,%.o,x.c y.h) $$HOME a\\#b\n"
        "export F = one \\\n\t two \\\n\t\\\n\tthree\n"
        "rule: dep\n\texport G = not-a-variable\n"
        "export H = $(H)\n"
        "export I = $(wildcard *.c)\n"
    )
    mv = parse_makefile_text(text, {"A": "from-env"})
    assert mv.get("A") == "from-env"  # ?= keeps the environment's value
    mv = parse_makefile_text(text, {})
    assert mv.get("C") == "2 3 "  # make keeps the blank before a comment
    assert mv.get("D") == "eq"
    assert mv.get("E") == "x.o y.h $HOME a#b"
    assert mv.get("F") == "one two three"
    assert mv.get("G") is None
    assert mv.get("H") == "" and "H" in mv.unresolved  # self-reference: no hang, no crash
    assert mv.get("I") == "$(wildcard *.c)" and "I" in mv.unresolved
    assert parse_makefile_text(text, {"FLAG": "1"}).get("D") == "on"
    assert fold_continuations("a \\\n  b\nc") == ["a b", "c"]


def test_missing_makefile_is_a_clear_error(tmp_path: Path) -> None:
    from xbuildenv.errors import MakefileEnvsError

    with pytest.raises(MakefileEnvsError, match=r"Makefile\.envs does not exist"):
        parse_makefile_envs(tmp_path, {})


def test_build_config_layers(tmp_path: Path) -> None:
    from xbuildenv.settings.config import ProjectConfig

    root = extract("3.13", tmp_path)
    cfg = load_build_config(root, environ={})
    assert cfg.get("python_version") == "3.13.2"
    assert cfg.get("host_site_packages") == (
        f"{root}/packages/.artifacts/lib/python3.13/site-packages"
    )
    assert cfg.get("emsdk_dir") == str(tmp_path / "emsdk")
    assert cfg.get("ldflags").startswith("-O2 -g0  -L")  # make's double blank is kept
    project = ProjectConfig(
        values={"cflags": "-O3 $(EXTRA)", "skip_emscripten_version_check": True}
    )
    cfg = load_build_config(
        root, environ={"EXTRA": "-DX", "RUST_TOOLCHAIN": "stable"}, project=project
    )
    assert cfg.get("cflags") == "-O3 -DX"
    assert cfg.variables["SKIP_EMSCRIPTEN_VERSION_CHECK"] == "1"
    assert cfg.get("rust_toolchain") == "stable"  # the environment wins
    with pytest.raises(UnknownKeyError, match="unknown config key 'nope'"):
        cfg.get("nope")


# --- through the CLI ------------------------------------------------------------
def test_config_cli(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "root"
    pyroot = install_env(server, env, root)
    r = run("config", "list", "--json", "--path", str(root), env=env)
    assert r.code == 0, r.err
    values = json.loads(r.out)
    assert values["python_version"] == "3.13.2"
    assert values["emscripten_version"] == "4.0.9"
    assert values["pyodide_version"] == "0.29.4"
    assert values["pyodide_abi_version"] == "2025_0"
    assert values["pyodide_root"] == str(pyroot)
    assert values["python_include"] == f"{pyroot}/cpython/installs/python-3.13.2/include/python3.13"
    assert values["host_site_packages"] == (
        f"{pyroot}/packages/.artifacts/lib/python3.13/site-packages"
    )
    r = run("config", "list", "--path", str(root), env=env)
    assert 'python_version="3.13.2"' in r.out.splitlines()
    r = run("config", "get", "pyodide_abi_version", "--path", str(root), env=env)
    assert (r.code, r.out) == (0, "2025_0\n")
    line = one_error(run("config", "get", "nope", "--path", str(root), env=env))
    assert "unknown config key 'nope'" in line


def test_config_without_environment(env: dict[str, str], tmp_path: Path) -> None:
    line = one_error(run("config", "get", "python_version", "--path", str(tmp_path), env=env))
    assert "no cross-build environment is active" in line


def test_env_and_run(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "root"
    pyroot = install_env(server, env, root)
    r = run("env", "--shell", "bash", "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == f"export PYODIDE_ROOT='{pyroot}'"
    assert "export EMSDK=" not in r.out  # not installed yet
    probe = 'eval "$(cat)"; printf "%s|%s" "$PYODIDE_ROOT" "$PYVERSION"'
    got = subprocess.run(["bash", "-c", probe], input=r.out, capture_output=True, text=True)
    assert got.stdout == f"{pyroot}|3.13.2"
    script = 'test "$PYODIDE_ROOT" = "$1" && test "$PYODIDE" = 1 && exit 7'
    r = run("run", "--path", str(root), "--", "sh", "-c", script, "sh", str(pyroot), env=env)
    assert r.code == 7, r.err
    line = one_error(run("run", "--path", str(root), "--", "no-such-tool-xyz", env=env), 127)
    assert "command not found: no-such-tool-xyz" in line


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_quoting_round_trips(shell: str) -> None:
    exe = {"bash": "bash", "zsh": "zsh", "fish": "fish", "powershell": "pwsh"}[shell]
    if shutil.which(exe) is None:
        pytest.skip(f"{exe} is not installed")
    tricky = 'it\'s a "test" $HOME `x` \\ \u2019 ; & |'
    text = render(BuildEnv({"XB_TRICKY": tricky}, ["/opt/a b"]), shell)
    probe = {
        "bash": 'eval "$(cat)"; printf "%s\\n%s" "$XB_TRICKY" "${PATH%%:*}"',
        "zsh": 'eval "$(cat)"; printf "%s\\n%s" "$XB_TRICKY" "${PATH%%:*}"',
        "fish": "cat | source; printf '%s\\n%s' $XB_TRICKY $PATH[1]",
        "powershell": "$input | Out-String | Invoke-Expression; Write-Host -NoNewline "
        '($env:XB_TRICKY + "`n" + $env:PATH.Split([IO.Path]::PathSeparator)[0])',
    }[shell]
    args = [exe, "-c", probe] if shell != "powershell" else [exe, "-NoProfile", "-Command", probe]
    got = subprocess.run(args, input=text, capture_output=True, text=True)
    assert got.stdout == f"{tricky}\n/opt/a b", got.stderr


def test_files_helper_reads_real_fixture() -> None:
    files = fixture_files("3.14")
    assert b"PYVERSION ?= 3.14.2" in files["xbuildenv/pyodide-root/Makefile.envs"]


def test_quoting_text() -> None:
    """The exact text per shell, for the shells this machine may not have."""
    env = BuildEnv({"V": "a'b\\c"}, ["/p"])
    assert render(env, "bash").splitlines() == [
        "export V='a'\\''b\\c'",
        "export PATH='/p'\"${PATH:+:$PATH}\"",
    ]
    assert render(env, "fish").splitlines() == ["set -gx V 'a\\'b\\\\c'", "set -gx PATH '/p' $PATH"]
    assert render(env, "powershell").splitlines()[0] == "$env:V = 'a''b\\c'"
