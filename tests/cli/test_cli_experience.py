"""The command line as a person meets it: global flags, suggestions, help, progress,
version shorthands and configuration typos. Real subprocesses against a loopback server.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, default_files, index, make_tar, release, sha256
from helpers.cli import install_env, one_error, run, run_on_terminal
from helpers.servers import Server, serve_env, serve_index


@pytest.fixture
def meta(server: Server) -> str:
    return serve_index(
        server,
        serve_env(server, "0.27.6"),
        serve_env(server, "0.27.7"),
        serve_env(server, "0.27.8", python="3.0.1"),  # newest 0.27, but not for this Python
        serve_env(server, "0.28.0"),
    )


# --- -q / -v before or after the command --------------------------------------------
@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_and_verbose_either_side(
    where: str, server: Server, meta: str, env: dict[str, str], tmp_path: Path
) -> None:
    def cli(flag: str, *args: str) -> subprocess.CompletedProcess[str]:
        words = [flag, *args] if where == "before" else [*args, flag]
        return subprocess.run(
            [sys.executable, "-m", "xbuildenv", *words],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    root = str(tmp_path / "r")
    quiet = cli("-q", "install", "0.27.7", "--metadata", meta, "--path", root)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    verbose = cli("-v", "install", "0.28.0", "--metadata", meta, "--path", root)
    assert verbose.returncode == 0, verbose.stderr
    url = server.url("/dl/0.28.0/xbuildenv-0.28.0.tar.gz")
    for expected in ("release: 0.28.0", f"url:     {url}", "route:   network", "sha256:  "):
        assert expected in verbose.stderr, verbose.stderr
    assert re.search(r"size: +[\d.]+ K?B \(\d+ bytes\)", verbose.stderr)
    assert re.search(
        r"time: +resolve [\d.]+ s, fetch [\d.]+ s, index [\d.]+ s, publish", verbose.stderr
    )
    searched = cli("-v", "search", "--metadata", meta, "--path", root)
    assert searched.returncode == 0 and "0.28.0" in searched.stdout
    assert cli("-q", "use", "0.27.7", "--path", root).stderr == ""


def test_verbose_shows_the_linked_route(
    server: Server, meta: str, env: dict[str, str], tmp_path: Path
) -> None:
    # Roots in the cache folder (the default one) are the ones another root can share.
    assert run("install", "0.28.0", "--metadata", meta, env=env).code == 0
    r = run("-v", "install", "0.28.0", "--metadata", meta, "--path", str(tmp_path / "b"), env=env)
    assert r.code == 0 and "route:   linked" in r.err and "size:    -" in r.err
    assert "fetched" not in r.err  # nothing was fetched: no fetch line


# --- suggestions and no prefix matching -------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["instal"], "did you mean 'install'?"),
        (["cache", "lst"], "did you mean 'list'?"),
        (["versions", "--jsn"], "did you mean '--json'?"),
        (["search", "--meta", "x.json"], "did you mean '--metadata'?"),  # no silent prefix
        (["search", "--js"], "did you mean '--json'?"),
        (["install", "--pa", "x"], "did you mean '--path'?"),
    ],
)
def test_did_you_mean(args: list[str], expected: str, env: dict[str, str]) -> None:
    line = one_error(run(*args, env=env), code=2)
    assert expected in line and "--help" in line


def test_unknown_version_suggestions(
    server: Server, meta: str, env: dict[str, str], tmp_path: Path
) -> None:
    root = str(tmp_path / "r")
    assert run("install", "0.27.7", "--metadata", meta, "--path", root, env=env).code == 0
    assert "did you mean 0.27.7?" in one_error(run("use", "0.27.77", "--path", root, env=env))
    assert "did you mean 0.27.7?" in one_error(run("uninstall", "0.2.7.7", "--path", root, env=env))
    line = one_error(run("install", "0.27.9", "--metadata", meta, "--path", root, env=env))
    assert "nearest available: " in line and "0.27.8" in line


def test_every_parser_refuses_abbreviations() -> None:
    from xbuildenv.cli.main import build_parser

    def walk(parser: argparse.ArgumentParser) -> int:
        assert parser.allow_abbrev is False, parser.prog
        count = 1
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                count += sum(walk(child) for child in action.choices.values())
        return count

    assert walk(build_parser()) >= 18


# --- help -------------------------------------------------------------------------------
def _commands() -> list[str]:
    from xbuildenv.cli.main import build_parser

    found = []

    def walk(parser: argparse.ArgumentParser, words: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found.append(f"{words} {name}".strip())
                    walk(child, f"{words} {name}")

    walk(build_parser(), "")
    return found


@pytest.mark.parametrize("command", _commands())
def test_help_has_examples(command: str, env: dict[str, str]) -> None:
    r = run(*command.split(), "--help", env=env)
    assert r.code == 0, r.err
    examples = r.out.split("examples:\n", 1)[1].splitlines()
    assert 1 <= len(examples) <= 3 and all("xbuildenv " in line for line in examples), r.out


@pytest.mark.parametrize(
    ("command", "names"),
    [
        ("install", ["PYODIDE_XBUILDENV_PATH", "PYODIDE_CROSS_BUILD_ENV_METADATA_URL",
                     "XBUILDENV_LINK_MODE", "link_mode in [tool.xbuildenv]",
                     "XBUILDENV_INDEX_MAX_AGE", "default_cross_build_env_url"]),
        ("install-packages", ["XBUILDENV_INSTALLER", "installer in [tool.xbuildenv]"]),
        ("install-emscripten", ["XBUILDENV_EMSDK_URL", "emsdk_url in [tool.xbuildenv]"]),
        ("search", ["PYODIDE_CROSS_BUILD_ENV_METADATA_URL", "index_max_age"]),
    ],
)  # fmt: skip
def test_help_names_the_variables(command: str, names: list[str], env: dict[str, str]) -> None:
    text = " ".join(run(command, "--help", env=env).out.split())  # undo the wrapping
    for name in names:
        assert name in text, (name, text)


def test_help_wraps_as_argparse_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parser finds the width without shutil (start-up time), by argparse's rules:
    ``$COLUMNS`` when positive, else the terminal, else 80."""
    from xbuildenv.cli.main import build_parser

    def child(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return sub.choices[name]  # type: ignore[no-any-return]

    install = child(build_parser(), "install")
    own = install.formatter_class
    seen = set()
    for columns in ("50", "150", "0", "wide", None):
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", columns)
        install.formatter_class = own
        ours = install.format_help()
        install.formatter_class = argparse.RawDescriptionHelpFormatter  # argparse's own
        assert ours == install.format_help(), columns
        seen.add(ours)
    assert len(seen) >= 2  # the width mattered: the comparison is not vacuous


# --- progress -------------------------------------------------------------------------
def test_progress_bar_shows_eta(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    big = default_files(PY_FULL) | {"xbuildenv/blob.bin": os.urandom(3_000_000)}
    meta = serve_index(server, serve_env(server, "1.0", files=big, compression=""))
    code, drawn = run_on_terminal(
        ["install", "1.0", "--metadata", meta, "--path", str(tmp_path / "a")], env
    )
    assert code == 0, drawn
    assert re.search(r"downloading \[[#-]+\] .* ETA \d+:\d\d", drawn), drawn
    assert "fetched" not in drawn  # the bar said it all


@pytest.mark.parametrize("ci", [False, True])
def test_one_line_per_fetched_archive_in_logs(
    ci: bool, server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta = serve_index(server, serve_env(server, "1.0"))
    env = {**env, "CI": "true"} if ci else env
    if ci:
        code, err = run_on_terminal(
            ["install", "1.0", "--metadata", meta, "--path", str(tmp_path / "a")], env
        )
    else:
        r = run("install", "1.0", "--metadata", meta, "--path", str(tmp_path / "a"), env=env)
        code, err = r.code, r.err
    assert code == 0, err
    url = server.url("/dl/1.0/xbuildenv-1.0.tar.gz")
    [line] = [line for line in err.splitlines() if line.startswith("fetched ")]
    assert re.fullmatch(
        rf"fetched {re.escape(url)}: \d+ bytes in [\d.]+ s \([\d.]+ MB/s\) via network",
        line.strip(),
    ), line
    # From the store (another root after the first is gone): the same line, route "store".
    assert run("uninstall", "1.0", "--path", str(tmp_path / "a"), env=env).code == 0
    store = Path(run("cache", "dir", env=env).out.strip()) / "xbuildenv-store"
    shutil.rmtree(store / "trees")  # else its unpacked tree is linked, not read
    r = run("install", "1.0", "--metadata", meta, "--path", str(tmp_path / "b"), env=env)
    assert re.search(r"^fetched .* via store$", r.err, flags=re.M), r.err
    assert "downloading" not in err


def test_read_commands_import_no_heavy_modules(env: dict[str, str], tmp_path: Path) -> None:
    heavy = ["xbuildenv.cli.progress", "difflib", "json", "shtab", "truststore", "ssl",
             "packaging", "xbuildenv.manager", "xbuildenv.cli.install_report"]  # fmt: skip
    for command in ("version", "versions", "root"):
        code = (
            "import sys\nfrom xbuildenv.cli.main import main\n"
            f"main([{command!r}, '--path', {str(tmp_path)!r}])\n"
            f"print([m for m in {heavy!r} if m in sys.modules])"
        )
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert done.stdout.splitlines()[-1] == "[]", (command, done.stdout, done.stderr)


def test_install_imports_only_what_its_route_needs(env: dict[str, str], tmp_path: Path) -> None:
    """Every install pays for what it imports (the test suite runs ~1,400 of them, a fleet
    32 at once): a gzip archive from a local file needs no bzip2 threads, no HTTP, no
    HTML entities, no remote store; a root linking a tree another root unpacked needs
    no download pipeline either."""
    data = make_tar(default_files(python=PY_FULL), "gz")
    (tmp_path / "env.tar.gz").write_bytes(data)
    url = (tmp_path / "env.tar.gz").as_uri()
    (tmp_path / "index.json").write_bytes(index(release("1.0", url, PY_FULL, sha256=sha256(data))))
    never = ["concurrent.futures", "logging", "html", "socket", "ssl", "http.client",
             "xbuildenv.install.parallel_bz2", "xbuildenv.install.remote_store"]  # fmt: skip
    pipeline = ["tarfile", "xbuildenv.install.pipeline", "xbuildenv.install.archive"]
    for root, heavy, route in (("a", never, "file"), ("b", never + pipeline, "linked")):
        words = ["install", "1.0", "--metadata", str(tmp_path / "index.json")]
        code = (
            "import sys\nfrom xbuildenv.cli.main import main\n"
            f"code = main({[*words, '--path', str(tmp_path / root), '--json']!r})\n"
            f"print([m for m in {heavy!r} if m in sys.modules], code)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path
        )
        assert done.stdout.splitlines()[-1] == "[] 0", (root, done.stdout, done.stderr)
        assert f'"route": "{route}"' in done.stdout, done.stdout


# --- version shorthands -----------------------------------------------------------------
def test_series_and_tag_shorthands(
    server: Server, meta: str, env: dict[str, str], tmp_path: Path
) -> None:
    root = str(tmp_path / "r")
    r = run("install", "0.27", "--metadata", meta, "--path", root, env=env)
    assert r.code == 0, r.err
    assert "environment 0.27.7 installed" in r.err  # newest compatible, shown in full
    assert run("version", "--path", root, env=env).out == "0.27.7\n"
    r = run("install", "v0.27.6", "--metadata", meta, "--path", root, env=env)
    assert r.code == 0 and "environment 0.27.6 installed" in r.err, r.err
    assert run("versions", "--path", root, env=env).out == "* 0.27.6\n  0.27.7\n"
    line = one_error(run("install", "0.26", "--metadata", meta, "--path", root, env=env))
    assert "version 0.26 is not in the release index" in line


# --- configuration typos ---------------------------------------------------------------
def test_unknown_project_key_warns_once(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.xbuildenv]\nindex_max_aeg = 60\nlink_mode = 'copy'\n"
    )
    r = run("versions", "--path", str(tmp_path / "r"), env=env, cwd=tmp_path)
    assert r.code == 0
    assert r.err.splitlines() == [
        f"warning: {tmp_path / 'pyproject.toml'}: unknown key 'index_max_aeg' in "
        "[tool.xbuildenv]; did you mean 'index_max_age'?"
    ]


# --- -q everywhere: the emsdk hints too ---------------------------------------------------
def test_quiet_install_emscripten_prints_no_hints(
    server: Server,
    env: dict[str, str],
    tmp_path: Path,
    emsdk_repo: str,
) -> None:
    env = {**env, "FAKE_EMSDK_LOG": str(tmp_path / "log"), "XBUILDENV_EMSDK_URL": emsdk_repo}
    root = str(tmp_path / "root")
    install_env(server, env, tmp_path / "root")
    r = run("-q", "install-emscripten", "--path", root, env=env)
    assert (r.code, r.out, r.err) == (0, "", "")
    r = run("install-emscripten", "--path", root, env=env)  # without -q: the hints
    assert r.code == 0 and "emsdk_env.sh" in r.out and "already installed" in r.err


@pytest.mark.parametrize(
    "words",
    [["-q", "cache", "clean"], ["cache", "-q", "clean"], ["cache", "clean", "-q"]],
)
def test_quiet_at_any_level_of_a_nested_command(words: list[str], env: dict[str, str]) -> None:
    r = run(*words, env=env)
    assert (r.code, r.out, r.err) == (0, "", "")
    assert "removed 0 archive(s)" in run("cache", "clean", env=env).err
