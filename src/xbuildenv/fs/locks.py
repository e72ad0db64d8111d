"""Cross-process locks that are safe in a shared folder.

On POSIX we use ``flock`` on a lock file opened with ``O_NOFOLLOW`` (a symlink planted
in the lock folder is refused, never followed or truncated). The kernel drops the
lock when its process dies, so a killed process never leaves a lock that blocks the
next one. Lock files are removed on release; a waiter that locked a file which was
unlinked meanwhile notices (the inode changed) and tries again, so removal is
race-free. On Windows we fall back to :mod:`filelock`.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from ..errors import LockTimeoutError, RootError
from .platform import IS_LINUX, fast_path

__all__ = ["FileLock", "make_lock_dir", "process_stopped", "sweep_stale_locks"]


def make_lock_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RootError(
            f"cannot create {path}: {exc.strerror or exc}",
            "check that the cache root is writable (or pass --path)",
        ) from None


class FileLock:
    """An exclusive lock on ``path``; use as a context manager."""

    def __init__(
        self,
        path: Path,
        timeout: float | None = None,
        on_wait: Callable[[str], None] | None = None,
        *,
        shared: bool = False,
        pid_record: bool = False,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.on_wait = on_wait
        # Shared holders may be many; the file is removed on release only by a holder
        # that can then take it exclusively (so never under another holder).
        self.shared = shared
        # The holder writes its pid into the file; a waiter that finds the holder
        # stopped (Ctrl-Z, SIGSTOP) gives up at once instead of at the timeout.
        self.pid_record = pid_record
        self._fd: int | None = None
        self._fallback: object | None = None

    def acquire(self) -> None:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import filelock

            wait = -1 if self.timeout is None else self.timeout
            lock = filelock.FileLock(str(self.path), timeout=wait)
            try:
                lock.acquire()
            except filelock.Timeout:
                raise LockTimeoutError(f"timed out waiting for {self.path}") from None
            self._fallback = lock
            return
        import fcntl

        started = time.monotonic()
        next_check = started
        told = False
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except BlockingIOError:
                # A shared waiter is blocked only by an exclusive holder, which records
                # its pid (gc): a stopped one must not block installs for ever either.
                # At once, then twice a second: without /proc the check runs `ps`.
                stopped = False
                if (self.pid_record or self.shared) and time.monotonic() >= next_check:
                    stopped = _holder_stopped(fd)
                    next_check = time.monotonic() + 0.5
                os.close(fd)
                if stopped:
                    raise LockTimeoutError(
                        f"the process holding {self.path} is stopped",
                        "resume it (fg) or end it",
                    ) from None
                if self.timeout is not None and time.monotonic() - started > self.timeout:
                    raise LockTimeoutError(
                        f"another process holds {self.path}",
                        "wait for it to finish, or check for a stuck xbuildenv process",
                    ) from None
                if not told and self.on_wait is not None:
                    self.on_wait(f"waiting for another xbuildenv process ({self.path.name})")
                    told = True
                time.sleep(0.05)
                continue
            if self._same_file(fd):
                self._fd = fd
                if self.pid_record and not self.shared:
                    try:
                        os.ftruncate(fd, 0)
                        os.pwrite(fd, str(os.getpid()).encode(), 0)
                    except OSError:
                        pass  # a full disk: waiters just wait for the timeout
                return
            os.close(fd)  # it was unlinked under us: start over with the new file

    def _open(self) -> int:
        # O_NONBLOCK: a fifo planted at the lock path must not hang the open.
        flags = (
            os.O_RDWR
            | os.O_CREAT
            | getattr(os, "O_NOFOLLOW", 0)
            | getattr(os, "O_CLOEXEC", 0)
            | getattr(os, "O_NONBLOCK", 0)
        )
        try:
            try:
                fd = os.open(self.path, flags, 0o644)
            except FileNotFoundError:
                if not self.shared:
                    raise
                # An install waiting for a root that gc removed meanwhile: the root
                # is made again, as the install would have made it.
                make_lock_dir(self.path.parent)
                fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise RootError(
                    f"lock file {self.path} is a symlink; refusing to follow it",
                    "remove it (someone else placed it there)",
                ) from None
            raise RootError(
                f"cannot open lock file {self.path}: {exc.strerror or exc}",
                "make the cache root writable, or pass --path or set PYODIDE_XBUILDENV_PATH "
                "to a writable folder",
            ) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise RootError(
                f"lock file {self.path} is not a regular file; refusing to use it",
                "remove it (someone else placed it there)",
            )
        return fd

    def _same_file(self, fd: int) -> bool:
        try:
            on_disk = os.lstat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)

    def release(self) -> None:
        if self._fallback is not None:  # pragma: no cover - Windows only
            self._fallback.release()  # type: ignore[attr-defined]
            self._fallback = None
            return
        if self._fd is None or sys.platform == "win32":
            return
        try:
            if self.shared:
                import fcntl

                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # others: keep it
            if self._same_file(self._fd):
                os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _holder_stopped(fd: int) -> bool:
    """Whether the pid written in a lock file names a stopped process."""
    if sys.platform == "win32":  # filelock's files hold no pid; Windows has no SIGSTOP
        return False
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, ValueError):
        return False
    if not text.isdigit() or int(text) <= 0:
        return False
    return process_stopped(int(text))


def process_stopped(pid: int) -> bool:
    """Whether ``pid`` is stopped (Ctrl-Z, SIGSTOP, a debugger); False when unknown.

    Linux reads ``/proc/PID/stat``; elsewhere (macOS, BSD, or
    ``XBUILDENV_PORTABLE=proc``) ``ps -o stat= -p PID`` answers, whose state column
    starts with ``T`` (stopped) on procps, BSD and macOS alike.
    """
    if IS_LINUX and fast_path("proc"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat_line = fh.read(512)
        except OSError:
            return False
        # "pid (comm) S ...": the state follows the last ')' (comm may hold spaces).
        state = stat_line[stat_line.rfind(b")") + 2 : stat_line.rfind(b")") + 3]
        return state in (b"T", b"t")
    import subprocess

    try:
        done = subprocess.run(
            ["ps", "-o", "stat=", "-p", str(pid)],
            capture_output=True,
            timeout=5,
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return False  # no ps: the waiter waits for its timeout instead
    return done.returncode == 0 and done.stdout.strip()[:1] in (b"T", b"t")


def sweep_stale_locks(folder: Path, prefix: str = "") -> list[Path]:
    """Remove lock files no live process holds (left by killed processes).

    A file is removed only while we hold its flock, and a waiter that opened it
    before the removal sees the inode change and starts over (see
    :meth:`FileLock.acquire`), so this never breaks a lock in use. Symlinks and other
    non-files are left alone: they are not ours.
    """
    if sys.platform == "win32":  # pragma: no cover - filelock manages its own files
        return []
    import fcntl

    removed: list[Path] = []
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return removed  # a planted symlink: never clean someone else's folder
        names = [n for n in os.listdir(folder) if n.endswith(".lock") and n.startswith(prefix)]
    except OSError:
        return removed
    flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for name in names:
        path = folder / name
        try:
            fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue  # gone, a symlink (ELOOP) or not ours to open
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # held by a live process
            on_disk = os.lstat(path)
            mine = os.fstat(fd)
            if (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino):
                os.unlink(path)
                removed.append(path)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed
