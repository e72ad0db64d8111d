"""Putting a stored SDK into a root: shared files linked, written files copied.

Every folder is the root's own (a new file an ``emcc`` run creates lands in this root
only); files no build writes are shared with the store (a reflink where the file
system has them, else a hard link, else a copy: cache/treelink.py); the private paths
(cache/sdk_manifest.py :func:`is_private`: the Emscripten cache, the ``.emscripten``
configs) are copies, so a write in one root, in place or not, as root or not, never
reaches the store or another root.

The caller checks the stored SDK (:func:`quick_check`) right before; this module
only copies what the manifest names, so nothing added to the store since is taken.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..checkpoints import checkpoint
from .sdk_manifest import is_private
from .sdk_store import StoredSdk
from .treelink import LinkMode, _copy, _Sharer

# Config files that name the folder the SDK was built in: rewritten for each root.
_CONFIGS = (".emscripten", "upstream/emscripten/.emscripten")
_MAX_CONFIG = 1 << 20


def link_sdk(sdk: StoredSdk, dest: Path, final: Path, mode: LinkMode = "hardlink") -> int:
    """Recreate ``sdk``'s tree at ``dest`` (to be renamed to ``final``); return files."""
    source = sdk.tree
    m = sdk.manifest
    os.makedirs(dest, exist_ok=True)
    for rel in sorted(m.dirs, key=lambda r: r.count("/")):
        os.mkdir(dest / rel, (m.dirs[rel] | 0o700) & 0o7777)
    checkpoint("sdk.link.dirs")
    for rel, target in m.links.items():
        os.symlink(target, dest / rel)
    share = _Sharer(mode)
    built_in = m.meta.get("build_path", "")
    count = 0
    for rel, entry in m.files.items():
        src, dst = str(source / rel), str(dest / rel)
        if not is_private(rel):
            share(src, dst)
        elif rel in _CONFIGS and built_in and 0 < int(entry[0]) <= _MAX_CONFIG:
            text = Path(src).read_bytes().replace(built_in.encode(), str(final).encode())
            Path(dst).write_bytes(text)
        else:
            _copy(src, dst)
        if is_private(rel):
            os.chmod(dst, int(entry[2]) | 0o200)  # the root's own file: writable
        count += 1
        if count % 4096 == 0:
            checkpoint("sdk.link.files")
    checkpoint("sdk.linked")
    return count
