"""Integrity and healing: what is installed is what the release is, and a damaged,
full, busy or stopped cache costs time, never a failed install.

Each test counts as one heal tried (and failed, when its install does not come out
complete); every test also checks the decoy folder outside the cache.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers.archives import PY_FULL, make_tar, release, sha256
from helpers.cli import one_error
from helpers.faults import Tmpfs, check_decoy, heal, tree_problems

ROOT_NAME = ".pyodide-xbuildenv-0123456789ab"

if TYPE_CHECKING:
    from helpers.faults import Arena

MANIFEST = ".xbuildenv-manifest.json"


def _complete(a: Arena, root: Path, version: str = "2.0.0") -> bool:
    """The version is exactly the release's files (nothing missing, changed or added)."""
    files = a.goods.files[version]
    problems = tree_problems(root, version, files)
    tree = root / version / "xbuildenv"
    extra = [
        str(p.relative_to(root / version))
        for p in tree.rglob("*")
        if (p.is_file() or p.is_symlink()) and "package_index" not in p.parts
    ]
    problems += [f"extra file {e}" for e in extra if e not in files]
    assert not problems, problems
    return True


# --- integrity: a tar stream must end with its end-of-archive blocks -------------------------
@pytest.mark.parametrize("compression", ["", "gz"])
def test_tar_cut_at_a_member_boundary_is_refused(root_arena: Arena, compression: str) -> None:
    a = root_arena
    plain = make_tar(a.goods.files["2.0.0"], "")
    with tarfile.open(fileobj=io.BytesIO(plain)) as tf:
        members = tf.getmembers()
    cut = plain[: members[len(members) // 3].offset]  # ends right before a header
    body = cut if not compression else __import__("gzip").compress(cut)
    a.serve_index({"2.0.0": release("2.0.0", a.serve(f"cut.tar{compression}", body), PY_FULL)})
    before = a.decoy_state()
    line = one_error(a.install("2.0.0"))
    assert "the archive is truncated: it ends after" in line, line
    assert "without the tar end-of-archive blocks" in line
    assert not (a.root / "2.0.0").exists()
    stored = list((a.store / "archives").glob("*")) if (a.store / "archives").is_dir() else []
    assert stored == [], "a truncated archive was kept in the store"
    check_decoy(a.decoy, before)


# --- integrity: shared trees checked against their manifest -----------------------------------
def test_intact_tree_is_shared_and_carries_its_manifest(root_arena: Arena) -> None:
    a = root_arena
    a.serve_index(a.goods.releases)
    assert a.install("2.0.0").code == 0
    assert (a.root / "2.0.0" / MANIFEST).is_file()
    b = a.other_root(1)
    r = a.install("2.0.0", root=b)
    assert r.code == 0, r.err
    assert "reused the environment unpacked before" in r.err, r.err
    assert heal(_complete(a, b)) and (b / "2.0.0" / MANIFEST).is_file()


@pytest.mark.parametrize("tamper", ["append", "same-size", "delete", "add", "symlink", "manifest"])
def test_tampered_tree_is_not_linked(root_arena: Arena, tamper: str) -> None:
    a = root_arena
    a.serve_index(a.goods.releases)
    assert a.install("2.0.0").code == 0
    # The tree every other root links: the one published in the store.
    [published] = (a.store / "trees").iterdir()
    tree = published / "xbuildenv"
    envs = tree / "pyodide-root" / "Makefile.envs"
    if tamper == "append":  # root ignores the read-only mode of shared files
        with envs.open("a") as fh:
            fh.write("export PYODIDE_EMSCRIPTEN_VERSION = 0.0.0-evil\n")
    elif tamper == "same-size":
        data = bytearray(envs.read_bytes())
        data[0] ^= 0x20
        os.chmod(envs, 0o644)
        envs.write_bytes(bytes(data))
    elif tamper == "delete":
        (tree / "requirements.txt").unlink()
    elif tamper == "add":
        (tree / "pyodide-root" / "sneaky.py").write_text("print('hi')\n")
    elif tamper == "symlink":
        os.symlink("pyodide-root", tree / "extra-link")
    else:
        (published / MANIFEST).unlink()
    before = a.decoy_state()
    b = a.other_root(1)
    r = a.install("2.0.0", "-v", root=b)
    assert r.code == 0, r.err
    assert "reused the environment unpacked before" not in r.err and "archive store" in r.err, r.err
    assert heal(_complete(a, b))
    check_decoy(a.decoy, before)


def test_copy_mode_keeps_a_root_apart_from_writes_in_another(root_arena: Arena) -> None:
    a = root_arena
    a.serve_index(a.goods.releases)
    assert a.install("2.0.0").code == 0
    b = a.other_root(1)
    assert a.install("2.0.0", "--link-mode", "copy", root=b).code == 0
    envs = "2.0.0/xbuildenv/pyodide-root/Makefile.envs"
    with (a.root / envs).open("a") as fh:  # a build in root A writes into its file
        fh.write("export PYODIDE_EMSCRIPTEN_VERSION = 0.0.0-evil\n")
    assert b"evil" not in (b / envs).read_bytes()


@pytest.mark.fast_path("reflink")
def test_reflinks_are_preferred_where_the_filesystem_has_them(root_arena: Arena) -> None:
    """On XFS (reflink=1) a second root gets copy-on-write clones, not hard links: a
    write in one root (even by root, who ignores modes) never reaches the other."""
    import shutil

    if os.geteuid() != 0 or shutil.which("mkfs.xfs") is None:
        pytest.skip("needs root and mkfs.xfs (xfsprogs) to make a reflink filesystem")
    a = root_arena
    image, mnt = a.base / "xfs.img", a.base / "xfs"
    with image.open("wb") as fh:
        fh.truncate(320 << 20)
    made = subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], capture_output=True)
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], capture_output=True)
    if made.returncode or mounted.returncode:
        pytest.skip(f"cannot make or mount an XFS image here: {mounted.stderr.decode().strip()}")
    try:
        cache = mnt / "home" / ".cache"
        env = {**a.env, "HOME": str(mnt / "home"), "XDG_CACHE_HOME": str(cache)}
        a.serve_index(a.goods.releases)
        first, second = (cache / "pyodide-build" / f"{ROOT_NAME[:-1]}{n}" for n in (1, 2))
        index = {
            "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": a.env["PYODIDE_CROSS_BUILD_ENV_METADATA_URL"]
        }
        for root in (first, second):
            done = subprocess.run(
                [sys.executable, "-m", "xbuildenv", "install", "2.0.0", "--path", str(root)],
                env={**env, **index},
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr
        assert "reused the environment unpacked before" in done.stderr, done.stderr
        envs = "2.0.0/xbuildenv/pyodide-root/Makefile.envs"
        assert os.stat(first / envs).st_ino != os.stat(second / envs).st_ino
        assert os.stat(first / envs).st_nlink == 1  # cloned, not linked
        with (first / envs).open("a") as fh:
            fh.write("export PYODIDE_EMSCRIPTEN_VERSION = 0.0.0-evil\n")
        assert b"evil" not in (second / envs).read_bytes()
        assert heal(_complete(a, second))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


# --- healing: damage in the store -----------------------------------------------------------
def test_bit_flip_in_a_stored_archive_heals(root_arena: Arena) -> None:
    import json
    import random

    a = root_arena
    files = dict(a.goods.files["2.0.0"])
    lock = json.loads(files["xbuildenv/pyodide-root/dist/pyodide-lock.json"])
    for i in range(300):  # a real lock file's size: its index is built alongside
        lock["packages"][f"pkg{i}"] = {"file_name": f"pkg{i}-1.0-py3-none-any.whl"}
    files["xbuildenv/pyodide-root/dist/pyodide-lock.json"] = json.dumps(lock).encode()
    rng = random.Random(7)
    for i in range(4):  # after the lock file: the index is done before the end
        files[f"xbuildenv/zz/blob{i}.bin"] = rng.randbytes(1 << 20)
    body = make_tar(files)
    sha = sha256(body)
    a.serve_index({"2.0.0": release("2.0.0", a.serve("flip.tgz", body), PY_FULL, sha256=sha)})
    first = a.base / "first"
    assert a.install("2.0.0", root=first).code == 0
    shutil.rmtree(a.store / "trees")  # no tree to link: the stored archive is used
    stored = a.store / "archives" / sha
    data = bytearray(stored.read_bytes())
    # In gzip's CRC at the very end: noticed only after every file (and the package
    # index built alongside) is in place, so the retry must rebuild the index.
    data[-8] ^= 0x04
    stored.write_bytes(bytes(data))
    before = a.decoy_state()
    second = a.base / "second"
    r = a.install("2.0.0", root=second)
    assert heal(r.code == 0), r.err
    assert tree_problems(second, "2.0.0", files) == []
    assert (second / "2.0.0/xbuildenv/pyodide-root/package_index/pkg299/index.html").is_file()
    assert sha256(stored.read_bytes()) == sha  # dropped and fetched again
    check_decoy(a.decoy, before)


def test_unreadable_stored_archive_heals(arena: Arena) -> None:
    if arena.user == "root":
        pytest.skip("root reads a file of mode 000: run as nobody to get the I/O error")
    arena.serve_index(arena.goods.releases)
    assert arena.install("2.0.0", root=arena.base / "first").code == 0
    stored = arena.store / "archives" / arena.goods.releases["2.0.0"]["sha256"]
    os.chmod(stored, 0)
    before = arena.decoy_state()
    r = arena.install("2.0.0", root=arena.base / "second")
    assert heal(r.code == 0), r.err
    assert _complete(arena, arena.base / "second")
    check_decoy(arena.decoy, before)


def test_full_store_only_costs_speed(root_arena: Arena) -> None:
    a = root_arena
    a.serve_index(a.goods.releases)
    mount = Tmpfs(a.base / "small-store", size="48k")
    try:
        r = a.install("2.0.0", XBUILDENV_CACHE_DIR=str(mount.path))
        assert heal(r.code == 0), r.err
        assert _complete(a, a.root)
    finally:
        mount.close()


def test_unwritable_store_only_costs_speed(arena: Arena) -> None:
    arena.serve_index(arena.goods.releases)
    store = arena.base / "ro-store"
    (store / "archives").mkdir(parents=True)
    arena.give_away()
    if arena.user == "root":
        mount = Tmpfs(arena.base / "ro-store")
        mount.read_only()
    else:
        mount = None
        os.chown(store, 0, 0)  # not the user's: cannot be written
        os.chmod(store, 0o555)
    try:
        r = arena.install("2.0.0", XBUILDENV_CACHE_DIR=str(store))
        assert heal(r.code == 0), r.err
        assert _complete(arena, arena.root)
    finally:
        if mount is not None:
            mount.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "deep", "meta", "etag"])
