"""Download, hash and unpack in one pass over the byte stream.

The calling thread reads the network and feeds a sha256 and a bounded pipe; a worker
thread extracts from the other end of the pipe, with decompression in threads of its
own between them (:class:`~xbuildenv.install.streams.ReadAhead`; for bzip2, the most common
format, :class:`~xbuildenv.install.parallel_bz2.ParallelBz2` on every spare core). The stages
overlap, so an install takes about as long as the slowest of download, decompression
and writing rather than their sum, and memory stays flat in the archive's size. The
hash is checked when the last byte has arrived; the caller publishes only after that.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..checkpoints import checkpoint
from ..errors import ChecksumError, StreamAbortedError
from ..net.fetch import Download, FetchSettings
from ..settings.config import DEFAULT_MAX_UNPACKED
from .archive import ExtractStats, extract_stream
from .reporter import NullReporter, Reporter
from .request import InstallRequest
from .streams import ChunkPipe, Producer, ReadAhead, open_decompressor, sniff


@dataclass
class StreamResult:
    sha256: str
    size: int
    stats: ExtractStats
    validator: str | None = None  # ETag or Last-Modified of the response


class TreeWatcher(Protocol):
    """Hears of an archive's files as they are written (e.g. the package index, which
    starts on the lock file before the rest has arrived)."""

    def saw(self, name: str, path: Path) -> None:
        """``name`` (``xbuildenv/...``) was written to ``path``."""

    def restart(self) -> None:
        """A route failed; the staging folder is about to be emptied for the next."""


def download_and_extract(
    url: str,
    dest: Path,
    *,
    expected_sha256: str | None = None,
    request: InstallRequest | None = None,
    sink: Callable[[bytes], object] | None = None,
    watcher: TreeWatcher | None = None,
    reporter: Reporter | None = None,
) -> StreamResult:
    """Stream ``url`` into ``dest``; raise (leaving ``dest`` to the caller) on failure.

    ``request`` gives the size cap and the fetch settings (None: the defaults);
    ``sink`` gets every raw chunk (e.g. the archive store's file), ``watcher`` every
    extracted file (see :func:`~xbuildenv.install.archive.extract_stream`).

    The interpreter's thread switch interval is left alone: it is the whole process's,
    and two installs in threads would race on it. A program that owns its process
    (the CLI) may shorten it; see :data:`xbuildenv.install.FAST_SWITCH_INTERVAL`.
    """
    stream = _Stream(
        url,
        dest,
        request.max_unpacked if request is not None else DEFAULT_MAX_UNPACKED,
        Download(url, (request and request.settings) or FetchSettings.from_env()),
        sink,
        watcher,
        reporter or NullReporter(),
    )
    return stream.run(expected_sha256)


@dataclass
class _Stream:
    """One pass over the bytes: this thread reads and hashes, a worker extracts."""

    url: str
    dest: Path
    max_unpacked: int
    download: Download
    sink: Callable[[bytes], object] | None
    watcher: TreeWatcher | None
    reporter: Reporter
    pipe: ChunkPipe = field(default_factory=ChunkPipe)
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    stats: ExtractStats | None = None
    error: BaseException | None = None  # the worker's, handed to this thread
    # Waited on instead of Thread.join(): the full kill sweep showed that after a join
    # interrupted by Ctrl-C/SIGTERM, a second join could return while the thread still
    # wrote files, and the caller then failed to delete the staging folder under it.
    finished: threading.Event = field(default_factory=threading.Event)

    def run(self, expected_sha256: str | None) -> StreamResult:
        worker = threading.Thread(target=self._extract, name="xbuildenv-extract", daemon=True)
        worker.start()
        try:
            self._feed()
            self.finished.wait()
        except BaseException:
            # Also reached by Ctrl-C/SIGTERM while waiting for the worker: stop it before
            # the caller deletes the staging folder, or it would keep writing into it.
            self.pipe.cancel()
            self.finished.wait(timeout=30)
            raise
        if self.error is not None:
            raise self.error
        self.reporter.phase("verify")
        checkpoint("verify")
        digest = self.hasher.hexdigest()
        if expected_sha256 is not None and digest != expected_sha256.lower():
            raise ChecksumError(
                f"checksum mismatch for {self.url}: expected sha256 {expected_sha256}, "
                f"got {digest}",
                "the download is corrupt or was tampered with; nothing was installed",
            )
        checkpoint("verified")
        assert self.stats is not None  # the worker finished without an error
        return StreamResult(digest, self.download.received, self.stats, self.download.validator)

    def _feed(self) -> None:
        download = self.download
        try:
            for chunk in download.chunks():
                self.hasher.update(chunk)
                if self.sink is not None:
                    self.sink(chunk)  # e.g. the archive store's temporary file
                self.pipe.put(chunk)
                self.reporter.progress(download.received, download.size)
            self.pipe.finish()
            checkpoint("download.done")
        except StreamAbortedError:
            pass  # the worker failed; its error is reported by run()

    def _extract(self) -> None:
        ahead: Producer | None = None
        on_file = self.watcher.saw if self.watcher is not None else None
        try:
            kind = sniff(self.pipe)  # before buffering: it waits for all the bytes it needs
            buffered = io.BufferedReader(self.pipe, 1 << 16)
            if kind == "bz2":  # imported for bzip2 only: concurrent.futures, logging
                from .parallel_bz2 import ParallelBz2, worker_count

                workers = worker_count()
                if workers:
                    ahead = ParallelBz2(buffered, workers)
            if ahead is None and kind != "tar":  # compressed: decompress ahead, in a thread
                ahead = ReadAhead(open_decompressor(buffered, kind))
            reader = ahead.reader() if ahead is not None else buffered
            self.stats = extract_stream(reader, self.dest, self.max_unpacked, on_file)
            if ahead is not None:
                ahead.close()  # before draining: one reader of the pipe at a time
                ahead = None
            self.pipe.drain()  # tar padding and trailing blocks still count towards the hash
        except BaseException as exc:  # handed to the main thread
            self.error = exc
            self.pipe.cancel()  # also wakes the decompressing thread if it waits for data
            if ahead is not None:
                ahead.close()
        finally:
            self.finished.set()
