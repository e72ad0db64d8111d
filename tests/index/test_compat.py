"""Compatibility and selection: which release fits, which is latest, what to say when none.

The selection functions are tested directly on the real 44-release index for every
Python it covers; the CLI is tested on a loopback copy of that index whose archive
URLs point at the test server, so ``xbuildenv install`` really picks and installs
the expected release for the running Python.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.archives import DATA, OTHER_PY, PY_FULL, PY_MM, default_files, make_tar, sha256
from helpers.cli import one_error, run
from helpers.servers import Server, serve_env, serve_index

from xbuildenv.errors import IncompatibleError
from xbuildenv.index.compatibility import (
    explain_incompatible,
    is_compatible,
    latest_compatible,
    nearest_versions,
    pyodide_build_in_range,
    sort_releases,
    version_key,
)
from xbuildenv.index.releases import Release, parse_index

REAL = DATA / "pyodide-cross-build-environments-v2.json"
LATEST = {
    "3.11": "0.25.1",
    "3.12": "0.27.7",
    "3.13": "0.29.4",
    "3.14": "314.0.5",
    "3.15": "315.0.0a2",
}


@pytest.fixture(scope="module")
def real() -> dict[str, Release]:
    return parse_index(REAL.read_bytes())


def rel(version: str, python: str = "3.13.2", **kw: Any) -> Release:
    return Release(version, f"https://x/{version}.tar.gz", python, "4.0.9", **kw)


# --- the real index, for each Python ------------------------------------------------------
@pytest.mark.parametrize(("python", "expected"), sorted(LATEST.items()))
def test_latest_compatible_per_python(real: dict[str, Release], python: str, expected: str) -> None:
    assert latest_compatible(real.values(), python, None).version == expected


@pytest.mark.parametrize(("python", "expected"), sorted(LATEST.items()))
def test_latest_with_a_current_pyodide_build(
    real: dict[str, Release], python: str, expected: str
) -> None:
    # pyodide-build 0.25.1 is the only one 0.25.1 (Python 3.11) accepts; for the other
    # Pythons every release from 0.26.0 on allows it.
    pb = "0.25.1" if python == "3.11" else "0.39.2"
    assert latest_compatible(real.values(), python, pb).version == expected


def test_pyodide_build_range_excludes(real: dict[str, Release]) -> None:
    # 0.25.x pin pyodide-build exactly; with 0.39.2 nothing for Python 3.11 fits.
    with pytest.raises(IncompatibleError) as info:
        latest_compatible(real.values(), "3.11", "0.39.2")
    assert "pyodide-build 0.39.2" in str(info.value)
    assert latest_compatible(real.values(), "3.11", "0.25.0").version == "0.25.0"
    # The 0.26.0aN pre-releases pin their own pyodide-build alpha.
    assert latest_compatible(real.values(), "3.12", "0.26.0a3").version == "0.26.0a3"


def test_too_old_and_not_yet_supported(real: dict[str, Release]) -> None:
    with pytest.raises(IncompatibleError) as old:
        latest_compatible(real.values(), "3.10", None)
    assert "too old" in str(old.value) and "3.11" in str(old.value)
    with pytest.raises(IncompatibleError) as new:
        latest_compatible(real.values(), "3.16", None)
    assert "not yet supported" in str(new.value) and "3.15" in str(new.value)
    # 3.9 < 3.11 numerically, though "3.9" > "3.11" as text.
    assert "too old" in explain_incompatible(list(real.values()), "3.9", None)
    assert "not yet supported" in explain_incompatible(list(real.values()), "3.100", None)


def test_gap_in_supported_pythons() -> None:
    msg = explain_incompatible([rel("1", "3.11.0"), rel("2", "3.13.0")], "3.12", None)
    assert "3.11" in msg and "3.13" in msg and "3.12" in msg


def test_range_checks() -> None:
    r = rel("1.0", min_pyodide_build_version="0.26.0", max_pyodide_build_version="0.30.0")
    assert pyodide_build_in_range(r, None)  # unknown: shown, not enforced
    assert pyodide_build_in_range(r, "0.26.0") and pyodide_build_in_range(r, "0.30.0")
    assert not pyodide_build_in_range(r, "0.25.9")
    assert not pyodide_build_in_range(r, "0.30.1")
    assert pyodide_build_in_range(rel("1.0", min_pyodide_build_version="0.26.0"), "9.0")
    assert not is_compatible(r, "3.12", "0.27.0")
    assert is_compatible(r, "3.13", "0.27.0")


def test_pep440_order_not_text_order() -> None:
    pool = [rel("0.9.0"), rel("0.10.0"), rel("0.10.0a1"), rel("not-a-version")]
    assert [r.version for r in sort_releases(pool)] == [
        "0.10.0",
        "0.10.0a1",
        "0.9.0",
        "not-a-version",
    ]
    assert version_key("junk") < version_key("0.0.1")


def test_nightly_picks_newest_published(real: dict[str, Release]) -> None:
    pool = [
        rel("0.30.0.dev3", published_at="2026-01-01T00:00:00Z"),
        rel("0.30.0.dev2", published_at="2026-03-01T00:00:00Z"),  # rebuilt later
        rel("0.30.0.dev9", python="3.12.1", published_at="2026-04-01T00:00:00Z"),
    ]
    assert latest_compatible(pool, "3.13", None, by_published=True).version == "0.30.0.dev2"
    assert latest_compatible(pool, "3.13", None).version == "0.30.0.dev3"
    # On the real index, 314.0.5 was published after 315.0.0a2 (but is older by PEP 440).
    assert latest_compatible(real.values(), "3.14", None, by_published=True).version == "314.0.5"


def test_nearest_versions(real: dict[str, Release]) -> None:
    near = nearest_versions(real, "0.29.5")
    assert "0.29.4" in near and len(near) == 3


# --- through the CLI, for the running Python ------------------------------------------------
def served_real_index(server: Server) -> tuple[str, bytes]:
    """The real index with every archive URL on the loopback server (one shared archive)."""
    body = make_tar(default_files(PY_FULL))
    server.add("/env.tar.gz", body)
    doc = json.loads(REAL.read_bytes())
    for key, entry in doc["releases"].items():
        entry["url"] = server.add(f"/dl/{key}.tar.gz", body)
        entry["sha256"] = sha256(body)
    return server.add("/real-index.json", json.dumps(doc).encode()), body


@pytest.mark.skipif(PY_MM not in LATEST, reason=f"the real index has nothing for Python {PY_MM}")
def test_cli_installs_latest_for_running_python(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta, _ = served_real_index(server)
    root = tmp_path / "root"
    r = run("install", "--metadata", meta, "--path", str(root), env=env)
    assert r.code == 0, r.err
    want = LATEST[PY_MM]
    assert server.hits[f"/dl/{want}.tar.gz"] == 1
    assert sum(n for p, n in server.hits.items() if p.startswith("/dl/")) == 1
    assert (root / "xbuildenv").resolve() == (root / want).resolve()
    r = run("version", "--path", str(root), env=env)
    assert r.out == f"{want}\n"


@pytest.mark.skipif(PY_MM not in LATEST, reason=f"the real index has nothing for Python {PY_MM}")
def test_cli_search_lists_compatible_first(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta, _ = served_real_index(server)
    r = run("search", "--json", "--metadata", meta, "--path", str(tmp_path), env=env)
    assert r.code == 0, r.err
    envs = json.loads(r.out)["environments"]
    assert envs and envs[0]["version"] == LATEST[PY_MM]
    assert all(e["compatible"] and e["python"].startswith(PY_MM + ".") for e in envs)


def test_cli_python_too_old(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    # Every release is for a newer Python than the running one.
    meta = serve_index(server, serve_env(server, "99.0", python=OTHER_PY))
    line = one_error(run("install", "--metadata", meta, "--path", str(tmp_path), env=env))
    assert f"Python {PY_MM} is too old" in line and "oldest supported is Python 3.99" in line


def test_cli_python_not_yet_supported(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    # Every release is for an older Python than the running one.
    meta = serve_index(server, serve_env(server, "0.1", python="3.0.1"))
    line = one_error(run("install", "--metadata", meta, "--path", str(tmp_path), env=env))
    assert (
        f"Python {PY_MM} is not yet supported" in line and "newest supported is Python 3.0" in line
    )
    line = one_error(run("search", "--metadata", meta, "--path", str(tmp_path), env=env))
    assert "search --all" in line


def test_cli_pyodide_build_version_option(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta = serve_index(
        server,
        serve_env(server, "2.0", min_pyodide_build_version="0.30.0"),
        serve_env(
            server, "1.0", min_pyodide_build_version="0.26.0", max_pyodide_build_version="0.29.9"
        ),
    )
    root = tmp_path / "root"

    def search(*extra: str) -> dict[str, bool]:
        r = run(
            "search", "--all", "--json", "--metadata", meta, "--path", str(root), *extra, env=env
        )
        assert r.code == 0, r.err
        return {e["version"]: e["compatible"] for e in json.loads(r.out)["environments"]}

    assert search() == {"2.0": True, "1.0": True}  # not enforced without a version
    assert search("--pyodide-build-version", "0.27.0") == {"2.0": False, "1.0": True}
    assert search("--pyodide-build-version", "0.31.0") == {"2.0": True, "1.0": False}

    # install picks the newest one in range...
    r = run(
        "install",
        "--metadata",
        meta,
        "--path",
        str(root),
        "--pyodide-build-version",
        "0.27.0",
        env=env,
    )
    assert r.code == 0, r.err
    assert (root / "xbuildenv").resolve().name == "1.0"
    # ...refuses a named one out of range, saying why...
    line = one_error(
        run(
            "install",
            "2.0",
            "--metadata",
            meta,
            "--path",
            str(root),
            "--pyodide-build-version",
            "0.27.0",
            env=env,
        )
    )
    assert "2.0" in line and "0.30.0" in line and "0.27.0" in line and "--force" in line
    assert not (root / "2.0").exists()
    # ...and says so when nothing is in range.
    line = one_error(
        run(
            "install",
            "--metadata",
            meta,
            "--path",
            str(root),
            "--pyodide-build-version",
            "0.1",
            env=env,
        )
    )
    assert "pyodide-build 0.1" in line


def test_cli_table_shows_range_and_compatibility(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta = serve_index(
        server,
        serve_env(
            server,
            "2.0",
            published_at="2026-02-03T04:05:06Z",
            min_pyodide_build_version="0.26.0",
            max_pyodide_build_version="0.30.0",
        ),
        serve_env(server, "9.0", python=OTHER_PY),
    )
    r = run("search", "--metadata", meta, "--path", str(tmp_path), env=env)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == [
        "Version",
        "Python",
        "Emscripten",
        "pyodide-build",
        "Published",
        "Compatible",
    ]
    assert lines[2].split() == [
        "2.0",
        PY_FULL,
        "4.0.9",
        "0.26.0",
        "-",
        "0.30.0",
        "2026-02-03",
        "yes",
    ]
    assert len(lines) == 4  # the incompatible one is hidden without --all
    # The line under the table says what decided "Compatible" (no pyodide-build here).
    assert lines[3].startswith(f"Compatible: Python {PY_MM}; no pyodide-build range checked")
    assert "--pyodide-build-version" in lines[3]
    r = run("search", "--all", "--metadata", meta, "--path", str(tmp_path), env=env)
    rows = [line.split() for line in r.out.splitlines()[2:-1]]
    assert rows[0][0] == "9.0" and rows[0][-1] == "no"
