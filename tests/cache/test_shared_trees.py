"""Unpacked trees kept in the store: one unpack per machine, every other root links.

Real installs (the CLI as a subprocess) against a loopback server; roots anywhere on
the file system (``--path``, ``PYODIDE_XBUILDENV_PATH``), deleted roots, concurrent
roots, a publisher killed with a real SIGKILL, and a damaged store tree.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.archives import PY_FULL, default_files, index, make_tar, release, sha256
from helpers.cli import run
from helpers.faults import flip_a_bit_keeping_mtime
from helpers.servers import Server

VERSION = "0.29.4"
ARCHIVE = "/xbuildenv-0.29.4.tar.bz2"


@dataclass
class Published:
    meta: str
    files: dict[str, bytes]
    sha: str


@pytest.fixture
def published(server: Server) -> Published:
    files = default_files(PY_FULL)
    rng = random.Random(18)
    # Some weight and some folders, so that linking and unpacking take a moment.
    for i in range(40):
        files[f"xbuildenv/pyodide-root/cpython/lib/part{i % 5}/blob{i}.bin"] = rng.randbytes(
            24 << 10
        )
    body = make_tar(files, compression="bz2")
    url = server.add(ARCHIVE, body)
    meta = server.add("/index.json", index(release(VERSION, url, PY_FULL, sha256=sha256(body))))
    return Published(meta, files, sha256(body))


def _store(env: dict[str, str]) -> Path:
    return Path(run("cache", "dir", env=env).out.strip()) / "xbuildenv-store"


def _args(pub: Published, root: Path | None) -> list[str]:
    where = ["--path", str(root)] if root is not None else []
    return ["install", VERSION, "--metadata", pub.meta, "--json", *where]


def _install(pub: Published, env: dict[str, str], root: Path | None) -> dict[str, Any]:
    r = run(*_args(pub, root), env=env)
    assert r.code == 0, r.err
    data: dict[str, Any] = json.loads(r.out)
    return data


def _inode(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def _tree_problems(version_dir: Path, files: dict[str, bytes]) -> list[str]:
    """What differs between an installed tree and the archive's files."""
    problems = []
    for name, data in files.items():
        path = version_dir / name
        if not path.is_file() or path.read_bytes() != data:
            problems.append(name)
    found = {
        str(p.relative_to(version_dir))
        for p in (version_dir / "xbuildenv").rglob("*")
        if p.is_file() and "package_index" not in p.parts
    }
    return problems + sorted(found - set(files))


def test_roots_anywhere_link_the_store_tree(
    server: Server, published: Published, env: dict[str, str], tmp_path: Path
) -> None:
    first, second, third = tmp_path / "ci" / "a", tmp_path / "elsewhere" / "b", tmp_path / "c"
    assert _install(published, env, first)["route"] == "network"
    done = _install(published, env, second)  # --path, as cibuildwheel passes it
    assert (done["route"], done["downloaded_bytes"], done["archive_bytes"]) == ("linked", 0, None)
    by_env = dict(env, PYODIDE_XBUILDENV_PATH=str(third))
    assert _install(published, by_env, None)["route"] == "linked"
    assert server.hits[ARCHIVE] == 1
    tree = _store(env) / "trees" / published.sha
    for name in published.files:
        inodes = {_inode(root / VERSION / name) for root in (first, second, third)}
        assert inodes == {_inode(tree / name)}, name
    for root in (first, second, third):
        assert _tree_problems(root / VERSION, published.files) == []
        assert (root / VERSION / ".archive-sha256").read_text() == published.sha
    said = "reused the environment unpacked before on this machine: nothing downloaded"
    r = run("install", VERSION, "--force", "--metadata", published.meta, env=by_env)
    assert r.code == 0 and said in r.err, r.err
    # Copied rather than linked: the same words (not "shared"), and the files are private.
    copied = tmp_path / "copied"
    r = run("install", VERSION, "--metadata", published.meta, "--path", str(copied),
            "--link-mode", "copy", env=env)  # fmt: skip
    assert r.code == 0 and said in r.err and "shared" not in r.err, r.err
    assert _inode(copied / VERSION / name) != _inode(tree / name)


def test_a_new_root_links_after_every_root_was_deleted(
    server: Server, published: Published, env: dict[str, str], tmp_path: Path
) -> None:
    roots = [tmp_path / "a", tmp_path / "b"]
    for root in roots:
        _install(published, env, root)
    for root in roots:
        shutil.rmtree(root)
    assert _install(published, env, None)["route"] == "linked"  # the default root, this time
    assert _install(published, env, tmp_path / "c")["route"] == "linked"
    assert server.hits[ARCHIVE] == 1
    assert _tree_problems(tmp_path / "c" / VERSION, published.files) == []


def test_concurrent_roots_make_one_download_and_one_unpack(
    server: Server, published: Published, env: dict[str, str], tmp_path: Path
) -> None:
    body = server.routes[ARCHIVE].body
    server.routes[ARCHIVE].rate = len(body) / 1.0  # a second: the others start meanwhile
    roots = [tmp_path / f"root{i}" for i in range(8)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "xbuildenv", *_args(published, root)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for root in roots
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in outputs]
    routes = Counter(json.loads(out)["route"] for out, _ in outputs)
    assert routes == {"network": 1, "linked": 7}, routes
    assert server.hits[ARCHIVE] == 1
    name = next(iter(published.files))
    assert len({_inode(root / VERSION / name) for root in roots}) == 1
    for root in roots:
        assert _tree_problems(root / VERSION, published.files) == []


