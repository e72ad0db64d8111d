"""The package index goes with the store's tree: roots installing the same release
version link the pages the first root generated (no inode of their own for a page);
roots installing the archive under another version name, or linking a tree published
without an index, generate their own. Damage to a shared page is caught like damage
to the archive's files.

Real installs (the CLI) against a loopback server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from helpers.archives import PY_FULL, default_files, index, make_tar, release, sha256
from helpers.cli import run
from helpers.servers import Server

VERSION = "0.29.4"
OTHER = "0.29.5"  # another release name for the same archive (a mirror's renaming, say)
ARCHIVE = "/xbuildenv.tar.bz2"
INDEX = Path("xbuildenv/pyodide-root/package_index")
PAGE = INDEX / "attrs" / "index.html"


@pytest.fixture
def meta(server: Server) -> str:
    body = make_tar(default_files(PY_FULL), compression="bz2")
    url = server.add(ARCHIVE, body)
    same = {"sha256": sha256(body)}
    return server.add(
        "/index.json",
        index(release(VERSION, url, PY_FULL, **same), release(OTHER, url, PY_FULL, **same)),
    )


def _install(env: dict[str, str], meta: str, root: Path, version: str = VERSION) -> dict[str, Any]:
    r = run("install", version, "--metadata", meta, "--json", "--path", str(root), env=env)
    assert r.code == 0, r.err
    data: dict[str, Any] = json.loads(r.out)
    return data


def _tree(env: dict[str, str]) -> Path:
    store = Path(run("cache", "dir", env=env).out.strip()) / "xbuildenv-store" / "trees"
    (tree,) = [p for p in store.iterdir() if not p.name.startswith(".")]
    return tree


def _pages(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _inodes(folder: Path) -> set[int]:
    return {p.stat().st_ino for p in folder.rglob("*") if p.is_file()}


def test_roots_of_one_version_link_its_index_and_other_names_get_their_own(
    server: Server, meta: str, env: dict[str, str], tmp_path: Path
) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert _install(env, meta, a)["route"] == "network"
    assert _install(env, meta, b)["route"] == "linked"
    tree = _tree(env)
    manifest = json.loads((tree / ".xbuildenv-manifest.json").read_bytes())
    assert manifest["index"] == VERSION
    stored = tree / INDEX
    # The second root's pages are the store's inodes: it wrote none of its own.
    assert _inodes(b / VERSION / INDEX) == _inodes(stored) == _inodes(a / VERSION / INDEX)
    assert _pages(b / VERSION / INDEX) == _pages(a / VERSION / INDEX)
    cdn = f"https://cdn.jsdelivr.net/pyodide/v{VERSION}/full/attrs-25.2.0-py3-none-any.whl"
    assert cdn in (b / VERSION / PAGE).read_text()
    assert not (b / VERSION / PAGE).stat().st_mode & 0o222  # shared: read-only

    # The same archive as another release: the archive's files are linked, the index
    # (whose links name the release) is this root's own.
    assert _install(env, meta, c, OTHER)["route"] == "linked"
    assert _inodes(c / OTHER / INDEX).isdisjoint(_inodes(stored))
    page = (c / OTHER / PAGE).read_text()
    assert f"/v{OTHER}/full/attrs" in page and f"/v{VERSION}/" not in page
    assert (c / OTHER / "xbuildenv/requirements.txt").stat().st_ino == (
        tree / "xbuildenv/requirements.txt"
    ).stat().st_ino
    assert server.hits[ARCHIVE] == 1


def test_a_page_written_in_one_root_is_not_linked_into_the_next(
    server: Server, meta: str, env: dict[str, str], tmp_path: Path
) -> None:
    """As root (modes do not stop it), a page of a shared index rewritten in place:
    the same inode as the store's. The next root must not link it: caught by the
    page's mtime at link time, and the tree is unpacked and published again; ``cache
    verify`` (every byte) reports such a tree and drops it."""
    a = tmp_path / "a"
    _install(env, meta, a)
    _install(env, meta, tmp_path / "b")
    good = (a / VERSION / PAGE).read_bytes()
    shared = tmp_path / "b" / VERSION / PAGE
    os.chmod(shared, 0o644)
    with shared.open("r+b") as fh:  # in place, same size
        fh.seek(10)
        fh.write(b"EVIL")
    tree = _tree(env)
    assert (tree / PAGE).read_bytes() != good  # the store's inode, so changed there too

    r = run("cache", "verify", env=env)
    assert r.code == 0, r.err
    assert f"dropped tree {tree.name}: {PAGE.as_posix()} changed" in r.err, r.err
    assert not tree.exists()  # dropped

    third = _install(env, meta, tmp_path / "c")
    assert third["route"] == "store", third  # unpacked again from the stored archive
    assert (tmp_path / "c" / VERSION / PAGE).read_bytes() == good
    assert _install(env, meta, tmp_path / "d")["route"] == "linked"
    assert (tmp_path / "d" / VERSION / PAGE).read_bytes() == good
    assert server.hits[ARCHIVE] == 1


def test_a_write_in_place_into_a_stored_page_is_caught_at_link_time(
    server: Server, meta: str, env: dict[str, str], tmp_path: Path
) -> None:
    _install(env, meta, tmp_path / "a")
    tree = _tree(env)
    good = (tree / PAGE).read_bytes()
    os.chmod(tree / PAGE, 0o644)
    with (tree / PAGE).open("r+b") as fh:
        fh.seek(10)
        fh.write(b"EVIL")
    assert _install(env, meta, tmp_path / "b")["route"] == "store"
    assert (tmp_path / "b" / VERSION / PAGE).read_bytes() == good


def test_a_tree_published_without_an_index_is_linked_and_the_index_written(
    server: Server, meta: str, env: dict[str, str], tmp_path: Path
) -> None:
    """A store tree from before the index was shared: no ``index`` in its manifest and
    no pages. Linked as before; the root generates its index."""
    _install(env, meta, tmp_path / "a")
    tree = _tree(env)
    path = tree / ".xbuildenv-manifest.json"
    data = json.loads(path.read_bytes())
    top = str(INDEX).replace(os.sep, "/") + "/"
    for key in ("files", "stamps"):
        data[key] = {k: v for k, v in data[key].items() if not k.startswith(top)}
    del data["index"]
    os.chmod(path, 0o644)
    path.write_text(json.dumps(data))
    for page in sorted((tree / INDEX).rglob("*"), reverse=True):
        page.rmdir() if page.is_dir() else page.unlink()
    (tree / INDEX).rmdir()

    b = tmp_path / "b"
    assert _install(env, meta, b)["route"] == "linked"
    assert _pages(b / VERSION / INDEX) == _pages(tmp_path / "a" / VERSION / INDEX)
    assert (b / VERSION / PAGE).stat().st_mode & 0o200  # its own, written here
