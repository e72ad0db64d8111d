"""Packed SDKs read back: one pass, every member checked against the manifest.

Real SDK folders published into a real store, packed as tar.zst, unpacked into a second
store; hostile packs are built with tarfile and zstandard by the test (members the
manifest lacks, a link planted under a file's name, a broken header, a pack cut short,
member types the writer never makes) and must be refused, leaving a decoy folder beside
the stores and the second store as they were.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
import zstandard
from helpers.faults import check_decoy, decoy_state

from xbuildenv.cache.sdk_manifest import quick_check
from xbuildenv.cache.sdk_pack import ChunkStream, pack, unpack
from xbuildenv.cache.sdk_store import SdkKey, SdkStore, StoredSdk, host_platform
from xbuildenv.errors import ArchiveError

LONG = "upstream/emscripten/system/lib/" + "/".join(["a-rather-long-folder-name"] * 6)


def _published(tmp_path: Path) -> StoredSdk:
    store = SdkStore(tmp_path / "store-a")
    build = store.new_build()
    top = build / "emsdk"
    files = {
        "upstream/bin/clang": os.urandom(300_000),
        "upstream/emscripten/emcc": b"#!/bin/sh\n",
        "upstream/emscripten/cache/sanity.txt": b"4.0.9\n",
        f"{LONG}/deep-file-with-a-long-name-too.c": b"int f(void);\n" * 100,
        "empty.txt": b"",
    }
    for rel, data in files.items():
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_bytes(data)
    (top / "upstream/emscripten/emcc").chmod(0o755)
    os.symlink("clang", top / "upstream/bin/clang++")
    os.symlink("../" * 8 + "target-" + "x" * 120, top / "upstream/long-link")
    key = SdkKey("4.0.9", "a" * 40, "b" * 64, host_platform())
    return store.publish(build, key, {"build_path": str(top)})


def _packed(sdk: StoredSdk) -> bytes:
    out = io.BytesIO()
    pack(sdk, out)
    return out.getvalue()


def _chunks(data: bytes, size: int = 7919) -> ChunkStream:
    """The pack as a download gives it: in pieces of an odd size."""
    return ChunkStream(iter([data[i : i + size] for i in range(0, len(data), size)]))


def test_a_pack_unpacks_in_one_pass_read_only_and_stamped(tmp_path: Path) -> None:
    sdk = _published(tmp_path)
    other = SdkStore(tmp_path / "store-b")
    got = unpack(other, _chunks(_packed(sdk)), sdk.manifest)
    assert quick_check(got.tree, got.manifest) is None  # identities recorded as written
    for rel, entry in sdk.manifest.files.items():
        path = got.tree / rel
        assert path.read_bytes() == (sdk.tree / rel).read_bytes(), rel
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == int(entry[2]) & ~0o222, rel
    assert os.readlink(got.tree / "upstream/bin/clang++") == "clang"
    assert os.readlink(got.tree / "upstream/long-link") == sdk.manifest.links["upstream/long-link"]
    assert other.find(sdk.key)[0] is not None


def _tar(
    members: list[tuple[tarfile.TarInfo, bytes | None]], fmt: int = tarfile.GNU_FORMAT
) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return zstandard.ZstdCompressor().compress(raw.getvalue())


def _file(name: str, data: bytes, kind: bytes = tarfile.REGTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode = len(data), kind, 0o644
    return info, data


def _hostile(sdk: StoredSdk, how: str) -> bytes:
    m = sdk.manifest
    good = _packed(sdk)
    if how == "cut short":
        raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(good)).read()
        return zstandard.ZstdCompressor().compress(raw[: len(raw) // 2])
    if how == "bad header":
        raw = bytearray(zstandard.ZstdDecompressor().stream_reader(io.BytesIO(good)).read())
        raw[100] ^= 0x01  # in the first header's mode field: its checksum no longer holds
        return zstandard.ZstdCompressor().compress(bytes(raw))
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for rel in sorted(m.dirs):
        info = tarfile.TarInfo(rel)
        info.type = tarfile.DIRTYPE
        members.append((info, None))
    for rel in sorted(m.files):
        data = (sdk.tree / rel).read_bytes()
        if how == "other bytes" and rel == "upstream/bin/clang":
            data = data[:1000] + bytes([data[1000] ^ 1]) + data[1001:]  # same size
        members.append(_file(rel, data))
    if how == "extra member":
        members.append(_file("upstream/bin/evil", b"evil"))
    elif how == "escape":
        members.append(_file("../../decoy/planted", b"evil"))
    elif how == "hard link":
        info = tarfile.TarInfo("upstream/bin/clang-20")
        info.type, info.linkname = tarfile.LNKTYPE, "upstream/bin/clang"
        members.append((info, None))
    elif how == "symlink for a file":
        info = tarfile.TarInfo("upstream/emscripten/emcc")
        info.type, info.linkname = tarfile.SYMTYPE, "../../../decoy/target"
        members.insert(len(m.dirs), (info, None))
    elif how == "pax headers":
        return _tar(members, tarfile.PAX_FORMAT)
    for rel, target in sorted(m.links.items()):
        info = tarfile.TarInfo(rel)
        info.type, info.linkname = tarfile.SYMTYPE, target
        members.append((info, None))
    return _tar(members)


HOW = ["extra member", "escape", "hard link", "symlink for a file", "other bytes",
       "cut short", "bad header", "pax headers"]  # fmt: skip


@pytest.mark.parametrize("how", HOW)
def test_a_hostile_pack_is_refused_whole(tmp_path: Path, how: str) -> None:
    sdk = _published(tmp_path)
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "target").write_text("keep me")
    before = decoy_state(decoy)
    other = SdkStore(tmp_path / "store-b")
    with pytest.raises(ArchiveError):
        unpack(other, _chunks(_hostile(sdk, how)), sdk.manifest)
    assert other.all() == []
    assert [p.name for p in other.sdks.iterdir()] == []  # the build folder went too
    check_decoy(decoy, before)
