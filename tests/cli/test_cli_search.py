"""``xbuildenv search`` and the nightly / debug channels, through the CLI.

The channels' real URLs are on the internet; our ``XBUILDENV_*_METADATA_URL``
variables point each one at the loopback server instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from helpers.archives import DATA, OTHER_PY, PY_FULL
from helpers.cli import REPO, one_error, run
from helpers.servers import Server, serve_env, serve_index

KEYS = {"version", "python", "emscripten", "pyodide_build", "published_at", "compatible"}


def search(env: dict[str, str], tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    r = run("search", "--json", *args, "--path", str(tmp_path / "root"), env=env)
    assert r.code == 0, r.err
    envs: list[dict[str, Any]] = json.loads(r.out)["environments"]
    return envs


def test_json_schema(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    meta = serve_index(
        server,
        serve_env(
            server, "1.0", published_at="2026-01-02T03:04:05Z", min_pyodide_build_version="0.26.0"
        ),
        serve_env(server, "2.0", python=OTHER_PY),
    )
    envs = search(env, tmp_path, "--metadata", meta)
    assert envs == [
        {
            "version": "1.0",
            "python": PY_FULL,
            "emscripten": "4.0.9",
            "pyodide_build": {"min": "0.26.0", "max": None},
            "published_at": "2026-01-02T03:04:05Z",
            "compatible": True,
        }
    ]
    everything = search(env, tmp_path, "--metadata", meta, "--all")
    assert [(e["version"], e["compatible"]) for e in everything] == [("2.0", False), ("1.0", True)]
    assert all(set(e) == KEYS for e in everything)  # no "source" on the stable channel


def test_real_index_all(env: dict[str, str], tmp_path: Path) -> None:
    envs = search(
        env, tmp_path, "--all", "--metadata", str(DATA / "pyodide-cross-build-environments-v2.json")
    )
    assert len(envs) == 44
    assert envs[0]["version"] == "315.0.0a2" and envs[-1]["version"] == "0.25.0"
    assert next(e for e in envs if e["version"] == "0.25.1")["pyodide_build"] == {
        "min": "0.25.1",
        "max": "0.25.1",
    }


def test_local_index_with_relative_archives(env: dict[str, str], tmp_path: Path) -> None:
    # The offline demo in examples/ works from any directory.
    repo = REPO
    envs = search(env, tmp_path, "--all", "--metadata", str(repo / "examples" / "demo-index.json"))
    assert {e["version"] for e in envs} == {"0.29.4", "314.0.3"}


def nightly_env(server: Server, env: dict[str, str]) -> dict[str, str]:
    nightly = serve_index(
        server,
        serve_env(server, "0.30.0.dev20260301", published_at="2026-03-01T00:00:00Z"),
        # Re-published later under an older number: nightly order is by date.
        serve_env(server, "0.30.0.dev20260101", published_at="2026-03-05T00:00:00Z"),
        serve_env(server, "0.31.0.dev1", python=OTHER_PY, published_at="2026-03-09T00:00:00Z"),
        path="/nightly.json",
    )
    debug = serve_index(server, serve_env(server, "0.29.4-debug"), path="/debug.json")
    nightly_debug = serve_index(
        server,
        serve_env(server, "0.30.0.dev5-debug", published_at="2026-03-01T00:00:00Z"),
        path="/nightly-debug.json",
    )
    return {
        **env,
        "XBUILDENV_NIGHTLY_METADATA_URL": nightly,
        "XBUILDENV_DEBUG_METADATA_URL": debug,
        "XBUILDENV_NIGHTLY_DEBUG_METADATA_URL": nightly_debug,
    }


def test_nightly_search_is_newest_first_with_source(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    envs = search(nightly_env(server, env), tmp_path, "--nightly", "--all")
    assert [e["version"] for e in envs] == [
        "0.31.0.dev1",
        "0.30.0.dev20260101",
        "0.30.0.dev20260301",
    ]
    assert {e["source"] for e in envs} == {"nightly"}


def test_nightly_install_picks_newest_published(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    r = run("install", "--nightly", "--path", str(root), env=nightly_env(server, env))
    assert r.code == 0, r.err
    assert os.readlink(root / "xbuildenv") == str(root / "0.30.0.dev20260101")


def test_debug_channels(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    e = nightly_env(server, env)
    debug = search(e, tmp_path, "--debug")
    assert [(x["version"], x["source"]) for x in debug] == [("0.29.4-debug", "stable-debug")]
    both = search(e, tmp_path, "--debug", "--nightly")
    assert [(x["version"], x["source"]) for x in both] == [("0.30.0.dev5-debug", "nightly-debug")]
    r = run("search", "--debug", "--path", str(tmp_path), env=e)
    assert r.out.splitlines()[0].split()[-1] == "Source"
    assert r.out.splitlines()[2].split()[-1] == "stable-debug"


def test_nothing_compatible(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    meta = serve_index(server, serve_env(server, "2.0", python=OTHER_PY))
    line = one_error(run("search", "--metadata", meta, "--path", str(tmp_path), env=env))
    assert "--all" in line
    # JSON output is for machines: an empty list, not an error.
    assert search(env, tmp_path, "--metadata", meta) == []
