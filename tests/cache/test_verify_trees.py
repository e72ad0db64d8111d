"""``cache verify`` checks the unpacked trees in the store (``<store>/trees/``) byte for
byte, as after a CI cache restore: a damaged one is reported and dropped, an intact one
kept, and the roots that linked either keep working.

Real installs (the CLI as a subprocess) against a loopback server.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, default_files, index, make_tar, release, sha256
from helpers.cli import run
from helpers.faults import flip_a_bit_keeping_mtime
from helpers.servers import Server

BLOB = "xbuildenv/pyodide-root/cpython/lib/part0/blob0.bin"


def _files(version: str) -> dict[str, bytes]:
    files = default_files(PY_FULL, version)
    rng = random.Random(version)
    for i in range(12):
        files[f"xbuildenv/pyodide-root/cpython/lib/part{i % 3}/blob{i}.bin"] = rng.randbytes(
            8 << 10
        )
    return files


def _install(env: dict[str, str], meta: str, version: str, root: Path) -> str:
    r = run("install", version, "--metadata", meta, "--json", "--path", str(root), env=env)
    assert r.code == 0, r.err
    return str(json.loads(r.out)["route"])


def _damage(tree: Path, how: str) -> str:
    """Damage the store tree; return what ``cache verify`` must say about it."""
    blob = tree / BLOB
    if how == "bit flip":  # same size and mtime: only the bytes tell
        flip_a_bit_keeping_mtime(blob)
        return f"{BLOB} changed"
    if how == "added file":
        (blob.parent / "extra.bin").write_bytes(b"not in the archive")
        return f"{BLOB.rpartition('/')[0]}/extra.bin was added"
    if how == "removed file":
        blob.unlink()
        return f"{BLOB} is missing"
    blob.unlink()  # replaced by a symlink to a file of the same tree
    blob.symlink_to("blob3.bin")
    return f"{BLOB} was replaced by a symlink"


@pytest.mark.parametrize("how", ["bit flip", "added file", "removed file", "symlink"])
def test_cache_verify_drops_a_damaged_tree_and_keeps_the_intact_one(
    server: Server, env: dict[str, str], tmp_path: Path, how: str
) -> None:
    shas = {}
    releases = []
    for version in ("0.29.4", "0.29.5"):
        body = make_tar(_files(version))
        shas[version] = sha256(body)
        url = server.add(f"/xbuildenv-{version}.tar.gz", body)
        releases.append(release(version, url, PY_FULL, sha256=shas[version]))
    meta = server.add("/index.json", index(*releases))
    assert _install(env, meta, "0.29.4", tmp_path / "a") == "network"
    assert _install(env, meta, "0.29.4", tmp_path / "b") == "linked"
    assert _install(env, meta, "0.29.5", tmp_path / "c") == "network"
    trees = Path(run("cache", "dir", env=env).out.strip()) / "xbuildenv-store" / "trees"
    damaged, intact = trees / shas["0.29.4"], trees / shas["0.29.5"]
    said = _damage(damaged, how)

    r = run("cache", "verify", env=env)
    assert r.code == 0, r.err
    assert f"dropped tree {shas['0.29.4']}: {said}" in r.err, r.err
    assert shas["0.29.5"] not in r.err and "1 dropped" in r.err, r.err
    assert not damaged.exists() and intact.is_dir()
    again = json.loads(run("cache", "verify", "--json", env=env).out)
    assert again["dropped"] == 0
    assert [c["name"] for c in again["checked"] if c["kind"] == "tree"] == [shas["0.29.5"]]

    # The roots that linked the dropped tree still have their files and still work.
    for root in (tmp_path / "a", tmp_path / "b"):
        r = run("version", "--path", str(root), env=env)
        assert r.code == 0 and r.out.strip() == "0.29.4", (r.out, r.err)
        assert (root / "0.29.4" / BLOB).is_file()
        if how != "bit flip":  # a hard link shares the flipped bytes; the rest are intact
            assert (root / "0.29.4" / BLOB).read_bytes() == _files("0.29.4")[BLOB]
    # The next root unpacks from the stored archive and publishes a good tree again.
    assert _install(env, meta, "0.29.4", tmp_path / "d") == "store"
    assert (tmp_path / "d" / "0.29.4" / BLOB).read_bytes() == _files("0.29.4")[BLOB]
    assert _install(env, meta, "0.29.5", tmp_path / "e") == "linked"
    final = json.loads(run("cache", "verify", "--json", env=env).out)
    assert final["dropped"] == 0 and sum(c["kind"] == "tree" for c in final["checked"]) == 2


def test_cache_verify_restamps_a_restored_tree_so_links_read_no_bytes(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    """A tree restored from a CI cache has new inodes and mtimes: links would hash every
    file until it is published again. After ``cache verify`` found every byte matching,
    the manifest holds the files' identities as they are now; a file written while it
    was hashed would be left out (see trees.restamp_tree)."""
    body = make_tar(_files("0.29.4"))
    url = server.add("/xbuildenv-0.29.4.tar.gz", body)
    meta = server.add("/index.json", index(release("0.29.4", url, PY_FULL, sha256=sha256(body))))
    assert _install(env, meta, "0.29.4", tmp_path / "a") == "network"
    tree = Path(run("cache", "dir", env=env).out.strip()) / "xbuildenv-store/trees" / sha256(body)
    restored = tree.with_name("restored")
    shutil.copytree(tree, restored)  # what a CI cache restore gives: new inodes
    shutil.rmtree(tree)
    restored.rename(tree)
    manifest = tree / ".xbuildenv-manifest.json"

    def stale() -> list[str]:
        stamps = json.loads(manifest.read_bytes()).get("stamps", {})
        return [
            rel
            for rel in json.loads(manifest.read_bytes())["files"]
            if (tree / rel).is_file()
            and stamps.get(rel) != [(tree / rel).stat().st_ino, (tree / rel).stat().st_mtime_ns]
        ]

    assert stale()  # copied: the recorded identities no longer hold
    r = run("cache", "verify", env=env)
    assert r.code == 0 and "dropped" not in r.err.replace("0 dropped", ""), r.err
    assert stale() == []
    assert _install(env, meta, "0.29.4", tmp_path / "b") == "linked"


def test_manifest_names_leading_outside_the_tree_are_never_followed(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    """The store tree's manifest is a cache record: a name in it that leads out of the
    tree (by ``..``, or through a symlink planted in the tree) is not looked at, and the
    tree is reported and dropped; the decoy outside is unchanged."""
    from helpers.cli import snapshot
    from helpers.faults import make_decoy

    from xbuildenv.cache.trees import TreeStore, identities

    decoy = make_decoy(tmp_path / "decoy")
    before, key_mode = snapshot(decoy), (decoy / "id_rsa").stat().st_mode
    body = make_tar(_files("0.29.4"))
    url = server.add("/xbuildenv-0.29.4.tar.gz", body)
    meta = server.add("/index.json", index(release("0.29.4", url, PY_FULL, sha256=sha256(body))))
    assert _install(env, meta, "0.29.4", tmp_path / "a") == "network"
    store = Path(run("cache", "dir", env=env).out.strip()) / "xbuildenv-store"
    tree = store / "trees" / sha256(body)
    manifest = tree / ".xbuildenv-manifest.json"
    data = json.loads(manifest.read_bytes())
    dotted = "xbuildenv/" + os.path.relpath(decoy / "id_rsa", tree / "xbuildenv")
    (tree / "xbuildenv" / "out").symlink_to(decoy)
    for name in (dotted, "xbuildenv/out/id_rsa"):
        data["files"][name] = [36, "00" * 32]
    manifest.chmod(0o644)
    manifest.write_text(json.dumps(data))

    found = TreeStore(store).find(sha256(body))
    assert found is not None
    seen = identities(found)
    assert BLOB in seen  # the tree's own files are looked at
    assert dotted not in seen and "xbuildenv/out/id_rsa" not in seen

    r = run("cache", "verify", env=env)
    assert r.code == 0 and "1 dropped" in r.err, r.err
    assert not tree.exists()
    assert snapshot(decoy) == before and (decoy / "id_rsa").stat().st_mode == key_mode
