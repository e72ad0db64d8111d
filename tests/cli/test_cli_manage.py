"""``use``, ``version``, ``versions``, ``uninstall``, ``root`` and usage errors, through the CLI."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.archives import PY_MM
from helpers.cli import Result, clean_env, copy_root, expected_install_id, one_error, run
from helpers.servers import Server, serve_env, serve_index

import xbuildenv


@pytest.fixture(scope="module")
def three_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Server]]:
    """A root with 0.9.0, 0.10.0a1 and 0.10.0 installed; 0.10.0 active: made once, and
    the server it was installed from (still up, so a test can count its requests)."""
    base = tmp_path_factory.mktemp("manage")
    (base / "home").mkdir()
    env = clean_env(base / "home")
    server = Server()
    meta = serve_index(
        server,
        serve_env(server, "0.9.0"),
        serve_env(server, "0.10.0"),
        serve_env(server, "0.10.0a1"),
    )
    root = base / "root"
    for v in ("0.10.0a1", "0.9.0", "0.10.0"):
        r = run("install", v, "--metadata", meta, "--path", str(root), env=env)
        assert r.code == 0, r.err
    yield root, server
    server.close()


@pytest.fixture
def two(three_installed: tuple[Path, Server], tmp_path: Path) -> Path:
    """This test's own copy of ``three_installed`` (tests change it)."""
    root = tmp_path / "root"
    copy_root(three_installed[0], root)
    return root


def cli(root: Path, env: dict[str, str], *args: str) -> Result:
    return run(*args, "--path", str(root), env=env)


# --- version / versions ------------------------------------------------------------------
def test_version_prints_active(two: Path, env: dict[str, str]) -> None:
    r = cli(two, env, "version")
    assert (r.code, r.out, r.err) == (0, "0.10.0\n", "")


def test_version_without_active(env: dict[str, str], tmp_path: Path) -> None:
    line = one_error(cli(tmp_path / "empty", env, "version"))
    assert "no cross-build environment is active" in line and "xbuildenv install" in line


def test_versions_lists_in_version_order_and_marks_active(two: Path, env: dict[str, str]) -> None:
    # Half-made folders (no .installed) and our private folders are not versions.
    (two / "0.11.0" / "xbuildenv").mkdir(parents=True)
    (two / ".staging-0123abcd-1-0.12.0").mkdir()
    r = cli(two, env, "versions")
    assert (r.code, r.out) == (0, "  0.9.0\n  0.10.0a1\n* 0.10.0\n"), r.err


