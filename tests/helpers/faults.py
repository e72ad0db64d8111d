"""The fault-injection suite's parts (tests/faults/): counters for the end-of-run summary,
checks that a root is intact, a tmpfs for full and read-only disks, the decoy folder
no input may change, and the two set-ups the suites share.

* :class:`World` (hostile inputs, disks, locks) serves good releases 1.0.0 and 2.0.0
  and keeps a template root with 1.0.0 installed; each :class:`Case` is a copy of it
  with its own routes, and :meth:`Case.unchanged` checks a failure left the cache
  exactly as it was and the decoy untouched.
* :class:`Arena` (escapes, healing, messages) is a fresh folder outside pytest's
  private temporary folder (so that ``nobody`` can use it) with a home, a cache and
  a decoy next to it; commands run as root, or as ``nobody`` where file modes apply.

The fixtures that make them are in tests/faults/conftest.py.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers.archives import PY_FULL, big_files, make_tar, release, sha256
from helpers.cli import Result, clean_env, copy_root, run, snapshot
from helpers.servers import Server

# Counters for the summary printed at the end of the run (see conftest.py).
FAULT_STATS: Counter[str] = Counter()


LEFTOVER_PREFIXES = (".staging-", ".trash-", ".replaced-", ".link-")


def tree_problems(root: Path, version: str, files: dict[str, bytes]) -> list[str]:
    """What is wrong with ``root/version`` as a complete install of ``files``."""
    folder = root / version
    problems = []
    for rel, data in files.items():
        path = folder / rel
        if not path.is_file():
            problems.append(f"{version}: {rel} missing")
        elif path.read_bytes() != data:
            problems.append(f"{version}: {rel} differs")
    if not (folder / ".build-python-version").is_file():
        problems.append(f"{version}: no .build-python-version")
    return problems


def root_problems(root: Path, expected: dict[str, dict[str, bytes]]) -> list[str]:
    """Invariants after any interruption: every folder that looks installed (has
    ``.installed``) is complete, and the link points at a complete version or nowhere."""
    problems = []
    if not root.is_dir():
        return problems
    for entry in os.scandir(root):
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        if (Path(entry.path) / ".installed").is_file():
            files = expected.get(entry.name)
            if files is None:
                problems.append(f"unexpected installed folder {entry.name}")
            else:
                problems += tree_problems(root, entry.name, files)
    link = root / "xbuildenv"
    if link.is_symlink():
        target = Path(os.readlink(link))
        if not target.is_absolute():
            target = root / target
        if target.parent != root or not (target / ".installed").is_file():
            problems.append(f"link points at {target}, not a complete version")
    elif link.exists():
        problems.append("a real file or folder sits where the link belongs")
    return problems


def half_published_problems(
    root: Path, version: str, old: dict[str, Any], files: dict[str, dict[str, bytes]]
) -> list[str]:
    """What differs from the one state a publish without atomic exchange may leave when
    killed between its two renames (README, "Platforms"): no ``version`` folder, the old
    tree whole (byte-identical) in ``.replaced-*-version``, the new one whole in a
    staging folder, the link (if any) at ``version``; every other check as usual."""
    from xbuildenv.fs.platform import fast_path

    problems = []
    if fast_path("exchange"):
        return [f"{version} was moved aside although the atomic exchange was on"]
    names = os.listdir(root)
    aside = [n for n in names if n.startswith(".replaced-") and n.endswith(f"-{version}")]
    staged = [n for n in names if n.startswith(".staging-") and n.endswith(f"-{version}")]
    if os.path.lexists(root / version):
        problems.append(f"{version} is still there after it was moved aside")
    if len(aside) != 1 or snapshot(root / aside[0]) != old:
        problems.append(f"the old {version} is not whole in one .replaced- folder: {aside}")
    if len(staged) != 1 or tree_problems(root, staged[0], files[version]):
        problems.append(f"the new {version} is not whole in one staging folder: {staged}")
    link = root / "xbuildenv"
    if link.is_symlink() and Path(os.readlink(link)).name != version:
        problems.append(f"the link points at {os.readlink(link)}")
    others = {v: f for v, f in files.items() if v != version}
    return problems + [p for p in root_problems(root, others) if "link points" not in p]


def leftovers(root: Path, store: Path | None = None) -> list[str]:
    """Staging/trash folders, temporary links, lock files and partial downloads."""
    found = []
    if root.is_dir():
        found += [n for n in os.listdir(root) if n.startswith(LEFTOVER_PREFIXES)]
        found += [n for n in os.listdir(root) if n.startswith(".xbuildenv") and n.endswith(".lock")]
    if store is not None:
        for sub in ("tmp", ".locks"):
            folder = store / sub
            if folder.is_dir():
                found += [f"store/{sub}/{n}" for n in os.listdir(folder)]
    return sorted(found)


class Tmpfs:
    """A real tmpfs mount (root only): small for ENOSPC, or remounted read-only."""

    def __init__(self, path: Path, size: str = "1m") -> None:

        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'})")

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


NOBODY = 65534


def make_decoy(folder: Path, owner: int | None = None) -> Path:
    """A folder outside every cache that no input may change: files of the kinds the
    tool itself writes and deletes (``*.part``, ``*.tmp``, ``*.lock``, sha-named
    archives), a private key at mode 600, a sub-folder."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "id_rsa": b"-----BEGIN OPENSSH PRIVATE KEY-----\n",
        "download.part": b"partial",
        "record.tmp": b"temporary",
        "victim.lock": b"",
        "a" * 64: b"looks like a stored archive",
        "sub/notes.txt": b"keep me",
        "index.json": b'{"releases": {}}',
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    os.chmod(folder / "id_rsa", 0o600)
    if owner is not None:
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in [".", *dirnames, *filenames]:
                os.lchown(os.path.join(dirpath, name), owner, owner)
    return folder


