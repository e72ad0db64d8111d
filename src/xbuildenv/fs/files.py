"""Small filesystem primitives every layer above uses: writes that readers see whole,
removals of folders we own, and the atomic swap of two paths.

They live in one place so that the rules they keep (a temporary name beside the
target, ``os.replace`` for atomicity, no following of symlinks when deleting) are
written once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..checkpoints import checkpoint
from .paths import chmod_here
from .platform import IS_LINUX, IS_MACOS, fast_path

__all__ = [
    "exchange",
    "is_pointer",
    "make_pointer",
    "remove_tree",
    "replace_pointer",
    "write_atomic",
]


def write_atomic(path: Path, data: bytes) -> None:
    """Write a small file so readers see the old or the new content, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    # O_NOFOLLOW and O_EXCL: a link planted at the temporary name is never written through
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(tmp, flags, 0o644), "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def remove_tree(path: Path) -> None:
    """Delete a folder we own, including read-only files inside it."""
    import shutil

    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
        return

    def onerror(func: object, p: str, exc: BaseException) -> None:
        # Make the entry and its folder deletable; never through a symlink (chmod
        # follows links: a link to ~/.ssh/id_rsa must not make that file 755).
        chmod_here(os.path.dirname(p), 0o755)
        chmod_here(p, 0o755)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except OSError:
                pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=onerror)
    else:
        shutil.rmtree(path, onerror=lambda f, p, e: onerror(f, p, e[1]))


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically: Linux ``renameat2(RENAME_EXCHANGE)``, macOS
    ``renamex_np(RENAME_SWAP)``.

    False when the platform or file system cannot (Windows, a file system without the
    call, or ``XBUILDENV_PORTABLE=exchange``), so the caller falls back to two renames
    (safe too: a run killed between them is repaired by the next one, see
    ``tidy_version`` in install/installer.py).
    """
    if not fast_path("exchange"):
        return False
    if IS_LINUX:
        return _swap("renameat2", a, b)
    if IS_MACOS:
        return _swap("renamex_np", a, b)
    return False


# The flag that makes each call swap: RENAME_EXCHANGE (linux/fs.h), RENAME_SWAP (sys/stdio.h).
_SWAP_FLAG = {"renameat2": 2, "renamex_np": 2}


def _swap(call: str, a: Path, b: Path) -> bool:
    import ctypes
    import errno

    try:
        func = getattr(ctypes.CDLL(None, use_errno=True), call)
    except (OSError, AttributeError):
        return False  # glibc older than 2.28, or macOS older than 10.12
    path_t, int_t, flags_t = ctypes.c_char_p, ctypes.c_int, ctypes.c_uint
    if call == "renameat2":
        at_fdcwd = -100
        func.argtypes = [int_t, path_t, int_t, path_t, flags_t]
        args: tuple[object, ...] = (at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b))
    else:
        func.argtypes = [path_t, path_t, flags_t]
        args = (os.fsencode(a), os.fsencode(b))
    func.restype = int_t
    if func(*args, _SWAP_FLAG[call]) == 0:
        return True
    code = ctypes.get_errno()
    # The call or the file system cannot swap (HFS+, network volumes, old kernels).
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EPERM, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def make_pointer(target: Path, at: Path) -> None:
    """A link at ``at`` to the folder ``target`` (absolute, as pyodide-build writes it).

    A symlink where the system lets us make one. Windows lets only administrators and
    Developer Mode make symlinks; there a directory junction is made instead, which
    every reader that resolves the path (``Path.resolve``, ``os.path.realpath``, the
    file system itself) follows the same way: pyodide-build included.
    """
    try:
        os.symlink(target, at, target_is_directory=True)
    except OSError as exc:
        if sys.platform != "win32" or getattr(exc, "winerror", None) != _NO_SYMLINK_RIGHTS:
            raise
        import _winapi

        _winapi.CreateJunction(str(target), str(at))


_NO_SYMLINK_RIGHTS = 1314  # ERROR_PRIVILEGE_NOT_HELD


def is_pointer(path: Path) -> bool:
    """A symlink or (Windows) a directory junction: never a folder of its own."""
    if path.is_symlink():
        return True
    return sys.version_info >= (3, 12) and path.is_junction()


def replace_pointer(new: Path, link: Path) -> None:
    """Move the pointer ``new`` to ``link``, replacing the pointer there.

    One ``rename`` where it can replace a link to a folder (POSIX): readers see the old
    link or the new one. Windows cannot rename over a directory link or junction, and
    ``XBUILDENV_PORTABLE=link`` does as Windows does: the old pointer is removed, then
    the new one renamed in. A run killed between the two leaves no ``link`` and the new
    pointer under its temporary name; :func:`restore_pointer` (the next install) puts it
    in place.
    """
    if fast_path("link") and sys.platform != "win32":
        os.replace(new, link)
        return
    if is_pointer(link):
        # rmdir removes a junction or a directory symlink itself, unlink a file symlink
        if link.is_dir() and sys.platform == "win32":
            os.rmdir(link)
        else:
            os.unlink(link)
    checkpoint("activate.old-removed")
    os.rename(new, link)
