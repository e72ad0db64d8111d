"""What a :class:`~xbuildenv.install.reporter.Reporter` hears from real installs (the
Python API, in-process, against the loopback server): each route's phases in order,
every byte of a download, waits for another holder's lock, and warnings."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.servers import Server, serve_env, serve_index

from xbuildenv import NullReporter, XBuildEnvManager
from xbuildenv.cache.layout import ROOT_PREFIX, STORE_TREES
from xbuildenv.cache.locks import lock_dir, version_lock
from xbuildenv.cache.store import ArchiveStore
from xbuildenv.cli.progress import InstallReporter
from xbuildenv.fs.locks import FileLock
from xbuildenv.install.reporter import Phase
from xbuildenv.settings.dirs import cache_home

pytestmark = pytest.mark.usefixtures("private_process_env")

AFTER_TREE: list[Phase] = ["index", "publish", "activate"]


@dataclass
class Recorder(NullReporter):
    phases: list[Phase] = field(default_factory=list)
    progress_calls: list[tuple[int, int | None]] = field(default_factory=list)
    waits: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def phase(self, name: Phase) -> None:
        self.phases.append(name)

    def progress(self, done: int, total: int | None) -> None:
        self.progress_calls.append((done, total))

    def waiting(self, message: str) -> None:
        self.waits.append(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def test_each_route_reports_its_phases_and_a_download_every_byte(
    server: Server, tmp_path: Path
) -> None:
    meta = serve_index(server, serve_env(server, "1.0"))
    # Trees are shared between roots in pyodide-build's cache folder.
    a, b = (cache_home() / f"{ROOT_PREFIX}{name}" for name in "ab")
    first = XBuildEnvManager(a, meta)
    heard = Recorder()
    result = first.install("1.0", reporter=heard)
    assert result.route == "network"
    assert heard.phases == ["resolve", "download", "verify", *AFTER_TREE]
    done = [d for d, _ in heard.progress_calls]
    assert done == sorted(done) and done[-1] == result.archive_bytes
    assert {total for _, total in heard.progress_calls} == {result.archive_bytes}
    assert heard.waits == [] and heard.warnings == []

    # another root on this machine shares the tree: nothing read, no bytes reported
    heard = Recorder()
    assert XBuildEnvManager(b, meta).install("1.0", reporter=heard).route == "linked"
    assert heard.phases == ["resolve", "link", *AFTER_TREE] and heard.progress_calls == []

    # no root has it any more and its unpacked tree is gone from the store too:
    # unpacked from the stored archive, hash checked again
    for root in (a, b):
        XBuildEnvManager(root, meta).uninstall_version("1.0")
    shutil.rmtree(ArchiveStore().path / STORE_TREES)
    heard = Recorder()
    assert first.install("1.0", reporter=heard).route == "store"
    assert heard.phases == ["resolve", "unpack", "verify", *AFTER_TREE]

    # installed already: no resolve, no tree, only the link
    heard = Recorder()
    assert first.install("1.0", reporter=heard).action == "already installed"
    assert heard.phases == ["activate"]


def test_a_held_version_lock_is_reported_once_as_a_wait(server: Server, tmp_path: Path) -> None:
    meta = serve_index(server, serve_env(server, "1.0"))
    manager = XBuildEnvManager(tmp_path / "root", meta)
    manager.layout.ensure_root()
    heard = Recorder()
    holding = threading.Event()

    def hold() -> None:
        with version_lock(manager.env_dir, "1.0"):
            holding.set()
            time.sleep(1.0)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    try:
        assert manager.install("1.0", reporter=heard).action == "installed"
    finally:
        holder.join()
    assert len(heard.waits) == 1 and "waiting for another xbuildenv process" in heard.waits[0]


def test_a_busy_store_lock_is_reported_and_the_install_goes_on_without_the_store(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = serve_env(server, "1.0")
    meta = serve_index(server, entry)
    monkeypatch.setenv("XBUILDENV_STORE_LOCK_TIMEOUT", "0.3")
    store = ArchiveStore()
    heard = Recorder()
    with FileLock(lock_dir(store.path) / f"{entry['sha256']}.lock", pid_record=True):
        result = XBuildEnvManager(tmp_path / "root", meta).install("1.0", reporter=heard)
    assert (result.action, result.route) == ("installed", "network")
    assert heard.waits[-1] == "the archive store is busy for too long; installing without it"
    assert store.find(entry["sha256"]) is None  # no tee into the store it could not lock


def test_a_refused_mirror_copy_is_a_warning_to_the_reporter_or_else_the_managers_hook(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = serve_env(server, "1.0")
    meta = serve_index(server, entry)
    server.add("/mirror/1.0/xbuildenv-1.0.tar.gz", b"not the archive")
    monkeypatch.setenv("XBUILDENV_MIRROR", server.url("/mirror/"))
    monkeypatch.setenv("XBUILDENV_MIRROR_ORIGIN", server.url("/dl/"))

    heard = Recorder()
    said: list[str] = []
    XBuildEnvManager(tmp_path / "a", meta, warn=said.append).install("1.0", reporter=heard)
    assert len(heard.warnings) == 1 and said == []
    assert heard.warnings[0].startswith(f"mirror copy {server.url('/mirror/')}")
    assert heard.warnings[0].endswith(f"fetching from {entry['url']}")
    assert heard.phases[:4] == ["resolve", "download", "download", "verify"]

    # no reporter: the warning goes where a library user's warnings always went
    monkeypatch.setenv("XBUILDENV_CACHE_DIR", str(tmp_path / "another-store"))
    XBuildEnvManager(tmp_path / "b", meta, warn=said.append).install("1.0", force_install=True)
    assert len(said) == 1 and said[0] == heard.warnings[0]


def test_the_cli_bar_is_labelled_with_the_route(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's reporter on a real terminal (a pty): the bar says what is being read."""
    monkeypatch.delenv("CI", raising=False)
    meta = serve_index(server, serve_env(server, "1.0"))
    first = XBuildEnvManager(tmp_path / "a", meta)
    first.install("1.0")
    first.uninstall_version("1.0")  # the archive stays in the store
    shutil.rmtree(ArchiveStore().path / STORE_TREES)  # its tree does not: it is unpacked

    master, slave = os.openpty()
    drawn = bytearray()
    reader = threading.Thread(target=_drain, args=(master, drawn))
    reader.start()
    with open(slave, "w", encoding="utf-8") as terminal:
        reporter = InstallReporter(quiet=False, stream=terminal)
        try:
            result = XBuildEnvManager(tmp_path / "b", meta).install("1.0", reporter=reporter)
        finally:
            reporter.close()
    reader.join(timeout=10)
    os.close(master)
    assert result.route == "store"
    text = drawn.decode()
    assert re.search(r"unpacking \[#+\] ", text) and "downloading" not in text, text


def _drain(fd: int, into: bytearray) -> None:
    """Read a pty's output until its other end is closed (so the writer never blocks)."""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the terminal side is closed
            return
        if not chunk:
            return
        into += chunk
