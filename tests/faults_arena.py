"""Set-up for the escape and healing tests: a cache, a decoy outside it, a user.

Each test gets an :class:`Arena`: a fresh folder (outside pytest's private temporary
folder, so that an unprivileged user can use it) holding a home with pyodide-build's
cache folder (roots and the archive store inside it, where gc looks) and a decoy
folder next to the cache that no input may change. Tests parametrized over ``user``
run every command as root and again as ``nobody`` (``setpriv``), where file modes
apply: that is where a chmod through a symlink, or a write the kernel would refuse,
shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fault_support import NOBODY, big_files, decoy_state, make_decoy, nobody_prefix
from support import PY_FULL, Result, Server, clean_env, make_tar, release, sha256

ROOT_NAME = ".pyodide-xbuildenv-0123456789ab"  # a root where gc and tree sharing look


@dataclass
class Goods:
    server: Server
    files: dict[str, dict[str, bytes]]
    bodies: dict[str, bytes]
    releases: dict[str, dict[str, Any]]


@dataclass
class Arena:
    goods: Goods
    base: Path
    user: str
    prefix: list[str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def cache(self) -> Path:
        return self.base / "home" / ".cache" / "pyodide-build"

    @property
    def root(self) -> Path:
        return self.cache / ROOT_NAME

    def other_root(self, n: int) -> Path:
        return self.cache / f"{ROOT_NAME[:-2]}{n:02d}"

    @property
    def store(self) -> Path:
        return self.cache / "xbuildenv-store"

    @property
    def decoy(self) -> Path:
        return self.base / "decoy"

    def serve_index(self, releases: dict[str, Any] | bytes, name: str = "index") -> str:
        body = releases if isinstance(releases, bytes) else _index(releases)
        url = self.goods.server.add(f"/{self.base.name}/{name}.json", body)
        self.env["PYODIDE_CROSS_BUILD_ENV_METADATA_URL"] = url
        return url

    def serve(self, name: str, body: bytes, **kw: Any) -> str:
        return self.goods.server.add(f"/{self.base.name}/{name}", body, **kw)

    def cli(self, *args: str, timeout: float = 60, **env: str) -> Result:
        self.give_away()
        proc = subprocess.run(
            [*self.prefix, sys.executable, "-m", "xbuildenv", *args],
            env={**self.env, **env},
            cwd=self.base,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def install(self, *args: str, root: Path | None = None, **env: str) -> Result:
        return self.cli("install", *args, "--path", str(root or self.root), **env)

    def give_away(self) -> None:
        """Everything the test made belongs to the user the commands run as."""
        if self.user != "nobody":
            return
        for dirpath, dirnames, filenames in os.walk(self.base):
            for name in [".", *dirnames, *filenames]:
                p = os.path.join(dirpath, name)
                if os.lstat(p).st_uid != NOBODY:
                    os.lchown(p, NOBODY, NOBODY)

    def decoy_state(self) -> dict[str, Any]:
        self.give_away()  # first: the test's own set-up is not an escape
        return decoy_state(self.decoy)


def _index(releases: dict[str, Any]) -> bytes:
    import json

    return json.dumps({"releases": releases}).encode()


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


def snapshot_decoy(a: Arena) -> dict[str, Any]:
    return a.decoy_state()
