"""Defects found by testing and review (issue 19, item 8): each test failed before its fix."""

from __future__ import annotations

import ast
import json
import logging
import sys
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, index, make_tar, release
from helpers.cli import clean_env, one_error, run
from helpers.servers import Server, serve_env, serve_index

import xbuildenv
from xbuildenv.compat import CrossBuildEnvManager
from xbuildenv.errors import HTTPStatusError, InvalidVersionNameError, UsageError
from xbuildenv.install.pipeline import download_and_extract
from xbuildenv.install.reporter import NullReporter

PACKAGE = Path(xbuildenv.__file__).resolve().parent


# --- compat drops malformed releases silently ----------------------------------------
@pytest.mark.usefixtures("private_process_env")
def test_compat_warns_about_a_malformed_release(
    server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = serve_env(server, "1.0")
    bad = release("2.0", good["url"], PY_FULL, sha256="not-hex")
    meta = server.add("/index.json", index(good, bad))
    m = CrossBuildEnvManager(tmp_path / "root", meta)
    with caplog.at_level(logging.WARNING, logger="xbuildenv"):
        assert m._find_latest_version() == "1.0"
    said = [r.getMessage() for r in caplog.records if r.name == "xbuildenv"]
    assert len(said) == 1 and "2.0" in said[0] and "sha256" in said[0], said


@pytest.mark.usefixtures("private_process_env")
def test_compat_says_why_when_every_release_is_malformed(server: Server, tmp_path: Path) -> None:
    bad = release("2.0", server.url("/x.tar.gz"), PY_FULL, sha256="not-hex")
    worse = {"version": "3.0", "python_version": PY_FULL, "emscripten_version": "4.0.9"}
    meta = server.add("/index.json", index(bad, worse))
    m = CrossBuildEnvManager(tmp_path / "root", meta)
    with pytest.raises(ValueError) as caught:
        m._find_latest_version()
    text = str(caught.value)
    assert text.startswith("No cross-build environment releases are available"), text
    assert "2.0 (" in text and "sha256" in text and "3.0 (" in text and "url" in text, text


# --- a folder where the link belongs, moved to .trash-*-xbuildenv, never tidied -----------
def test_folder_moved_aside_from_the_link_is_tidied(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta = serve_index(server, serve_env(server, "1.0"))
    root = tmp_path / "root"
    assert run("install", "1.0", "--metadata", meta, "--path", str(root), env=env).code == 0
    (root / "xbuildenv").unlink()
    (root / "xbuildenv").mkdir()
    (root / "xbuildenv" / "stray.txt").write_text("left by hand\n")
    r = run("use", "1.0", "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert [p.name for p in root.glob(".trash-*-xbuildenv")] != []  # moved aside, not lost
    r = run("install", "1.0", "--metadata", meta, "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert list(root.glob(".trash-*")) == []
    assert (root / "xbuildenv").resolve() == (root / "1.0").resolve()


# --- a library call changed sys.setswitchinterval for the whole process ------------------
def test_an_install_leaves_the_switch_interval_alone(server: Server, tmp_path: Path) -> None:
    url = server.add("/e.tar.bz2", make_tar(compression="bz2"))
    before = sys.getswitchinterval()
    seen: set[float] = set()
    dest = tmp_path / "dest"
    dest.mkdir()

    class Watch(NullReporter):
        def progress(self, done: int, total: int | None) -> None:
            seen.add(sys.getswitchinterval())

    download_and_extract(url, dest, reporter=Watch())
    assert seen == {before} and sys.getswitchinterval() == before


# --- a local-path install said "via network" -----------------------------------------------
def test_local_path_install_says_where_it_read_from(env: dict[str, str], tmp_path: Path) -> None:
    archive = tmp_path / "env.tar.gz"
    archive.write_bytes(make_tar())
    args = ("install", "--url", str(archive), "--path", str(tmp_path / "root"))
    r = run(*args, "--json", env=env)
    assert r.code == 0, r.err
    assert json.loads(r.out)["route"] == "file"
    r = run(*args, "--force", "-v", env=env)
    assert r.code == 0, r.err
    fetched = [line for line in r.err.splitlines() if "fetched " in line]
    assert len(fetched) == 1 and fetched[0].endswith("via file"), r.err


# --- decisions on message text -------------------------------------------------------------
def _is_message(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "message"


def _text_decisions(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_message(side) for side in sides):
                found.append((node.lineno, "compares an error's message"))
            if any(isinstance(side, ast.Attribute) and side.attr == "__name__" for side in sides):
                found.append((node.lineno, "compares a type's name"))
            if any(isinstance(side, ast.Constant) and side.value == "resolved" for side in sides):
                found.append((node.lineno, "looks for a word in a description"))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("split", "partition", "startswith", "endswith", "find", "index")
            and _is_message(node.func.value)
        ):
            found.append((node.lineno, f"parses an error's message (.{node.func.attr})"))
    return found


def test_no_decision_is_taken_on_message_text() -> None:
    """No ``... in exc.message``, ``exc.message.split``, ``"resolved" in text`` or
    ``type(exc).__name__ == ...`` in the package: typed exceptions and attributes."""
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, what in _text_decisions(ast.parse(path.read_text()))
    ]
    assert found == []


def test_the_text_decision_scan_sees_each_kind() -> None:
    planted = ast.parse(
        "if 'HTTP 304' in exc.message: pass\n"
        "reason = exc.message.split(': ', 1)[-1]\n"
        "if type(exc).__name__ == 'FileExpired': pass\n"
        "if 'resolved' in text: pass\n"
        "print(f'refused ({exc.message})')\n"  # printing a message is no decision
    )
    assert sorted(line for line, _ in _text_decisions(planted)) == [1, 2, 3, 4]


def test_http_status_and_version_name_reasons_are_attributes(server: Server) -> None:
    from xbuildenv.cache.layout import check_version_name
    from xbuildenv.net.fetch import FetchSettings, fetch_bytes

    with pytest.raises(HTTPStatusError) as caught:
        fetch_bytes(server.url("/missing.json"), FetchSettings(retries=0))
    assert caught.value.status == 404
    with pytest.raises(InvalidVersionNameError) as bad_name:
        check_version_name("a/b")
    assert bad_name.value.reason == "it holds a path separator"
    assert isinstance(bad_name.value, UsageError)


def test_url_naming_no_folder_says_why(env: dict[str, str], tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/" + "x" * 300 + ".tar.gz"
    line = one_error(run("install", "--url", url, "--path", str(tmp_path / "r"), env=env), 2)
    assert "cannot name a version folder: it is longer than" in line, line


def test_an_unresolvable_host_is_one_error_at_once(tmp_path: Path) -> None:
    env = clean_env(tmp_path, XBUILDENV_RETRIES="5")
    url = "http://no-such-host.invalid/x.tar.gz"
    line = one_error(run("install", "--url", url, "--path", str(tmp_path / "r"), env=env))
    assert "the host name could not be resolved" in line and "attempt" not in line, line