@pytest.mark.parametrize(
    ("point", "at"),
    [("trees.staging", 1), ("treelink.file", 1), ("treelink.file", 30), ("trees.staged", 1)],
)
def test_a_publisher_killed_leaves_no_tree_that_passes_as_complete(
    server: Server, published: Published, env: dict[str, str], tmp_path: Path, point: str, at: int
) -> None:
    killed = dict(env, XBUILDENV_TEST_CHECKPOINTS=f"point={point},at={at},signal=KILL")
    r = run(*_args(published, tmp_path / "a"), env=killed)
    assert r.code == -9, (r.code, r.err)
    trees = _store(env) / "trees"
    assert [p.name for p in trees.iterdir() if not p.name.startswith(".")] == []
    assert [p.name for p in trees.iterdir()] != [], "the kill came before publishing began"
    assert _install(published, env, tmp_path / "b")["route"] == "store"  # unpacks again
    assert [p.name for p in trees.iterdir()] == [published.sha]  # and the debris is gone
    assert _install(published, env, tmp_path / "c")["route"] == "linked"
    assert _tree_problems(tmp_path / "c" / VERSION, published.files) == []


def _damage(tree: Path, how: str) -> None:
    blob = tree / "xbuildenv/pyodide-root/cpython/lib/part0/blob0.bin"
    if how == "old manifest, bit flip":
        manifest = tree / ".xbuildenv-manifest.json"
        data = json.loads(manifest.read_bytes())
        del data["stamps"]  # as an older version wrote it: every file is hashed
        os.chmod(manifest, 0o644)
        manifest.write_text(json.dumps(data))
        flip_a_bit_keeping_mtime(blob)
    elif how == "missing file":
        blob.unlink()
    else:
        (blob.parent / "extra.bin").write_bytes(b"not in the archive")


@pytest.mark.parametrize("how", ["old manifest, bit flip", "missing file", "extra file"])
def test_a_damaged_store_tree_is_not_linked_but_published_again(
    server: Server, published: Published, env: dict[str, str], tmp_path: Path, how: str
) -> None:
    first = tmp_path / "a"
    _install(published, env, first)
    tree = _store(env) / "trees" / published.sha
    _damage(tree, how)
    damaged = _inode(tree)
    second = _install(published, env, tmp_path / "b")
    assert second["route"] == "store", second  # unpacked from the stored archive
    assert _tree_problems(tmp_path / "b" / VERSION, published.files) == []
    assert _inode(tree) != damaged  # a new tree took the damaged one's place
    assert _install(published, env, tmp_path / "c")["route"] == "linked"
    assert _tree_problems(tmp_path / "c" / VERSION, published.files) == []
    assert server.hits[ARCHIVE] == 1


def test_a_write_in_place_from_a_root_is_caught_at_the_next_link_without_hashing(
    server: Server, published: Published, env: dict[str, str], tmp_path: Path
) -> None:
    """A build in root A (as root: modes do not stop it) rewrites a shared file in place,
    same size: the store's tree is the same inode, so the next root must not link it.
    Caught by the file's mtime alone (the manifest's stamps), and the tree is published
    again from the stored archive."""
    first = tmp_path / "a"
    _install(published, env, first)
    _install(published, env, tmp_path / "b")  # linked: a root that shares the inodes
    name = "xbuildenv/pyodide-root/cpython/lib/part0/blob0.bin"
    tree = _store(env) / "trees" / published.sha
    manifest = json.loads((tree / ".xbuildenv-manifest.json").read_bytes())
    assert name in manifest["stamps"]  # the quick check is what runs
    shared = tmp_path / "b" / VERSION / name
    assert _inode(shared) == _inode(tree / name)
    os.chmod(shared, 0o644)
    with shared.open("r+b") as fh:  # in place: same inode, same size
        fh.seek(100)
        fh.write(b"\x00evil\x00")
    damaged = _inode(tree)
    third = _install(published, env, tmp_path / "c")
    assert third["route"] == "store", third  # not linked: unpacked from the stored archive
    assert _tree_problems(tmp_path / "c" / VERSION, published.files) == []
    assert _inode(tree) != damaged  # published again
    assert _install(published, env, tmp_path / "d")["route"] == "linked"
    assert _tree_problems(tmp_path / "d" / VERSION, published.files) == []
    assert server.hits[ARCHIVE] == 1


def test_gc_keeps_a_tree_a_root_elsewhere_links_and_removes_it_after(
    server: Server, published: Published, env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "outside-the-cache"
    _install(published, env, root)
    tree = _store(env) / "trees" / published.sha
    r = run("gc", "--json", env=env)
    assert r.code == 0 and json.loads(r.out)["trees"] == [] and tree.is_dir(), r.out
    shutil.rmtree(root)
    r = run("gc", "--json", env=env)
    assert r.code == 0 and [t["sha256"] for t in json.loads(r.out)["trees"]] == [published.sha]
    assert not tree.exists()


def test_a_root_on_another_file_system_unpacks_from_the_store(
    server: Server, published: Published, env: dict[str, str], tmp_path: Path
) -> None:
    from helpers.faults import Tmpfs

    _install(published, env, tmp_path / "a")
    other = Tmpfs(tmp_path / "tmpfs", size="64m")
    try:
        done = _install(published, env, other.path / "b")
        assert done["route"] == "store", done  # no link across file systems, no copy
        assert _tree_problems(other.path / "b" / VERSION, published.files) == []
        assert server.hits[ARCHIVE] == 1
        # Nor is a tree published from there: the store's tree stays the one linked.
        tree = _store(env) / "trees" / published.sha
        assert _inode(tree / "xbuildenv/requirements.txt") == _inode(
            tmp_path / "a" / VERSION / "xbuildenv/requirements.txt"
        )
    finally:
        other.close()
