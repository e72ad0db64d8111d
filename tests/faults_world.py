"""Shared set-up for the hostile-input fault tests (test_faults_hostile/_disk/_locks).

A module-scoped :class:`World` serves good releases 1.0.0 and 2.0.0 from a real
loopback server and keeps a template root with 1.0.0 installed and active; each test
gets its own copy (:meth:`World.case`), adds hostile routes under its own prefix, and
checks with :meth:`Case.unchanged` that a failure left the cache exactly as it was,
and a decoy folder next to the cache (outside it) untouched.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fault_support import (
    FAULT_STATS,
    big_files,
    copy_root,
    decoy_state,
    leftovers,
    make_decoy,
    root_problems,
)
from support import PY_FULL, Result, Server, clean_env, make_tar, release, run, sha256, snapshot

_ids = itertools.count()


@dataclass
class Case:
    world: World
    root: Path
    store: Path
    env: dict[str, str]
    prefix: str

    def serve_index(self, releases: dict[str, Any] | bytes) -> str:
        """Serve an index (a dict of release entries, or raw bytes) and point at it."""
        if isinstance(releases, bytes):
            body = releases
        else:
            body = json.dumps({"releases": releases}).encode()
        url = self.world.server.add(f"{self.prefix}/index.json", body)
        self.env["PYODIDE_CROSS_BUILD_ENV_METADATA_URL"] = url
        return url

    def serve_archive(self, version: str, body: bytes, sha: str | None = "auto") -> dict[str, Any]:
        url = self.world.server.add(f"{self.prefix}/{version}.tar.gz", body)
        extra = {} if sha is None else {"sha256": sha256(body) if sha == "auto" else sha}
        return release(version, url, PY_FULL, **extra)

    def at(self, root: Path) -> Case:
        """The same case (server routes, store, environment) on another root."""
        return Case(self.world, root, self.store, self.env, self.prefix)

    def install(self, *args: str, **env: str) -> Result:
        return run("install", *args, "--path", str(self.root), env={**self.env, **env})

    def cli(self, *args: str, **env: str) -> Result:
        return run(*args, "--path", str(self.root), env={**self.env, **env})

    @property
    def decoy(self) -> Path:
        """A folder next to the root and the store, outside the cache: never changed."""
        return self.root.parent / "decoy"

    def snapshot(self) -> dict[str, Any]:
        state = snapshot(self.root)
        state.update({f"store/{k}": v for k, v in snapshot(self.store / "archives").items()})
        if self.decoy.is_dir():
            state.update({f"decoy:{k}": v for k, v in decoy_state(self.decoy).items()})
        return state

    def unchanged(self, before: dict[str, Any]) -> None:
        """Count one bad input; assert the root and the store are as they were."""
        FAULT_STATS["bad_inputs"] += 1
        problems = []
        after = self.snapshot()
        if ".xbuildenv-owner.json" not in before:
            # A root's owner record is written when the root is first made (so gc
            # knows it is ours), even if the install then fails.
            after.pop(".xbuildenv-owner.json", None)
        FAULT_STATS["escapes_tried"] += int(self.decoy.is_dir())
        decoy = [k for k in before.keys() | after.keys() if k.startswith("decoy:")]
        FAULT_STATS["escapes_found"] += int(any(before.get(k) != after.get(k) for k in decoy))
        if after != before:
            problems.append(
                {
                    k: (before.get(k), after.get(k))
                    for k in before.keys() | after.keys()
                    if before.get(k) != after.get(k)
                }
            )
        if leftovers(self.root, self.store):
            problems.append(leftovers(self.root, self.store))
        problems += root_problems(self.root, self.world.files)
        FAULT_STATS["cache_changes"] += int(bool(problems))
        assert not problems, problems


class World:
    def __init__(self, base: Path) -> None:
        self.server = Server()
        self.base = base
        self.files = {v: big_files(PY_FULL, v, count=8) for v in ("1.0.0", "2.0.0")}
        self.good: dict[str, Any] = {}
        for v, tree in self.files.items():
            body = make_tar(tree)
            url = self.server.add(f"/good/{v}.tar.gz", body)
            self.good[v] = release(v, url, PY_FULL, sha256=sha256(body))
        home = base / "home"
        home.mkdir()
        self.env = clean_env(home, XBUILDENV_BACKOFF="0.05")
        case = self.case("template")
        case.serve_index({"1.0.0": self.good["1.0.0"]})
        done = case.install("1.0.0")
        assert done.code == 0, done.err
        self.template = case

    def case(self, name: str | None = None) -> Case:
        n = name or f"case{next(_ids)}"
        folder = self.base / n
        folder.mkdir()
        if name != "template":
            copy_root(self.template.root, folder / "root")
            shutil.copytree(self.template.store, folder / "store", symlinks=True)
            make_decoy(folder / "decoy")
        env = {**self.env, "XBUILDENV_CACHE_DIR": str(folder / "store")}
        return Case(self, folder / "root", folder / "store", env, f"/{n}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("hostile"))
    yield w
    w.server.close()


@pytest.fixture
def case(world: World) -> Case:
    return world.case()
