"""The manifest of a stored Emscripten SDK, and the two ways it is checked.

An SDK is about 1.5 GB in 30,000 files, so the check made every time a root links it
cannot read every byte (that alone would take longer than the link). The manifest
therefore records, besides each file's size, sha256 and mode, the identity the file
had when the SDK was published (inode and mtime): a file that was replaced (new
inode), appended to or rewritten (new mtime or size), removed, or one that was added,
is caught by one ``lstat`` per file (:func:`quick_check`). Hashing every byte
(:func:`full_check`) is left to ``cache verify`` (e.g. right after a CI cache restore,
where inodes and mtimes are new anyway) and to unpacking a pack from elsewhere.

Private paths (:func:`is_private`) are the parts of an SDK that builds write: every
root gets its own copy of them, never a link.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..fs.paths import read_bounded
from .manifest import file_digest

_MAX_MANIFEST = 256 << 20

# What Emscripten and emsdk write after the install, relative to the emsdk folder:
# - upstream/emscripten/cache: the Emscripten cache (tools/cache.py). emcc and
#   embuilder create libraries, ports, symbol lists, build folders and lock files in
#   it, and rewrite some files in place (sanity.txt on every version/config change,
#   the system headers when the sysroot is installed again).
# - .emscripten at the top: the config emsdk activate writes (tools/config.py reads it
#   through EM_CONFIG); .emscripten_sanity* and .emscripten.old beside it from emsdk.
# - upstream/emscripten/.emscripten*: the config Emscripten generates next to itself
#   when none is found (tools/config.py, embedded mode).
_PRIVATE_DIRS = ("upstream/emscripten/cache",)
_PRIVATE_PREFIX = ".emscripten"
_PRIVATE_FOLDERS_OF_CONFIG = ("", "upstream/emscripten")


def is_private(rel: str) -> bool:
    """Whether ``rel`` (relative to the emsdk folder) is written by builds."""
    if any(rel == d or rel.startswith(d + "/") for d in _PRIVATE_DIRS):
        return True
    folder, _, name = rel.rpartition("/")
    return folder in _PRIVATE_FOLDERS_OF_CONFIG and name.startswith(_PRIVATE_PREFIX)


@dataclass
class SdkManifest:
    """Files ``{rel: [size, sha256, mode, ino, mtime_ns]}``, links ``{rel: target}``,
    dirs ``{rel: mode}``, relative to the emsdk folder; ``meta`` is the key and origin."""

    files: dict[str, list[int | str]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    dirs: dict[str, int] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(int(v[0]) for v in self.files.values())

    def digest(self) -> str:
        """The sha256 of the content (names, sizes, hashes, modes, links): what a pack
        is named by and what a signature covers; identities are left out."""
        content = {
            "files": {k: v[:3] for k, v in sorted(self.files.items())},
            "links": dict(sorted(self.links.items())),
            "dirs": dict(sorted(self.dirs.items())),
            "meta": dict(sorted(self.meta.items())),
        }
        return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()

    def dump(self) -> bytes:
        data = {"version": 1, "meta": self.meta, "files": self.files, "links": self.links,
                "dirs": self.dirs}  # fmt: skip
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def load(cls, raw: bytes) -> SdkManifest | None:
        try:
            data = json.loads(raw)
            files = {str(k): list(v) for k, v in data["files"].items()}
            for v in files.values():
                if (
                    len(v) != 5
                    or not isinstance(v[1], str)
                    or not all(isinstance(v[i], int) for i in (0, 2, 3, 4))
                ):
                    return None
            links = {str(k): str(v) for k, v in data["links"].items()}
            dirs = {str(k): int(v) for k, v in data["dirs"].items()}
            meta = {str(k): str(v) for k, v in data["meta"].items()}
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None
        names = [*files, *links, *dirs]
        if any(_unsafe(n) for n in names):
            return None  # a manifest is data: it never names anything outside the tree
        return cls(files, links, dirs, meta)

    @classmethod
    def read(cls, path: Path) -> SdkManifest | None:
        try:
            return cls.load(read_bounded(path, _MAX_MANIFEST))
        except OSError:
            return None


def _unsafe(rel: str) -> bool:
    parts = rel.split("/")
    return rel.startswith("/") or "\0" in rel or any(p in ("", ".", "..") for p in parts)


def scan(top: Path, meta: dict[str, str]) -> SdkManifest:
    """The manifest of the finished SDK at ``top`` (reads every byte once)."""
    out = SdkManifest(meta=dict(meta))
    base = str(top)
    for dirpath, dirnames, filenames in os.walk(base):
        rel_dir = os.path.relpath(dirpath, base)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            rel = prefix + name
            if stat.S_ISLNK(info.st_mode):
                out.links[rel] = os.readlink(path)
            elif stat.S_ISDIR(info.st_mode):
                out.dirs[rel] = stat.S_IMODE(info.st_mode)
            elif stat.S_ISREG(info.st_mode):
                size, sha = file_digest(path)
                out.files[rel] = [size, sha, stat.S_IMODE(info.st_mode), info.st_ino,
                                  info.st_mtime_ns]  # fmt: skip
            # sockets, fifos, devices: nothing an SDK install leaves; not shared
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return out


def restamp(top: Path, manifest: SdkManifest) -> None:
    """Record each file's current identity (after a move that kept the bytes)."""
    for rel, entry in manifest.files.items():
        info = os.lstat(top / rel)
        entry[3], entry[4] = info.st_ino, info.st_mtime_ns


