"""Decompress a bzip2 stream on several cores while it arrives.

bzip2 cuts its input into blocks of at most 900 kB and compresses each one on its
own: a block opens with the 48-bit number 0x314159265359 and its CRC, and a stream
ends with 0x177245385090 and the CRC of all blocks. Blocks are bit-aligned, so a
block cannot be handed to libbz2 as it is; but shifted to a byte boundary and put
between a stream header and an end marker it is a valid one-block stream. That is
how lbzip2 and pbzip2 decompress in parallel, and what :class:`ParallelBz2` does:
one thread finds block boundaries in the compressed bytes, a few worker threads
decompress blocks (libbz2 releases the GIL), and the results are passed on in order.

Most Pyodide environments ship as ``.tar.bz2``, and libbz2 on one core decompresses
slower than a fast link delivers, so this is what keeps an install at network speed.

A block's magic number may also turn up by chance inside compressed data (about
once in 2**48 bit positions). Such a false split makes the block before it fail to
decompress; it is then joined with the piece after it and tried again. Every block's
CRC is checked by libbz2 and the stream's combined CRC here, so a wrong join cannot
pass unnoticed.
"""

from __future__ import annotations

import bz2
import os
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO

from ..errors import ArchiveError
from .streams import Producer

BLOCK_MAGIC = 0x314159265359
END_MAGIC = 0x177245385090
_MASK48 = (1 << 48) - 1
_READ = 256 * 1024
# Output a worker produces in one go; a block that expands further (long runs of one
# byte can grow 45-fold) is finished piecewise by the ordering thread, keeping
# memory bounded per block in flight.
_MAX_OUT = 8 << 20


def _search_keys(magic: int) -> list[tuple[int, bytes, int]]:
    """Per bit shift s (the magic starting at bit s of a byte): the bytes it fully covers.

    Returns ``(shift, key, offset)``: ``key`` is found ``offset`` bytes after the
    byte the magic starts in; a hit is then confirmed on all 48 bits.
    """
    keys = []
    for shift in range(8):
        window = (magic << (8 - shift)).to_bytes(7, "big")
        offset = 0 if shift == 0 else 1
        keys.append((shift, window[offset:6], offset))
    return keys


_KEYS = {BLOCK_MAGIC: _search_keys(BLOCK_MAGIC), END_MAGIC: _search_keys(END_MAGIC)}


