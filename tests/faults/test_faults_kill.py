"""Crash safety: real ``xbuildenv install`` processes stopped by real signals.

The code calls ``checkpoint(name)`` at every phase boundary and per extracted member
(see ``src/xbuildenv/checkpoints.py``); with ``XBUILDENV_TEST_CHECKPOINTS=at=N`` the
process sends itself SIGKILL (or SIGINT/SIGTERM) at its N-th checkpoint. A dry run
lists the points; each case then starts from a copy of a root with 1.0.0 installed
and active, stops the install at one point (addressed by name and occurrence, so that
thread interleaving cannot shift it), first asserts that the signal was delivered (the
exit status; after SIGKILL, no checkpoint logged after the point), then checks:

* every folder that looks installed (``.installed``) is complete;
* the version installed before is byte-identical;
* the link points at a complete version (or nowhere);
* the next ``install`` succeeds and leaves no staging folders, temporary links,
  lock files or partial downloads behind.

The default run tries every phase boundary and a sample of per-chunk and
per-member points; ``--full-sweep`` tries every point.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, big_files, make_tar, release, sha256
from helpers.cli import clean_env, copy_root, run, snapshot
from helpers.faults import FAULT_STATS, half_published_problems, leftovers, root_problems
from helpers.servers import Server

from xbuildenv.net.fetch import CHUNK

DENSE = ("download.chunk", "extract.member", "treelink.file")  # many: sampled by default
# Every (scenario, point, occurrence) stopped at in this run, for the summary: a union,
# so the figure does not depend on the order the tests ran in.
DISTINCT: set[tuple[str, str, int]] = set()


@dataclass
class Scenario:
    name: str
    args: list[str]  # the install command being interrupted
    files: dict[str, dict[str, bytes]]
    env: dict[str, str]
    template: Path
    work: Path
    points: list[str] = field(default_factory=list)
    min_chunks: int = 0  # download chunks every run passes (reads may return less)
    cases: int = 0
    distinct: set[tuple[str, int]] = field(default_factory=set)  # this scenario's own


def _install(env: dict[str, str], root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xbuildenv", "install", *args, "--path", str(root), "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One server with releases 1.0.0 and 2.0.0, and a template root with 1.0.0 active."""
    server = Server()
    base = tmp_path_factory.mktemp("kill")
    files = {v: big_files(PY_FULL, v) for v in ("1.0.0", "2.0.0")}
    releases = []
    sizes = {}
    for v, tree in files.items():
        body = make_tar(tree)
        sizes[v] = len(body)
        url = server.add(f"/dl/xbuildenv-{v}.tar.gz", body)
        releases.append(release(v, url, PY_FULL, sha256=sha256(body)))
    index_url = server.add("/index.json", _index(releases))
    home = base / "home"
    home.mkdir()
    env = clean_env(
        home,
        PYODIDE_CROSS_BUILD_ENV_METADATA_URL=index_url,
        XBUILDENV_INDEX_MAX_AGE="0",  # every run fetches the index: metadata points too
    )
    template = base / "template"
    store_env = {**env, "XBUILDENV_CACHE_DIR": str(template / "store")}
    done = _install(store_env, template / "root", "1.0.0")
    assert done.returncode == 0, done.stderr
    yield {
        "server": server,
        "env": env,
        "files": files,
        "template": template,
        "base": base,
        "sizes": sizes,
    }
    server.close()


def _index(releases: list[dict[str, object]]) -> bytes:
    import json

    return json.dumps({"releases": {str(r["version"]): r for r in releases}}).encode()


def _scenario(world: dict[str, object], name: str, args: list[str]) -> Scenario:
    base = world["base"]
    assert isinstance(base, Path)
    sc = Scenario(
        name,
        args,
        world["files"],  # type: ignore[arg-type]
        world["env"],  # type: ignore[arg-type]
        world["template"],  # type: ignore[arg-type]
        base / name,
    )
    sc.work.mkdir(exist_ok=True)
    # Dry run: which checkpoints does this install pass, in order?
    root, store, log = _fresh(sc, "dry")
    env = {**sc.env, "XBUILDENV_CACHE_DIR": str(store), "XBUILDENV_TEST_CHECKPOINTS": f"log={log}"}
    done = _install(env, root, *args)
    assert done.returncode == 0, done.stderr
    sc.points = log.read_text().splitlines()
    sc.min_chunks = world["sizes"][args[-1]] // CHUNK  # type: ignore[index]
    names = set(sc.points)
    assert {"install.locked", "install.published", "install.activated"} <= names, names
    return sc