def quick_check(top: Path, manifest: SdkManifest) -> str | None:
    """Why the tree at ``top`` differs from ``manifest`` (None: it matches), from names
    and ``lstat`` alone: what is missing, added, replaced, resized or rewritten."""
    seen_files = 0
    seen_other = 0
    base = str(top)
    for dirpath, dirnames, filenames in os.walk(base):
        rel_dir = os.path.relpath(dirpath, base)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        keep = []
        for name in [*dirnames, *filenames]:
            rel = prefix + name
            path = os.path.join(dirpath, name)
            try:
                info = os.lstat(path)
            except OSError:
                return f"{rel} vanished"
            if stat.S_ISLNK(info.st_mode):
                if manifest.links.get(rel) != os.readlink(path):
                    return f"symlink {rel} was added or changed"
                seen_other += 1
            elif stat.S_ISDIR(info.st_mode):
                if rel not in manifest.dirs:
                    return f"folder {rel} was added"
                seen_other += 1
                keep.append(name)
            else:
                want = manifest.files.get(rel)
                if want is None or not stat.S_ISREG(info.st_mode):
                    return f"{rel} was added"
                if info.st_size != want[0]:
                    return f"{rel} changed size"
                if info.st_ino != want[3]:
                    return f"{rel} was replaced"
                if info.st_mtime_ns != want[4]:
                    return f"{rel} was modified"
                seen_files += 1
        dirnames[:] = keep
    if seen_files != len(manifest.files) or seen_other != len(manifest.links) + len(manifest.dirs):
        return "files are missing"
    return None


def full_check(top: Path, manifest: SdkManifest) -> str | None:
    """:func:`quick_check` without identities, plus every file's sha256: for trees that
    were copied or unpacked (new inodes), and for ``cache verify``."""
    for rel, want in manifest.files.items():
        try:
            if file_digest(str(top / rel)) != (want[0], want[1]):
                return f"{rel} changed"
        except OSError:
            return f"{rel} is missing or unreadable"
    for rel, target in manifest.links.items():
        try:
            if os.readlink(top / rel) != target:
                return f"symlink {rel} changed"
        except OSError:
            return f"symlink {rel} is missing"
    count = 0
    for _dirpath, dirnames, filenames in os.walk(str(top)):
        count += len(dirnames) + len(filenames)
    if count != len(manifest.files) + len(manifest.links) + len(manifest.dirs):
        return "files were added or removed"
    return None
