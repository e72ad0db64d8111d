"""Safe extraction of a cross-build environment archive from a byte stream.

Every member is checked before anything is written, with rules at least as strict as
:func:`tarfile.data_filter`:

* names must be relative, free of ``..``, and inside the ``xbuildenv/`` top folder
  (after dropping ``.`` parts: ``./xbuildenv/...`` is ``xbuildenv/...``, and a lone
  ``./`` folder member is the extraction folder itself);
* nothing is ever written through a symlink the archive created;
* symlinks must be relative, go up only at their start, and land inside the tree;
* hard links must point at a regular file extracted earlier from the same archive;
* devices, fifos and other special members are refused;
* modes lose setuid/setgid/sticky and group/other write; owners are never applied;
* the total unpacked size is capped (default 4 GiB) against archive bombs.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import sys
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Self

from ..cache.layout import ARCHIVE_TOP
from ..checkpoints import checkpoint
from ..errors import ArchiveError
from ..fs.platform import windows_name_problem, windows_names
from ..settings.config import DEFAULT_MAX_UNPACKED

TOP_FOLDER = ARCHIVE_TOP  # what every archive holds at its top
_COPY_CHUNK = 1 << 20


@dataclass
class ExtractStats:
    members: int = 0
    files: int = 0
    unpacked_bytes: int = 0
    # What was extracted, for the tree manifest (see cache/manifest.py):
    # regular files {name: (size, sha256)} and symlinks {name: target}.
    hashes: dict[str, tuple[int, str]] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)


# One name in a path, and a whole path, as most file systems allow (NAME_MAX, PATH_MAX
# less room for the root and version folders in front).
_NAME_MAX = 255
_PATH_MAX = 3000


_EOF_HEADER: type[Exception] = getattr(tarfile, "EOFHeaderError")  # noqa: B009 - not in stubs


class _EndTracking(tarfile.TarInfo):
    """Records why tarfile stopped reading headers: only an all-zero block (the
    end-of-archive marker) is a real end; tarfile treats a stream that simply stops
    (a .tar cut at a member boundary) or a garbled header as the end too."""

    @classmethod
    def fromtarfile(cls, tf: tarfile.TarFile) -> Self:
        try:
            info = super().fromtarfile(tf)
        except _EOF_HEADER:
            setattr(tf, "xbuildenv_end", "marker")  # noqa: B010 - no such attribute in stubs
            raise
        except tarfile.HeaderError as exc:
            setattr(tf, "xbuildenv_end", type(exc).__name__)  # noqa: B010
            raise
        setattr(tf, "xbuildenv_end", None)  # noqa: B010
        return info


def _clean_name(raw: str) -> str:
    """The member's name with ``.`` and empty parts dropped; "" for the archive's top.

    ``tar -C dir -czf env.tgz .`` and ``shutil.make_archive`` write ``./`` (or ``.``)
    and ``./xbuildenv/...``: the same tree, named from the folder they were run in.
    Every rule below applies to the normalised name.
    """
    name = raw.replace("\\", "/") if os.name == "nt" else raw
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"archive member {raw!r} has an absolute path; refusing to extract")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(len(p.encode("utf-8", "surrogateescape")) > _NAME_MAX for p in parts) or (
        len(name.encode("utf-8", "surrogateescape")) > _PATH_MAX
    ):
        shown = raw if len(raw) <= 80 else raw[:77] + "..."
        raise ArchiveError(
            f"archive member {shown!r} has a name too long for the file system",
            "this is not a Pyodide cross-build environment archive",
        )
    if ".." in parts:
        raise ArchiveError(f"archive member {raw!r} points outside the archive ('..')")
    if windows_names():
        # On Windows "a:b" would write a hidden stream of the file "a", "aux.h" the device
        for part in parts:
            problem = windows_name_problem(part)
            if problem is not None:
                raise ArchiveError(
                    f"archive member {raw!r} cannot be written on Windows: {problem}",
                    "this is not a Pyodide cross-build environment archive",
                )
    if not parts:
        return ""
    if parts[0] != TOP_FOLDER:
        raise ArchiveError(
            f"archive member {raw!r} is outside the '{TOP_FOLDER}/' top folder",
            "this is not a Pyodide cross-build environment archive",
        )
    return "/".join(parts)


def _check_link_target(member: str, linkname: str) -> None:
    if not linkname or linkname.startswith("/") or (len(linkname) > 1 and linkname[1] == ":"):
        raise ArchiveError(f"symlink {member!r} -> {linkname!r} is absolute; refusing to extract")
    parts = [p for p in linkname.split("/") if p not in ("", ".")]
    seen_name = False
    for part in parts:
        if part == "..":
            if seen_name:  # '..' after a name could climb out through another symlink
                raise ArchiveError(
                    f"symlink {member!r} -> {linkname!r} climbs back up after descending"
                )
        else:
            seen_name = True
    target = posixpath.normpath(posixpath.join(posixpath.dirname(member), linkname))
    if (
        target.startswith("../")
        or target == ".."
        or not (target == TOP_FOLDER or target.startswith(TOP_FOLDER + "/"))
    ):
        raise ArchiveError(f"symlink {member!r} -> {linkname!r} points outside the environment")


class _Extractor:
    def __init__(
        self, dest: Path, max_bytes: int, on_file: Callable[[str, Path], None] | None = None
    ) -> None:
        self.dest = dest
        self.on_file = on_file
        self.max_bytes = max_bytes
        self.stats = ExtractStats()
        self.links: set[str] = set()
        self.files: set[str] = set()
        self.dirs: set[str] = {""}

    def _no_symlink_parents(self, name: str) -> None:
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent in self.links:
                raise ArchiveError(f"archive member {name!r} would be written through a symlink")
            if parent in self.files:  # else mkdir fails, and the root would get the blame
                raise ArchiveError(f"archive member {name!r} is inside {parent!r}, a file")

    def _ensure_parent(self, name: str) -> Path:
        parent = posixpath.dirname(name)
        if parent not in self.dirs:
            (self.dest / parent).mkdir(parents=True, exist_ok=True)
            while parent and parent not in self.dirs:
                self.dirs.add(parent)
                parent = posixpath.dirname(parent)
        return self.dest / name

    def _clear(self, path: Path, name: str) -> None:
        """A later member replaces an earlier one with the same name, as tar does."""
        if name in self.links or name in self.files:
            path.unlink()
            self.links.discard(name)
            self.files.discard(name)

    def add(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = _clean_name(member.name)
        if not name:
            if member.isdir():  # "./": the folder we extract into, which exists
                return
            raise ArchiveError(
                f"archive member {member.name!r} is not a folder but names the archive's top"
            )
        self._no_symlink_parents(name)
        self.stats.members += 1
        if member.isdir():
            path = self._ensure_parent(name)
            if name in self.links or name in self.files:
                raise ArchiveError(f"archive member {name!r} is both a file and a folder")
            path.mkdir(mode=0o755, exist_ok=True)
            self.dirs.add(name)
            return
        if name in self.dirs:
            raise ArchiveError(f"archive member {name!r} is both a file and a folder")
        if member.isreg():
            self._add_file(tf, member, name)
        elif member.issym():
            _check_link_target(name, member.linkname)
            path = self._ensure_parent(name)
            self._clear(path, name)
            os.symlink(member.linkname, path)
            self.links.add(name)
            self.stats.hashes.pop(name, None)
            self.stats.symlinks[name] = member.linkname
        elif member.islnk():
            target = _clean_name(member.linkname)
            if target == name:
                raise ArchiveError(f"hard link {name!r} points at itself")
            if target not in self.files:
                raise ArchiveError(
                    f"hard link {name!r} -> {member.linkname!r} does not point at a file "
                    "extracted earlier from this archive"
                )
            path = self._ensure_parent(name)
            self._clear(path, name)
            os.link(self.dest / target, path)
            self.files.add(name)
            self.stats.symlinks.pop(name, None)
            self.stats.hashes[name] = self.stats.hashes[target]
        else:
            kind = (
                "device"
                if (member.ischr() or member.isblk())
                else ("fifo" if member.isfifo() else "special file")
            )
            raise ArchiveError(f"archive member {name!r} is a {kind}; refusing to extract")

    def _add_file(self, tf: tarfile.TarFile, member: tarfile.TarInfo, name: str) -> None:
        self.stats.unpacked_bytes += member.size
        if self.stats.unpacked_bytes > self.max_bytes:
            raise ArchiveError(
                f"archive unpacks to more than {self.max_bytes} bytes (at {name!r})",
                "raise XBUILDENV_MAX_UNPACKED_BYTES if this archive is trusted",
            )
        path = self._ensure_parent(name)
        self._clear(path, name)
        mode = 0o755 if member.mode & 0o111 else 0o644
        source = tf.extractfile(member)
        assert source is not None  # a regular member always has data
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, mode)
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            remaining = member.size
            while remaining:
                block = source.read(min(remaining, _COPY_CHUNK))
                if not block:
                    raise ArchiveError(f"archive is truncated inside {name!r}")
                out.write(block)
                digest.update(block)
                remaining -= len(block)
        os.utime(path, (member.mtime, member.mtime))
        self.files.add(name)
        self.stats.symlinks.pop(name, None)
        self.stats.hashes[name] = (member.size, digest.hexdigest())
        self.stats.files += 1
        if self.on_file is not None:
            self.on_file(name, path)


def _read_to_end(fileobj: IO[bytes], max_bytes: int) -> None:
    """Decompress what follows the tar's end marker, to the end of the stream.

    tarfile stops at the end-of-archive blocks; without this the compressor's own
    check (gzip's CRC-32 and length, xz/zstd checksums) would never be verified, and
    a corrupted member could be installed whenever the index gives no sha256.
    """
    seen = 0
    while block := fileobj.read(_COPY_CHUNK):
        seen += len(block)
        if seen > max_bytes:
            raise ArchiveError(f"the archive has more than {max_bytes} bytes after its end")


def _codec_errors() -> tuple[type[BaseException], ...]:
    """The error classes of the decompressors that are loaded (xz, zstd): each is
    imported only when an archive of its kind is read, so only those can be raised."""
    found: list[type[BaseException]] = []
    for module, name in (
        ("lzma", "LZMAError"),
        ("compression.zstd", "ZstdError"),
        ("zstandard", "ZstdError"),
    ):
        loaded = sys.modules.get(module)
        error = getattr(loaded, name, None)
        if isinstance(error, type) and issubclass(error, BaseException):
            found.append(error)
    return tuple(found)


def extract_stream(
    fileobj: IO[bytes],
    dest: Path,
    max_bytes: int = DEFAULT_MAX_UNPACKED,
    on_file: Callable[[str, Path], None] | None = None,
) -> ExtractStats:
    """Extract an (already decompressed) tar stream into ``dest`` (which must exist).

    ``on_file(name, path)`` is called after each regular file is written.
    """
    extractor = _Extractor(dest, max_bytes, on_file)
    try:
        with tarfile.open(fileobj=fileobj, mode="r|", tarinfo=_EndTracking) as tf:
            for member in tf:
                extractor.add(tf, member)
                checkpoint("extract.member")
            end = getattr(tf, "xbuildenv_end", None)
        if extractor.stats.members and end != "marker":
            raise ArchiveError(
                f"the archive is truncated: it ends after {extractor.stats.members} member(s) "
                "without the tar end-of-archive blocks",
                "download it again; nothing was installed",
            )
        _read_to_end(fileobj, max_bytes)
    except ArchiveError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, ValueError) as exc:
        # Where it broke helps tell a damaged archive from a damaged stream.
        where = f", after {extractor.stats.members} member(s)" if extractor.stats.members else ""
        raise ArchiveError(f"the archive is corrupt or truncated ({exc}{where})") from None
    except OSError as exc:
        if exc.filename is None and exc.errno is None:
            # bz2/lzma/gzip report bad data as bare OSError/EOFError
            raise ArchiveError(f"the archive is corrupt or truncated ({exc})") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise ArchiveError(
                "an archive member has a name too long for this file system",
                "this is not a Pyodide cross-build environment archive",
            ) from None
        raise
    except Exception as exc:
        if isinstance(exc, _codec_errors()):
            raise ArchiveError(f"the archive is corrupt or truncated ({exc})") from None
        raise
    if extractor.stats.members == 0:
        raise ArchiveError("the archive is empty", "this is not a cross-build environment")
    if not (dest / TOP_FOLDER).is_dir():
        raise ArchiveError(f"the archive has no '{TOP_FOLDER}/' top folder")
    return extractor.stats
