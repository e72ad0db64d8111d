"""``mirror sync --emscripten``: packed SDKs for the mirrored environments' Emscripten.

An SDK's key holds the sha256 of the environment's patch set, so what a mirror needs is
read from the mirrored archives themselves: each archive's Emscripten version (from
the index, else its ``Makefile.envs``) and its ``pyodide-root/emsdk/patches``. For each
distinct (version, patch set), one of:

* ``present``: DEST already holds a pack for it (of the pinned emsdk revision);
* ``store``: this machine's SDK store has it: packed into DEST;
* ``remote``: the fleet's remote store (or a mirror it is configured with) has it:
  fetched and checked as ``install-emscripten`` would, then packed into DEST;
* ``build``: nobody has it: built here through the same path as
  ``install-emscripten`` (tools/emsdk_obtain.py: pinned emsdk clone, install, patches,
  activate, published to this machine's store and uploaded to the remote store), then
  packed into DEST;
* ``unknown`` (``--dry-run`` only): the archive is not here yet, so neither is its
  patch set.

A pack goes into DEST only from this machine's verified store: DEST vouches for what
the machine running the sync built or checked (see docs/guides/emscripten.md).
"""

from __future__ import annotations

import os
import re
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..cache.layout import ARCHIVE_TOP, EMSDK_PATCHES, MAKEFILE_ENVS, PYODIDE_ROOT_DIR
from ..cache.sdk_store import SdkKey, SdkStore, host_platform, patch_set_digest
from ..cache.store import ArchiveStore
from ..errors import MirrorError
from ..install.streams import kind_of, open_decompressor
from ..net.storage import LocalStorage, Storage
from ..settings.config import ProjectConfig
from ..tools.emsdk_obtain import Source, Wanted, obtained, wanted
from ..tools.emsdk_sources import RemoteSdks
from .plan import Item, Plan

Action = Literal["present", "store", "remote", "build", "unknown"]
Note = Callable[[str], None] | None
_ACTION_OF: dict[Source, Action] = {"built": "build", "store": "store", "remote": "remote",
                                    "mirror": "remote"}  # fmt: skip

_ROOT = f"{ARCHIVE_TOP}/{PYODIDE_ROOT_DIR}"
_PATCH_FOLDER = f"{_ROOT}/{EMSDK_PATCHES}"
_PATCH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}\.patch$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$")
_EMSCRIPTEN = re.compile(rb"^\s*(?:export\s+)?PYODIDE_EMSCRIPTEN_VERSION\s*\??:?=\s*(\S+)", re.M)
_MAX_MEMBER = 16 << 20  # a patch or Makefile.envs larger than this is not one


@dataclass
class SdkItem:
    """One SDK the mirror needs, and what the sync does (or did) about it."""

    emscripten: str | None
    patches: str | None  # sha256 of the patch set (None: not known yet)
    environments: list[str] = field(default_factory=list)  # "<version> (<channel>)"
    action: Action = "unknown"
    key: str | None = None
    patch_dir: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {"emscripten_version": self.emscripten, "patches_sha256": self.patches,
                "environments": self.environments, "action": self.action,
                "key": self.key}  # fmt: skip


def sync_sdks(
    storage: Storage,
    plan: Plan,
    archives: ArchiveStore,
    project: ProjectConfig,
    *,
    dry_run: bool,
    warn: Note = None,
    on_line: Callable[[str], None] | None = None,
    on_item: Callable[[SdkItem], None] | None = None,
) -> list[SdkItem]:
    """The SDKs of the mirrored environments, put into ``storage`` unless ``dry_run``
    (after the archives are in place: their patch sets decide the keys)."""
    from ..tools.emsdk import emsdk_url
    from ..tools.emsdk_sources import sdk_sources

    target = RemoteSdks(storage.url, "mirror", warn, upload=True, storage=storage)
    # Where else SDKs may come from: the fleet's store (it also gets what is built
    # here, as after install-emscripten) and a configured mirror that is not DEST.
    sources = [s for s in sdk_sources(project, warn, upload=True) if not _is(s.url, storage)]
    store = SdkStore()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="xbuildenv-mirror-") as folder:
        items = needed_sdks(storage, plan, archives, Path(folder))
        planned = plan_sdks(items, target, store, sources, url=emsdk_url(project), env=env,
                            warn=warn)  # fmt: skip
        if not dry_run:
            add_sdks(planned, target, store, sources, env=env, warn=warn, on_line=on_line,
                     on_item=on_item)  # fmt: skip
    return items


def needed_sdks(
    storage: Storage, plan: Plan, archives: ArchiveStore, folder: Path
) -> list[SdkItem]:
    """The SDKs the mirrored environments need, one per (version, patch set); each
    archive's patches are copied into a folder below ``folder``."""
    items: dict[tuple[str | None, str | None], SdkItem] = {}
    for n, item in enumerate(plan.items):
        listed = _index_version(plan, item)
        archive = _archive(storage, item, archives, folder / f"archive-{n}")
        if archive is None:
            key: tuple[str | None, str | None] = (listed, None)
            patch_dir = None
        else:
            patch_dir = folder / f"patches-{n}"
            patch_dir.mkdir()
            envs = _read_patches(archive, patch_dir, item)
            version = listed or _makefile_version(envs)
            if version is None:
                continue  # an environment that names no Emscripten needs no SDK
            key = (version, patch_set_digest(patch_dir))
        if key[0] is not None and not _VERSION.match(key[0]):
            raise MirrorError(f"{item.version} names {key[0][:60]!r} as its Emscripten version",
                              "mirror other versions (--version)")  # fmt: skip
        sdk = items.setdefault(key, SdkItem(key[0], key[1], patch_dir=patch_dir))
        sdk.environments.append(f"{item.version} ({item.channel})")
    return list(items.values())


