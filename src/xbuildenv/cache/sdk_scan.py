"""What the SDK store holds and who uses it; removing unused SDKs; checking every byte.

For ``cache list`` (each SDK: key, size, the roots linked to it), ``gc`` (SDKs no root
uses), ``cache clean --emscripten`` and ``cache verify`` (archives, unpacked trees and
SDKs hashed against their names and manifests; damaged ones dropped, so the next
install fetches, unpacks or builds them again, e.g. right after a CI cache restore).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..fs.paths import real_dir
from .cleanup import remove_stored_tree
from .sdk_manifest import full_check, restamp
from .sdk_store import SdkKey, SdkStore
from .store import ArchiveStore
from .trees import TreeStore, identities, restamp_tree, tree_problem


@dataclass(frozen=True)
class SdkEntry:
    key: SdkKey
    path: Path
    size: int
    files: int
    roots: tuple[Path, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.key.to_json(), "path": str(self.path), "size": self.size,
                "files": self.files, "roots": [str(r) for r in self.roots]}  # fmt: skip


def list_sdks(store: SdkStore) -> list[SdkEntry]:
    return [
        SdkEntry(s.key, s.path, s.manifest.size, len(s.manifest.files), tuple(store.users(s.key)))
        for s in store.all()
    ]


def remove_sdks(store: SdkStore, entries: list[SdkEntry], *, unused_only: bool) -> list[SdkEntry]:
    """Remove ``entries`` (each under its lock; with ``unused_only``, only if still
    unused then); roots that linked one keep their files."""
    removed = []
    for entry in entries:
        with store.lock(entry.key.family):
            if unused_only and store.users(entry.key):
                continue
            store.discard(entry.key.name)
            removed.append(entry)
    return removed


@dataclass(frozen=True)
class Checked:
    kind: Literal["archive", "tree", "sdk"]
    name: str
    problem: str | None  # None: it matched
    dropped: bool

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "ok": self.problem is None,
                "problem": self.problem, "dropped": self.dropped}  # fmt: skip


def verify_all(archives: ArchiveStore, sdks: SdkStore) -> list[Checked]:
    """Hash every stored archive, unpacked tree and SDK; drop what does not match."""
    out: list[Checked] = []
    if real_dir(archives.archives):
        for entry in sorted(os.scandir(archives.archives), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            problem = _archive_problem(Path(entry.path), entry.name)
            if problem:
                archives.discard(entry.name) if len(entry.name) == 64 else None
            out.append(Checked("archive", entry.name, problem, problem is not None))
    for tree in TreeStore(archives.path).entries():
        before = identities(tree)
        problem = tree_problem(tree)
        if problem is None:
            restamp_tree(tree, before)  # so that links read no byte of it again
        # Under the archive's store lock (not while an install publishes it anew).
        dropped = problem is not None and remove_stored_tree(tree.path)
        out.append(Checked("tree", tree.sha256, problem, dropped))
    for sdk in sdks.all():
        with sdks.lock(sdk.key.family):
            problem = full_check(sdk.tree, sdk.manifest)
            if problem:
                sdks.discard(sdk.key.name)
            else:
                # Every byte matched: take the files' identities as they are now (after
                # a restore from a CI cache they are new), so the quick check passes.
                restamp(sdk.tree, sdk.manifest)
                sdks.rewrite_manifest(sdk)
        out.append(Checked("sdk", sdk.key.name, problem, problem is not None))
    return out


def _archive_problem(path: Path, name: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    return None if digest.hexdigest() == name.lower() else "its bytes do not match its name"
