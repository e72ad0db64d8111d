"""The guards every path and small file read from untrusted content goes through.

Archives, indexes, ``Makefile.envs``, lock files and cache records are all input we
do not control, and the cache sits next to a user's own files. Three guards, used
everywhere such input meets the file system:

* :func:`contained` joins a computed relative path onto its base and refuses the
  result if it leaves the base, lexically (``..``, an absolute part) or through a
  symlink already on disk;
* :func:`read_bounded` reads a marker or record file: never through a symlink, only a
  regular file (no FIFO that hangs, no ``/dev/zero``), and only up to a size cap;
* :func:`chmod_here` changes the mode of the file at a path, never of what a symlink
  there points at;
* :func:`real_dir` says whether a path is a folder and not a symlink to one (store
  subfolders that are symlinks are never cleaned).
"""

from __future__ import annotations

import errno
import ntpath
import os
import stat
import sys
from pathlib import Path

from ..errors import PathEscapeError
from .platform import fast_path

# Markers and records are a few hundred bytes; an owner record a megabyte long is
# not one of ours.
MAX_RECORD = 1 << 20
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def contained(
    base: Path, relative: str | os.PathLike[str], what: str, *, links: bool = True
) -> Path:
    """``base / relative``, refused (:class:`PathEscapeError`) if it leaves ``base``.

    ``what`` names the input the path came from, for the message (e.g. "PYMINOR in
    Makefile.envs"). The check is lexical first (absolute paths, ``..``, NUL), then
    through the file system: the deepest existing ancestor must resolve inside
    ``base``'s real path, so a symlink on the way cannot lead elsewhere (``links=False``
    skips that for a folder we just made ourselves, where no link can be).
    """
    text = os.fspath(relative)
    if "\0" in text:
        raise PathEscapeError(f"{what} holds a NUL character; refusing to use it as a path")
    # Windows' rules on every system, so an input is refused the same way everywhere:
    # "C:x" (relative to drive C's current folder), "\\server\share", "\\x", "..\\x".
    if os.path.isabs(text) or ntpath.isabs(text) or ntpath.splitdrive(text)[0]:
        raise PathEscapeError(f"{what} is an absolute path ({text!r}); it must stay inside {base}")
    normal = os.path.normpath(text)
    windows = ntpath.normpath(text)
    if ".." in (normal, windows) or normal.startswith(".." + os.sep) or windows.startswith("..\\"):
        raise PathEscapeError(f"{what} ({text!r}) leads outside {base}; refusing to use it")
    path = base / normal if normal != "." else base
    if not links:
        return path
    try:
        real_base = os.path.realpath(base)
        probe = path
        while not os.path.lexists(probe) and probe != base:
            probe = probe.parent
        real = os.path.realpath(probe)
    except (OSError, ValueError):
        return path
    if real != real_base and not real.startswith(real_base.rstrip(os.sep) + os.sep):
        raise PathEscapeError(
            f"{what} ({text!r}) leads outside {base} through a symlink; refusing to use it"
        )
    return path


def read_bounded(path: Path | str, limit: int = MAX_RECORD) -> bytes:
    """The bytes of a small regular file; :class:`OSError` for anything else.

    A symlink (``ELOOP``), a FIFO or device (``EINVAL``, opened without blocking) and
    a file over ``limit`` bytes (``EFBIG``) are all refused, so the callers' existing
    "unreadable record" handling covers them.
    """
    fd = os.open(path, _FLAGS | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes", os.fspath(path))
        chunks = []
        total = 0
        while chunk := os.read(fd, min(65536, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise OSError(errno.EFBIG, f"larger than {limit} bytes", os.fspath(path))
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text_bounded(path: Path | str, limit: int = MAX_RECORD) -> str:
    """:func:`read_bounded` decoded as UTF-8 (``ValueError`` when it is not)."""
    return read_bounded(path, limit).decode("utf-8")


def chmod_here(path: Path | str, mode: int) -> bool:
    """Set the mode of the file or folder at ``path`` itself; False for a symlink.

    Linux has no ``lchmod``: the path is opened with ``O_PATH | O_NOFOLLOW`` and the
    mode set through ``/proc/self/fd``, so the file checked is the file changed (no
    window for a swap in between). Elsewhere (macOS, Windows, or
    ``XBUILDENV_PORTABLE=chmod``) :func:`_chmod_nofollow`.
    """
    o_path = getattr(os, "O_PATH", 0)
    if o_path and fast_path("chmod") and os.path.isdir("/proc/self/fd"):
        try:
            fd = os.open(path, o_path | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return False
        try:
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                return False
            os.chmod(f"/proc/self/fd/{fd}", mode)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)
    return _chmod_nofollow(path, mode)


def _chmod_nofollow(path: Path | str, mode: int) -> bool:
    """``lstat`` refuses a link; then ``lchmod`` (macOS, BSD) or
    ``fchmodat(AT_SYMLINK_NOFOLLOW)`` (glibc), which never follow one either, so a link
    swapped in after the ``lstat`` is changed itself (macOS) or refused (Linux), never
    its target. Windows before Python 3.13 has neither: there only the read-only
    attribute changes, and a plain ``chmod`` sets it."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return False
    except OSError:
        return False
    try:
        os.chmod(path, mode, follow_symlinks=False)
        return True
    except NotImplementedError:
        pass
    except OSError:
        return False  # EOPNOTSUPP: a link was swapped in (glibc refuses to chmod links)
    try:
        os.chmod(path, mode)
        return True
    except OSError:
        return False


def real_dir(path: Path | str) -> bool:
    """True when ``path`` is a folder itself, not a symlink to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def make_real_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make sure it is a real folder, not a symlink."""
    path.mkdir(parents=True, exist_ok=True)
    if not real_dir(path):
        raise OSError(errno.ENOTDIR, "is a symlink or not a folder; refusing to use it", str(path))
    return path


def set_mode_of_new_file(fd: int, path: str, mode: int) -> None:
    """Set the mode of a file this process has just created and holds open as ``fd``.

    Through the descriptor where the platform has ``fchmod`` (not Windows before Python
    3.13): nothing can be swapped in under the name between creating and chmod. On
    Windows by name, where a mode is only the read-only flag.
    """
    if sys.platform != "win32":
        os.fchmod(fd, mode)
    else:  # pragma: no cover - exercised on Windows only
        os.chmod(path, mode)