def _fresh(sc: Scenario, label: str) -> tuple[Path, Path, Path]:
    case = sc.work / label
    if case.exists():
        shutil.rmtree(case)
    case.mkdir()
    copy_root(sc.template / "root", case / "root")
    shutil.copytree(sc.template / "store", case / "store", symlinks=True)
    return case / "root", case / "store", case / "log"


def _reachable(sc: Scenario) -> list[int]:
    """Every point of the dry run that every run passes: all but the download chunks
    beyond the guaranteed count (a read may return less than a chunk, so how many
    chunks a download takes varies from run to run)."""
    return [
        i
        for i, name in enumerate(sc.points, 1)
        if name != "download.chunk" or sc.points[:i].count(name) <= sc.min_chunks
    ]


def _sample(sc: Scenario, every: int) -> list[int]:
    """1-based checkpoint numbers: all phase boundaries, every ``every``-th dense one."""
    chosen, dense_seen = [], 0
    reachable = set(_reachable(sc))
    for i, name in enumerate(sc.points, 1):
        if i not in reachable:
            continue
        if name in DENSE:
            dense_seen += 1
            if dense_seen % every != 1 and every > 1:
                continue
        chosen.append(i)
    return chosen


def _run_case(sc: Scenario, at: int, sig: str, deliver: bool = True) -> list[str]:
    """Stop ``sc``'s install at checkpoint ``at`` with ``sig``; return what went wrong.

    ``deliver=False`` reaches the point but sends no signal (the self-test: the checks
    below must then report the missing signal).
    """
    sc.cases += deliver
    root, store, log = _fresh(sc, f"{sig}-{at}")
    old = snapshot(root / "1.0.0")
    # Addressed by name and occurrence: the N-th checkpoint overall depends on how the
    # download and extraction threads interleave, the k-th "extract.member" does not.
    point = sc.points[at - 1]
    nth = sc.points[:at].count(point)
    spec = f"point={point},at={nth},signal={sig if deliver else 'NONE'},log={log}"
    env = {**sc.env, "XBUILDENV_CACHE_DIR": str(store)}
    done = _install({**env, "XBUILDENV_TEST_CHECKPOINTS": spec}, root, *sc.args)
    hit = log.read_text().splitlines() if log.exists() else []
    where = f"{sc.name} {sig}@{point}#{nth}"
    problems: list[str] = []
    # First: was the process really stopped where we meant? A case whose signal never
    # came checks nothing (the install simply ran to the end).
    if len(hit) < nth:
        problems.append(f"{point} #{nth} was never reached ({len(hit)} passed)")
    elif deliver:
        FAULT_STATS["kill_points"] += 1
        sc.distinct.add((point, nth))
        DISTINCT.add((sc.name, point, nth))
        FAULT_STATS["kill_points_distinct"] = len(DISTINCT)
    if sig == "KILL":
        if done.returncode != -signal.SIGKILL:
            problems.append(f"the signal was not delivered: exit {done.returncode}")
        elif len(hit) != nth:  # SIGKILL: nothing runs after the point, not even a log line
            problems.append(f"the process went on after the signal ({len(hit)} passes)")
    else:
        # Ctrl-C / SIGTERM: a clean abort, one line, nothing left behind.
        lines = done.stderr.strip().splitlines()
        if done.returncode != 130:
            problems.append(f"the signal was not delivered: exit {done.returncode}")
        elif len(lines) != 1 or not lines[0].startswith("error: "):
            problems.append(f"not a clean abort: stderr {done.stderr!r}")
        if leftovers(root, store):
            problems.append(f"the aborted run left {leftovers(root, store)}")
    if point == "publish.aside":
        # Only without an atomic exchange (macOS off APFS, Windows, --portable): the one
        # state the README's "Platforms" section allows between the two renames.
        problems += half_published_problems(root, "1.0.0", old, sc.files)
    else:
        problems += root_problems(root, sc.files)
        if snapshot(root / "1.0.0") != old:
            problems.append("the version installed before changed")
    # The next command repairs and tidies.
    again = run("install", *sc.args, "--path", str(root), "-q", env=env)  # no fault: in process
    if again.code != 0:
        problems.append(f"next install failed: {again.err.strip()}")
    if leftovers(root, store):
        problems.append(f"next install left {leftovers(root, store)}")
    problems += root_problems(root, sc.files)
    if snapshot(root / "1.0.0") != old:
        problems.append("the version installed before changed after the next install")
    wanted = sc.args[-1]
    if (root / "xbuildenv").resolve() != (root / wanted).resolve():
        problems.append(f"after the next install {wanted} is not active")
    if problems and deliver:
        FAULT_STATS["corrupt_states"] += 1
    shutil.rmtree(root.parent)
    return [f"{where}: {p}" for p in problems]


