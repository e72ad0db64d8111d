"""What the CLI prints: progress only on a terminal, --quiet, --verbose, error lines."""

from __future__ import annotations

import os
import pty
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, default_files, make_tar
from helpers.cli import one_error, run, run_on_terminal
from helpers.servers import Server, serve_env, serve_index


def test_quiet_install_prints_nothing(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    meta = serve_index(server, serve_env(server, "1.0"))
    r = run("install", "1.0", "-q", "--metadata", meta, "--path", str(tmp_path / "r"), env=env)
    assert (r.code, r.out, r.err) == (0, "", "")


def test_verbose_shows_the_traceback(env: dict[str, str], tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.tar.gz")
    plain = run("install", "--url", missing, "--path", str(tmp_path / "r"), env=env)
    assert str(tmp_path / "missing.tar.gz") in one_error(plain)
    verbose = run("install", "--url", missing, "--path", str(tmp_path / "r"), "--verbose", env=env)
    assert verbose.code == 1 and "Traceback" in verbose.err
    assert verbose.err.splitlines()[-1] == plain.err.strip()


def test_not_an_environment_archive(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    url = server.add("/other.tar.gz", make_tar({"project/README": b"hello"}))
    root = tmp_path / "r"
    line = one_error(run("install", "--url", url, "--path", str(root), env=env))
    assert "not a Pyodide cross-build environment" in line
    assert [n for n in os.listdir(root) if not n.startswith(".")] == []


def test_url_reinstall_makes_no_request(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    url = server.add("/env.tar.gz", make_tar(default_files(PY_FULL)))
    root = tmp_path / "r"
    assert run("install", "--url", url, "--path", str(root), env=env).code == 0
    hits = sum(server.hits.values())
    r = run("install", "--url", url, "--path", str(root), env=env)
    assert r.code == 0 and "already installed" in r.err
    assert sum(server.hits.values()) == hits


@pytest.mark.skipif(not hasattr(pty, "openpty"), reason="needs a pseudo-terminal")
def test_progress_bar_only_on_a_terminal(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    big = default_files(PY_FULL) | {"xbuildenv/blob.bin": os.urandom(3_000_000)}
    other = default_files(PY_FULL) | {"xbuildenv/blob.bin": os.urandom(3_000_000)}
    meta = serve_index(
        server,
        serve_env(server, "1.0", files=big, compression=""),
        serve_env(server, "2.0", files=other, compression=""),  # nothing to share with 1.0
    )
    code, drawn = run_on_terminal(
        ["install", "1.0", "--metadata", meta, "--path", str(tmp_path / "a")], env
    )
    assert code == 0, drawn
    assert "downloading" in drawn and "\r" in drawn
    # The same with CI set: no bar, only the result lines.
    code, drawn = run_on_terminal(
        ["install", "2.0", "--metadata", meta, "--path", str(tmp_path / "b")], {**env, "CI": "1"}
    )
    assert code == 0, drawn
    assert server.hits["/dl/2.0/xbuildenv-2.0.tar"] == 1
    assert "downloading" not in drawn