def find_marker(buf: bytes | bytearray, start_bit: int, resume: int = 0) -> tuple[int, int] | None:
    """The first block or end marker at or after ``start_bit``: ``(bit, magic)``.

    Only markers whose 7-byte window lies wholly inside ``buf`` are seen; None means
    "none yet", and the caller looks again when more bytes have arrived, passing
    ``resume=len(buf) - 7`` so that the bytes already searched are not searched again.
    """
    best: tuple[int, int] | None = None
    first_byte = max(start_bit // 8, resume)
    for magic, keys in _KEYS.items():
        for shift, key, offset in keys:
            i = buf.find(key, first_byte + offset)
            while i != -1:
                p = i - offset
                bit = p * 8 + shift
                if best is not None and bit >= best[0]:
                    break
                if p + 7 > len(buf):
                    break
                if bit >= start_bit:
                    window = int.from_bytes(buf[p : p + 7], "big")
                    if (window >> (8 - shift)) & _MASK48 == magic:
                        best = (bit, magic)
                        break
                i = buf.find(key, i + 1)
    return best


def bits_between(buf: bytes | bytearray, start: int, end: int) -> int:
    """The bits ``[start, end)`` of ``buf`` as an integer (``end - start`` bits wide)."""
    chunk = buf[start // 8 : (end + 7) // 8]
    value = int.from_bytes(chunk, "big") >> (len(chunk) * 8 - (start % 8) - (end - start))
    return value & ((1 << (end - start)) - 1)


def one_block_stream(level: bytes, block: int, nbits: int) -> bytes:
    """A complete bzip2 stream holding one block (``nbits`` bits, magic included)."""
    crc = (block >> (nbits - 80)) & 0xFFFFFFFF
    value = (block << 80) | (END_MAGIC << 32) | crc
    total = nbits + 80
    pad = -total % 8
    return b"BZh" + level + (value << pad).to_bytes((total + pad) // 8, "big")


def _decompress(stream: bytes) -> tuple[bytes, bz2.BZ2Decompressor | None]:
    """Run in a worker: the block's output, and the decompressor if output remains."""
    decompressor = bz2.BZ2Decompressor()
    out = decompressor.decompress(stream, _MAX_OUT)
    return out, (None if decompressor.eof else decompressor)


class _Block:
    """One piece between two markers, as bits, and its decompression once submitted."""

    def __init__(self, level: bytes, bits: int, nbits: int) -> None:
        self.level, self.bits, self.nbits = level, bits, nbits
        self.crc = (bits >> (nbits - 80)) & 0xFFFFFFFF
        self.future: Future[tuple[bytes, bz2.BZ2Decompressor | None]] | None = None

    def joined(self, other: _Block) -> _Block:
        return _Block(self.level, (self.bits << other.nbits) | other.bits, self.nbits + other.nbits)

    def submit(self, pool: ThreadPoolExecutor) -> _Block:
        self.future = pool.submit(_decompress, one_block_stream(self.level, self.bits, self.nbits))
        return self

    def ready(self) -> bool:
        return self.future is not None and self.future.done()


class _End:
    """The end of one stream, with the combined CRC it stores."""

    def __init__(self, crc: int) -> None:
        self.crc = crc

    def ready(self) -> bool:
        return True


_CORRUPT = "the archive's bzip2 data is corrupt"
_TRUNCATED = "the archive is truncated (its bzip2 data ends early)"


def worker_count() -> int:
    """Decompression threads: every core but one, which parses tar and writes files."""
    if sys.platform == "linux":  # the cores this process may use (taskset, cgroups)
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    return max(1, min(cores - 1, 4)) if cores > 1 else 0


class ParallelBz2(Producer):
    """Decompress ``source`` (raw bzip2 bytes) into :attr:`pipe` in threads of its own.

    Used like :class:`~xbuildenv.install.streams.ReadAhead`: :meth:`reader` gives the
    decompressed bytes, errors reach the reader as it reads, :meth:`close` stops early.
    """

    # Each queued item is a whole block's output (about 1-4 MB), so a short queue is
    # plenty of slack between the decompressors and the tar reader, and keeps RSS low.
    def __init__(self, source: IO[bytes], workers: int, depth: int = 3) -> None:
        self._source = source
        # One more thread than cores asked for: while one block waits in the queue to
        # the reader, the others keep decompressing.
        self._pool = ThreadPoolExecutor(workers + 1, thread_name_prefix="xbuildenv-bz2")
        self._in_flight = workers * 2 + 1
        self._pending: deque[_Block | _End] = deque()
        self._carry: _Block | None = None  # a block that failed: waits for the next piece
        self._combined = 0  # CRC over the blocks delivered in the current stream
        super().__init__(depth, "xbuildenv-bz2-split")

    # --- the splitting thread -------------------------------------------------
    def _produce(self) -> None:
        try:
            self._split(getattr(self._source, "read1", self._source.read))
            while self._pending:
                self._deliver(self._pending.popleft())
            if self._carry is not None:
                raise ArchiveError(f"{_CORRUPT} (a block does not decode)")
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _split(self, read: Callable[[int], bytes]) -> None:
        """Cut the compressed bytes at block and stream boundaries; queue the pieces."""
        buf = bytearray()
        base = 0  # absolute byte offset of buf[0]
        eof = False

        def more() -> bool:
            nonlocal eof
            data = b"" if eof else read(_READ)
            eof = not data
            buf.extend(data)
            return bool(data)

        stream_start = 0  # absolute byte offset of the current stream's header
        while True:
            while len(buf) - (stream_start - base) < 4 and more():
                pass
            header = bytes(buf[stream_start - base : stream_start - base + 4])
            if len(header) < 4 or header[:3] != b"BZh" or not 0x31 <= header[3] <= 0x39:
                if stream_start == 0:
                    raise ArchiveError(f"{_CORRUPT} (no bzip2 header)")
                return  # bytes after the last stream are ignored, as bzip2 does
            level = header[3:4]
            block_start: int | None = None  # absolute bit position of the open block
            search, resume = (stream_start + 4) * 8, 0
            while True:
                found = find_marker(buf, search - base * 8, resume)
                if found is None:
                    resume = max(0, len(buf) - 7)
                    if more():
                        continue
                    raise ArchiveError(_TRUNCATED)
                bit = found[0] + base * 8
                if block_start is not None:
                    rel = block_start - base * 8
                    self._queue(_Block(level, bits_between(buf, rel, found[0]), bit - block_start))
                if found[1] == BLOCK_MAGIC:
                    drop = bit // 8 - base  # keep from the byte the new block starts in
                    del buf[:drop]
                    base += drop
                    block_start, search, resume = bit, bit + 48, 0
                    continue
                # end of stream: the magic, the 32-bit combined CRC, padding to a byte
                end = (bit + 80 + 7) // 8
                while len(buf) < end - base and more():
                    pass
                if len(buf) < end - base:
                    raise ArchiveError(_TRUNCATED)
                self._queue(_End(bits_between(buf, bit + 48 - base * 8, bit + 80 - base * 8)))
                stream_start = end
                break

    def _queue(self, item: _Block | _End) -> None:
        if isinstance(item, _Block):
            if self._carry is not None:  # the previous block failed: this piece is its tail
                item, self._carry = self._carry.joined(item), None
            item.submit(self._pool)
        elif self._carry is not None:
            raise ArchiveError(f"{_CORRUPT} (a block does not decode)")
        self._pending.append(item)
        while self._pending and (len(self._pending) > self._in_flight or self._pending[0].ready()):
            self._deliver(self._pending.popleft())

    def _deliver(self, item: _Block | _End) -> None:
        if isinstance(item, _End):
            if item.crc != self._combined:
                raise ArchiveError(f"{_CORRUPT} (stream CRC mismatch)")
            self._combined = 0
            return
        assert item.future is not None
        started = False
        try:
            out, rest = item.future.result()
            while rest is not None and not rest.eof:  # a block too big for one go
                started = started or bool(out)
                self._put(out)
                if rest.needs_input:
                    raise OSError("bzip2 block ends early")
                out = rest.decompress(b"", _MAX_OUT)
            self._put(out)
        except OSError:
            if started:  # part of it is passed on already: it cannot be joined and redone
                raise ArchiveError(f"{_CORRUPT} (a block does not decode)") from None
            self._retry(item)
            return
        self._combined = (((self._combined << 1) | (self._combined >> 31)) & 0xFFFFFFFF) ^ item.crc

    def _retry(self, block: _Block) -> None:
        """A block failed, most likely at a false split: join it to the next piece."""
        limit = int(block.level) * 100_000 * 8 * 5 // 4 + 4096  # bzip2's worst case, padded
        if block.nbits > limit:
            raise ArchiveError(f"{_CORRUPT} (a block does not decode)")
        if not self._pending:
            self._carry = block  # the next piece is not cut yet
            return
        following = self._pending.popleft()
        if isinstance(following, _End):
            raise ArchiveError(f"{_CORRUPT} (a block does not decode)")
        assert following.future is not None
        following.future.cancel()
        self._deliver(block.joined(following).submit(self._pool))

    def _put(self, data: bytes) -> None:
        if data:
            self.pipe.put(data)
