"""Packed SDKs shared by a fleet (``XBUILDENV_REMOTE_STORE``) or a mirror (``XBUILDENV_MIRROR``).

Layout below the store's or mirror's location::

    packs/<family>.json              {"packs": {<key>: <manifest digest>}}: what exists
    packs/<key>-<digest16>.json      the SDK's manifest (cache/sdk_manifest.py)
    packs/<key>-<digest16>.sig       HMAC-SHA256 of that manifest, hex (with a shared key)
    packs/<key>-<digest16>.tar.zst   the pack (cache/sdk_pack.py)
    pending/emsdk-<family>           "a runner is building this" (short-lived)

Trust: a packed SDK has no checksum from a publisher, and a poisoned compiler would
reach every runner, so only a process that built and published an SDK itself uploads
it (:meth:`RemoteSdks.share` is called only after a local build), never a read-only
runner. A reader checks the manifest against the digest in its name, each unpacked file
against the manifest, and, when ``XBUILDENV_REMOTE_STORE_KEY`` is set, the manifest's
HMAC: without a valid one it builds locally instead. Nothing here can fail an install:
a store that is down or refuses costs one warning and the SDK is built locally.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..cache.layout import SDK_PACKS
from ..cache.sdk_manifest import SdkManifest
from ..cache.sdk_pack import ChunkStream, manifest_bytes, pack, unpack
from ..cache.sdk_store import SdkKey, SdkStore, StoredSdk
from ..checkpoints import checkpoint
from ..errors import ArchiveError, StorageError
from ..install.remote_store import CLAIM_SETTLE
from ..net.storage import Storage, open_storage
from ..settings.config import ProjectConfig, env_str
from .emsdk_obtain import Source

ENV_REMOTE_STORE_KEY = "XBUILDENV_REMOTE_STORE_KEY"
WAIT = 600.0  # seconds to wait for another runner's build of the same SDK
POLL = 1.0
CLAIM_ROUNDS = 3  # claims lost to other runners before building without one
Warn = Callable[[str], None]


def sdk_sources(project: ProjectConfig, warn: Warn | None, *, upload: bool) -> list[RemoteSdks]:
    """The places to look for packed SDKs: the fleet's store and the mirror, read from the
    same settings (variables and ``[tool.xbuildenv]`` keys) as for archives."""
    from ..install.origins import mirror_setting, remote_store_setting

    out = []
    url, read_only = remote_store_setting(project)
    if url:
        out.append(RemoteSdks(url, "remote", warn, upload=upload and not read_only))
    mirror = mirror_setting(project)
    if mirror:
        out.append(RemoteSdks(mirror, "mirror", warn, upload=False))
    return out


def sign(manifest: bytes, key: str) -> str:
    return hmac.new(key.encode(), manifest, hashlib.sha256).hexdigest()


def pack_name(key: SdkKey, digest: str) -> str:
    return f"{SDK_PACKS}/{key.name}-{digest[:16]}"


class RemoteSdks:
    """Packed SDKs in one storage location (read, and written when ``upload``)."""

    def __init__(
        self,
        url: str,
        name: Source,
        warn: Warn | None,
        *,
        upload: bool,
        storage: Storage | None = None,
    ) -> None:
        self.url = url
        self.name: Source = name
        self.upload = upload
        self._warn = warn
        self._storage = storage  # opened on first use when not given
        self.down = False
        self.claimed: str | None = None

    def _open(self) -> Storage:
        if self._storage is None:
            self._storage = open_storage(self.url)
        return self._storage

    def _say(self, text: str) -> None:
        if self._warn is not None:
            self._warn(f"{self.name} store {self.url}: {text}")

    # --- reading ------------------------------------------------------------
    def fetch(
        self, store: SdkStore, version: str, patches: str, platform: str, revision: str | None
    ) -> StoredSdk | None:
        if self.down:
            return None
        family = f"{version}-{patches[:12]}-{platform}"
        try:
            storage = self._open()
            tried: set[tuple[str, str]] = set()  # refused once: not downloaded again
            for _ in range(CLAIM_ROUNDS):
                packs = self._matching(storage, family, version, revision).items() - tried
                if not packs and self.upload and self._peer_building(storage, family):
                    self._wait(storage, family)
                    packs = self._matching(storage, family, version, revision).items() - tried
                for name, digest in sorted(packs):
                    tried.add((name, digest))
                    sdk = self._fetch_one(storage, store, name, digest)
                    if sdk is not None:
                        return sdk
                if not self.upload or self._claim(storage, family):
                    return None
                # Another runner claimed it at the same moment: wait for its pack.
        except StorageError as exc:
            self._say(f"not usable ({exc.message}); building the SDK here")
            self.down = True
        return None

    def has(self, version: str, patches: str, platform: str, revision: str | None) -> str | None:
        """The name of a pack here for this SDK (any emsdk revision when ``revision`` is
        None), without fetching it; None when there is none or the store is down."""
        if self.down:
            return None
        family = f"{version}-{patches[:12]}-{platform}"
        try:
            packs = self._matching(self._open(), family, version, revision)
        except StorageError as exc:
            self._say(f"not usable ({exc.message})")
            self.down = True
            return None
        return min(packs, default=None)

    def _matching(
        self, storage: Storage, family: str, version: str, revision: str | None
    ) -> dict[str, str]:
        """The packs of ``family`` of emsdk ``revision`` (None: of any revision)."""
        prefix = f"{version}-{revision[:12]}-" if revision is not None else f"{version}-"
        return {k: v for k, v in self._packs(storage, family).items() if k.startswith(prefix)}

    def _packs(self, storage: Storage, family: str) -> dict[str, str]:
        raw = storage.read_bytes(f"{SDK_PACKS}/{family}.json")
        try:
            packs = json.loads(raw)["packs"] if raw else {}
            return {str(k): str(v) for k, v in packs.items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return {}

    def _fetch_one(
        self, storage: Storage, store: SdkStore, name: str, digest: str
    ) -> StoredSdk | None:
        raw = storage.read_bytes(f"{SDK_PACKS}/{name}-{digest[:16]}.json")
        manifest = SdkManifest.load(raw) if raw else None
        key = SdkKey.from_meta(manifest.meta) if manifest else None
        if manifest is None or key is None or manifest.digest() != digest:
            self._say(f"the manifest of {name} does not match its name; refused it")
            return None
        secret = env_str(ENV_REMOTE_STORE_KEY)
        if secret:
            sig = storage.read_bytes(f"{pack_name(key, digest)}.sig") or b""
            if not hmac.compare_digest(sig.decode("ascii", "replace").strip(),
                                       sign(raw or b"", secret)):  # fmt: skip
                self._say(f"{key.name} has no valid signature ({ENV_REMOTE_STORE_KEY}); "
                          "building it here instead")  # fmt: skip
                return None
        # Streamed: decompressed, checked and written into the store as it arrives
        stream = ChunkStream(storage.chunks(f"{pack_name(key, digest)}.tar.zst"))
        try:
            return unpack(store, stream, manifest)
        except (ArchiveError, OSError, ValueError) as exc:
            self._say(f"the pack of {key.name} was refused ({exc}); building it here")
            return None
        finally:
            stream.close()

    def _peer_building(self, storage: Storage, family: str) -> bool:
        raw = storage.read_bytes(f"pending/emsdk-{family}")
        try:
            return raw is not None and 0 <= time.time() - float(json.loads(raw)["time"]) < WAIT
        except (ValueError, KeyError, TypeError):
            return False

    def _wait(self, storage: Storage, family: str) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and self._peer_building(storage, family):
            time.sleep(POLL)

    def _claim(self, storage: Storage, family: str) -> bool:
        """Say that this runner builds ``family``; False if another one does.

        Runners that missed at the same moment all write the marker; after a short
        pause each reads it back, and only the last writer (whose token is there)
        builds and uploads. The others wait for its pack (as for archives:
        install/remote_store.py).
        """
        token = os.urandom(8).hex()
        marker = {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time(),
                  "token": token}  # fmt: skip
        checkpoint("sdk.claim")
        storage.put_bytes(f"pending/emsdk-{family}", json.dumps(marker).encode())
        time.sleep(CLAIM_SETTLE)
        raw = storage.read_bytes(f"pending/emsdk-{family}")
        try:
            ours = raw is not None and json.loads(raw).get("token") == token
        except (ValueError, AttributeError):
            ours = False
        if ours:
            self.claimed = family
        return ours

    def release(self) -> None:
        """Drop this runner's claim (after a failed build: others need not wait)."""
        if self.claimed is None or self.down:
            return
        try:
            self._open().delete(f"pending/emsdk-{self.claimed}")
        except StorageError:
            pass
        self.claimed = None

    # --- writing ------------------------------------------------------------
    def share(self, sdk: StoredSdk) -> None:
        """Upload an SDK this process built and published (never one it fetched)."""
        if self.down or not self.upload:
            return
        try:
            storage = self._open()
            raw = manifest_bytes(sdk)
            digest = sdk.manifest.digest()
            base = pack_name(sdk.key, digest)
            with tempfile.NamedTemporaryFile(suffix=".tar.zst") as tmp:
                pack(sdk, tmp)
                tmp.flush()
                storage.put_file(Path(tmp.name), f"{base}.tar.zst")
            storage.put_bytes(f"{base}.json", raw)
            secret = env_str(ENV_REMOTE_STORE_KEY)
            if secret:
                storage.put_bytes(f"{base}.sig", sign(raw, secret).encode())
            family = sdk.key.family
            packs = self._packs(storage, family)
            packs[sdk.key.name] = digest
            storage.put_bytes(f"{SDK_PACKS}/{family}.json", json.dumps({"packs": packs}).encode())
            if self.claimed == family:
                storage.delete(f"pending/emsdk-{family}")
                self.claimed = None
        except StorageError as exc:
            self._say(f"could not upload the SDK ({exc.message})")
            self.down = True
