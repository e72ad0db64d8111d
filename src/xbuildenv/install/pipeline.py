"""Download, hash and unpack in one pass over the byte stream.

The calling thread reads the network and feeds a sha256 and a bounded pipe; a worker
thread extracts from the other end of the pipe, with decompression in threads of its
own between them (:class:`~xbuildenv.streams.ReadAhead`; for bzip2, the most common
format, :class:`~xbuildenv.parallel_bz2.ParallelBz2` on every spare core). The stages
overlap, so an install takes about as long as the slowest of download, decompression
and writing rather than their sum, and memory stays flat in the archive's size. The
hash is checked when the last byte has arrived; the caller publishes only after that.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..checkpoints import checkpoint
from ..errors import ChecksumError, StreamAbortedError
from ..net.fetch import Download, FetchSettings
from ..settings.config import DEFAULT_MAX_UNPACKED
from .archive import ExtractStats, extract_stream
from .parallel_bz2 import ParallelBz2, worker_count
from .streams import ChunkPipe, Producer, ReadAhead, open_decompressor, sniff

# The decompressor releases the GIL for every block it works on and must win it back
# each time; at the default 5 ms interval the busy tar thread makes it wait, and
# decompression (the slowest stage) falls behind the network. The CLI sets this.
FAST_SWITCH_INTERVAL = 0.0005


@dataclass
class StreamResult:
    sha256: str
    size: int
    stats: ExtractStats
    validator: str | None = None  # ETag or Last-Modified of the response


def download_and_extract(
    url: str,
    dest: Path,
    *,
    expected_sha256: str | None = None,
    max_unpacked: int = DEFAULT_MAX_UNPACKED,
    settings: FetchSettings | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
    sink: Callable[[bytes], object] | None = None,
    on_file: Callable[[str, Path], None] | None = None,
) -> StreamResult:
    """Stream ``url`` into ``dest``; raise (leaving ``dest`` to the caller) on failure.

    ``sink`` gets every raw chunk (e.g. the archive store's file), ``on_file`` every
    extracted file (see :func:`~xbuildenv.archive.extract_stream`).

    The interpreter's thread switch interval is left alone: it is the whole process's,
    and two installs in threads would race on it. A program that owns its process
    (the CLI) may shorten it; see :data:`FAST_SWITCH_INTERVAL`.
    """
    return _download_and_extract(
        url, dest, expected_sha256, max_unpacked, settings, on_progress, sink, on_file
    )


def _download_and_extract(
    url: str,
    dest: Path,
    expected_sha256: str | None,
    max_unpacked: int,
    settings: FetchSettings | None,
    on_progress: Callable[[int, int | None], None] | None,
    sink: Callable[[bytes], object] | None,
    on_file: Callable[[str, Path], None] | None,
) -> StreamResult:
    download = Download(url, settings or FetchSettings.from_env())
    pipe = ChunkPipe()
    hasher = hashlib.sha256()
    outcome: dict[str, object] = {}
    # Waited on instead of Thread.join(): the full kill sweep showed that after a join
    # interrupted by Ctrl-C/SIGTERM, a second join could return while the thread still
    # wrote files, and the caller then failed to delete the staging folder under it.
    finished = threading.Event()

    def extract() -> None:
        ahead: Producer | None = None
        try:
            kind = sniff(pipe)  # before buffering: it waits for all the bytes it needs
            buffered = io.BufferedReader(pipe, 1 << 16)
            workers = worker_count() if kind == "bz2" else 0
            if workers:
                ahead = ParallelBz2(buffered, workers)
            elif kind != "tar":  # compressed: decompress ahead, in a thread of its own
                ahead = ReadAhead(open_decompressor(buffered, kind))
            reader = ahead.reader() if ahead is not None else buffered
            outcome["stats"] = extract_stream(reader, dest, max_unpacked, on_file)
            if ahead is not None:
                ahead.close()  # before draining: one reader of the pipe at a time
                ahead = None
            pipe.drain()  # tar padding and trailing blocks still count towards the hash
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc
            pipe.cancel()  # also wakes the decompressing thread if it waits for data
            if ahead is not None:
                ahead.close()
        finally:
            finished.set()

    worker = threading.Thread(target=extract, name="xbuildenv-extract", daemon=True)
    worker.start()
    try:
        try:
            for chunk in download.chunks():
                hasher.update(chunk)
                if sink is not None:
                    sink(chunk)  # e.g. the archive store's temporary file
                pipe.put(chunk)
                if on_progress is not None:
                    on_progress(download.received, download.size)
            pipe.finish()
            checkpoint("download.done")
        except StreamAbortedError:
            pass  # the worker failed; its error is reported below
        finished.wait()
    except BaseException:
        # Also reached by Ctrl-C/SIGTERM while waiting for the worker: stop it before
        # the caller deletes the staging folder, or it would keep writing into it.
        pipe.cancel()
        finished.wait(timeout=30)
        raise
    if "error" in outcome:
        error = outcome["error"]
        assert isinstance(error, BaseException)
        raise error
    checkpoint("verify")
    digest = hasher.hexdigest()
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise ChecksumError(
            f"checksum mismatch for {url}: expected sha256 {expected_sha256}, got {digest}",
            "the download is corrupt or was tampered with; nothing was installed",
        )
    checkpoint("verified")
    stats = outcome["stats"]
    assert isinstance(stats, ExtractStats)
    return StreamResult(digest, download.received, stats, download.validator)
