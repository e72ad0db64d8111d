"""Release metadata: parsing the real indexes, rejecting bad ones with one clear line.

The parser is tested directly on the real snapshots in tests/data, and the CLI is
tested on the same inputs to prove a bad index never shows a traceback.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from helpers.archives import DATA, index, release
from helpers.cli import one_error, run
from helpers.servers import Server, serve_env, serve_index

from xbuildenv.errors import MetadataError
from xbuildenv.index.index_cache import load_releases
from xbuildenv.index.releases import (
    NIGHTLY_DEBUG_URL,
    NIGHTLY_URL,
    STABLE_DEBUG_URL,
    STABLE_URL,
    Release,
    channel_url,
    parse_index,
)


def load_index(source: str) -> dict[str, Release]:
    """The releases of an index as ``install`` reads it, cached in a private folder."""
    return load_releases(source, folder=Path(tempfile.mkdtemp()))


REAL = DATA / "pyodide-cross-build-environments-v2.json"
GOOD = {
    "version": "0.29.4",
    "url": "https://example.org/xbuildenv-0.29.4.tar.bz2",
    "python_version": "3.13.2",
    "emscripten_version": "4.0.9",
}


def doc(**fields: Any) -> bytes:
    """An index with one release 0.29.4; a field set to None is left out."""
    entry = {**GOOD, **fields}
    return json.dumps(
        {"releases": {"0.29.4": {k: v for k, v in entry.items() if v is not None}}}
    ).encode()


# --- the real indexes ----------------------------------------------------------------
def test_real_index_parses_all_44_releases() -> None:
    releases = parse_index(REAL.read_bytes())
    assert len(releases) == 44
    raw = json.loads(REAL.read_bytes())["releases"]
    for key, r in releases.items():
        assert r.version == key
        assert r.url == raw[key]["url"]
        assert r.sha256 == raw[key]["sha256"]
        assert r.published_at == raw[key]["published_at"]
        assert r.min_pyodide_build_version == raw[key].get("min_pyodide_build_version")
        assert r.max_pyodide_build_version == raw[key].get("max_pyodide_build_version")
    assert {r.python_major_minor for r in releases.values()} == {
        "3.11",
        "3.12",
        "3.13",
        "3.14",
        "3.15",
    }
    # "3.15.0rc1" and "3.15.0b4" are still Python 3.15.
    assert releases["315.0.0a2"].python_major_minor == "3.15"
    assert releases["315.0.0a1"].python_major_minor == "3.15"
    suffixes = {
        r.url.rsplit(".", 2)[-2] + "." + r.url.rsplit(".", 1)[-1] for r in releases.values()
    }
    assert suffixes == {"tar.gz", "tar.bz2"}


def test_real_debug_index_parses() -> None:
    releases = parse_index((DATA / "pyodide-cross-build-environments-debug-v2.json").read_bytes())
    assert releases and all("debug" in r.url for r in releases.values())


def test_unknown_fields_are_ignored() -> None:
    data = json.dumps(
        {"schema": 9, "releases": {"0.29.4": {**GOOD, "new_field": [1, 2], "extra": {"a": None}}}}
    )
    assert parse_index(data)["0.29.4"].url == GOOD["url"]


def test_sha256_is_normalised_to_lower_case() -> None:
    assert parse_index(doc(sha256="AB" * 32))["0.29.4"].sha256 == "ab" * 32


# --- bad indexes: one line naming the release and the field ----------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": None}, "release '0.29.4': field 'url' is missing"),
        ({"python_version": None}, "release '0.29.4': field 'python_version' is missing"),
        ({"emscripten_version": None}, "release '0.29.4': field 'emscripten_version' is missing"),
        ({"url": 5}, "release '0.29.4': field 'url' must be a non-empty string, got 5"),
        ({"url": ""}, "release '0.29.4': field 'url' must be a non-empty string, got ''"),
        ({"sha256": 12}, "release '0.29.4': field 'sha256' must be a string, got 12"),
        ({"sha256": "abc"}, "release '0.29.4': field 'sha256' is not 64 hex digits: 'abc'"),
        (
            {"published_at": ["x"]},
            "release '0.29.4': field 'published_at' must be a string, got ['x']",
        ),
        (
            {"python_version": "three"},
            "release '0.29.4': field 'python_version' is not a Python version: 'three'",
        ),
    ],
)
def test_bad_field_is_named(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(MetadataError) as info:
        parse_index(doc(**fields))
    assert str(info.value) == message


def test_release_that_is_not_an_object() -> None:
    with pytest.raises(MetadataError, match=r"^release '0.29.4': expected an object, got list$"):
        parse_index(json.dumps({"releases": {"0.29.4": []}}))


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"releases": []}', b"{}"])
def test_not_an_index(body: bytes) -> None:
    with pytest.raises(MetadataError) as info:
        parse_index(body, "release index X")
    assert str(info.value).startswith("release index X ")
    assert "\n" not in str(info.value)


def test_cli_missing_field_is_exactly_one_line(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(doc(url=None))
    # Asked for by name: one error naming the release and the field.
    r = run("install", "0.29.4", "--metadata", str(bad), "--path", str(tmp_path / "root"), env=env)
    assert one_error(r).startswith("error: release '0.29.4': field 'url' is missing; ")
    assert len(r.err.splitlines()) == 2  # that error, and the warning that left it out
    # Not asked for: left out with one warning (the only release, so nothing fits).
    for args in (["search"], ["install"]):
        r = run(*args, "--metadata", str(bad), "--path", str(tmp_path / "root"), env=env)
        one_error(r)
        assert [line for line in r.err.splitlines() if line.startswith("warning: ")] == [
            f"warning: release index {bad}: left out malformed release: "
            "0.29.4 (field 'url' is missing)"
        ]
    assert not (tmp_path / "root").exists() or not any((tmp_path / "root").iterdir())


def test_cli_mistyped_field_over_http(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    meta = server.add("/bad.json", doc(emscripten_version=4))
    r = run("install", "0.29.4", "--metadata", meta, "--path", str(tmp_path), env=env)
    assert one_error(r).startswith(
        "error: release '0.29.4': field 'emscripten_version' must be a non-empty string, got 4"
    )


def test_cli_malformed_json(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    meta = server.add("/broken.json", b'{"releases": {')
    line = one_error(run("search", "--metadata", meta, "--path", str(tmp_path), env=env))
    assert meta in line and "not valid JSON" in line


def test_cli_index_not_found(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    line = one_error(
        run("search", "--metadata", server.url("/missing.json"), "--path", str(tmp_path), env=env)
    )
    assert "404" in line and "/missing.json" in line
    missing = tmp_path / "nope.json"
    line = one_error(run("search", "--metadata", str(missing), "--path", str(tmp_path), env=env))
    assert str(missing) in line


# --- where the index comes from -----------------------------------------------------------
def test_channel_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PYODIDE_CROSS_BUILD_ENV_METADATA_URL",
        "XBUILDENV_DEBUG_METADATA_URL",
        "XBUILDENV_NIGHTLY_METADATA_URL",
        "XBUILDENV_NIGHTLY_DEBUG_METADATA_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    assert channel_url() == STABLE_URL
    assert channel_url(debug=True) == STABLE_DEBUG_URL
    assert channel_url(nightly=True) == NIGHTLY_URL
    assert channel_url(nightly=True, debug=True) == NIGHTLY_DEBUG_URL
    assert (
        STABLE_URL
        == "https://pyodide.github.io/pyodide/api/v2/pyodide-cross-build-environments.json"
    )
    assert STABLE_DEBUG_URL == "https://pyodide.github.io/pyodide/api/v2/debug.json"
    assert NIGHTLY_URL == (
        "https://pyodide.github.io/pyodide-build-environment-nightly/api/v2/release.json"
    )
    assert NIGHTLY_DEBUG_URL == (
        "https://pyodide.github.io/pyodide-build-environment-nightly/api/v2/debug.json"
    )
    # pyodide-build's variable overrides the stable channel only.
    monkeypatch.setenv("PYODIDE_CROSS_BUILD_ENV_METADATA_URL", "/somewhere/index.json")
    assert channel_url() == "/somewhere/index.json"
    assert channel_url(debug=True) == STABLE_DEBUG_URL
    assert channel_url(nightly=True) == NIGHTLY_URL
    monkeypatch.setenv("XBUILDENV_NIGHTLY_METADATA_URL", "http://mirror/n.json")
    monkeypatch.setenv("XBUILDENV_NIGHTLY_DEBUG_METADATA_URL", "http://mirror/nd.json")
    monkeypatch.setenv("XBUILDENV_DEBUG_METADATA_URL", "http://mirror/d.json")
    assert channel_url(nightly=True) == "http://mirror/n.json"
    assert channel_url(nightly=True, debug=True) == "http://mirror/nd.json"
    assert channel_url(debug=True) == "http://mirror/d.json"


def test_relative_urls_resolve_against_a_local_index(tmp_path: Path) -> None:
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / "index.json").write_bytes(
        index(release("1.0", "envs/a.tar.gz"), release("2.0", "https://example.org/b.tar.gz"))
    )
    releases = load_index(str(folder / "index.json"))
    assert releases["1.0"].url == str(folder / "envs" / "a.tar.gz")
    assert releases["2.0"].url == "https://example.org/b.tar.gz"


def test_relative_urls_resolve_against_an_http_index(server: Server) -> None:
    meta = server.add("/api/v2/index.json", index(release("1.0", "../dl/a.tar.gz")))
    assert load_index(meta)["1.0"].url == server.url("/api/dl/a.tar.gz")


def test_env_var_index_used_by_the_cli(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    meta = serve_index(server, serve_env(server, "7.0"), path="/env-index.json")
    r = run(
        "search",
        "--json",
        "--path",
        str(tmp_path),
        env={**env, "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": meta},
    )
    assert r.code == 0, r.err
    assert [e["version"] for e in json.loads(r.out)["environments"]] == ["7.0"]
    assert server.hits["/env-index.json"] == 1


def test_env_var_may_be_a_local_path(env: dict[str, str], tmp_path: Path) -> None:
    r = run(
        "search",
        "--all",
        "--json",
        "--path",
        str(tmp_path),
        env={**env, "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": str(REAL)},
    )
    assert r.code == 0, r.err
    assert len(json.loads(r.out)["environments"]) == 44
