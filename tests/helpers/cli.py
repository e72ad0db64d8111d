"""Running the tool as a user does: a real ``xbuildenv`` subprocess with a private home
and cache, and what tests assert on its results.

``clean_env`` keeps the machine's configuration out; ``run`` is one real process;
``one_error`` checks the one-line error contract; ``install_env`` installs a real
environment through the CLI; ``run_on_terminal`` runs it on a pseudo-terminal.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import in_process
from helpers.archives import fixture_files, make_tar, sha256
from helpers.servers import Server

REPO = Path(__file__).resolve().parent.parent.parent

# The bytecode folder every Python process the tests start shares (tests/conftest.py
# makes one per session): the tests start thousands of processes, and one that imports
# from source a module nobody compiled before pays for compiling it (s3fs and botocore
# alone: 0.6 CPU-seconds each time). A prefix, not __pycache__, so no folder a test
# looks at (the checkout, a root, a store tree) gets bytecode written into it.
PYCACHE_VAR = "XBUILDENV_TESTS_PYCACHE"


@dataclass
class Result:
    code: int
    out: str
    err: str


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment with no user config leaking in and a private cache folder."""
    # XBUILDENV_PORTABLE is the test run's own switch (pytest --portable): passed on.
    env = {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith(("PYODIDE_", "XBUILDENV_")) or k == "XBUILDENV_PORTABLE")
        and k not in ("VIRTUAL_ENV", "CI")
    }
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_COLOR="1",
        XBUILDENV_RETRIES="2",
    )
    if PYCACHE_VAR in os.environ:
        env["PYTHONPYCACHEPREFIX"] = os.environ[PYCACHE_VAR]
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # set on these machines: nothing written
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def run(
    *args: str,
    env: dict[str, str],
    cwd: Path | None = None,
    python: str | None = None,
    timeout: float = 120,
) -> Result:
    """``xbuildenv ARGS`` as a user runs it: in this process where nothing a process
    alone has is in play (``helpers.in_process``), else as a real process."""
    if python is None and not in_process.needs_a_process(args, env):
        return Result(*in_process.run_in_process(args, env, cwd, timeout))
    return run_process(*args, env=env, cwd=cwd, python=python, timeout=timeout)


def run_process(
    *args: str,
    env: dict[str, str],
    cwd: Path | None = None,
    python: str | None = None,
    timeout: float = 120,
) -> Result:
    """``xbuildenv ARGS`` in a process of its own, always."""
    proc = subprocess.run(
        [python or sys.executable, "-m", "xbuildenv", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def one_error(result: Result, code: int = 1) -> str:
    """Assert the run failed with ``code`` and exactly one ``error: ...`` line; return it."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err, result.err
    lines = result.err.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.err
    return errors[0]


def root_json(env: dict[str, str], *args: str, cwd: Path | None = None) -> dict[str, Any]:
    r = run("root", "--json", *args, env=env, cwd=cwd)
    assert r.code == 0, r.err
    data: dict[str, Any] = json.loads(r.out)
    return data


def expected_install_id(prefix: str | os.PathLike[str], package_dir: str | os.PathLike[str]) -> str:
    """The SPEC's formula, written out independently of the code under test."""
    scope = f"{Path(prefix).resolve()}\0{Path(package_dir).resolve()}"
    return hashlib.sha256(scope.encode()).hexdigest()[:12]


def snapshot(root: Path) -> dict[str, Any]:
    """Everything under ``root`` (names, link targets, file hashes) to compare states."""
    state: dict[str, Any] = {}
    if not root.exists():
        return state
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                state[rel] = ("link", os.readlink(p))
            elif p.is_file():
                state[rel] = ("file", sha256(p.read_bytes()))
            else:
                state[rel] = ("dir",)
    return state


def make_venv(path: Path) -> Path:
    """A real, fast venv (no pip) that can run this checkout's xbuildenv.

    The venv's own ``sys.prefix`` makes its own install id and default root, exactly
    like a user's venv; the code and its dependencies come from this checkout and the
    test interpreter's site-packages through a ``.pth`` file.
    """
    import platformdirs

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next((path / "lib").glob("python*/site-packages"))
    deps = Path(platformdirs.__file__).resolve().parent.parent
    (site / "_xbuildenv_dev.pth").write_text(f"{REPO / 'src'}\n{deps}\n")
    return path / "bin" / "python"


def disk_usage(*roots: Path) -> int:
    """Bytes on disk under ``roots``, hard-linked files counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                info = os.lstat(os.path.join(dirpath, name))
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


def install_env(
    server: Server,
    env: dict[str, str],
    root: Path,
    *,
    python: str = "3.13",
    extra: dict[str, bytes] | None = None,
    name: str = "env",
) -> Path:
    """Install (and activate) the fixture environment; return its pyodide-root."""
    files = {**fixture_files(python), **(extra or {})}
    url = server.add(f"/{name}-{python}.tar.gz", make_tar(files))
    # -v: a failure shows its traceback, not only the one-line error
    r = run("install", "-v", "--url", url, "--path", str(root), env=env)
    assert r.code == 0, r.err
    link = root / "xbuildenv"
    return link.resolve() / "xbuildenv" / "pyodide-root"


def pip_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the machine's pip configuration shut out: only our index is used."""
    out = {k: v for k, v in env.items() if not k.startswith(("PIP_", "UV_"))}
    out.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_CACHE_DIR="1", UV_NO_CACHE="1", UV_NO_CONFIG="1")
    return out


def run_on_terminal(
    args: list[str], env: dict[str, str], *, stdout_too: bool = False, timeout: float = 120
) -> tuple[int, str]:
    """Run the CLI with stderr (and, with ``stdout_too``, stdout) on a pseudo-terminal, so
    progress bars are drawn as a person would see them; return the exit code and what
    it drew."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "xbuildenv", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=follower if stdout_too else subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=timeout), b"".join(chunks).decode(errors="replace")


def copy_root(template: Path, dest: Path) -> None:
    """Copy a root (links included), repointing the absolute active link at ``dest``."""
    shutil.copytree(template, dest, symlinks=True)
    link = dest / "xbuildenv"
    if link.is_symlink():
        name = Path(os.readlink(link)).name
        link.unlink()
        os.symlink(dest / name, link)
