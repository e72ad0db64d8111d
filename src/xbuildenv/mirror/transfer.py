"""Moving one archive into a mirror, verified on the way.

The bytes (from the origin, or from this machine's archive store) are hashed while
they are written to a temporary file; only a file whose sha256 is the one the index
promises is put in place (local folder: a rename next to the target; object store:
one PUT). So the destination never holds, under an archive's name, bytes other than
the archive's.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..checkpoints import checkpoint
from ..errors import ChecksumError
from ..net.fetch import Download, FetchSettings
from ..net.storage import LocalStorage, Storage


def hash_of(chunks: Iterable[bytes]) -> str:
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            yield chunk


def origin_chunks(url: str, settings: FetchSettings | None = None) -> Iterator[bytes]:
    """The origin's bytes, with the retries and resumption of :mod:`xbuildenv.net.fetch`."""
    return Download(url, settings or FetchSettings.from_env()).chunks()


def place(
    storage: Storage,
    name: str,
    chunks: Iterable[bytes],
    expected: str | None,
    *,
    what: str,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[str, int]:
    """Write ``chunks`` as ``name`` if their sha256 is ``expected``; return (sha256, size).

    ``expected=None`` (an index without hashes) accepts the bytes and returns their
    hash, which the mirror's index then records.
    """
    if isinstance(storage, LocalStorage):
        temp = storage.temp_for(name)
    else:
        fd, raw = tempfile.mkstemp(prefix=".xbuildenv-mirror-", suffix=".part")
        os.close(fd)
        temp = Path(raw)
    try:
        hasher = hashlib.sha256()
        size = 0
        with temp.open("wb") as fh:
            for chunk in chunks:
                hasher.update(chunk)
                fh.write(chunk)
                size += len(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
            fh.flush()
            os.fsync(fh.fileno())
        digest = hasher.hexdigest()
        checkpoint("mirror.verify")
        if expected is not None and digest != expected.lower():
            raise ChecksumError(
                f"checksum mismatch for {what}: expected sha256 {expected}, got {digest}",
                "the origin's copy is corrupt or was tampered with; the mirror was not changed",
            )
        if isinstance(storage, LocalStorage):
            storage.move_in(temp, name)
        else:
            storage.put_file(temp, name)
        checkpoint("mirror.placed")
        return digest, size
    except BaseException:
        if isinstance(storage, LocalStorage):
            temp.unlink(missing_ok=True)
            storage.prune_folders(name)
        raise
    finally:
        temp.unlink(missing_ok=True)
