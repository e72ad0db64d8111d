"""The manifest of a stored Emscripten SDK, and the two ways it is checked.

An SDK is about 1.5 GB in 30,000 files, so the check made every time a root links it
cannot read every byte (that alone would take longer than the link). The manifest
therefore records, besides each file's size, sha256 and mode, the identity the file
had when the SDK was published (inode and mtime): a file that was replaced (new
inode), appended to or rewritten (new mtime or size), removed, or one that was added,
is caught by one ``lstat`` per file (:func:`quick_check`). Hashing every byte
(:func:`full_check`) is left to ``cache verify`` (e.g. right after a CI cache restore,
where inodes and mtimes are new anyway) and to unpacking a pack from elsewhere.

Private paths (:func:`is_private`) are the parts of an SDK that builds write in place:
every root gets its own copy of them, never a link. What builds only create or delete
(the prebuilt libraries of the Emscripten cache) is shared like the rest.
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

# What Emscripten and emsdk write after the install, relative to the emsdk folder. Read
# from emscripten's tools/cache.py, tools/config.py, tools/shared.py, tools/system_libs.py,
# tools/ports/__init__.py, tools/emscripten.py and embuilder.py (main, August 2026).
#
# Written IN PLACE (the same inode opened for writing: private to each root):
# - upstream/emscripten/cache/cache.lock, and the per-file locks of the symbol-list cache
#   (<cache>/<kind>.lock, <cache>/<kind>/<name>.lock): filelock opens them O_RDWR|O_CREAT|
#   O_TRUNC;
# - cache/sanity.txt: check_sanity() writes it with open("w") (after clearing the cache
#   when the config or version changed);
# - cache/sysroot/include/**, sysroot/share/**, sysroot/bin/*, sysroot/lib/pkgconfig/*.pc,
#   sysroot/lib/<arch>/libc++.modules.json: install_system_headers() copies them over the
#   existing files (shutil.copy) when sysroot_install.stamp is missing (`embuilder build
#   sysroot --force`), and ports install headers and .pc files the same way
#   (shutil.copyfile, Ports.write_file);
# - cache/sysroot/include/emscripten/version.h and cache/sysroot_install.stamp
#   (write_file);
# - cache/sysroot/lib/**/*.o and *.bc: a one-object library is copied over the old one
#   (create_lib: shutil.copyfile);
# - cache/build/**: ninja files appended to (ensure_target_in_ninja_file) and rewritten;
#   object files rebuilt by clang and ninja;
# - .emscripten at the top (emsdk activate; tools/config.py reads it through EM_CONFIG or
#   two levels above emcc), .emscripten_sanity* and .emscripten.old beside it, and
#   upstream/emscripten/.emscripten* (the config emcc --generate-config writes next to it).
# Only ever CREATED (a new inode) or DELETED, never opened for writing while they exist:
# - cache/sysroot/lib/**/*.a, the system and port libraries: create_lib_emar() deletes
#   the old archive before `emar cr` writes a new one, and erase_lib()/cache.erase()
#   only delete;
# - cache/ports/<name>/ (unpacked into <name>.tmp and renamed), ports/<name>.zip (the old
#   one deleted first), symbol_lists/<hash> (written only when missing, pruned by
#   deletion): not shared all the same, as a prebuilt cache does not hold them and the
#   rule is kept to what is known to be safe.
# So the .a libraries under cache/sysroot/lib are shared (hard links: read-only, and a
# rebuild replaces the root's own name, never the shared inode); everything else in the
# cache and the configs is a private copy in each root.
_CACHE = "upstream/emscripten/cache"
_SHARED_IN_CACHE = "upstream/emscripten/cache/sysroot/lib/"
_SHARED_SUFFIX = ".a"
_PRIVATE_PREFIX = ".emscripten"
_PRIVATE_FOLDERS_OF_CONFIG = ("", "upstream/emscripten")


def is_private(rel: str) -> bool:
    """Whether ``rel`` (relative to the emsdk folder) may be written in place by a build:
    such files are copied into each root, never linked (see the list above)."""
    if rel == _CACHE or rel.startswith(_CACHE + "/"):
        return not (rel.startswith(_SHARED_IN_CACHE) and rel.endswith(_SHARED_SUFFIX))
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
        # Plain type checks, no generator per entry: 30,000 entries are read at each link.
        try:
            data = json.loads(raw)
            files = data["files"]
            if type(files) is not dict:
                return None
            for v in files.values():
                if type(v) is not list or len(v) != 5:
                    return None
                size, sha, mode, ino, mtime = v
                if type(sha) is not str or not (
                    type(size) is int and type(mode) is int and type(ino) is int
                    and type(mtime) is int
                ):  # fmt: skip
                    return None
            links = {str(k): str(v) for k, v in data["links"].items()}
            dirs = {str(k): int(v) for k, v in data["dirs"].items()}
            meta = {str(k): str(v) for k, v in data["meta"].items()}
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None
        if any(map(_unsafe, files)) or any(map(_unsafe, links)) or any(map(_unsafe, dirs)):
            return None  # a manifest is data: it never names anything outside the tree
        return cls(files, links, dirs, meta)

    @classmethod
    def read(cls, path: Path) -> SdkManifest | None:
        try:
            return cls.load(read_bounded(path, _MAX_MANIFEST))
        except OSError:
            return None


def _unsafe(rel: str) -> bool:
    """Absolute, empty, or with an empty, ``.`` or ``..`` part (string tests: no split)."""
    wrapped = f"/{rel}/"
    return (
        rel.startswith("/") or "\0" in rel or "//" in wrapped or "/./" in wrapped
        or "/../" in wrapped
    )  # fmt: skip


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
    files, links, dirs = manifest.files, manifest.links, manifest.dirs
    seen_files = 0
    seen_other = 0
    pending = [("", str(top))]
    while pending:  # one scandir per folder, one lstat per entry
        prefix, folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            return f"{prefix or 'the tree'} vanished"
        for entry in entries:
            rel = prefix + entry.name
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                return f"{rel} vanished"
            if stat.S_ISLNK(info.st_mode):
                if links.get(rel) != os.readlink(entry.path):
                    return f"symlink {rel} was added or changed"
                seen_other += 1
            elif stat.S_ISDIR(info.st_mode):
                if rel not in dirs:
                    return f"folder {rel} was added"
                seen_other += 1
                pending.append((rel + "/", entry.path))
            else:
                want = files.get(rel)
                if want is None or not stat.S_ISREG(info.st_mode):
                    return f"{rel} was added"
                if info.st_size != want[0]:
                    return f"{rel} changed size"
                if info.st_ino != want[3]:
                    return f"{rel} was replaced"
                if info.st_mtime_ns != want[4]:
                    return f"{rel} was modified"
                seen_files += 1
    if seen_files != len(files) or seen_other != len(links) + len(dirs):
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
