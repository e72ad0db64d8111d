"""``mirror sync --emscripten``: the mirrored environments' SDKs, built here when nobody
has them, then installed on a second machine that reaches only the mirror.

emsdk is the counted stand-in (tests/data/fake_emsdk.py) in a local git repository;
the second machine's emsdk URL is a loopback port that refuses connections.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers.archives import PY_FULL, default_files
from helpers.cli import clean_env, run
from helpers.servers import Server, serve_env, serve_index

INDEX = "pyodide-cross-build-environments.json"
PATCH = b"""diff --git a/src/settings.js b/src/settings.js
--- a/src/settings.js
+++ b/src/settings.js
@@ -1,3 +1,3 @@
 line1
-line2
+line2 patched for the mirror
 line3
"""
SETTINGS = "upstream/emscripten/src/settings.js"


def builds(log: Path) -> int:
    lines = log.read_text().splitlines() if log.exists() else []
    return sum(line.startswith("install ") for line in lines)


def test_mirror_sync_builds_a_missing_sdk_for_an_air_gapped_machine(
    server: Server, tmp_path: Path, emsdk_repo: str, refused_port: int
) -> None:
    files = default_files(PY_FULL, "0.29.4")
    files["xbuildenv/pyodide-root/Makefile.envs"] += b"export PYODIDE_EMSCRIPTEN_VERSION ?= 4.0.9\n"
    files["xbuildenv/pyodide-root/emsdk/patches/0001-mirror.patch"] = PATCH
    meta = serve_index(server, serve_env(server, "0.29.4", files=files))
    log = tmp_path / "calls.log"
    home_a = tmp_path / "a"
    home_a.mkdir()
    env_a = clean_env(home_a, FAKE_EMSDK_LOG=str(log), XBUILDENV_EMSDK_URL=emsdk_repo)
    dest = tmp_path / "mirror"
    sync = ("mirror", "sync", str(dest), "--metadata", meta)

    # The archives first: a dry run reads the patch set (part of the key) from them.
    assert run(*sync, env=env_a).code == 0
    r = run(*sync, "--emscripten", "--dry-run", env=env_a)
    assert r.code == 0, r.err
    assert "build and pack  Emscripten 4.0.9 for 0.29.4 (stable)" in r.out, r.out
    assert "would build 1 Emscripten SDK(s)" in r.out
    assert builds(log) == 0 and not (dest / "packs").exists()

    # The SDK store is empty and there is no remote store: built here, once.
    r = run(*sync, "--emscripten", "--json", env=env_a)
    assert r.code == 0, r.err
    [sdk] = json.loads(r.out)["sdks"]
    assert sdk["action"] == "build" and sdk["key"].startswith("4.0.9-"), sdk
    assert sdk["environments"] == ["0.29.4 (stable)"] and builds(log) == 1
    packs = sorted(p.name for p in (dest / "packs").iterdir())
    assert any(p.startswith(sdk["key"]) and p.endswith(".tar.zst") for p in packs), packs
    # through install-emscripten's path: published in this machine's SDK store, patched
    listing = json.loads(run("cache", "list", "--json", env=env_a).out)
    [stored] = listing["sdks"]
    assert stored["key"] == sdk["key"]
    patched = Path(stored["path"], "emsdk", SETTINGS).read_text()
    assert "patched for the mirror" in patched
    # a second sync finds it in the mirror: nothing built or packed again
    r = run(*sync, "--emscripten", "--json", env=env_a)
    assert [s["action"] for s in json.loads(r.out)["sdks"]] == ["present"]
    assert builds(log) == 1

    # A second machine: its own cache, only the mirror, emsdk unreachable.
    server.close()
    home_b = tmp_path / "b"
    home_b.mkdir()
    env_b = clean_env(
        home_b,
        FAKE_EMSDK_LOG=str(log),
        XBUILDENV_EMSDK_URL=f"http://127.0.0.1:{refused_port}/emsdk.git",
        XBUILDENV_MIRROR=str(dest),
        PYODIDE_CROSS_BUILD_ENV_METADATA_URL=str(dest / INDEX),
    )
    root = tmp_path / "root-b"
    r = run("install", "0.29.4", "--path", str(root), env=env_b)
    assert r.code == 0, r.err
    r = run("install-emscripten", "-v", "--path", str(root), env=env_b)
    assert r.code == 0, r.err
    assert "from the mirror" in r.err and sdk["key"] in r.err, r.err
    assert builds(log) == 1  # emsdk never ran on machine B
    version_dir = root / "0.29.4"
    assert (version_dir / "emsdk" / SETTINGS).read_text() == patched
    assert (version_dir / ".emscripten-version").read_text() == "4.0.9"


def test_mirror_sync_takes_the_sdk_from_the_remote_store_before_building(
    server: Server, tmp_path: Path, emsdk_repo: str
) -> None:
    """A machine whose own SDK store is empty packs what the fleet's store holds."""
    from helpers.cli import install_env

    log = tmp_path / "calls.log"
    remote = tmp_path / "remote"
    fleet = {"FAKE_EMSDK_LOG": str(log), "XBUILDENV_EMSDK_URL": emsdk_repo,
             "XBUILDENV_REMOTE_STORE": str(remote)}  # fmt: skip
    builder = tmp_path / "builder"
    builder.mkdir()
    env = clean_env(builder, **fleet)
    root = install_env(server, env, builder / "root").parent.parent.parent
    assert run("install-emscripten", "--path", str(root), env=env).code == 0
    assert builds(log) == 1
    syncer = tmp_path / "syncer"
    syncer.mkdir()
    meta = serve_index(server, serve_env(server, "0.29.4"))
    dest = tmp_path / "mirror"
    sync = ("mirror", "sync", str(dest), "--metadata", meta, "--emscripten", "--json")
    r = run(*sync, env=clean_env(syncer, **fleet))
    assert r.code == 0, r.err
    assert [s["action"] for s in json.loads(r.out)["sdks"]] == ["remote"]
    assert builds(log) == 1 and list((dest / "packs").glob("*.tar.zst"))
