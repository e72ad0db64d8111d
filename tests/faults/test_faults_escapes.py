"""Escapes: no input (archive, index, Makefile.envs, lock file, cache record, planted
symlink) makes the tool write, delete, read or chmod anything outside the cache.

Every test snapshots a decoy folder next to the cache (files named like the tool's
own: ``*.part``, ``*.tmp``, ``*.lock``, a sha-named "archive", a 600 private key) and
asserts it unchanged; each runs as root and again as ``nobody`` (file modes apply).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers.archives import PY_FULL, default_files, make_tar, release, sha256
from helpers.cli import one_error
from helpers.faults import FAULT_STATS, check_decoy

if TYPE_CHECKING:
    from helpers.faults import Arena


def _installed(a: Arena, version: str = "1.0.0", root: Path | None = None) -> None:
    a.serve_index(a.goods.releases)
    done = a.install(version, root=root)
    assert done.code == 0, done.err


# --- paths computed from an archive's Makefile.envs ------------------------------------
def test_pyminor_cannot_place_host_packages_elsewhere(arena: Arena) -> None:
    target = arena.decoy / "sub"
    files = default_files(PY_FULL, "3.0.0")
    climb = "13/" + "../" * 40 + str(target).lstrip("/") + "/x"
    files["xbuildenv/pyodide-root/Makefile.envs"] += (
        f"export PYMAJOR ?= 3\nexport PYMINOR ?= {climb}\n".encode()
    )
    body = make_tar(files)
    arena.serve_index({"3.0.0": release("3.0.0", arena.serve("3.tgz", body), PY_FULL)})
    assert arena.install("3.0.0").code == 0
    before = arena.decoy_state()
    r = arena.cli("install-packages", "--path", str(arena.root))
    line = one_error(r)
    assert "HOSTSITEPACKAGES (from PYMAJOR/PYMINOR in Makefile.envs)" in line, line
    assert "leads outside" in line
    check_decoy(arena.decoy, before)


# --- a version folder that is a symlink ------------------------------------------------
def test_version_folder_that_is_a_symlink_is_not_an_install(arena: Arena) -> None:
    _installed(arena)
    fake = arena.decoy / "fake-env"
    site = fake / "xbuildenv/pyodide-root/packages/.artifacts/lib/python3.0/site-packages"
    site.mkdir(parents=True)
    (site / "pkg.py").write_text("x = 1\n")
    (fake / ".installed").touch()
    (fake / ".build-python-version").write_text("3.0")
    os.symlink(fake, arena.root / "2.0.0")
    before = arena.decoy_state()
    line = one_error(arena.install("2.0.0"))
    assert f"{arena.root / '2.0.0'} is a symlink, not an installed version" in line, line
    line = one_error(arena.cli("use", "2.0.0", "--path", str(arena.root)))
    assert "2.0.0 is not installed" in line
    versions = arena.cli("versions", "--path", str(arena.root))
    assert versions.code == 0 and "2.0.0" not in versions.out, versions.out
    # 'version' agrees with 'versions', even with the link pointing at the symlink.
    link = arena.root / "xbuildenv"
    link.unlink()
    os.symlink(arena.root / "2.0.0", link)
    shown = arena.cli("version", "--path", str(arena.root))
    assert "2.0.0" not in shown.out, shown.out
    # Uninstalling it removes the link, never what it points at.
    assert arena.cli("uninstall", "2.0.0", "--path", str(arena.root)).code == 0
    assert not os.path.lexists(arena.root / "2.0.0") and fake.is_dir()
    check_decoy(arena.decoy, before)


def test_refresh_never_drops_host_packages_through_a_link(arena: Arena) -> None:
    """A version made for another Python drops its host packages: only its own."""
    _installed(arena)
    fake = arena.decoy / "fake-env"
    site = fake / "xbuildenv/pyodide-root/packages/.artifacts/lib/python3.0/site-packages"
    site.mkdir(parents=True)
    (site / "pkg.py").write_text("x = 1\n")
    import shutil

    shutil.rmtree(arena.root / "1.0.0" / "xbuildenv")
    os.symlink(fake / "xbuildenv", arena.root / "1.0.0" / "xbuildenv")
    (arena.root / "1.0.0" / ".build-python-version").write_text("3.0")
    before = arena.decoy_state()
    line = one_error(arena.install("1.0.0"))
    assert "host site-packages" in line and "leads outside" in line, line
    check_decoy(arena.decoy, before)


# --- store sub-folders that are symlinks ------------------------------------------------
@pytest.mark.parametrize("sub", ["archives", "tmp", "index", "urls"])
def test_store_subfolder_symlink_is_never_followed(arena: Arena, sub: str) -> None:
    _installed(arena)
    # A stale temporary file of a dead process in the decoy (as if it were store/tmp).
    (arena.decoy / f"{'0' * 32}-999999.part").write_bytes(b"x")
    (arena.decoy / ".rec.json.999999.00000000.tmp").write_bytes(b"x")
    import shutil

    shutil.rmtree(arena.store / sub, ignore_errors=True)
    os.symlink(arena.decoy, arena.store / sub)
    before = arena.decoy_state()
    r = arena.install("2.0.0", XBUILDENV_INDEX_MAX_AGE="0")
    assert r.code == 0, r.err
    for args in (["gc", "--include-unknown"], ["cache", "clean"], ["cache", "clean", "--all"]):
        r = arena.cli(*args)
        assert r.code == 0, (args, r.err)
    check_decoy(arena.decoy, before)


# --- the clean-up of an undeletable file -------------------------------------------------
def test_cleanup_never_chmods_through_a_symlink(arena: Arena) -> None:
    _installed(arena)
    leftover = arena.root / ".trash-0000abcd-1.0.0"
    (leftover / "deep").mkdir(parents=True)
    os.symlink(arena.decoy / "id_rsa", leftover / "deep" / "key")
    os.symlink(arena.decoy / "sub", leftover / "deep" / "dir")
    arena.give_away()
    os.chmod(leftover / "deep", 0o555)  # its entries cannot be unlinked (but by root)
    before = arena.decoy_state()
    r = arena.install("1.0.0")
    assert r.code == 0, r.err
    assert not leftover.exists()
    check_decoy(arena.decoy, before)


# --- version names from the index ----------------------------------------------------------
def test_version_name_is_checked_before_the_lock(arena: Arena) -> None:
    _installed(arena)
    (arena.root / ".xbuildenv-x").mkdir()
    rel = os.path.relpath(arena.decoy, arena.root.parent)
    key = f"x/../../{rel}/victim"
    arena.serve_index({key: {**arena.goods.releases["2.0.0"], "version": key}})
    before = arena.decoy_state()
    line = one_error(arena.install(key), code=2)
    assert "is not a valid version name: it holds a path separator" in line, line
    check_decoy(arena.decoy, before)


# --- release URLs of a remote index --------------------------------------------------------
@pytest.mark.parametrize("how", ["path", "file-url", "host-relative", "ftp", "fifo", "dotdot"])
def test_remote_index_names_only_remote_archives(arena: Arena, how: str) -> None:
    local = arena.decoy / "real.tar.gz"
    local.write_bytes(arena.goods.bodies["2.0.0"])
    fifo = arena.decoy / "pipe"
    os.mkfifo(fifo)
    url = {
        "path": str(local),
        "file-url": f"file://{local}",
        "host-relative": f"//127.0.0.1{local}",
        "ftp": "ftp://127.0.0.1/x.tar.gz",
        "fifo": str(fifo),
        "dotdot": "/../../../../" + str(local).lstrip("/"),
    }[how]
    entry = release("2.0.0", url, PY_FULL, sha256=sha256(arena.goods.bodies["2.0.0"]))
    index = arena.serve_index({"2.0.0": entry})
    before = arena.decoy_state()
    try:
        r = arena.install("2.0.0", timeout=30)
    except Exception:  # a hang on the FIFO: the escape
        FAULT_STATS["escapes_found"] += 1
        raise
    if r.code == 0:
        FAULT_STATS["escapes_found"] += 1
    line = one_error(r)
    assert f"release '2.0.0' of the remote index {index} names" in line, line
    assert "it may only name http or https archives" in line
    assert not (arena.root / "2.0.0").exists()
    check_decoy(arena.decoy, before)


def test_https_to_http_redirect_is_refused(root_arena: Arena, tmp_path: Path) -> None:
    import shutil
    import ssl
    import subprocess

    from helpers.servers import Server

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls = Server()
    tls.httpd.socket = context.wrap_socket(tls.httpd.socket, server_side=True)
    try:
        a = root_arena
        plain = a.goods.releases["2.0.0"]["url"]
        moved = tls.add("/moved.tar.gz", b"", status=302, headers={"Location": plain})
        moved = moved.replace("http://", "https://")
        before = a.decoy_state()
        r = a.cli("install", "--url", moved, "--path", str(a.root), SSL_CERT_FILE=str(cert))
        line = one_error(r)
        assert f"{moved} redirects to {plain}, which is not https" in line, line
        assert not any(p.name.startswith("https") for p in a.root.iterdir())
        check_decoy(a.decoy, before)
    finally:
        tls.close()


# --- records that are links to devices or FIFOs --------------------------------------------
@pytest.mark.parametrize(
    "record",
    [".xbuildenv-owner.json", "1.0.0/.build-python-version", "1.0.0/.archive-sha256"],
)
def test_records_are_read_bounded(arena: Arena, record: str) -> None:
    _installed(arena)
    path = arena.root / record
    path.unlink()
    os.symlink("/dev/zero", path)
    other = arena.root.with_name(arena.root.name[:-1] + "f")
    other.mkdir()
    os.mkfifo(other / ".xbuildenv-owner.json")
    before = arena.decoy_state()
    for args in (["versions", "--path", str(arena.root)], ["cache", "list"], ["gc", "--dry-run"]):
        r = arena.cli(*args, timeout=30)
        assert r.code == 0, (args, r.err)
    check_decoy(arena.decoy, before)


# --- a "root" in the cache folder that is a symlink to elsewhere --------------------------
def test_symlinked_root_in_the_cache_is_never_followed(arena: Arena) -> None:
    _installed(arena)
    fake = arena.decoy / "sub"
    (fake / "1.0.0").mkdir()
    (fake / "1.0.0" / ".installed").touch()
    os.symlink(fake, arena.other_root(7))
    before = arena.decoy_state()
    listed = arena.cli("cache", "list", "--json")
    assert listed.code == 0, listed.err
    roots = [r["path"] for r in __import__("json").loads(listed.out)["roots"]]
    assert str(arena.other_root(7)) not in roots, "a symlink was taken for a root"
    for args in (
        ["cache", "list"],
        ["gc", "--include-unknown"],
        ["gc", "--older-than", "0s"],
        ["cache", "clean", "--all"],
    ):
        r = arena.cli(*args)
        assert r.code == 0, (args, r.err)
    check_decoy(arena.decoy, before)