def decoy_state(folder: Path) -> dict[str, Any]:
    """Names, types, modes, owners, sizes and hashes under ``folder`` (and itself)."""

    state: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [".", *dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            info = os.lstat(p)
            entry: tuple[Any, ...] = (info.st_mode, info.st_uid, info.st_size)
            if os.path.islink(p):
                entry += (os.readlink(p),)
            elif os.path.isfile(p):
                with open(p, "rb") as fh:
                    entry += (hashlib.sha256(fh.read()).hexdigest(),)
            state[os.path.relpath(p, folder)] = entry
    return state


def check_decoy(folder: Path, before: dict[str, Any]) -> None:
    """Count one escape tried; assert nothing in the decoy changed."""
    FAULT_STATS["escapes_tried"] += 1
    after = decoy_state(folder)
    changed = {
        k: (before.get(k), after.get(k))
        for k in before.keys() | after.keys()
        if before.get(k) != after.get(k)
    }
    FAULT_STATS["escapes_found"] += int(bool(changed))
    assert not changed, f"written outside the cache: {changed}"


def heal(ok: bool) -> bool:
    """Count one heal tried (and failed, when not ``ok``)."""
    FAULT_STATS["heals_tried"] += 1
    FAULT_STATS["heals_failed"] += int(not ok)
    return ok


_nobody_ok: list[str] = []


def nobody_prefix() -> list[str]:
    """``setpriv`` to run a command as nobody, or a pytest skip saying why not."""
    import shutil
    import sys

    if os.geteuid() != 0:
        pytest.skip("running as an unprivileged user needs root to switch users")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    if not _nobody_ok:
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "import xbuildenv"], capture_output=True, text=True
        )
        if probe.returncode != 0:
            pytest.skip(f"nobody cannot run this Python and package: {probe.stderr.strip()[-200:]}")
        _nobody_ok.append("yes")
    return prefix


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
        if not self.prefix:  # as ourselves: helpers.cli.run decides where it runs
            return run(*args, env={**self.env, **env}, cwd=self.base, timeout=timeout)
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


def flip_a_bit_keeping_mtime(blob: Path) -> None:
    """A bit flip that keeps size, mode and mtime: silent disk corruption, which only the
    bytes tell (``cache verify`` finds it; a link checks identities, not bytes)."""
    info = blob.stat()
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    os.chmod(blob, 0o644)
    blob.write_bytes(bytes(data))
    os.chmod(blob, info.st_mode)
    os.utime(blob, ns=(info.st_atime_ns, info.st_mtime_ns))
