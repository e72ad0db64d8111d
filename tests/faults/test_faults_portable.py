"""The portable ways macOS and Windows take, forced here with ``XBUILDENV_PORTABLE``.

Where the portable way is weaker (two renames instead of one atomic swap or replace),
a real install is killed with SIGKILL between the two steps (the checkpoint hook) and
the next run must repair what it left. The other fallbacks are driven through real
files, real processes and real signals. ``pytest --portable`` runs the whole fault
suite with every fast path off; these tests force their own path whatever the switch.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, big_files, make_tar, release, sha256
from helpers.cli import clean_env, snapshot
from helpers.faults import leftovers, root_problems
from helpers.servers import Server

from xbuildenv.cache.layout import check_version_name, url_to_version
from xbuildenv.errors import PathEscapeError, UsageError
from xbuildenv.fs.clone import clone_file
from xbuildenv.fs.locks import process_stopped
from xbuildenv.fs.paths import chmod_here, contained

VERSIONS = ("1.0.0", "2.0.0")


@pytest.fixture(scope="module")
def portable_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A server with 1.0.0 and 2.0.0, and a template root with 1.0.0 installed, active."""
    server = Server()
    base = tmp_path_factory.mktemp("portable")
    files = {v: big_files(PY_FULL, v, count=4) for v in VERSIONS}
    releases = {}
    for v, tree in files.items():
        body = make_tar(tree)
        releases[v] = release(v, server.add(f"/dl/{v}.tar.gz", body), PY_FULL, sha256=sha256(body))
    import json

    index = server.add("/index.json", json.dumps({"releases": releases}).encode())
    (base / "home").mkdir()
    env = clean_env(base / "home", PYODIDE_CROSS_BUILD_ENV_METADATA_URL=index)
    yield {"server": server, "env": env, "files": files, "base": base}
    server.close()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xbuildenv", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _root(
    portable_world: dict[str, object], name: str, portable: str
) -> tuple[Path, dict[str, str]]:
    base = portable_world["base"]
    assert isinstance(base, Path)
    env = {**portable_world["env"], "XBUILDENV_PORTABLE": portable}  # type: ignore[dict-item]
    env["XBUILDENV_CACHE_DIR"] = str(base / name / "store")
    root = base / name / "root"
    done = _cli(env, "install", "1.0.0", "--path", str(root), "-q")
    assert done.returncode == 0, done.stderr
    return root, env


def _killed_at(env: dict[str, str], point: str, log: Path, *args: str) -> None:
    spec = f"point={point},at=1,signal=KILL,log={log}"
    done = _cli({**env, "XBUILDENV_TEST_CHECKPOINTS": spec}, *args)
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr)
    assert log.read_text().splitlines()[-1] == point  # nothing ran after the point


# --- no atomic exchange: a forced reinstall publishes with two renames ----------------------
def test_kill_between_the_two_renames_of_a_publish_is_repaired(
    portable_world: dict[str, object],
) -> None:
    root, env = _root(portable_world, "exchange", "exchange")
    files: dict[str, dict[str, bytes]] = portable_world["files"]  # type: ignore[assignment]
    before = snapshot(root / "1.0.0")
    _killed_at(
        env,
        "publish.aside",
        root.parent / "log",
        "install",
        "--force",
        "1.0.0",
        "--path",
        str(root),
    )
    # What the README says a crash here leaves: the old tree moved aside whole, the new
    # one whole in its staging folder, no 1.0.0, the link dangling at it.
    aside = [n for n in os.listdir(root) if n.startswith(".replaced-")]
    assert len(aside) == 1 and aside[0].endswith("-1.0.0"), os.listdir(root)
    assert not (root / "1.0.0").exists() and (root / "xbuildenv").is_symlink()
    assert snapshot(root / aside[0]) == before
    inode = (root / aside[0] / "xbuildenv/requirements.txt").stat().st_ino
    # The next run puts the old tree back (the same files, not a new install), then works.
    again = _cli(env, "install", "1.0.0", "--path", str(root), "-q")
    assert again.returncode == 0, again.stderr
    assert (root / "1.0.0/xbuildenv/requirements.txt").stat().st_ino == inode
    assert snapshot(root / "1.0.0") == before
    assert root_problems(root, files) == [] and leftovers(root) == []
    assert (root / "xbuildenv").resolve() == (root / "1.0.0").resolve()


