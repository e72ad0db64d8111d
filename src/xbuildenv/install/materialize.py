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
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from ..cache.layout import ARCHIVE_MARKER, MANIFEST, pyodide_root_in
from ..cache.manifest import Manifest
from ..cache.store import ArchiveStore, UrlRecord
from ..cache.treelink import PRIVATE
from ..cache.trees import StoredTree, TreeStore
from ..errors import ArchiveError, ChecksumError, DownloadError, TreeMismatchError
from ..fs.files import remove_tree
from ..net.urls import local_path
from ..redaction import redact
from .package_index import LOCK_MEMBER, IndexBuilder
from .reporter import NullReporter, Reporter
from .request import InstallRequest

if TYPE_CHECKING:
    # The download pipeline (tarfile, the decompressors, the HTTP client) is imported
    # by the routes that read an archive: a linked install never does.
    from .archive import ExtractStats
    from .pipeline import StreamResult

# How a tree arrived: hard-linked from another root, unpacked from the machine-wide
# store, fetched from the fleet's remote store, downloaded from its origin, or read
# from a local path or file:// URL ("file").
Route = Literal["linked", "store", "remote", "network", "file"]


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
    from ..net.fetch import validator_of

    try:
        current = validator_of(url)
    except Exception:
        return None  # cannot confirm: download again rather than trust a stale record
    return record.sha256 if current == record.etag else None


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def obtain_tree(
    request: InstallRequest,
    staging: Path,
    *,
    root: Path,
    store: ArchiveStore | None,
    watcher: IndexBuilder | None = None,
    reporter: Reporter | None = None,
    skip_tree: StoredTree | None = None,
) -> Obtained:
    """Fill ``staging`` with the archive's ``xbuildenv/`` tree and record its hash.

    ``root`` is the root being installed into; ``store`` the machine-wide archive
    store (None: neither the store nor tree sharing). A tree unpacked here is published
    in the store for every other root (the caller holds the archive's store lock);
    ``skip_tree`` is a published tree that already failed its check (it is replaced,
    not tried again).
    ``watcher`` builds the package index: it hears of the archive's files as they
    arrive (on the linked route, of the lock file before linking starts, unless the
    tree brings the index for this version: see
    :class:`~xbuildenv.install.package_index.IndexBuilder`), and that a route failed
    and the staging folder was emptied for the next one; a tree published here takes
    the index along.

    ``request.remote`` is the fleet's shared store, tried after this machine's own store
    and before the network. ``request.source.url`` may be a mirror's copy
    (``XBUILDENV_MIRROR``) of its ``origin_url``: a copy that fails its sha256 (or cannot
    be had) costs a warning, then the origin is used.
    """
    routes = _Routes(request, staging, root, store, watcher, reporter or NullReporter())
    result = routes.linked(skip_tree) or routes.from_store() or routes.from_origin()
    if store is not None and result.route != "linked":
        # Under the store lock still: the roots waiting for this archive link it next,
        # its package index too.
        if watcher is not None:
            _with_index(staging, watcher)
        TreeStore(store.path).publish(staging, result.sha256, request.link_mode)
    (staging / ARCHIVE_MARKER).write_text(result.sha256)
    return result


def link_stored(
    request: InstallRequest,
    known: str,
    staging: Path,
    store: ArchiveStore,
    watcher: IndexBuilder | None = None,
    skip: StoredTree | None = None,
    reporter: Reporter | None = None,
) -> tuple[Obtained | None, StoredTree | None]:
    """The linked route: share the files of the archive's tree published in the store.

    Needs no lock (a tree is published by one rename, and every file is checked as it
    lands), so many roots link at once. Returns the result (None: not linked, and
    ``staging`` is empty again) and the tree tried, if any: one that failed its check
    is passed back as ``skip``, so that it is not tried again before it is replaced.
    """
    trees = TreeStore(store.path)
    tree = trees.linkable(known, staging)
    if tree is None or (skip is not None and tree.ident == skip.ident):
        return None, tree
    if reporter is not None:
        reporter.phase("link")
    release = request.source.release_version
    manifest = Manifest.read(tree.path)  # None: link_into finds it missing
    try:
        if watcher is not None:
            if manifest is not None and manifest.index_version == release:
                watcher.adopt()  # the tree brings this version's package index
            else:
                watcher.saw(LOCK_MEMBER, tree.path / LOCK_MEMBER)
        # writes the manifest too
        trees.link_into(tree, staging, request.link_mode, release, manifest)
        (staging / ARCHIVE_MARKER).write_text(known)  # gc keeps what a root came from
        return Obtained("linked", known), tree
    except (OSError, TreeMismatchError):
        # Damaged (or removed by gc meanwhile): unpack from the store, which publishes
        # a good tree in its place.
        if watcher is not None:
            watcher.restart()  # first: the package index thread writes into staging
        remove_tree(staging)
        staging.mkdir()
        return None, tree