def _sweep(sc: Scenario, numbers: list[int], sig: str) -> None:
    problems: list[str] = []
    for at in numbers:
        problems += _run_case(sc, at, sig)
    assert not problems, "\n".join(problems)


# --- SIGKILL -------------------------------------------------------------------
def test_kill_new_version_sample(world: dict[str, object]) -> None:
    """Install 2.0.0 over an active 1.0.0: network route (metadata, download, extract).

    Every twelfth-or-so case of the sample alone stops at ten or more distinct points
    (not counting what other tests of the run happened to try).
    """
    sc = _scenario(world, "new", ["2.0.0"])
    numbers = _sample(sc, every=6)
    assert len(numbers) >= 20
    _sweep(sc, numbers, "KILL")
    spread = numbers[:: max(1, len(numbers) // 12)]
    stopped = {(sc.points[at - 1], sc.points[:at].count(sc.points[at - 1])) for at in spread}
    assert len(stopped & sc.distinct) >= 10


def test_kill_forced_reinstall_sample(world: dict[str, object]) -> None:
    """``install --force`` of the active version: store route and the publish swap."""
    sc = _scenario(world, "force", ["--force", "1.0.0"])
    assert "publish.exchanged" in sc.points or "publish.aside" in sc.points
    _sweep(sc, _sample(sc, every=10), "KILL")


@pytest.mark.slow
def test_kill_new_version_every_point(world: dict[str, object]) -> None:
    sc = _scenario(world, "new", ["2.0.0"])
    _sweep(sc, _reachable(sc), "KILL")
    assert len(sc.distinct) >= 50  # this test's own points, whatever ran before it


@pytest.mark.slow
def test_kill_forced_reinstall_every_point(world: dict[str, object]) -> None:
    sc = _scenario(world, "force", ["--force", "1.0.0"])
    _sweep(sc, _reachable(sc), "KILL")


# --- the checks themselves ---------------------------------------------------------
@pytest.mark.parametrize("sig", ["KILL", "INT", "TERM"])
def test_checks_fail_when_the_signal_is_not_sent(world: dict[str, object], sig: str) -> None:
    """Self-test: reach the same points with the signal switched off; every case must
    then fail (a kill test that passes without its signal tests nothing)."""
    sc = _scenario(world, f"self-{sig.lower()}", ["2.0.0"])
    numbers = _sample(sc, every=40)[::3]
    assert len(numbers) >= 3
    for at in numbers:
        problems = _run_case(sc, at, sig, deliver=False)
        assert any("the signal was not delivered" in p for p in problems), (at, problems)


# --- SIGINT / SIGTERM ------------------------------------------------------------
@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_interrupt_sample(world: dict[str, object], sig: str) -> None:
    sc = _scenario(world, f"{sig.lower()}", ["2.0.0"])
    _sweep(sc, _sample(sc, every=25)[::2], sig)


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_interrupt_every_point(world: dict[str, object], sig: str) -> None:
    sc = _scenario(world, f"{sig.lower()}-all", ["2.0.0"])
    _sweep(sc, _reachable(sc), sig)
