"""Every ``--json`` output against the shape docs/reference/json.md defines for it.

The schemas are read from the documentation itself (each fenced ```json NAME block), so
the page is the contract: a key the code drops or renames, or a shape the page forgets,
fails here. Outputs come from real runs of the CLI against a loopback server.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers.cli import REPO, Result, run
from helpers.servers import Server, serve_env, serve_index

DOC = REPO / "docs" / "reference" / "json.md"


def shapes() -> dict[str, dict[str, Any]]:
    """Every named schema of the page; ``definitions`` holds the shared ``$defs``."""
    blocks = re.findall(r"```json ([a-z ]+)\n(.*?)```", DOC.read_text(), flags=re.S)
    return {name: json.loads(body) for name, body in blocks}


def validate(name: str, result: Result) -> dict[str, Any]:
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    found = shapes()
    defs = dict(found.pop("definitions")["$defs"])
    defs.update({"shape_" + k.replace(" ", "_"): v for k, v in found.items()})
    schema = {"$defs": defs, "$ref": "#/$defs/shape_" + name.replace(" ", "_")}
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    assert next(iter(data)) == "schema"  # the version comes first, for eyes and for head -c
    return data


@pytest.fixture
def meta(server: Server) -> str:
    return serve_index(
        server,
        serve_env(server, "0.29.4", compression="bz2", published_at="2026-01-02T03:04:05Z"),
        serve_env(server, "0.29.5", published_at="2026-03-04T06:00:00+01:00"),
    )


def test_every_json_command_has_a_documented_shape() -> None:
    from xbuildenv.cli.main import build_parser

    documented = set(shapes()) - {"definitions"}
    with_json = set()

    def walk(parser: Any, words: str) -> None:
        for action in parser._actions:
            if "--json" in action.option_strings:
                with_json.add(words)
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{words} {name}".strip())

    walk(build_parser(), "")
    assert with_json == documented
    assert {"version", "install", "uninstall", "use", "gc", "cache clean"} <= with_json


def test_core_shapes(server: Server, meta: str, env: dict[str, str], tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    data = validate("install", run("install", "0.29.4", "--metadata", meta, "--json", env=env))
    assert (data["action"], data["route"], data["version"]) == ("installed", "network", "0.29.4")
    assert data["downloaded_bytes"] == data["archive_bytes"] > 0
    assert set(data["seconds"]) == {"resolve", "fetch", "index", "publish"}
    # Another root gets the same archive by sharing files; then from the store.
    data = validate(
        "install", run("install", "0.29.4", "--path", root, "--json", "--metadata", meta, env=env)
    )
    assert (data["route"], data["downloaded_bytes"]) == ("linked", 0)
    data = validate("install", run("install", "0.29.4", "--path", root, "--json", env=env))
    assert (data["action"], data["route"], data["url"]) == ("already installed", None, None)
    default_root = validate("root", run("root", "--json", env=env))["root"]
    assert run("uninstall", "0.29.4", env=env).code == 0
    shutil.rmtree(root)
    store = Path(run("cache", "dir", env=env).out.strip()) / "xbuildenv-store"
    shutil.rmtree(store / "trees")  # no unpacked tree left to link: the stored archive
    data = validate(
        "install", run("install", "0.29.4", "--path", root, "--json", "--metadata", meta, env=env)
    )
    assert data["route"] == "store" and data["archive_bytes"] > 0

    assert run("install", "0.29.5", "--path", root, "--metadata", meta, env=env).code == 0
    versions = validate("versions", run("versions", "--path", root, "--json", env=env))
    assert [(v["version"], v["active"]) for v in versions["versions"]] == [
        ("0.29.4", False),
        ("0.29.5", True),
    ]
    data = validate("use", run("use", "0.29.4", "--path", root, "--json", env=env))
    assert (data["version"], data["active"], data["root"]) == ("0.29.4", True, root)
    data = validate("version", run("version", "--path", root, "--json", env=env))
    assert data["version"] == "0.29.4"
    data = validate("uninstall", run("uninstall", "--all", "--path", root, "--json", env=env))
    assert sorted(data["uninstalled"]) == ["0.29.4", "0.29.5"]
    assert default_root != root


def test_search_shapes(server: Server, meta: str, env: dict[str, str], tmp_path: Path) -> None:
    data = validate("search", run("search", "--all", "--metadata", meta, "--json", env=env))
    assert data["environments"][1]["published_at"] == "2026-01-02T03:04:05Z"
    assert data["environments"][0]["published_at"] == "2026-03-04T05:00:00Z"  # now in UTC
    env["XBUILDENV_NIGHTLY_METADATA_URL"] = meta
    data = validate("search", run("search", "--nightly", "--json", env=env))
    assert {e["source"] for e in data["environments"]} == {"nightly"}


def test_cache_shapes(server: Server, meta: str, env: dict[str, str], tmp_path: Path) -> None:
    assert run("install", "0.29.4", "--metadata", meta, env=env).code == 0
    listing = validate("cache list", run("cache", "list", "--json", env=env))
    [root] = listing["roots"]
    assert root["owner_state"] == "present" and root["last_used"] is not None
    assert len(listing["archives"]) == 1
    [tree] = listing["trees"]
    assert tree["sha256"] == listing["archives"][0]["sha256"] and tree["links"] == 1
    checked = validate("cache verify", run("cache", "verify", "--json", env=env))
    assert {(c["kind"], c["ok"]) for c in checked["checked"]} == {("archive", True), ("tree", True)}
    store = Path(run("cache", "dir", env=env).out.strip(), "xbuildenv-store")
    folder = store / "trees" / tree["sha256"]
    extra = folder / "xbuildenv" / "not-in-the-archive.txt"
    extra.write_text("added after a CI cache restore")
    checked = validate("cache verify", run("cache", "verify", "--json", env=env))
    [bad] = [c for c in checked["checked"] if c["kind"] == "tree"]
    assert bad["name"] == tree["sha256"] and bad["dropped"] and checked["dropped"] == 1
    assert bad["problem"] == "xbuildenv/not-in-the-archive.txt was added"
    assert not folder.exists()
    assert run("install", "0.29.4", "--force", "--metadata", meta, env=env).code == 0
    listing = validate("cache list", run("cache", "list", "--json", env=env))
    [tree] = listing["trees"]
    assert run("uninstall", "0.29.4", env=env).code == 0
    dry = validate("gc", run("gc", "--dry-run", "--json", env=env))
    assert dry["dry_run"] and dry["archives"] and dry["freed_bytes"] > 0
    assert [t["sha256"] for t in dry["trees"]] == [tree["sha256"]]
    done = validate("gc", run("gc", "--json", env=env))
    assert not done["dry_run"] and done["archives"] == dry["archives"]
    assert validate("gc", run("gc", "--json", env=env))["archives"] == []
    clean = validate("cache clean", run("cache", "clean", "--all", "--json", env=env))
    assert [r["path"] for r in clean["roots"]] == [root["path"]]
    assert clean["index_bytes"] > 0 and not Path(root["path"]).exists()


def test_config_shape(server: Server, meta: str, env: dict[str, str], tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    assert run("install", "0.29.4", "--path", root, "--metadata", meta, env=env).code == 0
    data = validate("config list", run("config", "list", "--path", root, "--json", env=env))
    assert data["pyodide_root"].endswith("/0.29.4/xbuildenv/pyodide-root")


def test_times_are_iso_utc(env: dict[str, str]) -> None:
    from xbuildenv.records import iso_utc

    assert iso_utc(86400 * 365.25 * 56 + 3661) == "2026-01-01T01:01:01Z"
    assert iso_utc(0) is None


def test_mirror_sync_shape(server: Server, meta: str, env: dict[str, str], tmp_path: Path) -> None:
    dest = str(tmp_path / "mirror")
    dry = validate("mirror sync", run("mirror", "sync", dest, "--metadata", meta, "--dry-run",
                                      "--json", env=env))  # fmt: skip
    assert dry["dry_run"] is True and dry["indexes"] == []
    assert {a["action"] for a in dry["archives"]} == {"fetch"}
    done = validate("mirror sync", run("mirror", "sync", dest, "--metadata", meta, "--json",
                                       env=env))  # fmt: skip
    assert done["dry_run"] is False and done["indexes"]
    assert done["fetch_bytes"] == sum(a["size_bytes"] for a in done["archives"]) > 0
    again = validate("mirror sync", run("mirror", "sync", dest, "--metadata", meta, "--json",
                                        env=env))  # fmt: skip
    assert {a["action"] for a in again["archives"]} == {"present"}


def test_sdk_shapes(server: Server, env: dict[str, str], tmp_path: Path, emsdk_repo: str) -> None:
    from helpers.cli import install_env

    env = {**env, "XBUILDENV_EMSDK_URL": emsdk_repo}
    root = tmp_path / "root"
    install_env(server, env, root)
    assert run("install-emscripten", "--path", str(root), env=env).code == 0
    listing = validate("cache list", run("cache", "list", "--json", env=env))
    [sdk] = listing["sdks"]
    assert sdk["version"] == "4.0.9" and len(sdk["roots"]) == 1 and sdk["files"] > 100
    checked = validate("cache verify", run("cache", "verify", "--json", env=env))
    assert checked["dropped"] == 0 and any(c["kind"] == "sdk" for c in checked["checked"])
    victim = next(Path(sdk["path"], "emsdk", "upstream/emscripten/system").rglob("*.c"))
    victim.chmod(0o644)
    with open(victim, "r+b") as fh:
        fh.write(b"#")
    checked = validate("cache verify", run("cache", "verify", "--json", env=env))
    [bad] = [c for c in checked["checked"] if c["kind"] == "sdk"]
    assert bad["dropped"] and "changed" in bad["problem"] and checked["dropped"] == 1
    assert validate("cache list", run("cache", "list", "--json", env=env))["sdks"] == []
    assert run("install-emscripten", "--force", "--path", str(root), env=env).code == 0
    kept = validate("gc", run("gc", "--json", env=env))
    assert kept["sdks"] == []  # the root still uses it
    shutil.rmtree(root / "xbuildenv" / "emsdk")
    (root / "xbuildenv" / ".xbuildenv-sdk.json").unlink()
    dry = validate("gc", run("gc", "--dry-run", "--json", env=env))
    assert [s["version"] for s in dry["sdks"]] == ["4.0.9"]
    assert validate("gc", run("gc", "--json", env=env))["sdks"] == dry["sdks"]
    assert run("install-emscripten", "--force", "--path", str(root), env=env).code == 0
    clean = validate("cache clean", run("cache", "clean", "--emscripten", "--json", env=env))
    assert len(clean["sdks"]) == 1 and clean["freed_bytes"] >= clean["sdks"][0]["size"]
    assert (root / "xbuildenv" / "emsdk" / "upstream/bin/clang").is_file()  # the root keeps its own
    # mirror sync --emscripten: the mirrored environment's SDK, built (the store is empty)
    meta = serve_index(server, serve_env(server, "0.29.4"))
    dest = str(tmp_path / "mirror")
    sync = ("mirror", "sync", dest, "--metadata", meta, "--emscripten", "--json")
    dry = validate("mirror sync", run(*sync, "--dry-run", env=env))
    assert [(s["action"], s["key"], s["patches_sha256"]) for s in dry["sdks"]] == [
        ("unknown", None, None)
    ]
    done = validate("mirror sync", run(*sync, env=env))
    [sdk] = done["sdks"]
    assert sdk["action"] == "build" and sdk["key"].startswith("4.0.9-")
    assert sdk["environments"] == ["0.29.4 (stable)"]
    again = validate("mirror sync", run(*sync, env=env))
    assert [s["action"] for s in again["sdks"]] == ["present"]
