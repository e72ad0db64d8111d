"""The per-file manifest of an installed tree, checked before another root links it.

Hard-linked files are protected by mode bits only, and root (most CI containers)
ignores those: a build that appends to a shared file, or a user who deletes or adds
one, changes the tree for every root that links it later. So each version folder gets
``.xbuildenv-manifest.json`` at install time (size and sha256 of every file and the
target of every symlink, as extracted from the verified archive), and a root links
another root's tree only when that tree matches it file for file: same names, same
sizes, same bytes. Anything else (a file changed, missing or added, no manifest) and
the install unpacks from the store instead.

The package index generated at install time is listed too when it is shared
(``index_version``: the release it was generated for; see cache/treelink.unshared).

The store's tree (cache/trees.py) also records each file's identity when it was
published (``stamps``: inode and mtime_ns), so linking it reads no bytes: a file is
taken as unchanged when it is still a regular file with the published size, inode and
mtime. The trust decision: any write into a file, in place or appended, by anyone
(root too), sets its mtime, and a replaced file has a new inode, so every change a
build or a user makes is caught at the next link; what is not caught is a change that
also puts the old mtime back on purpose (``touch -r``: whoever can do that can write
the store anyway) and silent disk corruption, which ``xbuildenv cache verify`` finds by
hashing every byte. A file whose identity differs but whose bytes still match (a tree
restored from a CI cache has new inodes) is hashed, and linked when it matches; a
manifest without stamps (written by an older version) means hashing every file, as
before. ``bench/manifest_check.py`` measures the full check.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..fs.paths import read_bounded
from .layout import MANIFEST, PACKAGE_INDEX_IN_VERSION

_MAX_MANIFEST = 64 << 20
_CHUNK = 1 << 20


# [st_ino, st_mtime_ns] of a published file, as JSON gives it back. Read without
# checking its shape: anything else compares unequal, and the file is then hashed.
Stamp = list[int]


class Manifest:
    """Files ``{relative name: (size, sha256)}`` and symlinks ``{name: target}``,
    names relative to the version folder (``xbuildenv/...``); ``stamps`` are the
    files' identities in the store's tree (empty elsewhere, and in old manifests)."""

    def __init__(
        self,
        files: dict[str, tuple[int, str]],
        links: dict[str, str],
        stamps: dict[str, Stamp] | None = None,
        index_version: str | None = None,
    ) -> None:
        self.files = files
        self.links = links
        self.stamps = stamps or {}
        # The release version the package index listed in ``files`` was generated for
        # (None: ``files`` holds no package index; see cache/treelink.py).
        self.index_version = index_version

    def dump(self) -> bytes:
        data: dict[str, object] = {"version": 1, "files": self.files, "links": self.links}
        if self.stamps:
            data["stamps"] = self.stamps
        if self.index_version is not None:
            data["index"] = self.index_version
        # json.dumps, not json.dump: only the former uses the C encoder (a tree's
        # manifest is written at every link).
        return json.dumps(data, separators=(",", ":")).encode()

    def write(self, folder: Path) -> None:
        path = folder / MANIFEST
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        text = self.dump()
        with os.fdopen(os.open(path, flags, 0o444), "wb") as fh:
            fh.write(text)

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        """The manifest of ``folder``, or None when missing or not one of ours."""
        try:
            data = json.loads(read_bounded(folder / MANIFEST, _MAX_MANIFEST))
            files = {
                k: (int(v[0]), str(v[1]))
                for k, v in data["files"].items()
                if type(v) is list and len(v) == 2
            }
            links = {k: str(v) for k, v in data["links"].items()}
            stamps = data.get("stamps", {})
            if not isinstance(stamps, dict):
                stamps = {}
            index = data.get("index")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None
        return cls(files, links, stamps, index if isinstance(index, str) else None)

    def without(self, prefixes: tuple[str, ...]) -> Manifest:
        """The manifest less the private folders (never shared, never checked); the
        index version goes with the package index's folder when that is left out."""

        exact, under = set(prefixes), tuple(p + "/" for p in prefixes)
        return Manifest(
            {k: v for k, v in self.files.items() if k not in exact and not k.startswith(under)},
            {k: v for k, v in self.links.items() if k not in exact and not k.startswith(under)},
            {k: v for k, v in self.stamps.items() if k not in exact and not k.startswith(under)},
            None if PACKAGE_INDEX_IN_VERSION in exact else self.index_version,
        )


def file_digest(path: str) -> tuple[int, str]:
    """Size and sha256 of the file at ``path`` (never through a symlink)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        digest = hashlib.sha256()
        size = 0
        while block := fh.read(_CHUNK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()