def test_damaged_cached_index_is_refetched(root_arena: Arena, damage: str) -> None:
    a = root_arena
    url = a.serve_index(a.goods.releases)
    assert a.cli("search", "--all").code == 0
    folder = a.store / "index"
    body = next(p for p in folder.glob("*.json") if not p.name.endswith(".meta.json"))
    meta = body.with_name(body.name[: -len(".json")] + ".meta.json")
    if damage == "garbage":
        body.write_bytes(b"\x00\xff not json")
    elif damage == "truncated":
        body.write_bytes(body.read_bytes()[:20])
    elif damage == "deep":
        body.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    elif damage == "meta":
        meta.write_bytes(b"{{{")
    else:  # stale, with a validator no HTTP header may carry
        meta.write_text('{"fetched_at": 0, "etag": "a\\r\\nX-Evil: 1", "last_modified": 5}')
    path = url.split(str(a.goods.server.httpd.server_address[1]), 1)[1]
    hits = a.goods.server.hits[path]
    r = a.cli("search", "--all")
    assert heal(r.code == 0), r.err
    assert "2.0.0" in r.out and "error" not in r.err
    assert a.goods.server.hits[path] == hits + 1  # fetched again
    assert parse_ok(body)
    # Offline, a damaged copy cannot be replaced: one line that blames the copy.
    body.write_bytes(b"garbage")
    line = one_error(a.cli("search", "--all", "--offline"))
    assert "the cached copy of the release index" in line and "is damaged" in line, line
    assert "server" not in line


