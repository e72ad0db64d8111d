"""Locks: never follow a symlink someone planted; free again when their process dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.cli import one_error, snapshot
from helpers.faults import FAULT_STATS, leftovers, root_problems

if TYPE_CHECKING:
    from helpers.faults import Case, World


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.utime(victim, (1_000_000, 1_000_000))
    return victim


def _untouched(victim: Path) -> None:
    FAULT_STATS["bad_inputs"] += 1
    ok = victim.read_text() == "precious" and victim.stat().st_mtime == 1_000_000
    FAULT_STATS["cache_changes"] += int(not ok)
    assert ok


def test_symlink_at_the_version_lock(case: Case, world: World, tmp_path: Path) -> None:
    case.serve_index({"2.0.0": world.good["2.0.0"]})
    victim = _victim(tmp_path)
    os.symlink(victim, case.root / ".xbuildenv-2.0.0.lock")
    before = snapshot(case.root)
    line = one_error(case.install("2.0.0"))
    assert ".xbuildenv-2.0.0.lock" in line and "symlink" in line
    _untouched(victim)
    assert snapshot(case.root) == before


def test_dangling_symlink_at_the_link_lock(case: Case, world: World, tmp_path: Path) -> None:
    case.serve_index({"2.0.0": world.good["2.0.0"]})
    target = tmp_path / "would-be-created"
    os.symlink(target, case.root / ".xbuildenv.lock")
    line = one_error(case.cli("use", "1.0.0"))
    assert ".xbuildenv.lock" in line and "symlink" in line
    assert not target.exists() and not target.is_symlink()
    FAULT_STATS["bad_inputs"] += 1


def test_symlink_in_place_of_the_store_locks(case: Case, world: World, tmp_path: Path) -> None:
    """The machine-wide store is optional: a planted symlink is refused, not followed."""
    case.serve_index({"2.0.0": world.good["2.0.0"]})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    locks = case.store / ".locks"
    if locks.exists():
        os.rmdir(locks)
    os.symlink(elsewhere, locks)
    unheld = elsewhere / "theirs.lock"  # a lock file of theirs that nobody holds
    unheld.write_text("")
    r = case.install("2.0.0")
    assert r.code == 0, r.err
    assert os.listdir(elsewhere) == ["theirs.lock"]  # nothing created, nothing swept


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("T")
    except OSError:
        return False


def _start(case: Case, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "xbuildenv", "install", *args, "--path", str(case.root)],
        env={**case.env, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_lock_of_a_dead_process_is_released(case: Case, world: World) -> None:
    case.serve_index({"1.0.0": world.good["1.0.0"], "2.0.0": world.good["2.0.0"]})
    # The first install stops itself (SIGSTOP) right after taking the 2.0.0 lock.
    stop_at_lock = "name=install.locked,at=1,signal=STOP"
    holder = _start(case, "2.0.0", XBUILDENV_TEST_CHECKPOINTS=stop_at_lock)
    try:
        while not _stopped(holder.pid):
            assert holder.poll() is None, holder.communicate()
        lock = case.root / ".xbuildenv-2.0.0.lock"
        assert lock.is_file()
        # Tidying (any install runs it) must not break a lock a live process holds.
        assert case.install("1.0.0").code == 0
        assert lock.is_file()
        waiter = _start(case, "2.0.0")
        assert waiter.stderr is not None
        assert "waiting for another xbuildenv process" in waiter.stderr.readline()
        assert waiter.poll() is None
        holder.send_signal(signal.SIGKILL)  # the holder dies holding the lock...
        holder.wait(timeout=30)
        assert waiter.wait(timeout=120) == 0  # ...and the kernel released it
    finally:
        if holder.poll() is None:
            holder.kill()
    assert root_problems(case.root, world.files) == []
    assert (case.root / "2.0.0" / ".installed").is_file()
    assert leftovers(case.root) == []


def test_stale_lock_file_is_swept(case: Case, world: World) -> None:
    case.serve_index({"1.0.0": world.good["1.0.0"], "2.0.0": world.good["2.0.0"]})
    killed = _start(case, "2.0.0", XBUILDENV_TEST_CHECKPOINTS="name=install.staging,at=1")
    assert killed.wait(timeout=60) == -signal.SIGKILL
    assert (case.root / ".xbuildenv-2.0.0.lock").is_file()
    assert any(n.startswith(".staging-") for n in os.listdir(case.root))
    # The next command, even for another version, removes the dead run's leftovers.
    assert case.install("1.0.0").code == 0
    assert leftovers(case.root, case.store) == []
    assert root_problems(case.root, world.files) == []
