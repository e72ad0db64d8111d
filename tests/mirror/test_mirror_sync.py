"""``xbuildenv mirror sync`` into a local folder, from a real loopback origin.

The origin counts requests per path, so "not downloaded again" is a count, not a
message; installs from the mirror run as real ``xbuildenv`` subprocesses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.archives import OTHER_PY, PY_FULL, make_tar, release, sha256
from helpers.cli import clean_env, one_error, run, snapshot
from helpers.servers import Server, serve_index
from helpers.services import publish

INDEX = "pyodide-cross-build-environments.json"
VERSIONS = {"0.29.4": PY_FULL, "0.28.0": PY_FULL, "0.27.7": OTHER_PY, "0.30.0a1": PY_FULL}


def archive_hits(server: Server) -> int:
    return sum(n for p, n in server.hits.items() if p.startswith("/dl/"))


def sync(env: dict[str, str], *args: str) -> Any:
    r = run("mirror", "sync", *args, "--json", env=env)
    assert r.code == 0, r.err
    return json.loads(r.out)


def mirror_index(dest: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((dest / INDEX).read_text())["releases"]
    return data


def test_sync_writes_a_self_contained_mirror(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    bodies = publish(server, VERSIONS)
    dest = tmp_path / "mirror"
    out = sync(env, str(dest), "--metadata", server.url("/index.json"))
    assert {a["version"] for a in out["archives"]} == set(VERSIONS)
    releases = mirror_index(dest)
    assert set(releases) == set(VERSIONS)
    for version, entry in releases.items():
        # relative to the index, verified, unknown fields kept
        assert not entry["url"].startswith(("http", "/")), entry
        assert entry["sha256"] == sha256(bodies[version])
        assert entry["published_at"] == "2025-01-01T00:00:00Z"
        assert sha256((dest / entry["url"]).read_bytes()) == entry["sha256"]
    assert archive_hits(server) == len(VERSIONS)

    # Run again: everything is there, nothing is downloaded.
    out = sync(env, str(dest), "--metadata", server.url("/index.json"))
    assert {a["action"] for a in out["archives"]} == {"present"}
    assert archive_hits(server) == len(VERSIONS)
    # A damaged copy in the mirror is noticed (its hash) and fetched again.
    damaged = dest / releases["0.28.0"]["url"]
    damaged.write_bytes(damaged.read_bytes()[:-10] + bytes(10))
    out = sync(env, str(dest), "--metadata", server.url("/index.json"))
    assert {a["version"]: a["action"] for a in out["archives"]}["0.28.0"] == "fetch"
    assert sha256(damaged.read_bytes()) == releases["0.28.0"]["sha256"]
    assert archive_hits(server) == len(VERSIONS) + 1

    # xbuildenv installs from the mirror alone (a local path; URLs resolved against it).
    server.close()
    home = tmp_path / "client"
    home.mkdir()
    r = run(
        "install",
        "0.29.4",
        env=clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=str(dest / INDEX)),
    )
    assert r.code == 0, r.err
    r = run("version", env=clean_env(home))
    assert r.out.strip() == "0.29.4"


def test_selection_and_dry_run(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    bodies = publish(server, VERSIONS)
    dest = tmp_path / "mirror"
    meta = ("--metadata", server.url("/index.json"))

    def chosen(*args: str) -> list[str]:
        r = run("mirror", "sync", str(dest), *meta, *args, "--dry-run", "--json", env=env)
        assert r.code == 0, r.err
        data = json.loads(r.out)
        assert data["dry_run"] is True
        return sorted(a["version"] for a in data["archives"])

    mm = ".".join(PY_FULL.split(".")[:2])
    assert chosen("--version", ">=0.28") == ["0.28.0", "0.29.4"]  # no pre-release
    assert chosen("--version", ">=0.28", "--version", "0.27.7") == ["0.27.7", "0.28.0", "0.29.4"]
    assert chosen("--version", "0.30.0a1") == ["0.30.0a1"]
    assert chosen("--python", mm) == ["0.28.0", "0.29.4", "0.30.0a1"]
    assert chosen("--python", mm, "--latest", "2") == ["0.29.4", "0.30.0a1"]
    assert chosen("--latest", "1", "--version", "<0.30") == ["0.29.4"]
    # The dry run says how many bytes it would fetch (HEAD sizes) and writes nothing.
    r = run("mirror", "sync", str(dest), *meta, "--dry-run", "--json", env=env)
    data = json.loads(r.out)
    assert data["fetch_bytes"] == sum(len(b) for b in bodies.values())
    assert not dest.exists()
    assert archive_hits(server) == 0  # only HEAD requests
    r = run("mirror", "sync", str(dest), *meta, "--version", "0.29.4", "--dry-run", env=env)
    assert r.code == 0, r.err
    assert "would fetch 1 archive(s)" in r.out


def test_archives_in_the_local_store_are_not_downloaded(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    publish(server, VERSIONS)
    meta = server.url("/index.json")
    assert run("install", "0.29.4", "--metadata", meta, env=env).code == 0
    before = server.hits["/dl/0.29.4/xbuildenv-0.29.4.tar.gz"]
    out = sync(env, str(tmp_path / "m"), "--metadata", meta, "--version", "0.29.4")
    assert [a["action"] for a in out["archives"]] == ["store"]
    assert server.hits["/dl/0.29.4/xbuildenv-0.29.4.tar.gz"] == before


def test_prune_removes_only_unlisted_archives(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    publish(server, VERSIONS)
    dest = tmp_path / "mirror"
    meta = ("--metadata", server.url("/index.json"))
    sync(env, str(dest), *meta, "--version", ">=0.28")
    old = {e["url"] for e in mirror_index(dest).values()}
    (dest / "README.txt").write_text("served by nginx\n")
    out = sync(env, str(dest), *meta, "--version", "0.29.4", "--prune")
    kept = mirror_index(dest)
    assert list(kept) == ["0.29.4"]
    assert len(out["pruned"]) == 1 and out["pruned"][0] in old
    assert not (dest / out["pruned"][0]).exists()
    assert (dest / kept["0.29.4"]["url"]).is_file()
    assert (dest / "README.txt").read_text() == "served by nginx\n"
    # without --prune, an archive no longer listed stays
    sync(env, str(dest), *meta, "--version", "0.28.0")
    assert (dest / kept["0.29.4"]["url"]).is_file()


def test_base_url_writes_absolute_urls(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    publish(server, VERSIONS)
    dest = tmp_path / "mirror"
    base = "https://mirror.example.org/pyodide/"
    sync(env, str(dest), "--metadata", server.url("/index.json"), "--base-url", base, "--prune")
    for entry in mirror_index(dest).values():
        assert entry["url"].startswith(base)
        assert (dest / entry["url"][len(base) :]).is_file()


def test_official_urls_keep_their_path(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    """Archives under the official prefix keep their path below it, so the folder also
    serves XBUILDENV_MIRROR (XBUILDENV_MIRROR_ORIGIN stands in for the official CDN)."""
    publish(server, {"0.29.4": PY_FULL})
    dest = tmp_path / "mirror"
    env = {**env, "XBUILDENV_MIRROR_ORIGIN": server.url("/dl/")}
    sync(env, str(dest), "--metadata", server.url("/index.json"))
    assert mirror_index(dest)["0.29.4"]["url"] == "0.29.4/xbuildenv-0.29.4.tar.gz"


def test_checksum_mismatch_changes_nothing(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    publish(server, {"0.29.4": PY_FULL})
    dest = tmp_path / "mirror"
    sync(env, str(dest), "--metadata", server.url("/index.json"))
    before = snapshot(dest)
    body = make_tar()
    url = server.add("/dl/evil.tar.gz", body)
    entry = release("0.29.5", url, PY_FULL, sha256=sha256(b"something else"))
    meta = serve_index(server, entry, path="/evil.json")
    r = run("mirror", "sync", str(dest), "--metadata", meta, "--prune", env=env)
    assert "checksum mismatch" in one_error(r)
    assert snapshot(dest) == before  # old index, old archive, no temporary file


def test_bad_input_is_one_error_line(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    publish(server, VERSIONS)
    dest = tmp_path / "mirror"
    meta = ("--metadata", server.url("/index.json"))
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "secret").write_text("do not copy me")
    before = snapshot(decoy)
    # A remote index naming a local file: refused, nothing copied.
    bad = serve_index(
        server,
        release("9.9.9", (decoy / "secret").as_uri(), PY_FULL, sha256=sha256(b"do not copy me")),
        path="/bad.json",
    )
    r = run("mirror", "sync", str(dest), "--metadata", bad, env=env)
    assert "not a remote" in one_error(r)
    assert not dest.exists() and snapshot(decoy) == before
    assert "matches no release" in one_error(
        run("mirror", "sync", str(dest), *meta, "--version", "7", env=env)
    )
    one_error(run("mirror", "sync", str(dest), *meta, "--version", ">=x", env=env), 2)
    one_error(run("mirror", "sync", str(dest), *meta, "--latest", "0", env=env), 2)
    one_error(run("mirror", "sync", str(dest), *meta, "--python", "3", env=env), 2)
    one_error(run("mirror", "sync", str(dest), *meta, "--base-url", "mirror/", env=env), 2)
    one_error(run("mirror", "sync", "https://example.org/m", *meta, env=env))
    assert not dest.exists()


def test_cache_key_follows_the_archive(server: Server, env: dict[str, str]) -> None:
    bodies = publish(server, VERSIONS)
    meta = server.url("/index.json")
    r = run("cache", "key", "0.29.4", "--metadata", meta, env=env)
    assert r.code == 0, r.err
    assert r.out.strip() == f"xbuildenv-0.29.4-{sha256(bodies['0.29.4'])[:16]}"
    latest = run("cache", "key", "--metadata", meta, env=env).out.strip()
    # no VERSION: the release 'install' would pick (the latest compatible)
    assert latest == f"xbuildenv-0.30.0a1-{sha256(bodies['0.30.0a1'])[:16]}"
    # A re-published archive (new sha256) gives a new key.
    other = make_tar(compression="bz2")
    serve_index(
        server,
        release("0.29.4", server.add("/dl/new.tar.bz2", other), PY_FULL, sha256=sha256(other)),
    )
    r = run("cache", "key", "0.29.4", "--metadata", meta, "--refresh", env=env)
    assert r.out.strip() == f"xbuildenv-0.29.4-{sha256(other)[:16]}"
    one_error(run("cache", "key", "1.2.3", "--metadata", meta, env=env))


def test_prune_keeps_what_other_channels_list(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    """Each channel's index counts, whatever base URL it was written with."""
    publish(server, {"0.29.4": PY_FULL})
    publish(server, {"0.29.4-debug": PY_FULL}, path="/debug.json")
    env = {
        **env,
        "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": server.url("/index.json"),
        "XBUILDENV_DEBUG_METADATA_URL": server.url("/debug.json"),
    }
    dest = tmp_path / "mirror"
    sync(env, str(dest), "--base-url", "https://a.example/m")
    out = sync(
        env, str(dest), "--channel", "stable-debug", "--base-url", "https://b.example/m", "--prune"
    )
    assert out["pruned"] == []
    for index in (INDEX, "debug.json"):
        for entry in json.loads((dest / index).read_text())["releases"].values():
            assert (dest / entry["url"].split("/m/", 1)[1]).is_file()


def test_hostile_archive_paths_stay_inside_the_mirror(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    """URLs that climb (``..``), hide (dot-names) or encode slashes land under archives/."""
    body = make_tar()
    entries = []
    for i, path in enumerate(
        ["/dl/a/../../../escape.tar.gz", "/dl/..%2f..%2fescape2.tar.gz", "/dl/.hidden/.x.tar.gz"]
    ):
        server.add(path, body)
        entries.append(release(f"1.0.{i}", server.base + path, PY_FULL, sha256=sha256(body)))
    meta = serve_index(server, *entries)
    outside = snapshot(tmp_path)
    dest = tmp_path / "work" / "mirror"
    env = {**env, "XBUILDENV_MIRROR_ORIGIN": server.url("/dl/")}
    out = sync(env, str(dest), "--metadata", meta)
    for archive in out["archives"]:
        assert archive["path"].startswith("archives/"), archive
        assert (dest / archive["path"]).resolve().is_relative_to(dest.resolve())
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(("work", "home"))}
    assert after == {k: v for k, v in outside.items() if not k.startswith("home")}