@dataclass
class _Routes:
    """The routes a tree can take, cheapest first; each returns None to pass it on."""

    request: InstallRequest
    staging: Path
    root: Path
    store: ArchiveStore | None
    watcher: IndexBuilder | None
    reporter: Reporter
    # The archive's sha256: published, or remembered for the URL (None: not known
    # before it is read, so only the network route applies).
    known: str | None = field(init=False)

    def __post_init__(self) -> None:
        source = self.request.source
        self.known = _known_sha(source.url, source.sha256, self.store)

    def reset(self) -> None:
        if self.watcher is not None:
            # First: e.g. the package index thread, which writes into the staging folder
            self.watcher.restart()
        remove_tree(self.staging)
        self.staging.mkdir()

    def linked(self, skip: StoredTree | None) -> Obtained | None:
        """Share the files of the archive's tree published in the store."""
        if not self.known or self.store is None:
            return None
        found, _ = link_stored(
            self.request, self.known, self.staging, self.store, self.watcher, skip, self.reporter
        )
        return found

    def _from_remote(self, known: str, store: ArchiveStore) -> bool:
        """Not in this machine's store: from the remote store; else claim the origin
        fetch, or wait for the runner that claimed it."""
        remote = self.request.remote
        if remote is None or store.find(known):
            return False
        self.reporter.phase("remote")
        return remote.fetch_into(store, known) or (
            not remote.claim(known) and remote.fetch_into(store, known)
        )

    def from_store(self) -> Obtained | None:
        """Unpack the verified archive from this machine's store (the hash is checked
        again on the way; a damaged copy is dropped)."""
        known, store = self.known, self.store
        if not known or store is None:
            return None
        from_remote = self._from_remote(known, store)
        cached = store.find(known)
        if not cached:
            return None
        self.reporter.phase("unpack")
        from .pipeline import download_and_extract

        try:
            streamed = download_and_extract(
                str(cached),
                self.staging,
                expected_sha256=known,
                request=self.request,
                watcher=self.watcher,
                reporter=self.reporter,
            )
        except (ChecksumError, ArchiveError, DownloadError):
            # DownloadError: the stored file cannot be read (an I/O error, a bad sector)
            if _stored_copy_ok(cached, known):
                raise  # the archive itself is bad, not our copy of it
            store.discard(known)  # damaged: dropped, and fetched again below
            self.reset()
            return None
        _write_manifest(self.staging, streamed.stats)
        return Obtained("remote" if from_remote else "store", known, 0, streamed.size)

    def from_origin(self) -> Obtained:
        """The network route: the mirror's copy, else the origin; then share it."""
        source, remote, store = self.request.source, self.request.remote, self.store
        try:
            try:
                result = self.from_network(source.url)
            except (ChecksumError, ArchiveError, DownloadError) as exc:
                origin = source.origin_url
                if origin is None or origin == source.url:
                    raise
                # redacted here: a library's reporter may print it as it is
                self.reporter.warning(
                    redact(
                        f"mirror copy {source.url} refused ({exc.message}); fetching from {origin}"
                    )
                )
                self.reset()
                result = self.from_network(origin)
            if remote is not None and store is not None and (kept := store.find(result.sha256)):
                remote.upload(kept, result.sha256)
            return result
        finally:
            if remote is not None and source.sha256:
                remote.release(source.sha256)

    def from_network(self, url: str) -> Obtained:
        """Stream ``url``, teeing the bytes into the store so that no other root on
        this machine downloads it again."""
        self.reporter.phase("download")
        tee = _StoreTee(self.store if local_path(url) is None else None)
        from .pipeline import download_and_extract

        try:
            streamed = download_and_extract(
                url,
                self.staging,
                expected_sha256=self.request.source.sha256,
                request=self.request,
                sink=tee.write if tee.fh is not None else None,
                watcher=self.watcher,
                reporter=self.reporter,
            )
            _write_manifest(self.staging, streamed.stats)
            self._keep(url, tee, streamed)
            route: Route = "file" if local_path(url) is not None else "network"
            return Obtained(route, streamed.sha256, streamed.size, streamed.size)
        finally:
            tee.discard()

    def _keep(self, url: str, tee: _StoreTee, streamed: StreamResult) -> None:
        """Commit the tee's copy to the store (and, for a URL with no published hash,
        remember which archive the URL gave)."""
        store = self.store
        if not tee.finish() or store is None or tee.temp is None:
            return
        try:
            store.commit(tee.temp, streamed.sha256)
            tee.temp = None
            if self.request.source.sha256 is None and streamed.validator:
                store.remember_url(UrlRecord(url, streamed.sha256, streamed.validator))
        except OSError:
            pass  # a store we cannot write to only costs speed


def _stored_copy_ok(path: Path, sha256: str) -> bool:
    try:
        return _file_sha256(path) == sha256
    except OSError:
        return False


def _write_manifest(staging: Path, stats: ExtractStats) -> None:
    Manifest(stats.hashes, stats.symlinks).without(PRIVATE).write(staging)


def _with_index(staging: Path, builder: IndexBuilder) -> None:
    """Put the package index in place and name its pages in the manifest, so that the
    tree about to be published takes it along (see cache/treelink.unshared); when it
    cannot go along, the tree is published without it and each root writes its own."""
    pages = builder.settle(pyodide_root_in(staging))
    found = Manifest.read(staging) if pages is not None else None
    if pages is None or found is None:
        return
    os.unlink(staging / MANIFEST)  # written once, O_EXCL: see Manifest.write
    Manifest({**found.files, **pages}, found.links, None, builder.version).write(staging)


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
