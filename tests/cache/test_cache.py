"""The machine-wide cache: index cache, archive store, shared trees, owners, gc."""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import pytest
from helpers.archives import default_files, index, make_tar, release, sha256
from helpers.cli import disk_usage, make_venv, run
from helpers.servers import Server

VERSION = "0.29.4"


@pytest.fixture
def published(server: Server) -> tuple[str, bytes]:
    files = default_files()
    # A tree that weighs something, so shared vs. private bytes can be told apart.
    files["xbuildenv/pyodide-root/cpython/installs/libpython3.13.a"] = random.Random(1).randbytes(
        2 << 20
    )
    body = make_tar(files, compression="bz2")
    url = server.add("/xbuildenv-0.29.4.tar.bz2", body)
    meta = server.add("/index.json", index(release(VERSION, url, sha256=sha256(body))))
    return meta, body


def _root_of(python: Path, env: dict[str, str]) -> Path:
    r = run("root", env=env, python=str(python))
    assert r.code == 0, r.err
    return Path(r.out.strip())


def _install(python: Path, env: dict[str, str], meta: str, *extra: str) -> None:
    r = run("install", VERSION, "--force", "--metadata", meta, *extra, env=env, python=str(python))
    assert r.code == 0, r.err


def test_second_venv_downloads_nothing_and_shares_files(
    server: Server, published: tuple[str, bytes], env: dict[str, str], tmp_path: Path
) -> None:
    meta, _ = published
    py1, py2 = make_venv(tmp_path / "venv1"), make_venv(tmp_path / "venv2")
    _install(py1, env, meta)
    _install(py2, env, meta)
    assert server.hits["/xbuildenv-0.29.4.tar.bz2"] == 1
    root1, root2 = _root_of(py1, env), _root_of(py2, env)
    assert root1 != root2
    rel = Path(VERSION, "xbuildenv", "pyodide-root", "Makefile.envs")
    a, b = (root1 / rel).stat(), (root2 / rel).stat()
    assert (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
    assert not a.st_mode & 0o222, "shared files must be read-only"
    # The package index of one release is shared too (no build writes it); the
    # markers are each root's own.
    idx = Path(VERSION, "xbuildenv", "pyodide-root", "package_index", "index.html")
    assert (root1 / idx).stat().st_ino == (root2 / idx).stat().st_ino
    marker = Path(VERSION, ".installed")
    assert (root1 / marker).stat().st_ino != (root2 / marker).stat().st_ino
    r = run("versions", env=env, python=str(py2))
    assert r.out.strip() == f"* {VERSION}"


def test_link_mode_copy_makes_private_files(
    server: Server, published: tuple[str, bytes], env: dict[str, str], tmp_path: Path
) -> None:
    meta, _ = published
    py1, py2 = make_venv(tmp_path / "v1"), make_venv(tmp_path / "v2")
    _install(py1, env, meta)
    _install(py2, env, meta, "--link-mode", "copy")
    rel = Path(VERSION, "xbuildenv", "pyodide-root", "Makefile.envs")
    a, b = (_root_of(py1, env) / rel).stat(), (_root_of(py2, env) / rel).stat()
    assert a.st_ino != b.st_ino
    assert server.hits["/xbuildenv-0.29.4.tar.bz2"] == 1


def test_build_writes_stay_private(
    server: Server, published: tuple[str, bytes], env: dict[str, str], tmp_path: Path
) -> None:
    meta, _ = published
    py1, py2 = make_venv(tmp_path / "v1"), make_venv(tmp_path / "v2")
    _install(py1, env, meta)
    _install(py2, env, meta)
    r1, r2 = _root_of(py1, env), _root_of(py2, env)
    pr = Path(VERSION, "xbuildenv", "pyodide-root")
    site = pr / "packages" / ".artifacts" / "lib" / "python3.13" / "site-packages"
    (r1 / site).mkdir(parents=True)
    (r1 / site / "numpy.py").write_text("# built for root 1\n")
    assert not (r2 / site).exists()
    # A third root linking from root 1 must not pick up root 1's private files.
    py3 = make_venv(tmp_path / "v3")
    _install(py3, env, meta)
    r3 = _root_of(py3, env)
    assert not (r3 / site).exists()
    # A write into a shared page (no build does that; root can) is caught at the next
    # link, as for the archive's own files: the fourth root gets the page as generated.
    page = pr / "package_index" / "attrs" / "index.html"
    good = (r1 / page).read_bytes()
    (r1 / page).chmod(0o644)
    (r1 / page).write_text("changed")
    py4 = make_venv(tmp_path / "v4")
    _install(py4, env, meta)
    assert (_root_of(py4, env) / page).read_bytes() == good


def test_many_venvs_use_about_one_tree_and_gc_frees_deleted(
    server: Server, published: tuple[str, bytes], env: dict[str, str], tmp_path: Path
) -> None:
    meta, _ = published
    pythons = [make_venv(tmp_path / f"venv{i}") for i in range(5)]
    _install(pythons[0], env, meta)
    one = disk_usage(_root_of(pythons[0], env))
    for py in pythons[1:]:
        _install(py, env, meta)
    roots = [_root_of(py, env) for py in pythons]
    five = disk_usage(*roots)
    assert server.hits["/xbuildenv-0.29.4.tar.bz2"] == 1
    # Each extra root adds only its private files (package index, markers, dirs).
    assert five < one * 1.5, (one, five)

    listing = json.loads(run("cache", "list", "--json", env=env).out)
    assert {Path(r["path"]) for r in listing["roots"]} == set(roots)
    assert all(r["owner_exists"] for r in listing["roots"])

    shutil.rmtree(tmp_path / "venv3")
    dry = run("gc", "--dry-run", env=env)
    assert dry.code == 0 and str(roots[3]) in dry.out and roots[3].exists()
    r = run("gc", env=env)
    assert r.code == 0, r.err
    assert not roots[3].exists()
    assert all(root.exists() for i, root in enumerate(roots) if i != 3)
    # The others still work, and the shared archive is kept while roots use it.
    assert run("versions", env=env, python=str(pythons[4])).out.strip() == f"* {VERSION}"
    assert json.loads(run("cache", "list", "--json", env=env).out)["archives"]


def test_gc_keeps_unknown_roots_unless_asked(env: dict[str, str], home: Path) -> None:
    cache = home / ".cache" / "pyodide-build"
    foreign = cache / ".pyodide-xbuildenv-0123456789ab"
    (foreign / "0.27.0").mkdir(parents=True)
    (foreign / "0.27.0" / ".installed").touch()
    assert run("gc", env=env).code == 0
    assert foreign.exists()
    r = run("gc", "--older-than", "1d", env=env)
    assert foreign.exists(), r.out  # just made: not old
    old = time.time() - 3 * 86400
    os.utime(foreign, (old, old))
    r = run("gc", "--older-than", "2d", env=env)
    assert r.code == 0 and not foreign.exists(), r.out


def test_gc_include_unknown(env: dict[str, str], home: Path) -> None:
    foreign = home / ".cache" / "pyodide-build" / ".pyodide-xbuildenv-0123456789ab"
    foreign.mkdir(parents=True)
    assert run("gc", "--include-unknown", env=env).code == 0
    assert not foreign.exists()


def test_bad_age_is_a_usage_error(env: dict[str, str]) -> None:
    r = run("gc", "--older-than", "soon", env=env)
    assert r.code == 2 and r.err.count("\n") == 1 and "30d" in r.err


def test_index_is_cached_and_revalidated(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta = server.add("/index.json", index(release(VERSION, "x.tar.gz")))
    assert run("search", "--all", "--metadata", meta, env=env).code == 0
    assert run("search", "--all", "--metadata", meta, env=env).code == 0
    assert server.hits["/index.json"] == 1  # the second call did no network work
    stale = dict(env, XBUILDENV_INDEX_MAX_AGE="0")
    assert run("search", "--all", "--metadata", meta, env=stale).code == 0
    assert server.hits["/index.json"] == 2
    assert server.requests[-1][1].get("If-None-Match")  # conditional: answered by a 304
    assert run("search", "--all", "--refresh", "--metadata", meta, env=env).code == 0
    assert "If-None-Match" not in server.requests[-1][1]


def test_offline_and_stale_fallback(server: Server, env: dict[str, str]) -> None:
    meta = server.add("/index.json", index(release(VERSION, "x.tar.gz")))
    r = run("search", "--all", "--offline", "--metadata", meta, env=env)
    assert r.code == 1 and "--offline" in r.err and "without --offline" in r.err
    assert server.hits["/index.json"] == 0
    assert run("search", "--all", "--metadata", meta, env=env).code == 0
    del server.routes["/index.json"]  # the host now fails (404)
    r = run("search", "--all", "--offline", "--json", "--metadata", meta, env=env)
    assert r.code == 0 and json.loads(r.out)["environments"][0]["version"] == VERSION
    stale = dict(env, XBUILDENV_INDEX_MAX_AGE="0")
    r = run("search", "--all", "--json", "--metadata", meta, env=stale)
    assert r.code == 0, r.err
    assert r.err.startswith("warning:") and "cached copy" in r.err


def test_url_install_found_again_by_etag(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    url = server.add("/custom.tar.gz", make_tar())
    py1, py2 = make_venv(tmp_path / "v1"), make_venv(tmp_path / "v2")
    for py in (py1, py2):
        r = run("install", "--url", url, env=env, python=str(py))
        assert r.code == 0, r.err
    assert server.hits["/custom.tar.gz"] == 1
    assert server.hits["HEAD /custom.tar.gz"] == 1
    # The content changes on the server: the ETag no longer matches, so it is fetched.
    server.add("/custom.tar.gz", make_tar(compression="bz2"))
    py3 = make_venv(tmp_path / "v3")
    assert run("install", "--url", url, env=env, python=str(py3)).code == 0
    assert server.hits["/custom.tar.gz"] == 2


def test_corrupt_store_entry_is_replaced(
    server: Server, published: tuple[str, bytes], env: dict[str, str], tmp_path: Path
) -> None:
    meta, body = published
    root = tmp_path / "root"
    _install(Path(os.sys.executable), env, meta, "--path", str(root))
    stored = (
        Path(run("cache", "dir", env=env).out.strip())
        / "xbuildenv-store"
        / "archives"
        / sha256(body)
    )
    assert stored.read_bytes() == body
    stored.write_bytes(body[:-10] + b"0123456789")
    assert run("uninstall", "--all", "--path", str(root), env=env).code == 0
    shutil.rmtree(stored.parent.parent / "trees")  # else the published tree is linked
    _install(Path(os.sys.executable), env, meta, "--path", str(root))
    assert server.hits["/xbuildenv-0.29.4.tar.bz2"] == 2
    assert stored.read_bytes() == body
    assert (root / VERSION / ".installed").is_file()


def test_cache_clean(
    server: Server, published: tuple[str, bytes], env: dict[str, str], tmp_path: Path
) -> None:
    meta, body = published
    root = tmp_path / "root"
    _install(Path(os.sys.executable), env, meta, "--path", str(root))
    store = Path(run("cache", "dir", env=env).out.strip()) / "xbuildenv-store"
    assert (store / "archives" / sha256(body)).exists()
    r = run("cache", "clean", env=env)
    assert r.code == 0, r.err
    assert not (store / "archives" / sha256(body)).exists()
    assert (root / VERSION / ".installed").is_file()  # roots outside the cache folder stay


def test_uninstall_all(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    a, b = make_tar(), make_tar(compression="bz2")
    meta = server.add(
        "/index.json",
        index(
            release("0.29.3", server.add("/a.tar.gz", a), sha256=sha256(a)),
            release("0.29.4", server.add("/b.tar.bz2", b), sha256=sha256(b)),
        ),
    )
    root = tmp_path / "root"
    for v in ("0.29.3", "0.29.4"):
        r = run("install", v, "--force", "--metadata", meta, "--path", str(root), env=env)
        assert r.code == 0, r.err
    r = run("uninstall", "--all", "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert run("versions", "--path", str(root), env=env).out == ""
    assert not (root / "xbuildenv").is_symlink()


def test_debris_of_killed_writers_is_removed(
    server: Server, published: tuple[str, bytes], env: dict[str, str], tmp_path: Path
) -> None:
    meta, _ = published
    store = Path(run("cache", "dir", env=env).out.strip()) / "xbuildenv-store"
    dead = 2**22 + 12345  # above the default pid_max: no such process
    debris = [
        store / "index" / f".abc.json.{dead}.0badc0de.tmp",
        store / "urls" / f".abc.json.{dead}.0badc0de.tmp",
        store / "tmp" / f"0123abcd-{dead}.part",
    ]
    live = store / "tmp" / f"0123abcd-{os.getpid()}.part"  # a writer that is still alive
    for path in [*debris, live]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    _install(Path(os.sys.executable), env, meta, "--path", str(tmp_path / "root"))
    assert [p for p in debris if p.exists()] == []
    assert live.exists()
