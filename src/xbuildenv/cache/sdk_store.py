"""The machine's Emscripten SDK store: each SDK built once, linked into every root.

An SDK is identified by :class:`SdkKey`: the Emscripten version, the emsdk revision
that installed it, the sha256 of the environment's patch set and the platform. Two
roots asking for the same key get the same files; a different patch set or emsdk
revision is another SDK. Layout under ``<store>/sdks/`` (see cache/layout.py)::

    <key>/emsdk/...     the finished, patched, activated SDK (files read-only)
    <key>/sdk.json      its manifest (cache/sdk_manifest.py)
    .build-<token>-<pid>/   a build or unpack in progress, published by one rename
    .trash-<token>/     an SDK being removed

An SDK appears only by the atomic rename of a finished build folder whose manifest is
already inside, so a key that is present is complete; what a killed build leaves is a
``.build-*`` folder of a dead process, removed by the next build under the lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from ..checkpoints import checkpoint
from ..fs.files import remove_tree, write_atomic
from ..fs.locks import FileLock
from ..fs.paths import chmod_here, make_real_dir, read_bounded, real_dir
from .layout import (
    EMSDK_KEY_MARKER,
    SDK_BUILD_PREFIX,
    SDK_MANIFEST,
    SDK_TRASH_PREFIX,
    SDK_TREE,
    STORE_LOCKS,
    STORE_SDK_USERS,
    STORE_SDKS,
)
from .sdk_manifest import SdkManifest, quick_check, restamp, scan
from .store import pid_alive, store_dir

_SAFE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$")
_HEX = re.compile(r"^[0-9a-f]{7,64}$")


def host_platform() -> str:
    """``<os>-<machine>``, e.g. ``linux-x86_64``: an SDK holds native binaries."""
    return f"{sys.platform}-{platform.machine().lower() or 'unknown'}"


def patch_set_digest(patch_dir: Path) -> str:
    """The sha256 over the environment's patches (name and bytes of each, in order)."""
    digest = hashlib.sha256()
    for patch in sorted(patch_dir.glob("*.patch")) if patch_dir.is_dir() else []:
        digest.update(patch.name.encode() + b"\0")
        digest.update(hashlib.sha256(patch.read_bytes()).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class SdkKey:
    version: str
    revision: str
    patches: str
    platform: str

    def __post_init__(self) -> None:
        if not _SAFE.match(self.version) or not _SAFE.match(self.platform):
            raise ValueError(f"not a storable SDK key: {self.version!r} {self.platform!r}")
        if not _HEX.match(self.revision) or not _HEX.match(self.patches):
            raise ValueError("an SDK key needs hex revision and patch digests")

    @property
    def name(self) -> str:
        return f"{self.version}-{self.revision[:12]}-{self.patches[:12]}-{self.platform}"

    @property
    def family(self) -> str:
        """The key without the revision: what one lock serialises."""
        return f"{self.version}-{self.patches[:12]}-{self.platform}"

    def to_json(self) -> dict[str, str]:
        return {"key": self.name, "version": self.version, "emsdk_revision": self.revision,
                "patches_sha256": self.patches, "platform": self.platform}  # fmt: skip

    @classmethod
    def from_meta(cls, meta: dict[str, str]) -> SdkKey | None:
        try:
            return cls(meta["version"], meta["emsdk_revision"], meta["patches_sha256"],
                       meta["platform"])  # fmt: skip
        except (KeyError, ValueError):
            return None


@dataclass(frozen=True)
class StoredSdk:
    key: SdkKey
    path: Path
    manifest: SdkManifest

    @property
    def tree(self) -> Path:
        return self.path / SDK_TREE


class SdkStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or store_dir()
        self.sdks = self.path / STORE_SDKS

    # --- reading --------------------------------------------------------------
    def lock(self, family: str) -> FileLock:
        folder = make_real_dir(self.sdks / STORE_LOCKS)
        return FileLock(folder / f"sdk-{family}.lock", pid_record=True)

    def load(self, name: str) -> StoredSdk | None:
        """The published SDK named ``name`` with its manifest (not checked yet)."""
        if not _SAFE.match(name) or not real_dir(self.sdks) or not real_dir(self.sdks / name):
            return None
        manifest = SdkManifest.read(self.sdks / name / SDK_MANIFEST)
        key = SdkKey.from_meta(manifest.meta) if manifest else None
        if manifest is None or key is None or key.name != name:
            return None
        return StoredSdk(key, self.sdks / name, manifest)

    def find(self, key: SdkKey) -> tuple[StoredSdk | None, str | None]:
        """The stored SDK for ``key`` if it passes the quick check; else why not."""
        if not real_dir(self.sdks / key.name):
            return None, None
        sdk = self.load(key.name)
        if sdk is None:
            return None, "its manifest is missing or damaged"
        damage = quick_check(sdk.tree, sdk.manifest) if real_dir(sdk.tree) else "no tree"
        return (None, damage) if damage else (sdk, None)

    def family(self, version: str, patches: str, plat: str) -> list[StoredSdk]:
        """Stored SDKs for a version and patch set, whatever the emsdk revision."""
        return [s for s in self.all() if (s.key.version, s.key.patches, s.key.platform)
                == (version, patches, plat)]  # fmt: skip

    def all(self) -> list[StoredSdk]:
        if not real_dir(self.sdks):
            return []
        found = []
        for entry in sorted(os.scandir(self.sdks), key=lambda e: e.name):
            if not entry.name.startswith("."):
                sdk = self.load(entry.name)
                if sdk is not None:
                    found.append(sdk)
        return found

    # --- writing --------------------------------------------------------------
    def new_build(self) -> Path:
        """A private folder to build or unpack an SDK in (its ``emsdk`` subfolder)."""
        make_real_dir(self.sdks)
        folder = self.sdks / f"{SDK_BUILD_PREFIX}{os.urandom(4).hex()}-{os.getpid()}"
        folder.mkdir()
        return folder

    def tidy(self) -> None:
        """Remove builds of processes that are gone, and half-removed SDKs."""
        if not real_dir(self.sdks):
            return
        for entry in os.scandir(self.sdks):
            if entry.name.startswith(SDK_TRASH_PREFIX):
                remove_tree(Path(entry.path))
            elif entry.name.startswith(SDK_BUILD_PREFIX):
                pid = entry.name.rsplit("-", 1)[-1]
                if not pid.isdigit() or not pid_alive(int(pid)):
                    remove_tree(Path(entry.path))

    def publish(
        self,
        build: Path,
        key: SdkKey,
        meta: dict[str, str],
        verified: SdkManifest | None = None,
        *,
        stamped: bool = False,
    ) -> StoredSdk:
        """Record the finished SDK in ``build/emsdk`` and move it into place as ``key``.

        Reads every file once (the manifest's sha256s), unless ``verified`` is the
        manifest every file was already checked against while it was written (an
        unpacked pack); files become read-only. ``stamped``: the writer of the files
        made them read-only and recorded their identities in ``verified`` already.
        """
        if verified is None:
            manifest = scan(build / SDK_TREE, {**meta, **key.to_json()})
        else:
            manifest = verified
            if not stamped:
                restamp(build / SDK_TREE, manifest)
        checkpoint("sdk.scanned")
        if not stamped:
            _read_only(build / SDK_TREE, manifest)
        (build / SDK_MANIFEST).write_bytes(manifest.dump())
        checkpoint("sdk.manifest")
        final = self.sdks / key.name
        if real_dir(final) or final.is_symlink():
            self.discard(key.name)
        os.rename(build, final)
        checkpoint("sdk.published")
        return StoredSdk(key, final, manifest)

    def rewrite_manifest(self, sdk: StoredSdk) -> None:
        """Save ``sdk``'s manifest again (identities refreshed after a full check)."""
        write_atomic(sdk.path / SDK_MANIFEST, sdk.manifest.dump())

    def discard(self, name: str) -> None:
        """Remove a stored SDK (damaged or unused); roots that linked it keep theirs."""
        if not _SAFE.match(name):
            return
        path = self.sdks / name
        if not (real_dir(path) or path.is_symlink()):
            return
        trash = self.sdks / f"{SDK_TRASH_PREFIX}{os.urandom(4).hex()}"
        os.rename(path, trash)
        remove_tree(trash)

    # --- which roots use which SDK -------------------------------------------
    def register_user(self, key: SdkKey, emsdk_dir: Path) -> None:
        folder = make_real_dir(self.path / STORE_SDK_USERS / key.name)
        record = hashlib.sha256(str(emsdk_dir).encode()).hexdigest()[:16]
        write_atomic(folder / record, str(emsdk_dir).encode())

    def users(self, key: SdkKey) -> list[Path]:
        """The emsdk folders that are linked from ``key`` now (stale records dropped)."""
        folder = self.path / STORE_SDK_USERS / key.name
        if not real_dir(folder):
            return []
        live = []
        for entry in os.scandir(folder):
            try:
                emsdk = Path(read_bounded(entry.path, 4096).decode())
            except (OSError, ValueError):
                continue
            if root_sdk_key(emsdk.parent) == key.name:
                live.append(emsdk)
            else:
                try:
                    os.unlink(entry.path)
                except OSError:
                    pass
        return sorted(live)


def root_sdk_key(version_dir: Path) -> str | None:
    """The store key the SDK of a version folder was linked from, if any."""
    try:
        data = json.loads(read_bounded(version_dir / EMSDK_KEY_MARKER, 4096))
        return str(data["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_only(top: Path, manifest: SdkManifest) -> None:
    # Mode bits do not stop root; the quick check catches what gets through. No
    # setuid, setgid or sticky bit is kept, whatever the build or a pack's manifest says.
    for rel, entry in manifest.files.items():
        mode = int(entry[2])
        wanted = mode & 0o777 & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        if wanted != mode:
            chmod_here(top / rel, wanted)
