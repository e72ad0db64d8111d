"""Nothing unsafe reaches a shell (issue 19, item 7).

A ``Makefile.envs`` (or a ``[tool.pyodide.build]`` value) holding a NUL or another
control character is refused with one ``error:`` line naming the variable and the
file, by ``env``, ``run`` and ``config``. And ``env``'s output is evaluated by real
bash, zsh and fish with hostile values from the process environment: each variable
comes out byte for byte, and nothing in a value runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.archives import fixture_files
from helpers.cli import install_env, one_error, run, snapshot
from helpers.servers import Server

MAKEFILE = "xbuildenv/pyodide-root/Makefile.envs"


def _with_makefile_line(line: bytes) -> dict[str, bytes]:
    original = fixture_files()[MAKEFILE]
    return {MAKEFILE: original + b"\n" + line + b"\n"}


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x01", "\x07", "\x1b", "\x1f", "\x7f"],
    ids=["nul", "soh", "bel", "esc", "us", "del"],
)
def test_control_character_in_makefile_envs_is_refused(
    server: Server, env: dict[str, str], tmp_path: Path, char: str
) -> None:
    root = tmp_path / "root"
    line = f"export CFLAGS_BASE = -O2{char}-g".encode()
    pyroot = install_env(server, env, root, extra=_with_makefile_line(line))
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "Makefile.envs").write_text("export A = 1\n")
    before = snapshot(decoy)
    for command in (["env", "--shell", "bash"], ["config", "list"], ["run", "--", "true"]):
        where = 2 if command[0] == "config" else 1  # options go after the subcommand
        r = run(*command[:where], "--path", str(root), *command[where:], env=env)
        message = one_error(r)
        assert "CFLAGS_BASE" in message and str(pyroot / "Makefile.envs") in message, message
        assert repr(char) in message
        assert r.out == ""
    assert snapshot(decoy) == before


def test_tab_and_plain_values_are_not_refused(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    install_env(server, env, root, extra=_with_makefile_line(b"export CFLAGS_BASE = -O2\t-g"))
    r = run("config", "get", "cflags", "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert "-O2\t-g" in r.out


def test_control_character_in_pyproject_is_refused(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    install_env(server, env, root)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.pyodide.build]\ncflags = "-O2\\u0000-g"\n')
    message = one_error(run("env", "--path", str(root), env=env, cwd=project))
    assert "SIDE_MODULE_CFLAGS" in message and str(project / "pyproject.toml") in message


HOSTILE = {
    "quotes": "it's \"quoted\" '\\'' \\' \\\\'",
    "expansion": "$(touch {pwned}) `touch {pwned}` ${{HOME}} $HOME $PATH[1] (touch {pwned})",
    "separators": "; touch {pwned}; & | && || > {pwned} < /dev/null # not a comment",
    "lines": "first\nsecond\n; touch {pwned}\n",
    "controls": "bell\a esc\x1b[31m cr\r tab\t vt\x0b del\x7f",
    "unicode": "\u2019quote\u2018 \u202eright-to-left \u00e9\u00e8 \U0001f600",
    "bytes": os.fsdecode(b"latin1 \xe9 \xff\xfe not utf-8"),
    "dashes": "--help",
    "fish": "\\' ; touch {pwned} ; echo '",
    "empty-ish": " ",
}

PROBE = {
    # print each variable's bytes, NUL-separated, so every byte is compared
    "bash": 'eval "$(cat)" || exit 9; for v in "$@"; do printenv "$v"; printf "\\0"; done',
    "zsh": 'eval "$(cat)" || exit 9; for v in "$@"; do printenv "$v"; printf "\\0"; done',
    "fish": "cat | source; or exit 9; for v in $argv; printenv $v; printf '\\0'; end",
}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_env_output_is_safe_to_eval(
    server: Server, env: dict[str, str], tmp_path: Path, shell: str
) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    root = tmp_path / "root"
    install_env(server, env, root)
    pwned = tmp_path / "pwned"
    # The overridable build settings reach env's output from the process environment:
    # one variable per hostile value.
    variables = [
        "SIDE_MODULE_CFLAGS",
        "SIDE_MODULE_CXXFLAGS",
        "SIDE_MODULE_LDFLAGS",
        "RUST_TOOLCHAIN",
        "RUST_EMSCRIPTEN_TARGET_URL",
        "MESON_CROSS_FILE",
        "BUILD_DEPENDENCY_INDEX_URL",
        "IGNORED_BUILD_REQUIREMENTS",
        "USE_LEGACY_PLATFORM",
        "_F2C_FIXES_WRAPPER",
    ]
    values = {
        name: template.format(pwned=pwned)
        for name, template in zip(variables, HOSTILE.values(), strict=True)
    }
    r = subprocess.run(
        [os.sys.executable, "-m", "xbuildenv", "env", "--shell", shell, "--path", str(root)],
        # a strict UTF-8 output, as under an en_US.UTF-8 locale
        env={**env, **values, "PYTHONIOENCODING": "utf-8:strict"},
        capture_output=True,
    )
    assert r.returncode == 0, r.stderr
    # the shell itself gets a plain environment: what it prints comes from the eval
    plain = {k: v for k, v in env.items() if k not in values}
    args = [shell, "-c", PROBE[shell], *([shell] if shell != "fish" else []), *variables]
    if shell == "fish":
        args = [shell, "--no-config", "-c", PROBE[shell], *variables]
    got = subprocess.run(args, input=r.stdout, env=plain, capture_output=True, cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    printed = got.stdout.split(b"\0")[:-1]
    assert printed == [os.fsencode(values[name]) + b"\n" for name in variables]
    assert not pwned.exists()
