"""``mirror sync``: archives first, the index last, then (``--prune``) what nothing lists.

The order is what keeps every reader safe, whenever the sync is stopped:

1. every archive still missing is put in place, verified (see :mod:`.transfer`); the
   current index does not list it yet, so nobody looks for it;
2. each channel's index is replaced in one step (a rename in a folder, one PUT in an
   object store): a reader sees the old index, whose archives are all still there,
   or the new one, whose archives all arrived in step 1;
3. only then are archives that no index in the mirror lists any more removed.

A sync killed at any point leaves the previous index valid; the next sync removes
the temporary files of killed writers and carries on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..cache.layout import SDK_PACKS
from ..cache.store import ArchiveStore
from ..checkpoints import checkpoint
from ..errors import UsageError
from ..net.storage import LocalStorage, Storage, temp_writer_alive
from .plan import Item, Plan, listed, names_file
from .selection import INDEX_NAMES
from .transfer import file_chunks, origin_chunks, place

ARCHIVE_SUFFIXES = (".tar.bz2", ".tar.gz", ".tgz", ".tar.xz", ".tar.zst", ".tar", ".zip")


@dataclass
class SyncResult:
    fetched: list[Item] = field(default_factory=list)
    copied: list[Item] = field(default_factory=list)
    present: list[Item] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    fetched_bytes: int = 0


def tidy(storage: Storage) -> None:
    """Remove the temporary files of killed syncs (a live writer's are left alone)."""
    if not isinstance(storage, LocalStorage):
        return  # object stores get no temporary objects: a PUT is all or nothing
    for path in storage.temp_files():
        if not temp_writer_alive(path.name):
            path.unlink(missing_ok=True)


def check_base_url(base_url: str | None) -> None:
    """Refuse a ``--base-url`` that is not absolute: pyodide-build needs absolute URLs."""
    if base_url and not base_url.startswith(("http://", "https://", "file://")):
        raise UsageError(
            f"--base-url {base_url!r} is not an absolute URL",
            "give the URL the mirror will be served at, e.g. https://mirror.example/xbuildenv",
        )


def run_sync(
    storage: Storage,
    plan: Plan,
    *,
    base_url: str | None = None,
    prune: bool = False,
    store: ArchiveStore | None = None,
    on_item: Callable[[Item], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> SyncResult:
    check_base_url(base_url)
    result = SyncResult()
    tidy(storage)
    hashes: dict[str, str] = {}
    for item in plan.items:
        if item.action == "present":
            result.present.append(item)
            assert item.sha256 is not None
            hashes[item.path] = item.sha256
            continue
        if on_item is not None:
            on_item(item)
        checkpoint("mirror.archive")
        cached = store.find(item.sha256) if store is not None and item.action == "store" else None
        if cached is not None:
            chunks = file_chunks(cached)
        else:
            item.action = "fetch"  # the store entry may have gone since the plan
            chunks = origin_chunks(item.origin_url)
        digest, size = place(
            storage, item.path, chunks, item.sha256, what=item.origin_url, on_bytes=on_bytes
        )
        item.sha256, item.size = digest, size
        hashes[item.path] = digest
        if item.action == "fetch":
            result.fetched.append(item)
            result.fetched_bytes += size
        else:
            result.copied.append(item)
    checkpoint("mirror.index")
    for cplan in plan.channels:
        doc = _index_doc(cplan.doc, cplan.items, hashes, base_url)
        storage.put_bytes(cplan.index_name, doc)
        result.indexes.append(cplan.index_name)
        checkpoint("mirror.indexed")
    if prune:
        result.pruned = prune_unlisted(storage)
    return result


def _index_doc(
    source: dict[str, Any], items: list[Item], hashes: dict[str, str], base_url: str | None
) -> bytes:
    """The source index with only the mirrored releases, their URLs pointing here.

    URLs are written without credentials or signatures: an index is served to every
    client (they bring their own credentials: netrc, or the URL they were given)."""
    from ..redaction import redact, strip_userinfo

    releases: dict[str, Any] = {}
    raw = source.get("releases", {})
    for item in items:
        entry = dict(raw.get(item.version, {}))
        url = f"{base_url.rstrip('/')}/{item.path}" if base_url else item.path
        entry["url"] = redact(strip_userinfo(url))
        entry["sha256"] = hashes[item.path]
        if item.origin_url.startswith(("http://", "https://")):
            # xbuildenv falls back to it when the mirror's copy is damaged or missing;
            # a mirror of a mirror keeps the first origin
            entry.setdefault("origin_url", redact(strip_userinfo(item.origin_url)))
        releases[item.version] = entry
    doc = {**source, "releases": releases}
    return (json.dumps(doc, indent=2) + "\n").encode()


def prune_unlisted(storage: Storage) -> list[str]:
    """Delete archives that no index of the mirror lists (other files are never touched).

    Every channel's index counts, whatever base URL it was written with: a file is
    kept when any listed URL ends with its path.
    """
    urls: set[str] = set()
    for name in INDEX_NAMES.values():
        urls.update(listed(storage, name))
    removed = []
    for name in storage.list_files():
        if name in INDEX_NAMES.values() or not name.endswith(ARCHIVE_SUFFIXES):
            continue
        if name.startswith(SDK_PACKS + "/"):
            continue  # packed Emscripten SDKs (mirror sync --emscripten): no index lists them
        if names_file(urls, name):
            continue
        checkpoint("mirror.prune")
        storage.delete(name)
        removed.append(name)
    if isinstance(storage, LocalStorage):
        _remove_empty_folders(storage)
    return removed


def _remove_empty_folders(storage: LocalStorage) -> None:
    for folder, dirs, files in os.walk(storage.root, topdown=False):
        if folder != str(storage.root) and not dirs and not files:
            try:
                os.rmdir(folder)
            except OSError:
                pass  # a concurrent sync just wrote into it
