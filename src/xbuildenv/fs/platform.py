"""Which platform fast paths the file-safety layer may take, and one switch that turns
them off.

Each guarantee of this layer has a fast path that only some systems have, and a
portable way that every system has (the one macOS or Windows takes where it lacks the
call). ``XBUILDENV_PORTABLE`` turns fast paths off, so the portable ways run (and are
tested) on Linux too: ``1`` or ``all`` for every one, or a comma-separated list of
:data:`FAST_PATHS`. ``pytest --portable`` sets it for a whole test run.

========== ================================================ =================================
name       fast path                                        portable way
========== ================================================ =================================
exchange   atomic swap of two folders: ``renameat2``        two renames; a crash between
           (Linux), ``renamex_np(RENAME_SWAP)`` (macOS)     them is repaired by the next run
reflink    copy-on-write clone: ``FICLONE`` (Linux),        hard link or copy
           ``clonefile`` (macOS APFS)
proc       is a lock holder stopped: ``/proc/PID/stat``     ``ps -o stat= -p PID``
chmod      chmod never through a link: ``O_PATH`` and       ``lchmod`` / ``fchmodat``
           ``/proc/self/fd`` (Linux)                        without following links
link       the active-version link replaced by one          old link removed, then the new
           rename (POSIX)                                   one renamed in; a crash between
                                                            them is repaired by the next run
names      any folder name the system takes (POSIX)         Windows' rules: reserved names
                                                            (CON, NUL, COM1...) and ``:``,
                                                            ``<>"|?*`` refused or replaced
========== ================================================ =================================

It is read on each use (an environment lookup), so a test can change it in-process.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Literal

    FastPath = Literal["exchange", "reflink", "proc", "chmod", "link", "names"]

__all__ = [
    "ENV_PORTABLE",
    "FAST_PATHS",
    "fast_path",
    "forced_portable",
    "windows_name_problem",
    "windows_names",
    "windows_safe",
]

ENV_PORTABLE = "XBUILDENV_PORTABLE"
FAST_PATHS: tuple[FastPath, ...] = ("exchange", "reflink", "proc", "chmod", "link", "names")

IS_LINUX = sys.platform.startswith("linux")
IS_MACOS = sys.platform == "darwin"
IS_WINDOWS = sys.platform == "win32"


def forced_portable(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The fast paths ``XBUILDENV_PORTABLE`` turns off (names it does not know are
    ignored here; the test switch checks them)."""
    raw = os.environ.get(ENV_PORTABLE, "") if environ is None else environ.get(ENV_PORTABLE, "")
    raw = raw.strip().lower()
    if raw in ("", "0", "no", "none"):
        return frozenset()
    if raw in ("1", "all", "yes"):
        return frozenset(FAST_PATHS)
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def fast_path(name: FastPath) -> bool:
    """Whether the fast path ``name`` may be tried (the system may still lack it)."""
    return name not in forced_portable()


# Names Windows gives to devices, with or without an extension ("nul.txt" is NUL too);
# the superscript digits count as digits there.
_DEVICES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{kind}{digit}" for kind in ("COM", "LPT") for digit in "123456789\u00b9\u00b2\u00b3"
}
WINDOWS_FORBIDDEN = '<>:"|?*'


def windows_names() -> bool:
    """Whether folder names must be ones Windows accepts: on Windows, and wherever
    ``XBUILDENV_PORTABLE=names`` asks for Windows' rules."""
    return IS_WINDOWS or not fast_path("names")


def windows_name_problem(name: str) -> str | None:
    """Why Windows would refuse ``name`` as a file or folder name; None when it takes it.

    ``:`` would name an alternate data stream of another file, a device name opens the
    device, and a trailing dot or space is silently dropped (two names, one folder).
    """
    if name.split(".")[0].rstrip(" ").upper() in _DEVICES:
        return f"'{name.split('.')[0]}' is a device name on Windows"
    bad = sorted({c for c in name if c in WINDOWS_FORBIDDEN})
    if bad:
        return f"it holds {' '.join(bad)}, which Windows does not allow in a name"
    if name.endswith((".", " ")):
        return "it ends with a dot or a space, which Windows drops"
    return None


def windows_safe(name: str) -> str:
    """``name`` with each character Windows refuses in a name (and ``\\``) made ``_``."""
    return "".join("_" if c in WINDOWS_FORBIDDEN or c == "\\" else c for c in name)
