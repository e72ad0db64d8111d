"""Getting the SDK for a key into this machine's SDK store: stored, fetched or built.

One path for every caller that needs an SDK in the store: ``install-emscripten`` (then
links it into a root: tools/emsdk.py) and ``mirror sync --emscripten`` (then packs it
into the mirror: mirror/emsdk.py). Under the store's lock for the key's family:

1. the stored SDK, after the quick check (a damaged one is dropped);
2. else each other source in turn (the fleet's remote store, a mirror);
3. else a build: pinned emsdk clone, install, patches, activate, in a private folder
   of the store, published by one rename (tools/emsdk_build.py); the other sources are
   then told (an upload to the remote store), or released when the build failed.

The caller does its part while the lock is still held, so no ``gc`` removes the SDK
between here and the link or the pack.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ..cache.layout import SDK_TREE
from ..cache.sdk_store import SdkKey, SdkStore, StoredSdk, host_platform, patch_set_digest
from ..errors import EmsdkError
from ..fs.files import remove_tree
from .emsdk_build import Pin, build_sdk, resolve_pin

Source = Literal["built", "store", "remote", "mirror"]
Warn = Callable[[str], None] | None


class SdkSource(Protocol):
    """Somewhere else packed SDKs come from (a remote store, a mirror): tried on a miss
    before building, and told about each SDK this process built."""

    name: Source

    def fetch(
        self, store: SdkStore, version: str, patches: str, platform: str, revision: str | None
    ) -> StoredSdk | None: ...

    def share(self, sdk: StoredSdk) -> None: ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class Wanted:
    """What an SDK is asked for by: the version, the patch folder, and the emsdk pin
    (None: emsdk's remote cannot be asked; any stored revision will do)."""

    version: str
    patch_dir: Path
    pin: Pin | None
    url: str

    @property
    def patches(self) -> list[Path]:
        return sorted(self.patch_dir.glob("*.patch"))

    @property
    def digest(self) -> str:
        return patch_set_digest(self.patch_dir)

    @property
    def family(self) -> str:
        pin = self.pin.revision if self.pin else "0" * 40
        return SdkKey(self.version, pin, self.digest, host_platform()).family


def wanted(version: str, patch_dir: Path, url: str, env: Mapping[str, str], warn: Warn) -> Wanted:
    """Resolve the emsdk pin for ``version`` (one ``git ls-remote``, no clone)."""
    pin = resolve_pin(url, version, dict(env))
    if pin is not None and pin.ref is None and warn is not None:
        warn(f"emsdk at {url} has no tag {version}; using its default branch "
             f"(revision {pin.revision[:12]})")  # fmt: skip
    return Wanted(version, patch_dir, pin, url)


@contextmanager
def obtained(
    store: SdkStore,
    want: Wanted,
    *,
    env: Mapping[str, str],
    sources: Sequence[SdkSource] = (),
    warn: Warn = None,
    on_line: Callable[[str], None] | None = None,
    expected_version: str | None = None,
) -> Iterator[tuple[StoredSdk, Source]]:
    """The SDK for ``want`` in ``store`` and where it came from, the family's lock held
    until the ``with`` block ends (see the module doc)."""
    digest, plat = want.digest, host_platform()
    with store.lock(want.family):
        store.tidy()
        sdk, source = stored(store, want, warn)
        for other in sources if sdk is None else ():
            sdk = other.fetch(store, want.version, digest, plat,
                              want.pin.revision if want.pin else None)  # fmt: skip
            if sdk is not None:
                source = other.name
                break
        if sdk is None:
            try:
                sdk = _build(store, want, digest, plat, expected_version, dict(env), on_line)
            finally:
                for other in sources:
                    other.release() if sdk is None else other.share(sdk)
            source = "built"
        yield sdk, source


def stored(store: SdkStore, want: Wanted, warn: Warn) -> tuple[StoredSdk | None, Source]:
    """The stored SDK to use, after the quick check; damaged ones are dropped."""
    digest, plat = want.digest, host_platform()
    if want.pin is not None:
        candidates = [SdkKey(want.version, want.pin.revision, digest, plat)]
    else:
        candidates = [s.key for s in store.family(want.version, digest, plat)]
    for key in candidates:
        sdk, damage = store.find(key)
        if damage is not None:
            if warn is not None:
                warn(f"the stored Emscripten SDK {key.name} is damaged ({damage}); "
                     "removed it, getting it again")  # fmt: skip
            store.discard(key.name)
        elif sdk is not None:
            return sdk, "store"
    return None, "store"


def _build(
    store: SdkStore,
    want: Wanted,
    digest: str,
    plat: str,
    expected: str | None,
    env: dict[str, str],
    on_line: Callable[[str], None] | None,
) -> StoredSdk:
    if shutil.which("git") is None:
        raise EmsdkError("git is needed to build the Emscripten SDK but was not found on PATH")
    build = store.new_build()
    try:
        tree = build / SDK_TREE
        revision, _ = build_sdk(tree, want.url, want.version, want.pin, want.patches, expected,
                                env, on_line)  # fmt: skip
        key = SdkKey(want.version, revision, digest, plat)
        meta = {"emsdk_url": want.url, "build_path": str(tree)}
        if want.pin is not None:
            meta["emsdk_ref"] = want.pin.ref or ""
        return store.publish(build, key, meta)
    finally:
        if build.exists():
            remove_tree(build)
