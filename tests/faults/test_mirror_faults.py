"""``mirror sync`` stopped by SIGKILL at random points (the checkpoint hook, see
``src/xbuildenv/checkpoints.py``), into a folder and into an S3 bucket (moto).

A mirror holding releases A and B is re-synced to B, C and D with ``--prune``. Wherever
the sync dies, a client reading the mirror must find a valid index (the old one or the
new one) and every archive it lists, with the listed sha256; the next sync finishes
and leaves no temporary files.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.archives import PY_FULL, big_files, make_tar, release, sha256
from helpers.cli import clean_env, run
from helpers.faults import FAULT_STATS
from helpers.servers import Server
from helpers.services import MotoS3

from xbuildenv.net.fetch import CHUNK

INDEX = "pyodide-cross-build-environments.json"
DENSE = "download.chunk"


def _serve(server: Server, versions: list[str], path: str) -> str:
    entries = []
    for version in versions:
        body = make_tar(big_files(PY_FULL, version, count=30), "gz")
        url = server.add(f"/dl/{version}/xbuildenv-{version}.tar.gz", body)
        entries.append(release(version, url, PY_FULL, sha256=sha256(body)))
    return server.add(path, json.dumps({"releases": {e["version"]: e for e in entries}}).encode())


def _sync(env: dict[str, str], dest: str, meta: str, spec: str | None = None) -> int:
    """``mirror sync``; with a checkpoint ``spec``, as a process that the spec stops."""
    args = ("mirror", "sync", dest, "--metadata", meta, "--prune", "-q")
    if spec is None:
        return run(*args, env=env).code
    env = {**env, "XBUILDENV_TEST_CHECKPOINTS": spec}
    proc = subprocess.run(
        [sys.executable, "-m", "xbuildenv", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode


def _problems(read: Any) -> tuple[list[str], set[str]]:
    """What a client would trip over: an unreadable index, a missing or wrong archive."""
    raw = read(INDEX)
    if raw is None:
        return [], set()
    try:
        releases = json.loads(raw)["releases"]
    except (ValueError, KeyError) as exc:
        return [f"index unreadable: {exc}"], set()
    problems = []
    for version, entry in releases.items():
        body = read(entry["url"])
        if body is None:
            problems.append(f"{version}: {entry['url']} missing")
        elif sha256(body) != entry["sha256"]:
            problems.append(f"{version}: {entry['url']} has other bytes")
    return problems, set(releases)


def _address(names: list[str], at: int) -> str:
    """The ``at``-th logged checkpoint as ``point=NAME,at=K`` (its K-th occurrence):
    the overall count varies with how the network happens to chunk a download, the
    occurrence of a named point does not, except for the chunks themselves (see
    :func:`_points`)."""
    name = names[at - 1]
    return f"point={name},at={names[:at].count(name)}"


def _points(
    env: dict[str, str], dest: str, meta: str, log: Path, reset: Any, least: int
) -> list[str]:
    """Run once with a log of every checkpoint; pick the kill points to try.

    A read returns at most ``CHUNK`` bytes but may return less, so how many chunks a
    download takes varies from run to run: only the first ``least`` (the fewest any
    run has) are picked, or a kill point may never be reached.
    """
    reset()
    assert _sync(env, dest, meta, f"log={log}") == 0
    names = log.read_text().splitlines()
    sparse = [i + 1 for i, n in enumerate(names) if n != DENSE]
    dense = [
        i + 1 for i, n in enumerate(names) if n == DENSE and names[: i + 1].count(DENSE) <= least
    ]
    chosen = sorted(set(sparse) | set(random.Random(13).sample(dense, min(4, len(dense)))))
    return [_address(names, at) for at in chosen]


def test_killed_sync_into_a_folder(server: Server, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    old = _serve(server, ["1.0.0", "2.0.0"], "/old.json")
    new = _serve(server, ["2.0.0", "3.0.0", "4.0.0"], "/new.json")
    template = tmp_path / "template"
    assert _sync(env, str(template), old) == 0
    dest = tmp_path / "mirror"

    def reset() -> None:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(template, dest)

    def read(name: str) -> bytes | None:
        path = dest / name
        return path.read_bytes() if path.is_file() else None

    # The archives the sync downloads (2.0.0 is in the mirror already): their chunks
    # at full size are the fewest any run reads.
    least = sum(
        len(server.routes[f"/dl/{v}/xbuildenv-{v}.tar.gz"].body) // CHUNK
        for v in ("3.0.0", "4.0.0")
    )
    assert least >= 2
    points = _points(env, str(dest), new, tmp_path / "log", reset, least)
    assert len(points) >= 8
    for at in points:
        reset()
        code = _sync(env, str(dest), new, at)
        assert code == -9, (at, code)
        problems, listed = _problems(read)
        assert problems == [], (at, problems)
        assert listed in ({"1.0.0", "2.0.0"}, {"2.0.0", "3.0.0", "4.0.0"}), (at, listed)
        FAULT_STATS["kill_points"] += 1
        assert _sync(env, str(dest), new) == 0, at
        problems, listed = _problems(read)
        assert problems == [] and listed == {"2.0.0", "3.0.0", "4.0.0"}, (at, problems)
        debris = [p.name for p in dest.rglob(".*.part")]
        assert debris == [], (at, debris)
        assert not (dest / "archives").exists() or len(list(dest.rglob("*.tar.gz"))) == 3, at
    # SIGTERM and Ctrl-C: the sync stops by itself, removing its temporary file.
    for at in random.Random(7).sample(points, 3):
        for signal in ("TERM", "INT"):
            reset()
            assert _sync(env, str(dest), new, f"{at},signal={signal}") == 130, (at, signal)
            problems, _ = _problems(read)
            assert problems == [], (at, signal, problems)
            assert [p.name for p in dest.rglob(".*.part")] == [], (at, signal)
            FAULT_STATS["kill_points"] += 1


def test_killed_sync_into_a_bucket(server: Server, moto_s3: MotoS3, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home", **moto_s3.env)
    old = _serve(server, ["1.0.0", "2.0.0"], "/old.json")
    new = _serve(server, ["2.0.0", "3.0.0"], "/new.json")
    fs = moto_s3.fs()
    template = moto_s3.new_bucket()
    assert _sync(env, f"s3://{template}/m", old) == 0
    state: dict[str, str] = {}

    def reset() -> None:
        state["bucket"] = moto_s3.new_bucket()
        for path in fs.find(f"{template}/m"):
            fs.copy(path, path.replace(template, state["bucket"], 1))

    def read(name: str) -> bytes | None:
        try:
            data: bytes = fs.cat(f"{state['bucket']}/m/{name}")
            return data
        except FileNotFoundError:
            return None

    log = tmp_path / "log"
    reset()
    assert _sync(env, f"s3://{state['bucket']}/m", new, f"log={log}") == 0
    names = log.read_text().splitlines()
    points = [_address(names, i + 1) for i, n in enumerate(names) if n.startswith("mirror.")]
    if not points:
        pytest.fail(f"no mirror checkpoints in {names}")
    for at in points:
        reset()
        dest = f"s3://{state['bucket']}/m"
        assert _sync(env, dest, new, at) == -9, at
        problems, listed = _problems(read)
        assert problems == [] and listed in ({"1.0.0", "2.0.0"}, {"2.0.0", "3.0.0"}), (at, problems)
        FAULT_STATS["kill_points"] += 1
        assert _sync(env, dest, new) == 0
        assert _problems(read) == ([], {"2.0.0", "3.0.0"})
