"""A stored SDK packed into one file (tar.zst) for a remote store or a mirror, and back.

A pack carries no checksum from a publisher: whoever wrote it vouches for it. So the
reader trusts the manifest (checked by its digest, and by an HMAC when the fleet shares
a key: tools/emsdk_sources.py) and then the pack only as far as it matches that
manifest: every member must be named in it, every file's bytes must hash to it, every
symlink must have its target; anything else (hard links, devices, fifos, names the
manifest lacks) refuses the whole pack. Unpacking goes into the store's private build
folder: folders first, then files (never through a link: links are made last), and the
SDK is published only when all of it matched. No mode bit beyond ``0o777`` crosses a
pack either way: a setuid, setgid or sticky bit is dropped when packing and ignored in
the manifest when unpacking (an SDK needs none, and a setuid compiler is an escalation
waiting for a root that runs it).
"""

from __future__ import annotations

import hashlib
import os
import queue
import stat
import tarfile
import threading
from collections.abc import Iterator
from typing import IO, Protocol

from ..checkpoints import checkpoint
from ..errors import ArchiveError
from ..fs.files import remove_tree
from ..fs.paths import set_mode_of_new_file
from .layout import SDK_MANIFEST, SDK_TREE
from .sdk_manifest import SdkManifest
from .sdk_store import SdkKey, SdkStore, StoredSdk

_CHUNK = 1 << 20
PACK_MODES = 0o777  # what a pack may set: read, write and execute bits only
_SMALL = 1 << 20  # files up to this size are made on the writer threads
_WRITERS = 2
_QUEUED = 64  # files waiting for a writer: at most 64 MB held
_BLOCK = 512
_ZERO = bytes(_BLOCK)
_MAX_NAME = 1 << 16
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL
_CREATE |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def pack(sdk: StoredSdk, out: IO[bytes]) -> None:
    """Write ``sdk``'s tree as tar.zst to ``out`` (names relative to the emsdk folder)."""
    import zstandard

    m = sdk.manifest
    compressor = zstandard.ZstdCompressor(level=3, threads=-1)
    with (
        compressor.stream_writer(out, closefd=False) as z,
        tarfile.open(fileobj=z, mode="w|", format=tarfile.GNU_FORMAT) as tar,
    ):
        # GNU headers: one block per member (PAX adds an extended header to each, which
        # costs the reader as much again to parse for 30,000 members).
        for rel in [*sorted(m.dirs), *sorted(m.links), *sorted(m.files)]:
            tar.add(sdk.tree / rel, arcname=rel, recursive=False, filter=_plain)


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """A member as the reader may take it: permission bits only, no owner names."""
    info.mode &= PACK_MODES
    info.uname = info.gname = ""
    return info


def unpack(store: SdkStore, stream: Readable, manifest: SdkManifest) -> StoredSdk:
    """Unpack a pack matching ``manifest`` into ``store`` and publish it there.

    One pass over the stream (``stream`` may be the download itself): each file is
    written straight into the store's build folder, read-only, while its sha256 is
    taken, and its identity recorded for the quick check; nothing is read twice.
    """
    import zstandard

    key = SdkKey.from_meta(manifest.meta)
    if key is None:
        raise ArchiveError("the SDK manifest names no valid key")
    build = store.new_build()
    try:
        tree = build / SDK_TREE
        tree.mkdir()
        for rel in sorted(manifest.dirs, key=lambda r: r.count("/")):
            os.mkdir(tree / rel, 0o755)
        reader = zstandard.ZstdDecompressor().stream_reader(
            stream,  # type: ignore[arg-type]  # any object with read() will do
            read_across_frames=True,
        )
        try:
            with _Writers() as writers:
                seen = _Unpacker(reader, str(tree) + os.sep, manifest, writers).run()
        except (zstandard.ZstdError, EOFError) as exc:
            raise ArchiveError(f"the SDK pack is damaged ({exc})") from None
        if seen != set(manifest.files) | set(manifest.links) | set(manifest.dirs):
            raise ArchiveError("the SDK pack lacks files its manifest names")
        for rel, target in manifest.links.items():
            os.symlink(target, tree / rel)
        checkpoint("sdk.unpacked")
        return store.publish(build, key, manifest.meta, verified=manifest, stamped=True)
    finally:
        if build.exists():
            remove_tree(build)


