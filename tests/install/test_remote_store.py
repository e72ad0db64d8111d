"""The store shared by a fleet (``XBUILDENV_REMOTE_STORE``) on a real S3 API (moto),
through the real s3fs client, and ``mirror sync`` into a bucket.

Every runner is a real ``xbuildenv`` subprocess with its own cache home (its own
machine-wide store), so anything it does not download from the origin came from the
remote store. The origin counts its requests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.archives import PY_FULL, make_tar, sha256
from helpers.cli import clean_env, run
from helpers.servers import Server
from helpers.services import MotoS3, publish

ARCHIVE = "/dl/{v}/xbuildenv-{v}.tar.gz"


def runner(tmp_path: Path, name: str, **extra: str) -> dict[str, str]:
    home = tmp_path / name
    home.mkdir()
    return clean_env(home, **extra)


def install(env: dict[str, str], server: Server, version: str, *args: str) -> Any:
    return run("install", version, "--metadata", server.url("/index.json"), *args, env=env)


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning: ")]


def test_second_runner_gets_the_archive_from_the_store(
    server: Server, moto_s3: MotoS3, tmp_path: Path
) -> None:
    bodies = publish(server, {"0.29.4": PY_FULL})
    sha = sha256(bodies["0.29.4"])
    bucket = moto_s3.new_bucket()
    store = {"XBUILDENV_REMOTE_STORE": f"s3://{bucket}/xbuildenv", **moto_s3.env}
    r = install(runner(tmp_path, "a", **store), server, "0.29.4")
    assert r.code == 0 and not warnings(r.err), r.err
    fs = moto_s3.fs()
    assert fs.cat(f"{bucket}/xbuildenv/archives/{sha}") == bodies["0.29.4"]
    assert not fs.exists(f"{bucket}/xbuildenv/pending/{sha}")  # the marker is gone
    assert server.hits[ARCHIVE.format(v="0.29.4")] == 1
    r = install(runner(tmp_path, "b", **store), server, "0.29.4")
    assert r.code == 0 and not warnings(r.err), r.err
    assert "remote store" in r.err
    assert server.hits[ARCHIVE.format(v="0.29.4")] == 1  # not from the origin


def test_read_only_runners_never_write(server: Server, moto_s3: MotoS3, tmp_path: Path) -> None:
    publish(server, {"0.29.4": PY_FULL})
    bucket = moto_s3.new_bucket()
    store = {"XBUILDENV_REMOTE_STORE": f"s3://{bucket}/s", **moto_s3.env}
    r = install(runner(tmp_path, "a", **store), server, "0.29.4", "--no-upload")
    assert r.code == 0 and not warnings(r.err), r.err
    env = runner(tmp_path, "b", XBUILDENV_REMOTE_STORE_READ_ONLY="1", **store)
    r = install(env, server, "0.29.4")
    assert r.code == 0 and not warnings(r.err), r.err
    assert moto_s3.fs().find(bucket) == []
    assert server.hits[ARCHIVE.format(v="0.29.4")] == 2


def test_damaged_object_is_refused_and_replaced(
    server: Server, moto_s3: MotoS3, tmp_path: Path
) -> None:
    bodies = publish(server, {"0.29.4": PY_FULL})
    sha = sha256(bodies["0.29.4"])
    bucket = moto_s3.new_bucket()
    fs = moto_s3.fs()
    key = f"{bucket}/s/archives/{sha}"
    store = {"XBUILDENV_REMOTE_STORE": f"s3://{bucket}/s", **moto_s3.env}
    for damaged in (bodies["0.29.4"][:-100] + bytes(100), make_tar(compression="bz2")):
        fs.pipe_file(key, damaged)
        before = server.hits[ARCHIVE.format(v="0.29.4")]
        r = install(runner(tmp_path, f"r{before}", **store), server, "0.29.4")
        assert r.code == 0, r.err
        assert len(warnings(r.err)) == 1 and "does not match" in r.err, r.err
        assert server.hits[ARCHIVE.format(v="0.29.4")] == before + 1
        assert fs.cat(key) == bodies["0.29.4"]  # a trusted runner put the good copy back


def test_store_that_is_down_costs_one_warning(
    server: Server, tmp_path: Path, refused_port: int
) -> None:
    publish(server, {"0.29.4": PY_FULL, "0.28.0": PY_FULL})
    down = {
        "XBUILDENV_REMOTE_STORE": "s3://nowhere/s",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{refused_port}",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    started = time.monotonic()
    r = install(runner(tmp_path, "a", **down), server, "0.29.4")
    assert r.code == 0, r.err
    assert len(warnings(r.err)) == 1 and "remote store" in r.err, r.err
    assert "Traceback" not in r.err and "error" not in r.err
    assert time.monotonic() - started < 60
    # A missing extra (here: an fsspec protocol nobody installed) is the same: one warning.
    r = install(runner(tmp_path, "b", XBUILDENV_REMOTE_STORE="nosuchproto://x/y"), server, "0.28.0")
    assert r.code == 0, r.err
    assert len(warnings(r.err)) == 1, r.err


def test_mirror_sync_into_a_bucket(server: Server, moto_s3: MotoS3, tmp_path: Path) -> None:
    bodies = publish(server, {"0.29.4": PY_FULL, "0.28.0": PY_FULL})
    bucket = moto_s3.new_bucket()
    env = runner(tmp_path, "sync", **moto_s3.env)
    dest = f"s3://{bucket}/mirror"
    r = run("mirror", "sync", dest, "--metadata", server.url("/index.json"), "--json", env=env)
    assert r.code == 0, r.err
    fs = moto_s3.fs()
    index = json.loads(fs.cat(f"{bucket}/mirror/pyodide-cross-build-environments.json"))
    for version, entry in index["releases"].items():
        assert fs.cat(f"{bucket}/mirror/{entry['url']}") == bodies[version]
    # again: verified in place, nothing fetched; then prune what is no longer selected
    hits = dict(server.hits)
    r = run(
        "mirror",
        "sync",
        dest,
        "--metadata",
        server.url("/index.json"),
        "--version",
        "0.29.4",
        "--prune",
        "--json",
        env=env,
    )
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert [a["action"] for a in out["archives"]] == ["present"]
    assert len(out["pruned"]) == 1
    assert {p: n for p, n in server.hits.items() if p.startswith("/dl/")} == {
        p: n for p, n in hits.items() if p.startswith("/dl/")
    }
    left = [p for p in fs.find(f"{bucket}/mirror") if p.endswith(".tar.gz")]
    assert len(left) == 1


# --- the fleet ------------------------------------------------------------------------
FLEET = 8


def _round(
    tmp_path: Path, name: str, server: Server, store: dict[str, str], fleet: int = FLEET
) -> list[str]:
    """``fleet`` runners at once, each installing both versions; return their failures."""
    failures: list[str] = []

    def one(i: int) -> None:
        env = runner(tmp_path, f"{name}-{i}", **store)
        for version in ("0.29.4", "0.28.0"):
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "xbuildenv",
                    "install",
                    version,
                    "-q",
                    "--metadata",
                    server.url("/index.json"),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if proc.returncode != 0 or warnings(proc.stderr):
                failures.append(f"runner {i} {version}: {proc.stderr}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(fleet)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def test_fleet_of_runners_shares_one_store(
    server: Server, moto_s3: MotoS3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # ~1 s per archive at the origin, so runners starting together overlap
    bodies = publish(server, {"0.29.4": PY_FULL, "0.28.0": PY_FULL}, rate=60_000)
    bucket = moto_s3.new_bucket()
    store = {"XBUILDENV_REMOTE_STORE": f"s3://{bucket}/fleet", **moto_s3.env}
    assert _round(tmp_path, "first", server, store) == []
    first = {v: server.hits[ARCHIVE.format(v=v)] for v in bodies}
    with capsys.disabled():  # the figure the issue asks for, in the test run's output
        print(f"\nfleet of {FLEET} runners: the origin served each archive {first} time(s)")
    assert all(1 <= count <= 3 for count in first.values()), first  # 8 without the store
    # A later wave needs only the store: three runners show it (each s3fs process costs
    # half a CPU-second to start, and the suite's time is mostly such start-ups).
    assert _round(tmp_path, "second", server, store, fleet=3) == []
    second = {v: server.hits[ARCHIVE.format(v=v)] - first[v] for v in bodies}
    assert second == {v: 0 for v in bodies}


def test_a_shared_folder_works_as_the_store(server: Server, tmp_path: Path) -> None:
    bodies = publish(server, {"0.29.4": PY_FULL})
    shared = tmp_path / "nfs" / "xbuildenv"
    store = {"XBUILDENV_REMOTE_STORE": str(shared)}
    r = install(runner(tmp_path, "a", **store), server, "0.29.4")
    assert r.code == 0 and not warnings(r.err), r.err
    assert (shared / "archives" / sha256(bodies["0.29.4"])).read_bytes() == bodies["0.29.4"]
    assert [p.name for p in shared.rglob("*") if p.is_file()] == [sha256(bodies["0.29.4"])]
    # runner b names the store in pyproject.toml ([tool.xbuildenv] remote_store)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(f'[tool.xbuildenv]\nremote_store = "{shared}"\n')
    env = runner(tmp_path, "b")
    r = run("install", "0.29.4", "--metadata", server.url("/index.json"), env=env, cwd=project)
    assert r.code == 0 and "remote store" in r.err and not warnings(r.err), r.err
    assert server.hits[ARCHIVE.format(v="0.29.4")] == 1
