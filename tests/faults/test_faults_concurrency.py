"""Concurrency: many real processes on one root (and on two roots) at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, big_files, index, make_tar, release, sha256
from helpers.cli import clean_env
from helpers.faults import FAULT_STATS, leftovers, root_problems
from helpers.servers import Server

PROCS = 8


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "xbuildenv", *args, "-q"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    return [(p.wait(timeout=180), p.communicate()[1]) for p in procs]


Trees = dict[str, dict[str, bytes]]


def _serve(server: Server, versions: list[str], **route: object) -> tuple[str, Trees]:
    files = {v: big_files(PY_FULL, v, count=20) for v in versions}
    releases = []
    for v, tree in files.items():
        body = make_tar(tree)
        url = server.add(f"/dl/{v}.tar.gz", body, **route)
        releases.append(release(v, url, PY_FULL, sha256=sha256(body)))
    return server.add("/index.json", index(*releases)), files


def _record(results: list[tuple[int, str]], downloads: int) -> None:
    FAULT_STATS["concurrent_runs"] += len(results)
    FAULT_STATS["concurrent_ok"] += sum(1 for code, _ in results if code == 0)
    FAULT_STATS["downloads"] += downloads


def test_same_version_eight_processes(server: Server, home: Path, tmp_path: Path) -> None:
    # Throttled, so the eight runs really overlap while the first one downloads.
    index_url, files = _serve(server, ["1.0.0"], rate=400_000)
    env = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=index_url)
    root = tmp_path / "root"
    results = _finish([_start(env, "install", "1.0.0", "--path", str(root)) for _ in range(PROCS)])
    downloads = server.hits["/dl/1.0.0.tar.gz"]
    _record(results, downloads)
    assert all(code == 0 for code, _ in results), results
    assert downloads == 1
    assert root_problems(root, files) == []
    assert sorted(n for n in os.listdir(root) if not n.startswith(".")) == ["1.0.0", "xbuildenv"]
    assert (root / "xbuildenv").resolve() == (root / "1.0.0").resolve()
    assert leftovers(root, home / ".cache" / "pyodide-build" / "xbuildenv-store") == []


def test_different_versions_eight_processes(server: Server, home: Path, tmp_path: Path) -> None:
    versions = [f"1.{i}.0" for i in range(PROCS)]
    index_url, files = _serve(server, versions, rate=1_000_000)
    env = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=index_url)
    root = tmp_path / "root"
    results = _finish([_start(env, "install", v, "--path", str(root)) for v in versions])
    downloads = sum(server.hits[f"/dl/{v}.tar.gz"] for v in versions)
    _record(results, downloads)
    assert all(code == 0 for code, _ in results), results
    assert downloads == PROCS
    assert root_problems(root, files) == []
    installed = sorted(
        n for n in os.listdir(root) if n != "xbuildenv" and (root / n / ".installed").is_file()
    )
    assert installed == versions
    assert Path(os.readlink(root / "xbuildenv")).name in versions
    assert leftovers(root) == []


def _watch_link(root: Path, stop: threading.Event, seen: list[str]) -> None:
    """Read the link continuously; record any instant where it dangles or is foreign."""
    link = root / "xbuildenv"
    while not stop.is_set():
        try:
            target = os.readlink(link)
        except FileNotFoundError:
            continue  # no active version: allowed
        ok = Path(target).parent == root and (Path(target) / ".installed").is_file()
        if not ok:
            try:
                again = os.readlink(link)
            except FileNotFoundError:
                continue
            if again == target:  # unchanged across the check: it really dangled
                seen.append(target)


def test_use_races_install_and_uninstall(server: Server, home: Path, tmp_path: Path) -> None:
    versions = ["1.0.0", "2.0.0", "3.0.0"]
    index_url, files = _serve(server, versions)
    env = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=index_url)
    root = tmp_path / "root"
    for v in versions:
        done = subprocess.run(
            [sys.executable, "-m", "xbuildenv", "install", v, "--path", str(root), "-q"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    p = ["--path", str(root)]
    plans = [
        [["use", v, *p] for v in versions * 3],
        [["uninstall", "2.0.0", *p], ["install", "2.0.0", *p]] * 3,
        [["install", "--force", "3.0.0", *p], ["use", "1.0.0", *p]] * 3,
    ]
    outcomes: list[tuple[list[str], int, str]] = []

    def actor(plan: list[list[str]]) -> None:
        for cmd in plan:
            proc = _start(env, *cmd)
            _, err = proc.communicate(timeout=180)
            outcomes.append((cmd, proc.returncode, err))

    stop = threading.Event()
    dangling: list[str] = []
    watcher = threading.Thread(target=_watch_link, args=(root, stop, dangling))
    watcher.start()
    actors = [threading.Thread(target=actor, args=(plan,)) for plan in plans]
    for t in actors:
        t.start()
    for t in actors:
        t.join()
    stop.set()
    watcher.join()
    _record([(code, err) for cmd, code, err in outcomes if cmd[0] == "install"], 0)
    assert dangling == []
    for cmd, code, err in outcomes:
        assert "Traceback" not in err, (cmd, err)
        # 'use 2.0.0' may lose the race against 'uninstall 2.0.0': a clean error then.
        assert code == 0 or (cmd[:2] in (["use", "2.0.0"], ["uninstall", "2.0.0"]) and code == 1), (
            cmd,
            code,
            err,
        )
    assert root_problems(root, files) == []
    assert leftovers(root) == []


def test_two_roots_do_not_block_each_other(server: Server, home: Path, tmp_path: Path) -> None:
    """A slow install in one root must not hold up another root's install."""
    files = {"1.0.0": big_files(PY_FULL, "1.0.0"), "2.0.0": big_files(PY_FULL, "2.0.0", count=5)}
    slow_body, fast_body = make_tar(files["1.0.0"]), make_tar(files["2.0.0"])
    slow = server.add("/dl/slow.tar.gz", slow_body, rate=60_000)  # several seconds
    fast = server.add("/dl/fast.tar.gz", fast_body)
    index_url = server.add(
        "/index.json",
        index(
            release("1.0.0", slow, PY_FULL, sha256=sha256(slow_body)),
            release("2.0.0", fast, PY_FULL, sha256=sha256(fast_body)),
        ),
    )
    env = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=index_url)
    env_b = clean_env(tmp_path / "home-b", PYODIDE_CROSS_BUILD_ENV_METADATA_URL=index_url)
    (tmp_path / "home-b").mkdir()
    a = _start(env, "install", "1.0.0", "--path", str(tmp_path / "a"))
    while server.hits["/dl/slow.tar.gz"] == 0:  # A is downloading now
        if a.poll() is not None:
            pytest.fail(f"A ended early: {a.communicate()}")
        threading.Event().wait(0.02)
    b = _start(env_b, "install", "2.0.0", "--path", str(tmp_path / "b"))
    b_code = b.wait(timeout=120)
    a_still_running = a.poll() is None
    a_code = a.wait(timeout=120)
    _record([(a_code, ""), (b_code, "")], 2)
    assert (a_code, b_code) == (0, 0)
    assert a_still_running, "root B waited for root A's download"
    assert root_problems(tmp_path / "a", files) == []
    assert root_problems(tmp_path / "b", files) == []


def test_two_roots_same_archive_download_once(server: Server, home: Path, tmp_path: Path) -> None:
    """Two roots (two venvs) of one user want the same archive: one download, two trees."""
    index_url, files = _serve(server, ["1.0.0"], rate=400_000)
    env = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=index_url)
    procs = [_start(env, "install", "1.0.0", "--path", str(tmp_path / n)) for n in ("a", "b")]
    results = _finish(procs)
    downloads = server.hits["/dl/1.0.0.tar.gz"]
    _record(results, downloads)
    assert [code for code, _ in results] == [0, 0], results
    assert downloads == 1
    for n in ("a", "b"):
        assert root_problems(tmp_path / n, files) == []
        assert (tmp_path / n / "1.0.0" / ".installed").is_file()