class _Unpacker:
    """Reads the tar stream :func:`pack` writes (GNU headers, ``L``/``K`` members for
    long names) and nothing else: every member must be named by the manifest, with the
    type the manifest gives it; any other member type, a header whose checksum fails,
    or a stream that ends early refuses the whole pack. (tarfile parses each header in
    Python at several times the cost, which 30,000 members make seconds.)"""

    def __init__(
        self, reader: Readable, out: str, manifest: SdkManifest, writers: _Writers
    ) -> None:
        self.reader = reader
        self.out = out
        self.m = manifest
        self.writers = writers
        self.seen: set[str] = set()

    def _exact(self, size: int) -> bytes:
        data = self.reader.read(size)
        if len(data) == size:
            return data
        parts = [data]
        got = len(data)
        while got < size:
            more = self.reader.read(size - got)
            if not more:
                raise ArchiveError("the SDK pack ends in the middle of a member")
            parts.append(more)
            got += len(more)
        return b"".join(parts)

    def run(self) -> set[str]:
        long_name: str | None = None
        long_link: str | None = None
        while True:
            header = self.reader.read(_BLOCK)
            if len(header) < _BLOCK:
                header += self._exact(_BLOCK - len(header)) if header else b""
            if not header or header == _ZERO:
                return self.seen  # the end-of-archive blocks (or the stream's end)
            kind, name, size, link = _parse(header)
            if kind in (b"L", b"K"):  # the next member's long name, or link target
                if size > _MAX_NAME:
                    raise ArchiveError("the SDK pack holds a name longer than any path")
                text = self._exact(size + _pad(size))[:size].rstrip(b"\0")
                value = text.decode("utf-8", "surrogateescape")
                long_name, long_link = (value, long_link) if kind == b"L" else (long_name, value)
                continue
            name = long_name if long_name is not None else name
            link = long_link if long_link is not None else link
            long_name = long_link = None
            self._member(kind, name, size, link)

    def _member(self, kind: bytes, name: str, size: int, link: str) -> None:
        rel = name.rstrip("/") if kind == b"5" else name
        if rel in self.seen:
            raise ArchiveError(f"the SDK pack holds {rel!r} twice")
        self.seen.add(rel)
        m = self.m
        if kind == b"5":
            if rel not in m.dirs:
                raise ArchiveError(f"the SDK pack holds a folder its manifest lacks: {rel!r}")
            self._skip(size)
            return
        if kind == b"2":
            if m.links.get(rel) != link:
                raise ArchiveError(f"the SDK pack's symlink {rel!r} is not in its manifest")
            self._skip(size)
            return
        want = m.files.get(rel)
        parent = rel.rpartition("/")[0]
        if kind not in (b"0", b"\0") or want is None or (parent and parent not in m.dirs):
            raise ArchiveError(f"the SDK pack holds {rel!r}, which its manifest does not name")
        if size != want[0]:
            raise ArchiveError(f"{rel} in the SDK pack does not match its manifest")
        mode = int(want[2]) & PACK_MODES & ~_WRITE_BITS
        if size <= _SMALL:
            # Checked before it is written; the file itself is made on a writer thread
            data = self._exact(size + _pad(size))[:size]
            if hashlib.sha256(data).hexdigest() != want[1]:
                raise ArchiveError(f"{rel} in the SDK pack does not match its manifest")
            self.writers.put(self.out + rel, data, mode, want)
            return
        digest = hashlib.sha256()
        fd = os.open(self.out + rel, _CREATE, 0o600)
        try:
            left = size
            while left:
                block = self._exact(min(left, _CHUNK))
                digest.update(block)
                _write_all(fd, block)
                left -= len(block)
            set_mode_of_new_file(fd, self.out + rel, mode)
            info = os.fstat(fd)
        finally:
            os.close(fd)
        self._skip_pad(size)
        if digest.hexdigest() != want[1]:
            raise ArchiveError(f"{rel} in the SDK pack does not match its manifest")
        want[3], want[4] = info.st_ino, info.st_mtime_ns

    def _skip(self, size: int) -> None:
        if size:
            self._exact(size + _pad(size))

    def _skip_pad(self, size: int) -> None:
        if _pad(size):
            self._exact(_pad(size))


class _Writers:
    """Two threads that make the small files: creating a file is kernel time (inode
    allocation, up to a millisecond on a busy ext4) that then runs on both cores while
    this thread decompresses and hashes. Each file is written read-only as published
    (cache/sdk_store.py) and its identity, the one the quick check compares, is taken
    from the descriptor: no second lookup."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[str, bytes, int, list[int | str]] | None] = queue.Queue(
            _QUEUED
        )
        self._failed: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._work, name=f"xbuildenv-unpack-{n}", daemon=True)
            for n in range(_WRITERS)
        ]

    def __enter__(self) -> _Writers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
        if self._failed and exc[0] is None:
            raise self._failed[0]

    def put(self, path: str, data: bytes, mode: int, entry: list[int | str]) -> None:
        if self._failed:
            raise self._failed[0]
        self._jobs.put((path, data, mode, entry))

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._failed:
                continue  # drain: the unpack is failing anyway
            path, data, mode, entry = job
            try:
                fd = os.open(path, _CREATE, 0o600)
                try:
                    _write_all(fd, data)
                    set_mode_of_new_file(fd, path, mode)
                    info = os.fstat(fd)
                finally:
                    os.close(fd)
                entry[3], entry[4] = info.st_ino, info.st_mtime_ns
            except BaseException as exc:  # raised again on the unpacking thread
                self._failed.append(exc)


def _write_all(fd: int, block: bytes) -> None:
    view = memoryview(block)
    while view:
        view = view[os.write(fd, view) :]


def _pad(size: int) -> int:
    return -size % _BLOCK


def _number(field: bytes) -> int:
    if field[:1] == b"\x80":  # GNU base-256, for sizes of 8 GB and more
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise ArchiveError("the SDK pack has a damaged header") from None


def _parse(header: bytes) -> tuple[bytes, str, int, str]:
    """(type, name, size, link target) of one tar header, its checksum verified."""
    stored = _number(header[148:156])
    if stored != sum(header[:148]) + sum(header[156:]) + 8 * 32:
        raise ArchiveError("the SDK pack has a damaged header (checksum)")
    if header[257:263] not in (b"ustar ", b"ustar\0"):
        raise ArchiveError("the SDK pack is not a tar stream this version writes")
    name = header[:100].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    link = header[157:257].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    return header[156:157], name, _number(header[124:136]), link


class ChunkStream:
    """A readable stream over an iterator of byte chunks (a download), for the
    decompressor: nothing is spooled to disk first."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    def read(self, size: int = -1) -> bytes:
        if not self._rest:
            self._rest = next(self._chunks, b"")
        if size < 0 or size >= len(self._rest):
            out, self._rest = self._rest, b""
        else:
            out, self._rest = self._rest[:size], self._rest[size:]
        return out

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


def manifest_bytes(sdk: StoredSdk) -> bytes:
    return (sdk.path / SDK_MANIFEST).read_bytes()
