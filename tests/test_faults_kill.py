"""Crash safety: real ``xbuildenv install`` processes stopped by real signals.

The code calls ``checkpoint(name)`` at every phase boundary and per extracted member
(see ``src/xbuildenv/checkpoints.py``); with ``XBUILDENV_TEST_CHECKPOINTS=at=N`` the
process sends itself SIGKILL (or SIGINT/SIGTERM) at its N-th checkpoint. A dry run
lists the points; each case then starts from a copy of a root with 1.0.0 installed
and active, stops the install at one point, and checks:

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
from fault_support import FAULT_STATS, big_files, copy_root, leftovers, root_problems
from support import PY_FULL, Server, clean_env, make_tar, release, sha256, snapshot

DENSE = ("download.chunk", "extract.member")  # many of these: sampled by default
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
    cases: int = 0


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
    for v, tree in files.items():
        body = make_tar(tree)
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
    yield {"server": server, "env": env, "files": files, "template": template, "base": base}
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


def _sample(points: list[str], every: int) -> list[int]:
    """1-based checkpoint numbers: all phase boundaries, every ``every``-th dense one."""
    chosen, dense_seen = [], 0
    for i, name in enumerate(points, 1):
        if name in DENSE:
            dense_seen += 1
            if dense_seen % every != 1 and every > 1:
                continue
        chosen.append(i)
    return chosen


def _run_case(sc: Scenario, at: int, sig: str) -> list[str]:
    """Stop ``sc``'s install at checkpoint ``at`` with ``sig``; return what went wrong."""
    sc.cases += 1
    root, store, log = _fresh(sc, f"{sig}-{at}")
    old = snapshot(root / "1.0.0")
    spec = f"at={at},signal={sig},log={log}"
    env = {**sc.env, "XBUILDENV_CACHE_DIR": str(store)}
    done = _install({**env, "XBUILDENV_TEST_CHECKPOINTS": spec}, root, *sc.args)
    hit = log.read_text().splitlines() if log.exists() else []
    where = f"{sc.name} {sig}@{at}"
    problems: list[str] = []
    if len(hit) >= at:
        point = hit[at - 1]
        where += f" ({point})"
        FAULT_STATS["kill_points"] += 1
        DISTINCT.add((sc.name, point, hit[:at].count(point)))
        FAULT_STATS["kill_points_distinct"] = len(DISTINCT)
    if sig == "KILL":
        if done.returncode not in (-signal.SIGKILL, 0):
            problems.append(f"exit {done.returncode}: {done.stderr.strip()}")
    elif done.returncode != 0:
        # Ctrl-C / SIGTERM: a clean abort, one line, nothing left behind.
        lines = done.stderr.strip().splitlines()
        if done.returncode != 130 or len(lines) != 1 or not lines[0].startswith("error: "):
            problems.append(f"not a clean abort: exit {done.returncode}, stderr {done.stderr!r}")
        if leftovers(root, store):
            problems.append(f"the aborted run left {leftovers(root, store)}")
    problems += root_problems(root, sc.files)
    if snapshot(root / "1.0.0") != old:
        problems.append("the version installed before changed")
    # The next command repairs and tidies.
    again = _install(env, root, *sc.args)
    if again.returncode != 0:
        problems.append(f"next install failed: {again.stderr.strip()}")
    if leftovers(root, store):
        problems.append(f"next install left {leftovers(root, store)}")
    problems += root_problems(root, sc.files)
    if snapshot(root / "1.0.0") != old:
        problems.append("the version installed before changed after the next install")
    wanted = sc.args[-1]
    if (root / "xbuildenv").resolve() != (root / wanted).resolve():
        problems.append(f"after the next install {wanted} is not active")
    if problems:
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
    """Install 2.0.0 over an active 1.0.0: network route (metadata, download, extract)."""
    sc = _scenario(world, "new", ["2.0.0"])
    numbers = _sample(sc.points, every=6)
    assert len(numbers) >= 20
    _sweep(sc, numbers, "KILL")


def test_kill_forced_reinstall_sample(world: dict[str, object]) -> None:
    """``install --force`` of the active version: store route and the publish swap."""
    sc = _scenario(world, "force", ["--force", "1.0.0"])
    assert "publish.exchanged" in sc.points or "publish.aside" in sc.points
    _sweep(sc, _sample(sc.points, every=10), "KILL")


@pytest.mark.slow
def test_kill_new_version_every_point(world: dict[str, object]) -> None:
    sc = _scenario(world, "new", ["2.0.0"])
    _sweep(sc, list(range(1, len(sc.points) + 1)), "KILL")
    assert len(DISTINCT) >= 50


@pytest.mark.slow
def test_kill_forced_reinstall_every_point(world: dict[str, object]) -> None:
    sc = _scenario(world, "force", ["--force", "1.0.0"])
    _sweep(sc, list(range(1, len(sc.points) + 1)), "KILL")


# --- SIGINT / SIGTERM ------------------------------------------------------------
@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_interrupt_sample(world: dict[str, object], sig: str) -> None:
    sc = _scenario(world, f"{sig.lower()}", ["2.0.0"])
    _sweep(sc, _sample(sc.points, every=25)[::2], sig)


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_interrupt_every_point(world: dict[str, object], sig: str) -> None:
    sc = _scenario(world, f"{sig.lower()}-all", ["2.0.0"])
    _sweep(sc, list(range(1, len(sc.points) + 1)), sig)
