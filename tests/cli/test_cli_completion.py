"""``xbuildenv completion``: the scripts loaded into real shells, asked to complete.

bash runs the completion function as its ``complete -F`` would; fish answers
``complete -C``; zsh only completes in its line editor, so it runs in a tmux session
and the test types TAB. A shell that is missing is skipped with a reason (``.ci/run``
installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, default_files, make_tar
from helpers.cli import clean_env, run

BIN = str(Path(sys.executable).parent)  # where the 'xbuildenv' script of this venv is


@pytest.fixture(scope="module")
def shell_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two installed versions in the default root (what VERSION completes to): made once,
    as completing only reads them."""
    base = tmp_path_factory.mktemp("completion")
    (base / "home").mkdir()
    env = clean_env(base / "home")
    root = base / "root"
    archive = base / "env.tar.gz"
    archive.write_bytes(make_tar(default_files(PY_FULL)))
    env = {**env, "PYODIDE_XBUILDENV_PATH": str(root), "PATH": f"{BIN}:{env['PATH']}"}
    for version in ("0.28.1", "0.29.4"):
        # A URL install names the folder after the URL: rename to a release's name.
        assert run("install", "--url", str(archive), env=env).code == 0
        [made] = [p for p in root.iterdir() if p.name.startswith("_")]
        made.rename(root / version)
    assert run("use", "0.29.4", env=env).code == 0
    return env


def script(shell: str, env: dict[str, str]) -> str:
    r = run("completion", shell, env=env)
    assert r.code == 0 and r.err == "", r.err
    return r.out


def need(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed (.ci/run installs it with apt-get)")
    return path


def bash_complete(env: dict[str, str], tmp_path: Path, line: str) -> list[str]:
    bash = need("bash")
    (tmp_path / "xbuildenv.bash").write_text(script("bash", env))
    words = line.split(" ")
    program = (
        f"source {tmp_path / 'xbuildenv.bash'}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        f"COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}\n"
        "_shtab_xbuildenv xbuildenv\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return sorted(set(done.stdout.split()))


def test_bash_commands_options_and_versions(shell_env: dict[str, str], tmp_path: Path) -> None:
    assert bash_complete(shell_env, tmp_path, "xbuildenv inst") == [
        "install",
        "install-emscripten",
        "install-packages",
    ]
    assert bash_complete(shell_env, tmp_path, "xbuildenv versions --js") == ["--json"]
    assert bash_complete(shell_env, tmp_path, "xbuildenv uninstall ") == ["0.28.1", "0.29.4"]
    assert bash_complete(shell_env, tmp_path, "xbuildenv use 0.28") == ["0.28.1"]
    assert bash_complete(shell_env, tmp_path, "xbuildenv completion ") == ["bash", "fish", "zsh"]


def test_fish(shell_env: dict[str, str], tmp_path: Path) -> None:
    fish = need("fish")
    (tmp_path / "xbuildenv.fish").write_text(script("fish", shell_env))

    def complete(line: str) -> list[str]:
        done = subprocess.run(
            [
                fish,
                "--no-config",
                "-c",
                f"source {tmp_path / 'xbuildenv.fish'}; complete -C '{line}'",
            ],
            env=shell_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return sorted({row.split("\t")[0] for row in done.stdout.splitlines()})

    assert {"install", "install-emscripten", "install-packages"} <= set(complete("xbuildenv inst"))
    assert complete("xbuildenv uninstall ") == ["0.28.1", "0.29.4"]


def test_zsh_in_a_terminal(shell_env: dict[str, str], tmp_path: Path) -> None:
    zsh = need("zsh")
    tmux = need("tmux")
    functions = tmp_path / "zfunc"
    functions.mkdir()
    (functions / "_xbuildenv").write_text(script("zsh", shell_env))
    socket = f"xbuildenv-test-{uuid.uuid4().hex[:8]}"
    env = {**shell_env, "TERM": "xterm", "ZDOTDIR": str(tmp_path)}
    (tmp_path / ".zshrc").write_text(
        f"fpath=({functions} $fpath)\nautoload -U compinit && compinit -u\nPS1='> '\n"
    )
    base = [tmux, "-L", socket]
    subprocess.run([*base, "new-session", "-d", "-x", "200", "-y", "40", zsh], env=env, check=True)
    try:

        def type_and_read(keys: str, want: str) -> str:
            """Type ``keys`` and TAB (again after a while: the first may only insert the
            common prefix); return the screen."""
            subprocess.run([*base, "send-keys", "-t", "0", keys, "Tab"], check=True)
            deadline = time.monotonic() + 20
            screen = ""
            tabs = 1
            while time.monotonic() < deadline:
                time.sleep(0.5)
                if tabs < 3:
                    subprocess.run([*base, "send-keys", "-t", "0", "Tab"], check=True)
                    tabs += 1
                screen = subprocess.run(
                    [*base, "capture-pane", "-p", "-t", "0"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                if want in screen:
                    break
            subprocess.run([*base, "send-keys", "-t", "0", "C-u"], check=True)
            return screen

        screen = type_and_read("xbuildenv uninst", "xbuildenv uninstall")
        assert "xbuildenv uninstall" in screen, screen
        screen = type_and_read("xbuildenv uninstall ", "0.28.1")
        assert "0.28.1" in screen and "0.29.4" in screen, screen
    finally:
        subprocess.run([*base, "kill-server"], check=False)
    assert os.path.isdir(functions)
