"""The parallel bzip2 decompressor against libbz2's own output, on real bzip2 data."""

from __future__ import annotations

import bz2
import io
import random
import threading
from typing import IO

import pytest

from xbuildenv.errors import ArchiveError
from xbuildenv.install import parallel_bz2
from xbuildenv.install.parallel_bz2 import BLOCK_MAGIC, END_MAGIC, ParallelBz2, find_marker


def payload(size: int, seed: int = 7) -> bytes:
    """Data that compresses like a real tree: text-ish runs mixed with random bytes."""
    rng = random.Random(seed)
    words = [bytes(rng.choices(range(97, 123), k=rng.randint(2, 9))) for _ in range(400)]
    out = bytearray()
    while len(out) < size:
        if rng.random() < 0.2:
            out += rng.randbytes(rng.randint(50, 2000))
        else:
            out += b" ".join(rng.choices(words, k=rng.randint(5, 60))) + b"\n"
    return bytes(out[:size])


def decompress(data: bytes, workers: int = 2, read_size: int | None = None) -> bytes:
    source: IO[bytes] = io.BufferedReader(io.BytesIO(data))
    if read_size is not None:  # a slow network: a few bytes at a time
        raw = io.BytesIO(data)

        class Trickle(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, b: bytearray) -> int:  # type: ignore[override]
                chunk = raw.read(min(len(b), read_size))
                b[: len(chunk)] = chunk
                return len(chunk)

        source = io.BufferedReader(Trickle(), 4096)
    reader = ParallelBz2(source, workers).reader()
    return reader.read()


@pytest.mark.parametrize("level", [1, 9])
@pytest.mark.parametrize("workers", [1, 3])
def test_many_blocks_match_libbz2(level: int, workers: int) -> None:
    data = payload(3_000_000)
    packed = bz2.compress(data, level)
    assert decompress(packed, workers) == data


def test_small_reads_and_empty_input() -> None:
    data = payload(400_000, seed=3)
    assert decompress(bz2.compress(data, 1), read_size=777) == data
    assert decompress(bz2.compress(b"")) == b""


def test_concatenated_streams_and_trailing_bytes() -> None:
    a, b = payload(250_000, 1), payload(130_000, 2)
    packed = bz2.compress(a, 1) + bz2.compress(b"") + bz2.compress(b, 9)
    assert decompress(packed) == a + b
    assert decompress(packed + b"\0\0junk") == a + b  # ignored, as bzip2 ignores it


def test_block_larger_than_one_output_piece() -> None:
    data = b"\0" * 30_000_000 + payload(200_000)  # one block expands ~45-fold
    assert decompress(bz2.compress(data, 9)) == data


def test_corrupt_and_truncated_data_are_archive_errors() -> None:
    packed = bytearray(bz2.compress(payload(800_000), 1))
    cut = bytes(packed[: len(packed) * 2 // 3])
    with pytest.raises(ArchiveError, match="truncated"):
        decompress(cut)
    packed[len(packed) // 2] ^= 0x40
    with pytest.raises(ArchiveError, match="corrupt"):
        decompress(bytes(packed))
    with pytest.raises(ArchiveError, match="corrupt"):
        decompress(b"BZh9" + b"\x17\x72\x45\x38\x50\x90" + b"\0\0\0\1")  # wrong stream CRC


def test_false_marker_is_joined_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block magic that turns up inside compressed data must not break the output.

    Real false markers appear once in 2**48 bit positions, so one is planted: the
    first search reports a marker in the middle of the first block.
    """
    data = payload(600_000, seed=5)
    packed = bz2.compress(data, 1)
    real = parallel_bz2.find_marker
    planted: list[int] = []

    def with_false_hit(buf: bytes | bytearray, start_bit: int, resume: int = 0) -> object:
        hit = real(buf, start_bit, resume)
        if not planted and hit is not None and hit[1] == BLOCK_MAGIC and start_bit > 0:
            false_bit = start_bit + 20_000 * 8 + 3
            if false_bit < hit[0]:
                planted.append(false_bit)
                return (false_bit, BLOCK_MAGIC)
        return hit

    monkeypatch.setattr(parallel_bz2, "find_marker", with_false_hit)
    assert decompress(packed) == data
    assert planted


def test_find_marker_at_every_bit_shift() -> None:
    for position in range(21, 29):  # every shift within a byte
        for magic in (BLOCK_MAGIC, END_MAGIC):
            noise = 0b1011011 << (160 - 7)  # bits before the marker that are not one
            buf = (noise | (magic << (160 - 48 - position))).to_bytes(20, "big")
            assert find_marker(buf, 0) == (position, magic)
            assert find_marker(buf, position + 1) is None
            assert find_marker(buf[:8], 0) is None  # the window is not all there yet


def test_close_stops_a_reader_that_needs_no_more() -> None:
    packed = bz2.compress(payload(2_000_000), 1)
    stream = ParallelBz2(io.BufferedReader(io.BytesIO(packed)), 2)
    assert len(stream.reader().read(1000)) == 1000
    closer = threading.Thread(target=stream.close)
    closer.start()
    closer.join(timeout=10)
    assert not closer.is_alive()
