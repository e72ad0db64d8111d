"""Putting an archive's tree into a staging folder by the cheapest sound route.

1. **linked**: the archive was unpacked on this machine before, and its tree was
   published in the store (see :mod:`xbuildenv.cache.trees`): share its files. No
   download, no decompression. Every other route publishes the tree it unpacked.
2. **store**: the verified archive is in the machine-wide store: unpack it from
   disk (the hash is checked again on the way; a damaged entry is dropped and we
   fall through to 3).
3. **network**: stream it, teeing the bytes into the store so that no other root
   on this machine downloads it again.

Archives installed by URL have no published hash: they are found again through the
store's URL record when the server's ETag/Last-Modified (or the local file's size
and mtime) still match.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from ..cache.layout import ARCHIVE_MARKER
from ..cache.manifest import Manifest
from ..cache.store import ArchiveStore, UrlRecord
from ..cache.treelink import PRIVATE, LinkMode
from ..cache.trees import StoredTree, TreeStore
from ..errors import ArchiveError, ChecksumError, DownloadError, TreeMismatchError
from ..fs.files import remove_tree
from ..net.fetch import FetchSettings, validator_of
from ..net.urls import local_path
from ..settings.config import DEFAULT_MAX_UNPACKED
from .archive import ExtractStats
from .package_index import LOCK_MEMBER
from .pipeline import download_and_extract

# How a tree arrived: hard-linked from another root, unpacked from the machine-wide
# store, fetched from the fleet's remote store, or downloaded from its origin.
Route = Literal["linked", "store", "remote", "network"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .remote_store import RemoteStore


@dataclass(frozen=True)
class Obtained:
    route: Route
    sha256: str
    downloaded: int = 0
    size: int | None = None  # the archive's bytes, when it was read (not when linked)


def _known_sha(url: str, sha256: str | None, store: ArchiveStore | None) -> str | None:
    if sha256 or store is None:
        return sha256
    record = store.url_record(url)
    if record is None or not record.etag:
        return None
    try:
        current = validator_of(url)
    except Exception:
        return None  # cannot confirm: download again rather than trust a stale record
    return record.sha256 if current == record.etag else None


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _reset(staging: Path) -> None:
    remove_tree(staging)
    staging.mkdir()


def obtain_tree(
    url: str,
    sha256: str | None,
    staging: Path,
    *,
    root: Path,
    store: ArchiveStore | None,
    link_mode: LinkMode = "hardlink",
    max_unpacked: int = DEFAULT_MAX_UNPACKED,
    settings: FetchSettings | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
    on_file: Callable[[str, Path], None] | None = None,
    on_restart: Callable[[], None] | None = None,
    remote: RemoteStore | None = None,
    origin_url: str | None = None,
    warn: Callable[[str], None] | None = None,
    skip_tree: StoredTree | None = None,
) -> Obtained:
    """Fill ``staging`` with the archive's ``xbuildenv/`` tree and record its hash.

    ``on_file(name, path)`` hears of the archive's files as they arrive (on the linked
    route, of the lock file before linking starts: see
    :class:`~xbuildenv.install.package_index.IndexBuilder`); ``on_restart()`` that a
    route failed and the staging folder was emptied for the next one.

    ``remote`` is the fleet's shared store, tried after this machine's own store and
    before the network. ``url`` may be a mirror's copy (``XBUILDENV_MIRROR``) of
    ``origin_url``: a copy that fails its sha256 (or cannot be had) costs a warning,
    then the origin is used. ``skip_tree`` is a published tree that already failed its
    check (it is replaced, not tried again).
    """
    known = _known_sha(url, sha256, store)
    result = None

    def reset() -> None:
        if on_restart is not None:
            # First: e.g. the package index thread, which writes into the staging folder
            on_restart()
        _reset(staging)

    if known and store is not None:
        result, _ = link_stored(known, staging, store, link_mode, on_file, on_restart, skip_tree)
    from_remote = False
    if (
        result is None
        and known
        and store is not None
        and remote is not None
        and not store.find(known)
    ):
        # Not here: from the remote store; else claim the origin fetch, or wait for
        # the runner that claimed it.
        from_remote = remote.fetch_into(store, known) or (
            not remote.claim(known) and remote.fetch_into(store, known)
        )
    if result is None and known and store is not None and (cached := store.find(known)):
        try:
            streamed = download_and_extract(
                str(cached),
                staging,
                expected_sha256=known,
                max_unpacked=max_unpacked,
                on_file=on_file,
            )
            _write_manifest(staging, streamed.stats)
            route: Route = "remote" if from_remote else "store"
            result = Obtained(route, known, 0, streamed.size)
        except (ChecksumError, ArchiveError, DownloadError):
            # DownloadError: the stored file cannot be read (an I/O error, a bad sector)
            if _stored_copy_ok(cached, known):
                raise  # the archive itself is bad, not our copy of it
            store.discard(known)  # damaged: dropped, and fetched again below
            reset()
    if result is None:
        result = _from_origin(
            url,
            sha256,
            staging,
            store,
            max_unpacked,
            settings,
            on_progress,
            on_file,
            remote,
            origin_url,
            warn,
            reset,
        )
    if store is not None and result.route != "linked":
        # Under the store lock still: roots waiting for this archive link it next.
        TreeStore(store.path).publish(staging, result.sha256, link_mode)
    (staging / ARCHIVE_MARKER).write_text(result.sha256)
    return result


def link_stored(
    known: str,
    staging: Path,
    store: ArchiveStore,
    link_mode: LinkMode,
    on_file: Callable[[str, Path], None] | None = None,
    on_restart: Callable[[], None] | None = None,
    skip: StoredTree | None = None,
) -> tuple[Obtained | None, StoredTree | None]:
    """The linked route: share the files of the archive's published tree.

    Needs no lock (a tree is published by one rename, and every file is checked as it
    lands), so many roots link at once. Returns the result (None: not linked, and
    ``staging`` is empty again) and the tree tried, if any: one that failed its check
    is passed back as ``skip`` so that it is not tried again before it is replaced.
    """
    tree = TreeStore(store.path).linkable(known, staging)
    if tree is None or (skip is not None and tree.ident == skip.ident):
        return None, tree
    try:
        if on_file is not None:
            on_file(LOCK_MEMBER, tree.path / LOCK_MEMBER)
        TreeStore(store.path).link_into(tree, staging, link_mode)  # writes the manifest too
        return Obtained("linked", known), tree
    except (OSError, TreeMismatchError):
        # Damaged (or removed by gc meanwhile): unpack from the store, which publishes
        # a good tree in its place.
        if on_restart is not None:
            on_restart()  # first: the package index thread writes into the staging folder
        _reset(staging)
        return None, tree


def _stored_copy_ok(path: Path, sha256: str) -> bool:
    try:
        return _file_sha256(path) == sha256
    except OSError:
        return False


def _write_manifest(staging: Path, stats: ExtractStats) -> None:
    Manifest(stats.hashes, stats.symlinks).without(PRIVATE).write(staging)


def _from_origin(
    url: str,
    sha256: str | None,
    staging: Path,
    store: ArchiveStore | None,
    max_unpacked: int,
    settings: FetchSettings | None,
    on_progress: Callable[[int, int | None], None] | None,
    on_file: Callable[[str, Path], None] | None,
    remote: RemoteStore | None,
    origin_url: str | None,
    warn: Callable[[str], None] | None,
    reset: Callable[[], None],
) -> Obtained:
    """The network route: the mirror's copy, else the origin; then share it."""
    try:
        args = (sha256, staging, store, max_unpacked, settings, on_progress, on_file)
        try:
            result = _from_network(url, *args)
        except (ChecksumError, ArchiveError, DownloadError) as exc:
            if origin_url is None or origin_url == url:
                raise
            if warn is not None:
                warn(f"mirror copy {url} refused ({exc.message}); fetching from {origin_url}")
            reset()
            result = _from_network(origin_url, *args)
        if remote is not None and store is not None and (kept := store.find(result.sha256)):
            remote.upload(kept, result.sha256)
        return result
    finally:
        if remote is not None and sha256:
            remote.release(sha256)


