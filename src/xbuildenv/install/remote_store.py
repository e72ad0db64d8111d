"""A store of verified archives shared by a fleet of machines (``XBUILDENV_REMOTE_STORE``).

Layout below the store's URL (a folder, ``s3://bucket/prefix``, any fsspec URL, or an
``https://`` URL that accepts PUT and DELETE, credentials as for any download)::

    archives/<sha256>     an archive, named by the sha256 of its bytes
    pending/<sha256>      "someone is fetching this from the origin" (JSON, short-lived)

Before an archive is fetched from its origin it is looked up here by the sha256 the
release index gives; what comes back is hashed on the way into the machine's own
store and refused when it does not match. After a verified download from the origin
it is uploaded (unless the runner is read-only: ``--no-upload``), so the rest of the
fleet finds it. The ``pending`` marker makes runners that miss at the same moment
wait for one of them instead of all going to the origin: each writes it, reads it back
a moment later, and only the one whose marker is still there (the last writer) fetches.

Nothing here can fail an install: a store that is down, refuses, or serves damaged
bytes costs one ``warning:`` line and the origin is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from ..cache.store import ArchiveStore
from ..checkpoints import checkpoint
from ..errors import StorageError
from ..net.storage import Storage, open_storage
from ..redaction import redact
from .origins import DEFAULT_WAIT

POLL = 0.25
CLAIM_SETTLE = 0.3  # seconds between writing a claim and reading it back


class RemoteStore:
    def __init__(
        self,
        url: str,
        *,
        upload: bool = True,
        wait: float = DEFAULT_WAIT,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.shown = redact(url)  # for messages: a callback may print them as they are
        self.upload_enabled = upload
        self.wait = wait
        self._warn = warn
        self._storage: Storage | None = None
        self.down = False  # after the first failure: skip the store for this process
        self.refused: set[str] = set()  # hashes whose stored copy was damaged
        self.claimed: set[str] = set()  # hashes whose ``pending`` marker we wrote

    def _open(self) -> Storage:
        if self._storage is None:
            self._storage = open_storage(self.url, http=True)
        return self._storage

    def _failed(self, exc: StorageError) -> None:
        if not self.down and self._warn is not None:
            self._warn(f"remote store {self.shown} is not usable ({exc.message}); using the origin")
        self.down = True

    # --- reading ------------------------------------------------------------
    def fetch_into(self, store: ArchiveStore, sha256: str) -> bool:
        """Copy ``archives/<sha256>`` into the machine's store, verified; True if done."""
        if self.down or sha256 in self.refused:
            return False
        try:
            storage = self._open()
            if not self._wait_for_peer(storage, sha256):
                return False
            return self._copy(storage, store, sha256)
        except StorageError as exc:
            self._failed(exc)
            return False
        except OSError:
            return False  # our own store is not writable: the origin path copes

    def _wait_for_peer(self, storage: Storage, sha256: str) -> bool:
        """If another runner is fetching this archive, wait (bounded) for its upload."""
        name = f"archives/{sha256}"
        deadline = time.monotonic() + self.wait
        while storage.size(name) is None:
            raw = storage.read_bytes(f"pending/{sha256}")
            if raw is None or not _fresh(raw, self.wait) or time.monotonic() > deadline:
                # released (uploaded just now, or failed), stale, or too slow
                return storage.size(name) is not None
            time.sleep(POLL)
        return True

    def _copy(self, storage: Storage, store: ArchiveStore, sha256: str) -> bool:
        temp: Path | None
        temp, fh = store.open_temp()
        try:
            hasher = hashlib.sha256()
            with fh:
                try:
                    for chunk in storage.chunks(f"archives/{sha256}"):
                        hasher.update(chunk)
                        fh.write(chunk)
                        checkpoint("remote.chunk")
                except FileNotFoundError:
                    return False
            if hasher.hexdigest() != sha256:
                self.refused.add(sha256)
                if self._warn is not None:
                    self._warn(
                        f"remote store {self.shown}: archives/{sha256[:12]}... does not match its "
                        "sha256; refused it, fetching from the origin"
                    )
                return False
            store.commit(temp, sha256)
            temp = None
            checkpoint("remote.fetched")
            return True
        finally:
            if temp is not None:
                temp.unlink(missing_ok=True)

    # --- writing ------------------------------------------------------------
    def claim(self, sha256: str) -> bool:
        """Say that this runner fetches ``sha256`` from the origin; False if another does.

        Runners that missed at the same moment all write the marker; after a short
        pause each reads it back, and only the last writer (whose marker is there)
        goes to the origin. The others wait for its upload (:meth:`fetch_into`).
        """
        if self.down or not self.upload_enabled:
            return True
        try:
            storage = self._open()
            token = os.urandom(8).hex()
            marker = {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "time": time.time(),
                "token": token,
            }
            storage.put_bytes(f"pending/{sha256}", json.dumps(marker).encode())
            self.claimed.add(sha256)
            time.sleep(CLAIM_SETTLE)
            raw = storage.read_bytes(f"pending/{sha256}")
        except StorageError as exc:
            self._failed(exc)
            return True
        if raw is None:
            return False  # already released: the archive is there, or its fetcher failed
        try:
            return bool(json.loads(raw).get("token") == token)
        except (ValueError, AttributeError):
            return True

    def release(self, sha256: str) -> None:
        """Remove this runner's marker (after the upload, or after a failure)."""
        if self.down or not self.upload_enabled or sha256 not in self.claimed:
            return
        self.claimed.discard(sha256)
        try:
            storage = self._open()
            storage.delete(f"pending/{sha256}")
        except StorageError as exc:
            self._failed(exc)

    def upload(self, path: Path, sha256: str) -> None:
        """Share a verified archive (``path`` holds exactly the bytes of ``sha256``)."""
        if self.down or not self.upload_enabled:
            return
        try:
            storage = self._open()
            name = f"archives/{sha256}"
            # Overwrite a copy we refused; otherwise a present one is as good as ours.
            if sha256 in self.refused or storage.size(name) != path.stat().st_size:
                storage.put_file(path, name)
                checkpoint("remote.uploaded")
        except StorageError as exc:
            self._failed(exc)
        except OSError:
            pass  # our own copy vanished (a concurrent 'cache clean'): nothing to share


def _fresh(raw: bytes, limit: float) -> bool:
    try:
        started = float(json.loads(raw)["time"])
    except (ValueError, KeyError, TypeError):
        return False
    return 0 <= time.time() - started < limit
