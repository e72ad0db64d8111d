"""Byte plumbing for the streaming install.

The network thread pushes raw archive bytes into a :class:`ChunkPipe`; the extraction
thread reads them through a decompressor picked by sniffing the first bytes. The pipe
is bounded, so memory stays flat however big the archive is, and either side can
abort the other.
"""

from __future__ import annotations

import io
import queue
import threading
from typing import IO, Any, cast

from ..errors import ArchiveError, StreamAbortedError

_EOF = object()


class ChunkPipe(io.RawIOBase):
    """A bounded, thread-safe byte pipe readable as a file."""

    def __init__(self, max_chunks: int = 32) -> None:
        super().__init__()
        self._queue: queue.Queue[Any] = queue.Queue(max_chunks)
        self._buffer = memoryview(b"")
        self._done = False
        self._tail: object = _EOF  # what ended the stream during head(): EOF or an error
        self.aborted = threading.Event()

    # --- producer side -------------------------------------------------------
    def put(self, chunk: bytes) -> None:
        while True:
            if self.aborted.is_set():
                raise StreamAbortedError()
            try:
                self._queue.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self, error: BaseException | None = None) -> None:
        """Signal end of data (or a failure the reader should raise)."""
        item = _EOF if error is None else error
        while not self.aborted.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def cancel(self) -> None:
        """Producer gave up: wake the reader with :class:`StreamAbortedError`, dropping
        queued data."""
        self.aborted.set()
        while True:
            try:
                self._queue.put_nowait(StreamAbortedError())
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass

    # --- consumer side -------------------------------------------------------
    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        if not self._buffer:
            if self._done:
                tail, self._tail = self._tail, _EOF
                if isinstance(tail, BaseException):
                    raise tail
                return 0
            item = self._queue.get()
            if item is _EOF:
                self._done = True
                return 0
            if isinstance(item, BaseException):
                self._done = True
                raise item
            self._buffer = memoryview(item)
        n = min(len(view), len(self._buffer))
        view[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes not yet read (fewer only at the end), left unread.

        Waits for as many chunks as it takes: the network may deliver a 1-byte chunk
        first, and a decision taken on what has arrived so far would depend on how the
        bytes were cut.
        """
        while len(self._buffer) < n and not self._done:
            item = self._queue.get()
            if item is _EOF or isinstance(item, BaseException):
                self._done = True
                # the reader meets the end (or the error) after the buffered bytes
                self._tail = item
                break
            self._buffer = memoryview(bytes(self._buffer) + bytes(item))
        return bytes(self._buffer[:n])

    def drain(self) -> None:
        """Read and drop everything left, so the producer can finish hashing."""
        while self.readinto(bytearray(1 << 16)):
            pass

    def close_reader(self) -> None:
        """Reader side: needs no more. Wakes a blocked producer, whose next put aborts."""
        self.aborted.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return


class Producer:
    """A thread that fills a bounded :class:`ChunkPipe`, read from as a file.

    Subclasses write :meth:`_produce` (put bytes into ``self.pipe``) and set up their
    own state before calling ``super().__init__``, which starts the thread. Errors in
    ``_produce`` reach the reader as it reads, like a plain file's would.
    """

    def __init__(self, depth: int, name: str) -> None:
        self.pipe = ChunkPipe(depth)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            self._produce()
        except StreamAbortedError:
            pass  # the reader closed its end: nobody to tell
        except BaseException as exc:  # handed to the reader
            error = exc
        if not self.pipe.aborted.is_set():
            self.pipe.finish(error)

    def reader(self) -> IO[bytes]:
        return io.BufferedReader(self.pipe, 1 << 16)

    def close(self) -> None:
        """Stop producing and wait for the thread, leaving the source unread past it.

        The thread may be waiting for the producer upstream of its source: the caller
        makes sure that one either delivers or is cancelled.
        """
        self.pipe.close_reader()
        self._thread.join()


class ReadAhead(Producer):
    """Run ``source.read`` in a thread of its own, a bounded number of chunks ahead.

    Used for decompression: the decompressors release the GIL, so on two or more
    cores decompressing overlaps with tar parsing and file writes in the reading
    thread (as ``bzip2 -d | tar x`` would), instead of adding up with them.
    """

    CHUNK = 256 * 1024

    def __init__(self, source: IO[bytes], depth: int = 16) -> None:
        self._source = source
        super().__init__(depth, "xbuildenv-decompress")

    def _produce(self) -> None:
        while block := self._source.read(self.CHUNK):
            self.pipe.put(block)


def _zstd_reader(raw: Any) -> Any:
    try:
        from compression import zstd  # type: ignore[import-not-found, unused-ignore]

        return zstd.ZstdFile(raw)
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError:
        raise ArchiveError(
            "this archive is zstd-compressed and no zstd decoder is available",
            "pip install zstandard",
        ) from None
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=False)


def sniff(pipe: ChunkPipe) -> str:
    """The compression of a stream, from its first six bytes: gz, bz2, zst, xz or tar.

    Reads from the raw pipe before any buffering, waiting for all six bytes (a
    ``BufferedReader.peek`` returns whatever one read gave, which may be one byte).
    """
    return kind_of(pipe.head(6))


def kind_of(head: bytes) -> str:
    """The compression of a stream from its first six bytes (see :func:`sniff`)."""
    if head.startswith(b"\x1f\x8b"):
        return "gz"
    if head.startswith(b"BZh"):
        return "bz2"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zst"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return "tar"


def open_decompressor(buffered: io.BufferedReader[Any], kind: str) -> IO[bytes]:
    """A file reading ``buffered`` through the decompressor for ``kind`` (see :func:`sniff`)."""
    reader: Any = buffered
    if kind == "gz":
        import gzip

        reader = gzip.GzipFile(fileobj=buffered, mode="rb")
    elif kind == "bz2":
        import bz2

        reader = bz2.BZ2File(buffered, "rb")
    elif kind == "zst":
        reader = _zstd_reader(buffered)
    elif kind == "xz":
        import lzma

        reader = lzma.LZMAFile(buffered, "rb")  # noqa: SIM115 - the caller reads it to the end
    return cast(IO[bytes], reader)