def _from_network(
    url: str,
    sha256: str | None,
    staging: Path,
    store: ArchiveStore | None,
    max_unpacked: int,
    settings: FetchSettings | None,
    on_progress: Callable[[int, int | None], None] | None,
    on_file: Callable[[str, Path], None] | None,
) -> Obtained:
    tee = _StoreTee(store if local_path(url) is None else None)
    try:
        streamed = download_and_extract(
            url,
            staging,
            expected_sha256=sha256,
            max_unpacked=max_unpacked,
            settings=settings,
            on_progress=on_progress,
            sink=tee.write if tee.fh is not None else None,
            on_file=on_file,
        )
        _write_manifest(staging, streamed.stats)
        if tee.finish() and store is not None and tee.temp is not None:
            try:
                store.commit(tee.temp, streamed.sha256)
                tee.temp = None
                if sha256 is None and streamed.validator:
                    store.remember_url(UrlRecord(url, streamed.sha256, streamed.validator))
            except OSError:
                pass  # a store we cannot write to only costs speed
        return Obtained("network", streamed.sha256, streamed.size, streamed.size)
    finally:
        tee.discard()


class _StoreTee:
    """The store's copy of a download. Any error writing it (a full or read-only
    disk under the store) stops the copy, never the install: a store that cannot be
    written only costs speed."""

    def __init__(self, store: ArchiveStore | None) -> None:
        self.temp: Path | None = None
        self.fh: IO[bytes] | None = None
        if store is not None:
            try:
                self.temp, self.fh = store.open_temp()
            except OSError:
                self.temp = self.fh = None

    def write(self, chunk: bytes) -> None:
        if self.fh is None:
            return
        try:
            self.fh.write(chunk)
        except OSError:
            self.discard()

    def finish(self) -> bool:
        """Close the copy; True when it holds every byte."""
        if self.fh is None:
            return False
        try:
            self.fh.close()
        except OSError:
            self.discard()
            return False
        self.fh = None
        return True

    def discard(self) -> None:
        if self.fh is not None:
            try:
                self.fh.close()
            except OSError:
                pass
            self.fh = None
        if self.temp is not None:
            try:
                os.unlink(self.temp)
            except OSError:
                pass
            self.temp = None
