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

from .paths import chmod_here

__all__ = ["exchange", "remove_tree", "write_atomic"]


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
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``).

    False when the platform or filesystem cannot, so the caller falls back to two
    renames (safe too: a killed run is repaired by the next one, see install/installer.py).
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False  # libc older than glibc 2.28
    path_t, int_t = ctypes.c_char_p, ctypes.c_int
    renameat2.argtypes = [int_t, path_t, int_t, path_t, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))
