"""Fixtures of the fault-injection suite: the module-scoped World (hostile inputs, disks,
locks) and its per-test Case; the Goods served to every Arena (escapes, healing,
messages) and the Arena itself, run as root and again as ``nobody``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, big_files, make_tar, release, sha256
from helpers.cli import clean_env
from helpers.faults import Arena, Case, Goods, World, make_decoy, nobody_prefix
from helpers.servers import Server


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("hostile"))
    yield w
    w.server.close()


@pytest.fixture
def case(world: World) -> Case:
    return world.case()


@pytest.fixture(scope="module")
def goods() -> Iterator[Goods]:
    server = Server()
    files = {v: big_files(PY_FULL, v, count=4) for v in ("1.0.0", "2.0.0")}
    bodies = {v: make_tar(tree) for v, tree in files.items()}
    releases = {
        v: release(v, server.add(f"/good/{v}.tar.gz", body), PY_FULL, sha256=sha256(body))
        for v, body in bodies.items()
    }
    yield Goods(server, files, bodies, releases)
    server.close()


@pytest.fixture(params=["root", "nobody"])
def user(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def arena(goods: Goods, user: str) -> Iterator[Arena]:
    prefix = nobody_prefix() if user == "nobody" else []
    base = Path(tempfile.mkdtemp(prefix="xbuildenv-arena-"))
    os.chmod(base, 0o755)
    home = base / "home"
    home.mkdir()
    a = Arena(goods, base, user, prefix)
    a.env = clean_env(home, XBUILDENV_BACKOFF="0.05")
    a.cache.mkdir(parents=True)
    make_decoy(a.decoy)
    a.give_away()
    yield a
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def root_arena(goods: Goods) -> Iterator[Arena]:
    """An arena whose commands run as the test's own user only."""
    base = Path(tempfile.mkdtemp(prefix="xbuildenv-arena-"))
    home = base / "home"
    home.mkdir()
    a = Arena(goods, base, "root", [])
    a.env = clean_env(home, XBUILDENV_BACKOFF="0.05")
    a.cache.mkdir(parents=True)
    make_decoy(a.decoy)
    yield a
    shutil.rmtree(base, ignore_errors=True)