# --- no atomic replace of the link: the old link removed, then the new one renamed in -------
def test_kill_between_removing_and_renaming_the_link_is_repaired(
    portable_world: dict[str, object],
) -> None:
    root, env = _root(portable_world, "link", "link")
    _killed_at(
        env, "activate.old-removed", root.parent / "log", "install", "2.0.0", "--path", str(root)
    )
    pending = [n for n in os.listdir(root) if n.startswith(".link-")]
    assert not os.path.lexists(root / "xbuildenv") and len(pending) == 1, os.listdir(root)
    assert os.readlink(root / pending[0]) == str(root / "2.0.0")
    # The next run's tidy (every install starts with it; the API's tidy() alone here, so
    # that no activation of its own hides the repair) finishes the activation.
    tidy = f"from xbuildenv.manager import XBuildEnvManager; XBuildEnvManager({str(root)!r}).tidy()"
    done = subprocess.run([sys.executable, "-c", tidy], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    version = _cli(env, "version", "--path", str(root))
    assert version.stdout.strip() == "2.0.0", (version.stdout, version.stderr)
    assert leftovers(root) == []


def test_the_portable_link_replace_switches_versions(portable_world: dict[str, object]) -> None:
    root, env = _root(portable_world, "link-ok", "link")
    for v in ("2.0.0", "1.0.0", "2.0.0"):
        done = _cli(env, "use" if (root / v).is_dir() else "install", v, "--path", str(root))
        assert done.returncode == 0, done.stderr
        assert os.readlink(root / "xbuildenv") == str(root / v)
    assert leftovers(root) == []


# --- a stopped lock holder seen without /proc ----------------------------------------------
def test_a_stopped_process_is_seen_through_ps(monkeypatch: pytest.MonkeyPatch) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        monkeypatch.setenv("XBUILDENV_PORTABLE", "proc")
        assert not process_stopped(child.pid)
        child.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not process_stopped(child.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process_stopped(child.pid)
        # It was ps that answered: without ps on PATH the portable way cannot tell,
        # while /proc (the fast path) still can.
        monkeypatch.setenv("PATH", "/nonexistent")
        assert not process_stopped(child.pid)
        monkeypatch.setenv("XBUILDENV_PORTABLE", "")
        assert process_stopped(child.pid)
        child.send_signal(signal.SIGCONT)
        monkeypatch.undo()  # PATH back
        monkeypatch.setenv("XBUILDENV_PORTABLE", "proc")
        deadline = time.monotonic() + 5
        while process_stopped(child.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not process_stopped(child.pid)
    finally:
        child.kill()
        child.wait()


# --- chmod that never follows a link, without /proc/self/fd -------------------------------
@pytest.mark.parametrize("portable", ["chmod", ""])
def test_chmod_never_goes_through_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, portable: str
) -> None:
    monkeypatch.setenv("XBUILDENV_PORTABLE", portable)
    decoy = tmp_path / "id_rsa"
    decoy.write_text("secret")
    decoy.chmod(0o600)
    (tmp_path / "link").symlink_to(decoy)
    mine = tmp_path / "mine"
    mine.write_text("x")
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o500)
    assert chmod_here(tmp_path / "link", 0o777) is False
    assert stat.S_IMODE(decoy.stat().st_mode) == 0o600
    assert chmod_here(mine, 0o444) and stat.S_IMODE(mine.stat().st_mode) == 0o444
    assert chmod_here(folder, 0o755) and stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert chmod_here(tmp_path / "missing", 0o644) is False


# --- copy-on-write clones turned off --------------------------------------------------------
def test_clone_off_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a file system that has clones (XFS, reflink=1) the switch alone turns them off."""
    import shutil

    if os.geteuid() != 0 or shutil.which("mkfs.xfs") is None:
        pytest.skip("needs root and mkfs.xfs (xfsprogs) to make a reflink file system")
    image, mnt = tmp_path / "xfs.img", tmp_path / "xfs"
    with image.open("wb") as fh:
        fh.truncate(320 << 20)
    made = subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], capture_output=True)
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], capture_output=True)
    if made.returncode or mounted.returncode:
        pytest.skip(f"cannot make or mount an XFS image here: {mounted.stderr.decode().strip()}")
    try:
        src = mnt / "src"
        src.write_bytes(b"data" * 4096)
        monkeypatch.setenv("XBUILDENV_PORTABLE", "")
        assert clone_file(str(src), str(mnt / "clone")) is True  # the fast path works here
        assert (mnt / "clone").read_bytes() == src.read_bytes()
        monkeypatch.setenv("XBUILDENV_PORTABLE", "reflink")
        assert clone_file(str(src), str(mnt / "dst")) is False
        assert not (mnt / "dst").exists()
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


# --- names Windows refuses ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["CON", "nul.txt", "com1", "LPT9.tar", "a:b", "x?y", "end."])
def test_windows_names_are_refused_where_names_must_suit_windows(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XBUILDENV_PORTABLE", "")
    if name not in ("CON", "nul.txt", "com1", "LPT9.tar"):  # POSIX takes the rest as they are
        assert check_version_name(name) == name
    monkeypatch.setenv("XBUILDENV_PORTABLE", "names")
    with pytest.raises(UsageError, match="not a valid version name"):
        check_version_name(name)


def test_url_folder_names_suit_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://127.0.0.1:8000/env.tar.gz?rev=a|b"
    monkeypatch.setenv("XBUILDENV_PORTABLE", "")
    assert url_to_version(url) == "http_127_0_0_1_8000_env_tar_gz?rev=a|b"  # pyodide-build's
    monkeypatch.setenv("XBUILDENV_PORTABLE", "names")
    assert url_to_version(url) == "http_127_0_0_1_8000_env_tar_gz_rev=a_b"
    check_version_name(url_to_version(url))


@pytest.mark.parametrize(
    "bad", ["C:evil", "c:\\x", "\\\\server\\share\\x", "\\x", "..\\x", "a\\..\\..\\x"]
)
def test_drive_letters_and_backslash_escapes_are_refused_everywhere(
    tmp_path: Path, bad: str
) -> None:
    with pytest.raises(PathEscapeError):
        contained(tmp_path, bad, "a test input")


@pytest.mark.parametrize("member", ["xbuildenv/pyodide-root/a:b", "xbuildenv/aux.h"])
def test_archive_members_windows_cannot_hold_are_refused_there(
    portable_world: dict[str, object], tmp_path: Path, member: str
) -> None:
    files = {**portable_world["files"]["2.0.0"], member: b"x"}  # type: ignore[index]
    server = portable_world["server"]
    assert isinstance(server, Server)
    url = server.add(f"/odd-{len(member)}.tar.gz", make_tar(files))
    env = {**portable_world["env"], "XBUILDENV_CACHE_DIR": str(tmp_path / "store")}  # type: ignore[dict-item]
    posix = _cli(
        {**env, "XBUILDENV_PORTABLE": ""}, "install", "--url", url, "--path", str(tmp_path / "a")
    )
    assert posix.returncode == 0, posix.stderr  # a name POSIX takes as it is
    env["XBUILDENV_CACHE_DIR"] = str(tmp_path / "store2")
    done = _cli(
        {**env, "XBUILDENV_PORTABLE": "names"},
        "install",
        "--url",
        url,
        "--path",
        str(tmp_path / "b"),
    )
    assert done.returncode == 1, done.stderr
    assert "cannot be written on Windows" in done.stderr, done.stderr
    assert not any(p.name == "aux.h" or ":" in p.name for p in (tmp_path / "b").rglob("*"))
