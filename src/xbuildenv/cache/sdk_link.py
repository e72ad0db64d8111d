"""Putting a stored SDK into a root: shared files linked, written files copied.

Every folder is the root's own (a new file an ``emcc`` run creates lands in this root
only, and a file it deletes goes from this root only); files no build writes in place
are shared with the store (a reflink where the file system has them, else a hard link,
else a copy: cache/treelink.py), the prebuilt libraries of the Emscripten cache among
them (emcc and embuilder delete a library before writing a new one); the private paths
(cache/sdk_manifest.py :func:`is_private`, which lists what emscripten writes in place:
the cache's lock, ``sanity.txt``, the installed headers, ``.o`` files, build folders,
and the ``.emscripten`` configs) are copies, so a write in one root, in place or not,
as root or not, never reaches the store or another root.

The caller checks the stored SDK (:func:`quick_check`) right before; this module
only copies what the manifest names, so nothing added to the store since is taken.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from ..checkpoints import checkpoint
from ..fs.clone import clone_file
from .sdk_manifest import is_private
from .sdk_store import StoredSdk
from .treelink import LinkMode, _Sharer

# Config files that name the folder the SDK was built in: rewritten for each root.
_CONFIGS = (".emscripten", "upstream/emscripten/.emscripten")
_MAX_CONFIG = 1 << 20
_WRITE_BITS = 0o222
_BATCH = 4096  # files between two kill checkpoints
_MIN_SPLIT = 64  # fewer items are not worth a thread


def link_sdk(sdk: StoredSdk, dest: Path, final: Path, mode: LinkMode = "hardlink") -> int:
    """Recreate ``sdk``'s tree at ``dest`` (to be renamed to ``final``); return files."""
    # Plain strings, not Path objects: 30,000 files make the difference measurable.
    source, out = str(sdk.tree) + os.sep, str(dest) + os.sep
    m = sdk.manifest
    os.makedirs(dest, exist_ok=True)
    levels: dict[int, list[str]] = {}
    for rel in m.dirs:
        levels.setdefault(rel.count("/"), []).append(rel)
    for depth in sorted(levels):  # parents first; each level on two threads
        on_two_threads(lambda rel: os.mkdir(out + rel, (m.dirs[rel] | 0o700) & 0o777),
                       levels[depth])  # fmt: skip
    checkpoint("sdk.link.dirs")
    for rel, target in m.links.items():
        os.symlink(target, out + rel)
    share = _Sharer(mode)
    private = _Private()
    built_in = m.meta.get("build_path", "")

    def put(rel: str) -> None:
        entry = m.files[rel]
        src, dst = source + rel, out + rel
        if not is_private(rel):
            # The store's files are read-only since publish: nothing to change there
            share(src, dst, int(entry[2]) & 0o777 & ~_WRITE_BITS)
        elif rel in _CONFIGS and built_in and 0 < int(entry[0]) <= _MAX_CONFIG:
            text = Path(src).read_bytes().replace(built_in.encode(), str(final).encode())
            Path(dst).write_bytes(text)
            os.chmod(dst, (int(entry[2]) | 0o200) & 0o777)
        else:
            private(src, dst, (int(entry[2]) | 0o200) & 0o777)  # the root's own file: writable

    names = list(m.files)
    for start in range(0, len(names), _BATCH):
        on_two_threads(put, names[start : start + _BATCH])
        if start + _BATCH <= len(names):
            checkpoint("sdk.link.files")
    checkpoint("sdk.linked")
    return len(names)


def on_two_threads(work: Callable[[str], None], items: list[str]) -> None:
    """``work`` on every item, half of them on a second thread: creating a file or a
    folder is kernel time (inode allocation), and it runs on two cores at once. On a
    file system that just freed many inodes (ext4 after a large delete) each creation
    costs up to a millisecond, and a root's SDK has thousands."""
    if len(items) < _MIN_SPLIT:
        for item in items:
            work(item)
        return
    failed: list[BaseException] = []

    def lane(part: list[str]) -> None:
        try:
            for item in part:
                work(item)
        except BaseException as exc:  # raised again on the calling thread
            failed.append(exc)

    helper = threading.Thread(target=lane, args=(items[1::2],), name="xbuildenv-link")
    helper.start()
    try:
        lane(items[::2])
    finally:
        helper.join()
    if failed:
        raise failed[0]


class _Private:
    """A private copy: a reflink while the file system takes them, then plain copies
    (the failed attempt is not repeated for each of thousands of files)."""

    def __init__(self) -> None:
        self.reflinks = True

    def __call__(self, src: str, dst: str, mode: int) -> None:
        if self.reflinks and clone_file(src, dst):
            os.chmod(dst, mode)
            return
        self.reflinks = False
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with open(src, "rb") as fin, os.fdopen(os.open(dst, flags, mode), "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        os.chmod(dst, mode)
