"""A stored SDK packed into one file (tar.zst) for a remote store or a mirror, and back.

A pack carries no checksum from a publisher: whoever wrote it vouches for it. So the
reader trusts the manifest (checked by its digest, and by an HMAC when the fleet shares
a key: tools/emsdk_sources.py) and then the pack only as far as it matches that
manifest: every member must be named in it, every file's bytes must hash to it, every
symlink must have its target; anything else (hard links, devices, fifos, names the
manifest lacks) refuses the whole pack. Unpacking goes into the store's private build
folder: folders first, then files (never through a link: links are made last), and the
SDK is published only when all of it matched. No mode bit beyond ``0o777`` crosses a
pack either way: a setuid, setgid or sticky bit is dropped when packing and ignored in
the manifest when unpacking (an SDK needs none, and a setuid compiler is an escalation
waiting for a root that runs it).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path
from typing import IO

from ..checkpoints import checkpoint
from ..errors import ArchiveError
from ..fs.files import remove_tree
from .layout import SDK_MANIFEST, SDK_TREE
from .sdk_manifest import SdkManifest
from .sdk_store import SdkKey, SdkStore, StoredSdk

_CHUNK = 1 << 20
PACK_MODES = 0o777  # what a pack may set: read, write and execute bits only


def pack(sdk: StoredSdk, out: IO[bytes]) -> None:
    """Write ``sdk``'s tree as tar.zst to ``out`` (names relative to the emsdk folder)."""
    import zstandard

    m = sdk.manifest
    compressor = zstandard.ZstdCompressor(level=3, threads=-1)
    with (
        compressor.stream_writer(out, closefd=False) as z,
        tarfile.open(fileobj=z, mode="w|", format=tarfile.GNU_FORMAT) as tar,
    ):
        # GNU headers: one block per member (PAX adds an extended header to each, which
        # costs the reader as much again to parse for 30,000 members).
        for rel in [*sorted(m.dirs), *sorted(m.links), *sorted(m.files)]:
            tar.add(sdk.tree / rel, arcname=rel, recursive=False, filter=_plain)


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """A member as the reader may take it: permission bits only, no owner names."""
    info.mode &= PACK_MODES
    info.uname = info.gname = ""
    return info


def unpack(store: SdkStore, stream: IO[bytes], manifest: SdkManifest) -> StoredSdk:
    """Unpack a pack matching ``manifest`` into ``store`` and publish it there."""
    import zstandard

    key = SdkKey.from_meta(manifest.meta)
    if key is None:
        raise ArchiveError("the SDK manifest names no valid key")
    build = store.new_build()
    try:
        tree = build / SDK_TREE
        tree.mkdir()
        for rel in sorted(manifest.dirs, key=lambda r: r.count("/")):
            os.mkdir(tree / rel, 0o755)
        reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
        seen: set[str] = set()
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for member in tar:
                    _member(tar, member, tree, manifest, seen)
        except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
            raise ArchiveError(f"the SDK pack is damaged ({exc})") from None
        if seen != set(manifest.files) | set(manifest.links) | set(manifest.dirs):
            raise ArchiveError("the SDK pack lacks files its manifest names")
        for rel, target in manifest.links.items():
            os.symlink(target, tree / rel)
        checkpoint("sdk.unpacked")
        return store.publish(build, key, manifest.meta, verified=manifest)
    finally:
        if build.exists():
            remove_tree(build)


def _member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, tree: Path, m: SdkManifest, seen: set[str]
) -> None:
    rel = member.name
    if rel in seen:
        raise ArchiveError(f"the SDK pack holds {rel!r} twice")
    seen.add(rel)
    if member.isdir():
        if rel not in m.dirs:
            raise ArchiveError(f"the SDK pack holds a folder its manifest lacks: {rel!r}")
        return
    if member.issym():
        if m.links.get(rel) != member.linkname:
            raise ArchiveError(f"the SDK pack's symlink {rel!r} is not in its manifest")
        return
    want = m.files.get(rel)
    parent = rel.rpartition("/")[0]
    if not member.isfile() or want is None or (parent and parent not in m.dirs):
        raise ArchiveError(f"the SDK pack holds {rel!r}, which its manifest does not name")
    source = tar.extractfile(member)
    assert source is not None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(os.open(tree / rel, flags, 0o600), "wb") as fh:
        while block := source.read(_CHUNK):
            digest.update(block)
            size += len(block)
            fh.write(block)
    if (size, digest.hexdigest()) != (want[0], want[1]):
        raise ArchiveError(f"{rel} in the SDK pack does not match its manifest")
    os.chmod(tree / rel, int(want[2]) & PACK_MODES)


def manifest_bytes(sdk: StoredSdk) -> bytes:
    return (sdk.path / SDK_MANIFEST).read_bytes()
