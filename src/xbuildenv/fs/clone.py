"""Copy-on-write clones of single files: a private copy that costs no disk space.

Linux has the ``FICLONE`` ioctl (Btrfs, XFS, bcachefs, ...); macOS has ``clonefile``
(APFS). Neither is on every file system, and Windows (ReFS block cloning) is not used,
so every caller has a fallback; ``XBUILDENV_PORTABLE=reflink`` makes them take it.
"""

from __future__ import annotations

import os
import sys

from .platform import fast_path

__all__ = ["clone_file"]

_FICLONE = 0x40049409  # Linux ioctl: share the extents of another file, copy-on-write
_CLONE_NOFOLLOW = 0x0001  # macOS clonefile: do not follow a symlink at the source


def clone_file(src: str, dst: str) -> bool:
    """Clone ``src`` to a new ``dst``; False (and no ``dst``) where that cannot be done.

    ``dst`` must not exist: it is created exclusively, never written through a link.
    """
    if not fast_path("reflink"):
        return False
    # sys.platform itself (not a constant) so that mypy --platform checks each branch
    if sys.platform.startswith("linux"):
        return _ficlone(src, dst)
    if sys.platform == "darwin":
        return _clonefile(src, dst)
    return False


def _ficlone(src: str, dst: str) -> bool:
    if sys.platform == "win32":  # never called there; tells mypy --platform win32 so
        return False
    import fcntl

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with open(src, "rb") as s:
        fd = os.open(dst, flags, 0o644)
        try:
            fcntl.ioctl(fd, _FICLONE, s.fileno())
            return True
        except OSError:
            os.close(fd)
            fd = -1
            os.unlink(dst)
            return False
        finally:
            if fd >= 0:
                os.close(fd)


def _clonefile(src: str, dst: str) -> bool:
    import ctypes

    try:
        call = ctypes.CDLL(None, use_errno=True).clonefile
    except (OSError, AttributeError):
        return False  # macOS older than 10.12
    call.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint32]
    call.restype = ctypes.c_int
    # clonefile creates dst itself and fails with EEXIST if anything is there (a link
    # included), so nothing is written through a planted link. It copies the mode too.
    # Else ENOTSUP (HFS+, FAT, SMB) or EXDEV (another volume): the caller copies.
    return bool(call(os.fsencode(src), os.fsencode(dst), _CLONE_NOFOLLOW) == 0)