def plan_sdks(
    items: Sequence[SdkItem],
    target: RemoteSdks,
    store: SdkStore,
    sources: Sequence[RemoteSdks],
    *,
    url: str,
    env: Mapping[str, str],
    warn: Note = None,
) -> list[tuple[SdkItem, Wanted | None]]:
    """Decide each item's action without changing anything (``--dry-run`` stops here)."""
    out: list[tuple[SdkItem, Wanted | None]] = []
    plat = host_platform()
    for item in items:
        if item.emscripten is None or item.patches is None or item.patch_dir is None:
            out.append((item, None))
            continue
        want = wanted(item.emscripten, item.patch_dir, url, env, warn)
        rev = want.pin.revision if want.pin else None
        args = (item.emscripten, item.patches, plat, rev)
        found = _in_store(store, want)
        if (name := target.has(*args)) is not None:
            item.action, item.key = "present", name
        elif found is not None:
            item.action, item.key = "store", found
        elif any((name := s.has(*args)) is not None for s in sources):
            item.action, item.key = "remote", name
        else:
            item.action = "build"
        out.append((item, want))
    return out


def add_sdks(
    planned: Sequence[tuple[SdkItem, Wanted | None]],
    target: RemoteSdks,
    store: SdkStore,
    sources: Sequence[RemoteSdks],
    *,
    env: Mapping[str, str],
    warn: Note = None,
    on_line: Callable[[str], None] | None = None,
    on_item: Callable[[SdkItem], None] | None = None,
) -> None:
    """Put a pack of each planned SDK that DEST lacks into DEST (built here if need be)."""
    for item, want in planned:
        if want is None or item.action == "present":
            continue
        with obtained(store, want, env=env, sources=sources, warn=warn,
                      on_line=on_line) as (sdk, source):  # fmt: skip
            item.action = (
                "build" if source == "built" else "store" if source == "store" else "remote"
            )
            item.key = sdk.key.name
            target.share(sdk)
        if target.down:
            raise MirrorError(
                f"could not add the Emscripten SDK {item.key} to {target.url}",
                "see the warning above; the archives and indexes are in place",
            )
        if on_item is not None:
            on_item(item)


def _is(url: str, storage: Storage) -> bool:
    if "://" in url:
        return url.rstrip("/") == storage.url
    return os.path.abspath(os.path.expanduser(url)) == storage.url


def _in_store(store: SdkStore, want: Wanted) -> str | None:
    """The stored SDK's key name for ``want`` (quick check only; nothing dropped)."""
    plat = host_platform()
    if want.pin is not None:
        keys = [SdkKey(want.version, want.pin.revision, want.digest, plat)]
    else:
        keys = [s.key for s in store.family(want.version, want.digest, plat)]
    for key in keys:
        sdk, _damage = store.find(key)
        if sdk is not None:
            return key.name
    return None


def _index_version(plan: Plan, item: Item) -> str | None:
    for cplan in plan.channels:
        entry = cplan.doc.get("releases", {}).get(item.version)
        if isinstance(entry, dict) and isinstance(entry.get("emscripten_version"), str):
            return entry["emscripten_version"] or None
    return None


def _archive(storage: Storage, item: Item, archives: ArchiveStore, temp: Path) -> Path | None:
    """The archive of ``item`` as a local file (the machine's store, DEST, or a copy of
    DEST's), or None when it is not fetched yet."""
    found = archives.find(item.sha256)
    if found is not None:
        return found
    if isinstance(storage, LocalStorage):
        path = storage.root / item.path
        return path if path.is_file() else None
    if storage.size(item.path) is None:
        return None
    with open(temp, "wb") as fh:
        for chunk in storage.chunks(item.path):
            fh.write(chunk)
    return temp


def _read_patches(archive: Path, dest: Path, item: Item) -> bytes | None:
    """Copy the archive's Emscripten patches into ``dest``; return its Makefile.envs.

    Only plain files with plain names are taken, each written by name into ``dest``
    (nothing an archive names can land anywhere else)."""
    envs = None
    try:
        with open(archive, "rb") as raw:
            kind = kind_of(raw.read(6))
            raw.seek(0)
            with tarfile.open(fileobj=open_decompressor(raw, kind), mode="r|") as tar:
                for member in tar:
                    name = member.name.removeprefix("./")
                    folder, _, base = name.rpartition("/")
                    if not member.isfile() or member.size > _MAX_MEMBER:
                        continue
                    if folder == _PATCH_FOLDER and _PATCH_NAME.match(base):
                        data = tar.extractfile(member)
                        assert data is not None
                        (dest / base).write_bytes(data.read())
                    elif name == f"{_ROOT}/{MAKEFILE_ENVS}":
                        data = tar.extractfile(member)
                        assert data is not None
                        envs = data.read()
    except (tarfile.TarError, EOFError, ValueError, OSError) as exc:
        raise MirrorError(f"cannot read the Emscripten patches of {item.version} ({exc})",
                          "run the sync again without --emscripten") from None  # fmt: skip
    return envs


def _makefile_version(envs: bytes | None) -> str | None:
    match = _EMSCRIPTEN.search(envs or b"")
    return match.group(1).decode("ascii", "replace") if match else None
