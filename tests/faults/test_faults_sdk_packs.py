"""Hostile packed SDKs in a mirror: a pack whose manifest looks valid (its digest matches
its name) but whose members try to leave the store's private build folder, or to bring
setuid bits along.

Each run snapshots a decoy folder outside the cache and asserts it unchanged, as root
and again as ``nobody`` (the arena fixture). emsdk's URL is a loopback port that
refuses connections, so a refused pack ends in one error line, with nothing stored.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import zstandard
from helpers.faults import check_decoy

from xbuildenv.cache.sdk_manifest import SdkManifest
from xbuildenv.cache.sdk_pack import pack as pack_sdk
from xbuildenv.cache.sdk_store import SdkKey, SdkStore, host_platform

if TYPE_CHECKING:
    from helpers.faults import Arena

NO_PATCHES = hashlib.sha256().hexdigest()  # the goods' environments have none
KEY = SdkKey("4.0.9", "ab" * 20, NO_PATCHES, host_platform())
CLANG = b"\x7fELF a compiler"
SANITY = b"4.0.9|/llvm\n"
DIRS = ("upstream", "upstream/bin", "upstream/emscripten", "upstream/emscripten/cache")
Member = tuple[tarfile.TarInfo, bytes | None]


def _file(name: str, data: bytes, mode: int = 0o755) -> Member:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def _special(name: str, kind: bytes, linkname: str = "") -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, 0o755
    if kind == tarfile.CHRTYPE:
        info.devmajor, info.devminor = 1, 3  # /dev/null
    return info, None


def _entry(data: bytes, mode: int = 0o755) -> list[int | str]:
    return [len(data), hashlib.sha256(data).hexdigest(), mode, 0, 0]


class Pack:
    """A self-consistent pack: manifest digest in its name, family index naming it."""

    def __init__(self) -> None:
        self.manifest = SdkManifest(meta=KEY.to_json())
        self.members: list[Member] = []
        for d in DIRS:
            self.manifest.dirs[d] = 0o755
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            self.members.append((info, None))
        self.add("upstream/bin/clang", CLANG)
        self.add("upstream/emscripten/cache/sanity.txt", SANITY, 0o644)

    def add(self, name: str, data: bytes, mode: int = 0o755) -> None:
        self.manifest.files[name] = _entry(data, mode)
        self.members.append(_file(name, data, mode))

    def write(self, mirror: Path) -> None:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for info, data in self.members:
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        digest = self.manifest.digest()
        packs = mirror / "packs"
        packs.mkdir(parents=True)
        base = packs / f"{KEY.name}-{digest[:16]}"
        Path(f"{base}.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(raw.getvalue()))
        Path(f"{base}.json").write_bytes(self.manifest.dump())
        (packs / f"{KEY.family}.json").write_text(json.dumps({"packs": {KEY.name: digest}}))


def _up(decoy: Path) -> str:
    """The decoy, named from ``<tree>/upstream``: the tree is
    ``<base>/home/.cache/pyodide-build/xbuildenv-store/sdks/.build-<token>-<pid>/emsdk``."""
    return "../" * 8 + decoy.name


def dotdot_member(p: Pack, decoy: Path) -> None:
    p.members.append(_file(f"upstream/{_up(decoy)}/pwned", b"escaped"))


def dotdot_in_manifest(p: Pack, decoy: Path) -> None:
    # The manifest names the folder too, so unpacking would make it before any member.
    p.manifest.dirs[f"upstream/{_up(decoy)}/made"] = 0o755
    p.add(f"upstream/{_up(decoy)}/made/pwned", b"escaped")


def far_dotdot_member(p: Pack, decoy: Path) -> None:
    p.members.append(_file("../" * 30 + str(decoy / "pwned").lstrip("/"), b"escaped"))


def absolute_member(p: Pack, decoy: Path) -> None:
    p.members.append(_file(str(decoy / "pwned"), b"escaped"))


def symlink_out_then_file(p: Pack, decoy: Path) -> None:
    p.manifest.links["upstream/out"] = str(decoy)
    p.members.append(_special("upstream/out", tarfile.SYMTYPE, str(decoy)))
    p.add("upstream/out/pwned", b"written through the link")


def relative_symlink_out_listed_as_folder(p: Pack, decoy: Path) -> None:
    target = _up(decoy)
    p.manifest.links["upstream/out"] = target
    p.manifest.dirs["upstream/out"] = 0o755  # so the file's folder is "in the manifest"
    p.members.append(_special("upstream/out", tarfile.SYMTYPE, target))
    p.add("upstream/out/pwned", b"written through the link")


def hard_link_outside(p: Pack, decoy: Path) -> None:
    key = (decoy / "id_rsa").read_bytes()
    p.manifest.files["upstream/bin/key"] = _entry(key, 0o644)
    p.members.append(_special("upstream/bin/key", tarfile.LNKTYPE, str(decoy / "id_rsa")))


def device_file(p: Pack, decoy: Path) -> None:
    p.manifest.files["upstream/bin/null"] = _entry(b"", 0o666)
    p.members.append(_special("upstream/bin/null", tarfile.CHRTYPE))


HOSTILE: dict[str, Callable[[Pack, Path], None]] = {
    f.__name__: f
    for f in (
        dotdot_member,
        dotdot_in_manifest,
        far_dotdot_member,
        absolute_member,
        symlink_out_then_file,
        relative_symlink_out_listed_as_folder,
        hard_link_outside,
        device_file,
    )
}


def _setup(arena: Arena) -> tuple[Path, dict[str, str]]:
    arena.serve_index(arena.goods.releases)
    done = arena.install("1.0.0")
    assert done.code == 0, done.err
    mirror = arena.base / "mirror"
    return mirror, {"XBUILDENV_MIRROR": str(mirror)}


def _emscripten(arena: Arena, port: int, mirror: Path) -> tuple[int, str]:
    r = arena.cli("install-emscripten", "-v", "--version", "4.0.9", "--path", str(arena.root),
                  XBUILDENV_MIRROR=str(mirror),
                  XBUILDENV_EMSDK_URL=f"http://127.0.0.1:{port}/emsdk.git")  # fmt: skip
    return r.code, r.err


def _stored(arena: Arena) -> list[str]:
    sdks = arena.store / "sdks"
    return (
        sorted(p.name for p in sdks.iterdir() if not p.name.startswith("."))
        if sdks.is_dir()
        else []
    )


@pytest.mark.parametrize("how", sorted(HOSTILE))
def test_hostile_pack_is_refused_and_writes_nothing_outside(
    arena: Arena, refused_port: int, how: str
) -> None:
    mirror, _ = _setup(arena)
    pack = Pack()
    HOSTILE[how](pack, arena.decoy)
    pack.write(mirror)
    before = arena.decoy_state()
    code, err = _emscripten(arena, refused_port, mirror)
    check_decoy(arena.decoy, before)
    assert code != 0, err
    assert "refused" in err, err  # the pack (or its manifest) was refused, not used
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "emsdk" in errors[0], err  # then the build could not clone
    assert _stored(arena) == []
    assert not (arena.root / "1.0.0" / ".emscripten-version").exists()
    assert not any(p.name.startswith(".build-") for p in (arena.store / "sdks").iterdir())


def test_a_pack_brings_no_setuid_setgid_or_sticky_bit(arena: Arena, refused_port: int) -> None:
    mirror, _ = _setup(arena)
    pack = Pack()
    pack.add("upstream/bin/suid-tool", b"#!/bin/sh\n", 0o4755)
    pack.add("upstream/bin/sgid-tool", b"#!/bin/sh\necho\n", 0o2755)
    pack.add("upstream/bin/sticky", b"data\n", 0o1644)
    pack.add("upstream/emscripten/cache/private-suid", b"cache\n", 0o6755)  # copied per root
    pack.write(mirror)
    before = arena.decoy_state()
    code, err = _emscripten(arena, refused_port, mirror)
    check_decoy(arena.decoy, before)
    assert code == 0, err
    assert "from the mirror" in err, err
    [name] = _stored(arena)
    stored = arena.store / "sdks" / name / "emsdk"
    linked = arena.root / "1.0.0" / "emsdk"
    for tree in (stored, linked):
        for dirpath, dirnames, filenames in os.walk(tree):
            for entry in [*dirnames, *filenames]:
                mode = os.lstat(os.path.join(dirpath, entry)).st_mode
                assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), (
                    os.path.join(dirpath, entry),
                    oct(mode),
                )
    assert (linked / "upstream/bin/suid-tool").stat().st_mode & 0o777 == 0o555
    assert (linked / "upstream/emscripten/cache/private-suid").stat().st_mode & 0o777 == 0o755
    assert (linked / "upstream/bin/clang").read_bytes() == CLANG
    # Packing it again (mirror sync, an upload) passes no such bit on either, even one
    # set on the stored file since.
    sdk = SdkStore(arena.store).load(name)
    assert sdk is not None
    os.chmod(stored / "upstream/bin/suid-tool", 0o4755)
    out = io.BytesIO()
    pack_sdk(sdk, out)
    out.seek(0)
    reader = zstandard.ZstdDecompressor().stream_reader(out)
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        modes = {m.name: m.mode for m in tar}
    assert modes["upstream/bin/suid-tool"] == 0o755
    assert all(mode == mode & 0o777 for mode in modes.values()), modes
