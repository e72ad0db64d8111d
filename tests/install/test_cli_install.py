"""``xbuildenv install``: selection, download, verification, formats, the package index,
URL installs, re-installs, the Python marker, and what a failure leaves behind.

Archives are real tar files served by the loopback server; the CLI runs as a real
subprocess. Releases are made for the running Python so no ``--force`` is needed
unless a test is about incompatibility.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.archives import OTHER_PY, PY_FULL, PY_MM, default_files, make_tar, sha256
from helpers.cli import REPO, Result, one_error, run, snapshot
from helpers.servers import Server, serve_env, serve_index, total_hits


def installed(root: Path, version: str) -> bool:
    return (root / version / ".installed").is_file()


def active(root: Path) -> str | None:
    link = root / "xbuildenv"
    return Path(os.readlink(link)).name if link.is_symlink() else None


def install(
    meta: str, root: Path, env: dict[str, str], *args: str, cwd: Path | None = None
) -> Result:
    return run("install", *args, "--metadata", meta, "--path", str(root), env=env, cwd=cwd)


# --- the happy path ------------------------------------------------------------------------
def test_install_latest_compatible(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    meta = serve_index(
        server,
        serve_env(server, "0.9.0"),
        serve_env(server, "0.10.0"),  # newest by PEP 440, though "0.9.0" > "0.10.0" as text
        serve_env(server, "0.11.0", python=OTHER_PY),  # newer, but for another Python
    )
    root = tmp_path / "root"
    r = install(meta, root, env)
    assert r.code == 0, r.err
    assert server.hits["/dl/0.10.0/xbuildenv-0.10.0.tar.gz"] == 1
    assert server.hits["/dl/0.9.0/xbuildenv-0.9.0.tar.gz"] == 0
    assert installed(root, "0.10.0")
    assert (root / "0.10.0" / ".build-python-version").read_text().strip() == PY_MM
    # An absolute link to the version folder, as pyodide-build writes it.
    assert os.readlink(root / "xbuildenv") == str(root / "0.10.0")
    tree = root / "0.10.0" / "xbuildenv"
    assert (tree / "requirements.txt").read_bytes() == b"numpy==2.2.5\n"
    assert (tree / "pyodide-root" / "Makefile.envs").is_file()
    assert "0.10.0" in r.err and "\r" not in r.err  # no progress bar without a terminal
    assert r.out == ""


def test_named_incompatible_version_needs_force(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta = serve_index(server, serve_env(server, "5.0", python=OTHER_PY))
    root = tmp_path / "root"
    line = one_error(install(meta, root, env, "5.0"))
    assert "5.0" in line and "3.99" in line and PY_MM in line and "--force" in line
    assert not (root / "5.0").exists()
    r = install(meta, root, env, "5.0", "--force")
    assert r.code == 0, r.err
    assert installed(root, "5.0") and active(root) == "5.0"
    assert server.hits["/dl/5.0/xbuildenv-5.0.tar.gz"] == 1
    # The marker names the host Python the install was made for, not the target's.
    assert (root / "5.0" / ".build-python-version").read_text().strip() == PY_MM


def test_unknown_version_names_the_nearest(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta = serve_index(server, serve_env(server, "0.29.3"), serve_env(server, "0.29.4"))
    line = one_error(install(meta, tmp_path / "root", env, "0.29.5"))
    assert "0.29.5" in line and "0.29.4" in line


@pytest.mark.parametrize("compression", ["gz", "bz2", "", "zst"])
def test_archive_formats(
    compression: str, server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    entry = serve_env(server, "1.0", compression=compression)
    suffix = {"gz": ".tar.gz", "bz2": ".tar.bz2", "": ".tar", "zst": ".tar.zst"}[compression]
    assert entry["url"].endswith(suffix)
    root = tmp_path / "root"
    r = install(serve_index(server, entry), root, env, "1.0")
    assert r.code == 0, r.err
    assert (root / "1.0" / "xbuildenv" / "pyodide-root" / "dist" / "pyodide-lock.json").is_file()


def test_sha256_mismatch_installs_nothing(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    good = serve_env(server, "1.0")
    bad = serve_env(server, "2.0", sha256="0" * 64)
    meta = serve_index(server, good, bad)
    assert install(meta, root, env, "1.0").code == 0
    before = snapshot(root / "1.0")
    line = one_error(install(meta, root, env, "2.0"))
    assert "sha256" in line.lower() or "checksum" in line.lower()
    assert server.hits["/dl/2.0/xbuildenv-2.0.tar.gz"] >= 1
    assert not (root / "2.0").exists()
    assert [p for p in os.listdir(root) if "2.0" in p] == []  # no staging left behind
    assert snapshot(root / "1.0") == before and active(root) == "1.0"


def test_real_fixture_archive_with_checksum(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    from helpers.archives import DATA

    body = (DATA / "xbuildenv-test-3.13.tar.gz").read_bytes()
    url = server.add("/real/xbuildenv-0.29.4.tar.gz", body)
    from helpers.archives import release

    meta = serve_index(server, release("0.29.4", url, "3.13.2", sha256=sha256(body)))
    root = tmp_path / "root"
    r = install(meta, root, env, "0.29.4", "--force")
    assert r.code == 0, r.err
    pyroot = root / "0.29.4" / "xbuildenv" / "pyodide-root"
    assert (pyroot / "cpython" / "installs" / "python-3.13.2").is_dir()
    assert (
        "fbcea5f678a6aa7a31d2c525fa8ad28db3b3e372777477929d3b67c207691ebe"
        in (pyroot / "package_index" / "attrs" / "index.html").read_text()
    )


# --- the package index ---------------------------------------------------------------------
def test_package_index_content(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert install(serve_index(server, serve_env(server, "0.29.4")), root, env, "0.29.4").code == 0
    index = root / "0.29.4" / "xbuildenv" / "pyodide-root" / "package_index"
    top = (index / "index.html").read_text()
    for name in ("attrs", "numpy", "remote"):
        assert f'<a href="{name}/">{name}</a>' in top
    # Only wheels are indexed: the .zip in the lock file is not.
    assert "libfoo" not in top and not (index / "libfoo").exists()
    assert sorted(p.name for p in index.iterdir() if p.is_dir()) == ["attrs", "numpy", "remote"]
    cdn = "https://cdn.jsdelivr.net/pyodide/v0.29.4/full/"
    attrs = (index / "attrs" / "index.html").read_text()
    assert f'href="{cdn}attrs-25.2.0-py3-none-any.whl#sha256={"ab" * 32}"' in attrs
    numpy = (index / "numpy" / "index.html").read_text()
    assert f"{cdn}numpy-2.2.5-cp313-cp313-pyodide_2025_0_wasm32.whl#sha256={'cd' * 32}" in numpy
    remote = (index / "remote" / "index.html").read_text()
    assert 'href="https://example.org/remote-1.0-py3-none-any.whl"' in remote  # used as is
    assert "cdn.jsdelivr" not in remote
    for page in (top, attrs):
        assert '<meta name="pypi:repository-version" content="1.0">' in page


def test_package_index_follows_the_lock_file_the_tree_ends_with(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    """The index is written while the archive streams, from the first lock file seen.

    A later member that replaces the lock file, and a package_index shipped inside the
    archive, must still give the index of the final lock file and nothing else.
    """
    import io
    import json
    import tarfile

    from helpers.archives import release

    files = default_files()
    files["xbuildenv/pyodide-root/package_index/stale/index.html"] = b"shipped"

    def replace_lock(tf: tarfile.TarFile) -> None:
        lock = {"packages": {"later": {"file_name": "later-1.0-py3-none-any.whl", "sha256": ""}}}
        data = json.dumps(lock).encode()
        info = tarfile.TarInfo("xbuildenv/pyodide-root/dist/pyodide-lock.json")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))

    body = make_tar(files, "bz2", extra=replace_lock)
    url = server.add("/dl/0.29.4/xbuildenv-0.29.4.tar.bz2", body)
    meta = serve_index(server, release("0.29.4", url, PY_FULL, sha256=sha256(body)))
    root = tmp_path / "root"
    assert install(meta, root, env, "0.29.4").code == 0
    index = root / "0.29.4" / "xbuildenv" / "pyodide-root" / "package_index"
    assert sorted(p.name for p in index.iterdir()) == ["index.html", "later"]
    assert not (root / "0.29.4" / ".package-index").exists()

    body = make_tar(files, "bz2")  # the lock file once: the index made alongside is used
    url = server.add("/dl/0.29.5/xbuildenv-0.29.5.tar.bz2", body)
    meta = serve_index(
        server, release("0.29.5", url, PY_FULL, sha256=sha256(body)), path="/index2.json"
    )
    assert install(meta, root, env, "0.29.5").code == 0
    index = root / "0.29.5" / "xbuildenv" / "pyodide-root" / "package_index"
    assert sorted(p.name for p in index.iterdir()) == ["attrs", "index.html", "numpy", "remote"]
    assert "v0.29.5/full/attrs" in (index / "attrs" / "index.html").read_text()


def test_damaged_lock_file_fails_the_install_and_leaves_nothing(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    files = default_files()
    files["xbuildenv/pyodide-root/dist/pyodide-lock.json"] = b"{not json"
    meta = serve_index(server, serve_env(server, "0.29.4", files=files, compression="bz2"))
    root = tmp_path / "root"
    line = one_error(install(meta, root, env, "0.29.4"))
    assert "pyodide-lock.json" in line or "lock file" in line
    assert not (root / "0.29.4").exists()
    assert [p for p in os.listdir(root) if p.startswith(".staging")] == []


# --- URL installs ----------------------------------------------------------------------------
def test_url_install_uses_mangled_folder(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    url = server.add("/some/dir/env-1.2.tar.gz", make_tar(default_files(PY_FULL)))
    root = tmp_path / "root"
    r = run("install", "--url", url, "--path", str(root), env=env)
    assert r.code == 0, r.err
    port = server.base.rsplit(":", 1)[1]
    name = f"http_127_0_0_1_{port}_some_dir_env-1_2_tar_gz"
    assert installed(root, name) and active(root) == name
    # No index: the version of a bare archive is unknown, so no CDN links are made.
    assert not (root / name / "xbuildenv" / "pyodide-root" / "package_index").exists()
    assert server.hits["/index.json"] == 0
    r = run("versions", "--path", str(root), env=env)
    assert r.out == f"* {name}\n"


def test_version_and_url_together_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    r = run(
        "install", "1.0", "--url", "http://127.0.0.1:9/x.tar.gz", "--path", str(tmp_path), env=env
    )
    assert "not both" in one_error(r, code=2)


def test_default_url_from_pyproject(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    url = server.add("/pinned/env.tar.gz", make_tar(default_files(PY_FULL)))
    meta = serve_index(server, serve_env(server, "9.9"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[tool.pyodide.build]\ndefault_cross_build_env_url = "{url}"\n'
    )
    root = tmp_path / "root"
    # The stable channel would be asked if the pinned URL were ignored.
    env = {**env, "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": meta}
    r = run("install", "--path", str(root), env=env, cwd=project)
    assert r.code == 0, r.err
    port = server.base.rsplit(":", 1)[1]
    assert active(root) == f"http_127_0_0_1_{port}_pinned_env_tar_gz"
    assert server.hits["/index.json"] == 0 and server.hits["/pinned/env.tar.gz"] == 1
    # A named version still comes from the index.
    r = run("install", "9.9", "--path", str(root), env=env, cwd=project)
    assert r.code == 0, r.err
    assert active(root) == "9.9"


# --- installing what is installed ------------------------------------------------------------
def test_reinstall_is_a_noop_without_network(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta = serve_index(server, serve_env(server, "1.0"), serve_env(server, "2.0"))
    root = tmp_path / "root"
    assert install(meta, root, env, "1.0").code == 0
    assert install(meta, root, env, "2.0").code == 0
    before, hits = snapshot(root / "1.0"), total_hits(server)
    r = install(meta, root, env, "1.0")
    assert r.code == 0, r.err
    assert "already installed" in r.err
    assert total_hits(server) == hits  # not even the index
    assert snapshot(root / "1.0") == before
    assert active(root) == "1.0"  # but it is made active, as a fresh install would be
    # Even with the server gone, a named installed version installs.
    server.close()
    assert install(meta, root, env, "2.0").code == 0 and active(root) == "2.0"


def test_force_reinstalls(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    entry = serve_env(server, "1.0")
    meta = serve_index(server, entry)
    root = tmp_path / "root"
    assert install(meta, root, env, "1.0").code == 0
    (root / "1.0" / "xbuildenv" / "requirements.txt").write_text("edited by hand\n")
    (root / "1.0" / "stray-file").write_text("x")
    r = install(meta, root, env, "1.0", "--force")
    assert r.code == 0, r.err
    assert (root / "1.0" / "xbuildenv" / "requirements.txt").read_text() == "numpy==2.2.5\n"
    assert not (root / "1.0" / "stray-file").exists()
    assert installed(root, "1.0") and active(root) == "1.0"


def test_python_marker_mismatch_drops_host_packages(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta = serve_index(server, serve_env(server, "1.0"))
    root = tmp_path / "root"
    assert install(meta, root, env, "1.0").code == 0
    pyroot = root / "1.0" / "xbuildenv" / "pyodide-root"
    artifacts = pyroot / "packages" / ".artifacts"
    host = artifacts / "lib" / "python3.9" / "site-packages"
    (host / "numpy").mkdir(parents=True)
    (host / "numpy" / "__init__.py").write_text("# built for 3.9\n")
    (artifacts / "include").mkdir()
    (artifacts / "include" / "keep.h").write_text("/* not a host package */\n")
    (root / "1.0" / ".build-python-version").write_text("3.9")
    downloads = server.hits["/dl/1.0/xbuildenv-1.0.tar.gz"]
    r = install(meta, root, env, "1.0")
    assert r.code == 0, r.err
    assert not host.exists()
    assert (artifacts / "include" / "keep.h").is_file()
    assert (pyroot / "Makefile.envs").is_file()
    assert (root / "1.0" / ".build-python-version").read_text().strip() == PY_MM
    assert server.hits["/dl/1.0/xbuildenv-1.0.tar.gz"] == downloads  # no new download
    # Now it matches: a plain no-op again.
    assert "already installed" in install(meta, root, env, "1.0").err


# --- failures leave what was there ----------------------------------------------------------
def test_failed_install_keeps_previous_versions(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    meta = serve_index(server, serve_env(server, "1.0"))
    assert install(meta, root, env, "1.0").code == 0
    before = snapshot(root / "1.0")
    from helpers.archives import release

    broken = serve_index(
        server,
        release("2.0", server.url("/missing.tar.gz"), PY_FULL),  # 404
        release("3.0", server.add("/garbage.tar.gz", b"this is not a tar file" * 100), PY_FULL),
        # A forced reinstall of 1.0 whose new archive is truncated.
        release("1.0", server.add("/cut.tar.gz", (cut := make_tar())[: len(cut) // 2]), PY_FULL),
        path="/broken-index.json",
    )
    assert "404" in one_error(install(broken, root, env, "2.0"))
    one_error(install(broken, root, env, "3.0"))
    one_error(install(broken, root, env, "1.0", "--force"))
    assert snapshot(root / "1.0") == before and active(root) == "1.0"
    names = sorted(os.listdir(root))
    assert names == sorted(
        ["1.0", "xbuildenv", *[n for n in names if n == ".xbuildenv-owner.json"]]
    )


def test_unsafe_archive_is_refused(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    import io
    import tarfile

    def escape(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("xbuildenv/../../escaped.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"bad"))

    url = server.add("/evil.tar.gz", make_tar(default_files(PY_FULL), extra=escape))
    from helpers.archives import release

    meta = serve_index(server, release("6.6", url, PY_FULL))
    root = tmp_path / "deep" / "root"
    one_error(install(meta, root, env, "6.6"))
    assert not (root / "6.6").exists()
    assert (
        not (tmp_path / "escaped.txt").exists() and not (tmp_path / "deep" / "escaped.txt").exists()
    )


def test_ctrl_c_during_download_rolls_back(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    body = make_tar(default_files(PY_FULL, "1.0") | {"xbuildenv/big.bin": os.urandom(400_000)})
    from helpers.archives import release

    url = server.add("/slow.tar.gz", body, rate=20_000)
    meta = serve_index(server, release("1.0", url, PY_FULL))
    root = tmp_path / "root"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xbuildenv",
            "install",
            "1.0",
            "--metadata",
            meta,
            "--path",
            str(root),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    while server.hits["/slow.tar.gz"] == 0 and proc.poll() is None:
        time.sleep(0.05)  # wait for the download to start (a condition, not a timing check)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.count("error: ") == 1, err
    assert not (root / "1.0").exists() and not (root / "xbuildenv").exists()
    assert [n for n in os.listdir(root) if n.startswith(".staging-")] == []


def test_python_marker_refresh_needs_no_network(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    # Dropping host packages and rewriting the marker is local work; it must not
    # depend on the index being reachable (or on the cached copy of it).
    meta = serve_index(server, serve_env(server, "1.0"), path="/once.json")
    root = tmp_path / "root"
    env = {**env, "XBUILDENV_INDEX_MAX_AGE": "0"}  # no help from a cached index
    assert install(meta, root, env, "1.0").code == 0
    (root / "1.0" / ".build-python-version").write_text("3.9")
    hits = total_hits(server)
    r = install(meta, root, env, "1.0")
    assert r.code == 0, r.err
    assert (root / "1.0" / ".build-python-version").read_text().strip() == PY_MM
    assert total_hits(server) == hits