def test_versions_json(two: Path, env: dict[str, str]) -> None:
    r = cli(two, env, "versions", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["root"] == str(two)
    # installed from a --metadata index that is none of the channels: it is the source
    sources = {v.pop("source") for v in data["versions"]}
    assert len(sources) == 1 and sources.pop().endswith("/index.json")
    assert data["versions"] == [
        {"version": "0.9.0", "active": False, "python": PY_MM, "path": str(two / "0.9.0")},
        {"version": "0.10.0a1", "active": False, "python": PY_MM, "path": str(two / "0.10.0a1")},
        {"version": "0.10.0", "active": True, "python": PY_MM, "path": str(two / "0.10.0")},
    ]


def test_versions_of_missing_root_is_empty(env: dict[str, str], tmp_path: Path) -> None:
    r = cli(tmp_path / "none", env, "versions")
    assert (r.code, r.out) == (0, "")
    r = cli(tmp_path / "none", env, "versions", "--json")
    assert json.loads(r.out)["versions"] == []
    assert not (tmp_path / "none").exists()  # reading never creates the root


def test_link_to_an_incomplete_version_is_not_active(two: Path, env: dict[str, str]) -> None:
    (two / "0.10.0" / ".installed").unlink()
    assert cli(two, env, "versions").out == "  0.9.0\n  0.10.0a1\n"
    one_error(cli(two, env, "version"))


# --- use ------------------------------------------------------------------------------------
def test_use_switches_the_link(
    two: Path, env: dict[str, str], three_installed: tuple[Path, Server]
) -> None:
    server = three_installed[1]
    hits = sum(server.hits.values())
    r = cli(two, env, "use", "0.9.0")
    assert r.code == 0, r.err
    assert os.readlink(two / "xbuildenv") == str(two / "0.9.0")
    assert cli(two, env, "version").out == "0.9.0\n"
    assert sum(server.hits.values()) == hits  # no network


def test_use_unknown_version(two: Path, env: dict[str, str]) -> None:
    line = one_error(cli(two, env, "use", "7.7"))
    assert "7.7 is not installed" in line and "0.9.0" in line and "0.10.0" in line
    assert os.readlink(two / "xbuildenv") == str(two / "0.10.0")


@pytest.mark.parametrize("name", ["../escape", ".locks", "xbuildenv", "a/b"])
def test_use_refuses_names_outside_the_root(two: Path, env: dict[str, str], name: str) -> None:
    assert "not a valid version name" in one_error(cli(two, env, "use", name), code=2)
    assert os.readlink(two / "xbuildenv") == str(two / "0.10.0")


# --- uninstall ------------------------------------------------------------------------------
def test_uninstall_active_by_default(two: Path, env: dict[str, str]) -> None:
    r = cli(two, env, "uninstall")
    assert r.code == 0, r.err
    assert "0.10.0" in r.err
    assert not (two / "0.10.0").exists()
    assert not (two / "xbuildenv").is_symlink()  # the link went with it
    assert (two / "0.9.0" / ".installed").is_file()
    assert cli(two, env, "versions").out == "  0.9.0\n  0.10.0a1\n"
    # Nothing active now: uninstall without a name says what to do.
    line = one_error(cli(two, env, "uninstall"))
    assert "name the version" in line


def test_uninstall_named_keeps_active(two: Path, env: dict[str, str]) -> None:
    assert cli(two, env, "uninstall", "0.9.0").code == 0
    assert not (two / "0.9.0").exists()
    assert os.readlink(two / "xbuildenv") == str(two / "0.10.0")
    assert not [n for n in os.listdir(two) if n.startswith(".trash-")]


def test_uninstall_missing(two: Path, env: dict[str, str]) -> None:
    line = one_error(cli(two, env, "uninstall", "3.3"))
    assert "3.3 is not installed" in line


# --- root -------------------------------------------------------------------------------------
def test_root_with_path(env: dict[str, str], tmp_path: Path) -> None:
    r = cli(tmp_path / "r", env, "root", "--json")
    data = json.loads(r.out)
    assert data["root"] == str(tmp_path / "r") and data["rule"] == "--path"
    assert re.fullmatch(r"[0-9a-f]{12}", data["install_id"]), data["install_id"]
    assert data["install_id"] == expected_install_id(sys.prefix, Path(xbuildenv.__file__).parent)


# --- usage errors: exit 2, one line ----------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["install", "--no-such-option"],
        ["use"],
        ["versions", "extra-arg"],
        ["search", "--metadata"],
        ["search", "--nightly", "--metadata", "x.json"],
        ["install", "--debug", "--metadata", "x.json"],
    ],
)
def test_usage_errors(args: list[str], env: dict[str, str], tmp_path: Path) -> None:
    r = run(*args, env=env, cwd=tmp_path)
    one_error(r, code=2)
    assert r.err.count("\n") == 1, r.err


def test_no_command_prints_help(env: dict[str, str], tmp_path: Path) -> None:
    r = run(env=env, cwd=tmp_path)
    assert r.code == 2 and "usage:" in r.out


def test_help_and_version(env: dict[str, str], tmp_path: Path) -> None:
    r = run("--help", env=env, cwd=tmp_path)
    assert r.code == 0
    for command in ("install", "use", "version", "versions", "uninstall", "search", "root"):
        assert command in r.out
    r = run("--version", env=env, cwd=tmp_path)
    assert r.code == 0 and r.out.startswith("xbuildenv ")