def parse_ok(path: Path) -> bool:
    import json

    return "releases" in json.loads(path.read_bytes())


# --- healing: gc, cache clean and locks ---------------------------------------------------------
def _stopped_install(
    a: Arena, root: Path, point: str, **env: str
) -> tuple[subprocess.Popen[str], Path]:
    """An install stopped (SIGSTOP) at checkpoint ``point``; returns it and its log."""
    log = a.base / f"log-{root.name}"
    spec = f"name={point},at=1,signal=STOP,log={log}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "xbuildenv", "install", "2.0.0", "--path", str(root)],
        env={**a.env, **env, "XBUILDENV_TEST_CHECKPOINTS": spec},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text().strip()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the install never reached its stop"
        time.sleep(0.05)
    time.sleep(0.2)  # the STOP follows the log line
    return proc, log


def _resume(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.parametrize("command", [["gc", "--older-than", "0s"], ["cache", "clean", "--all"]])
def test_gc_skips_a_root_in_its_first_install(root_arena: Arena, command: list[str]) -> None:
    a = root_arena
    a.serve_index(a.goods.releases)
    proc, _ = _stopped_install(a, a.root, "install.staging")
    try:
        assert (a.root / ".xbuildenv-owner.json").is_file(), "owner record written late"
        r = a.cli(*command)
        assert r.code == 0, r.err
        assert f"warning: kept root {a.root}: an install is running in it" in r.err, r.err
        assert a.root.is_dir()
    finally:
        code, err = _resume(proc)
    assert heal(code == 0), err
    assert _complete(a, a.root)


def test_stopped_gc_does_not_block_installs_for_ever(root_arena: Arena) -> None:
    a = root_arena
    a.serve_index(a.goods.releases)
    assert a.install("1.0.0").code == 0
    log = a.base / "gc-log"
    gc = subprocess.Popen(
        [sys.executable, "-m", "xbuildenv", "gc", "--older-than", "0s"],
        env={**a.env, "XBUILDENV_TEST_CHECKPOINTS": f"point=gc.locked,at=1,signal=STOP,log={log}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not log.exists():
            assert gc.poll() is None and time.monotonic() < deadline, gc.communicate()
            time.sleep(0.05)
        time.sleep(0.2)
        r = a.install("2.0.0", timeout=30)
        line = one_error(r)
        assert ".xbuildenv-root.lock is stopped; resume it (fg) or end it" in line, line
    finally:
        code, err = _resume(gc)
    assert heal(code == 0), err


def test_gc_killed_mid_delete_is_finished_by_the_next(root_arena: Arena) -> None:
    a = root_arena
    a.serve_index(a.goods.releases)
    assert a.install("2.0.0").code == 0
    log = a.base / "gc-log"
    spec = f"point=gc.renamed,at=1,signal=KILL,log={log}"
    r = a.cli("cache", "clean", "--all", XBUILDENV_TEST_CHECKPOINTS=spec)
    assert r.code == -9 and log.read_text() == "gc.renamed\n", (r.code, r.err)
    left = [p for p in a.cache.iterdir() if p.name.startswith(".gc-")]
    assert len(left) == 1 and not a.root.exists()
    before = a.decoy_state()
    r = a.cli("gc")
    assert heal(r.code == 0 and not left[0].exists()), r.err
    assert f"removed {left[0].name} (left by a gc that was stopped)" in r.out, r.out
    check_decoy(a.decoy, before)


def test_gc_removes_what_a_killed_gc_left(root_arena: Arena) -> None:
    a = root_arena
    left = a.cache / ".gc-.pyodide-xbuildenv-deadbeef0000-1a2b3c4d"
    (left / "1.0.0/xbuildenv").mkdir(parents=True)
    (left / "1.0.0/xbuildenv/big.bin").write_bytes(os.urandom(1 << 20))
    os.chmod(left / "1.0.0/xbuildenv", 0o555)
    before = a.decoy_state()
    r = a.cli("gc")
    assert heal(r.code == 0 and not left.exists()), r.err
    assert f"removed {left.name} (left by a gc that was stopped)" in r.out, r.out
    check_decoy(a.decoy, before)


@pytest.mark.parametrize("timeout", ["default", "1"])
def test_stopped_holder_of_the_store_lock_blocks_nobody(root_arena: Arena, timeout: str) -> None:
    """A stopped holder is seen at once (its pid is in the lock file); any other holder
    is waited for at most XBUILDENV_STORE_LOCK_TIMEOUT seconds."""
    a = root_arena
    a.serve_index(a.goods.releases)
    proc, _ = _stopped_install(a, a.root, "download.open")
    env = {} if timeout == "default" else {"XBUILDENV_STORE_LOCK_TIMEOUT": timeout}
    try:
        started = time.monotonic()
        r = a.install("2.0.0", root=a.other_root(1), **env)
        assert heal(r.code == 0), r.err
        assert time.monotonic() - started < 30
        assert _complete(a, a.other_root(1))
    finally:
        code, err = _resume(proc)
    assert code == 0, err
    assert _complete(a, a.root)
