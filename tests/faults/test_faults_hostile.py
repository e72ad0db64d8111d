"""Hostile or broken indexes and archives: a clear error, a non-zero exit, and the
cache (root and archive store) exactly as it was before."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers.archives import PY_FULL, big_files, make_tar, release, sha256
from helpers.cli import one_error
from helpers.faults import root_problems

if TYPE_CHECKING:
    from helpers.faults import Case, World


# --- the release index ------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expect"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "no 'releases' object"),
        (json.dumps({"releases": {"2.0.0": {"url": "x", "python_version": PY_FULL}}}), "missing"),
        (
            json.dumps({"releases": {"2.0.0": {**release("2.0.0", "x"), "python_version": 3.13}}}),
            "must be a non-empty string",
        ),
        (
            json.dumps({"releases": {"2.0.0": {**release("2.0.0", "x"), "sha256": "zz"}}}),
            "not 64 hex digits",
        ),
        (json.dumps({"releases": {"2.0.0": "a string"}}), "expected an object"),
    ],
    ids=["malformed", "no-releases", "missing-field", "mistyped-field", "bad-sha", "not-object"],
)
def test_bad_index(case: Case, body: str | bytes, expect: str) -> None:
    url = case.serve_index(body.encode() if isinstance(body, str) else body)
    before = case.snapshot()
    line = one_error(case.install("2.0.0"))
    # Whole-document errors name the index; field errors name the release and field.
    assert expect in line and (url in line or "release '2.0.0'" in line)
    case.unchanged(before)


def test_versions_that_are_not_pep440_sort_safely(case: Case, world: World) -> None:
    odd = ["banana", "1.0.0-final!!", "latest-dev", "0.28.0a1", "2.0.0"]
    releases = {v: {**world.good["2.0.0"], "version": v} for v in odd}
    case.serve_index(releases)
    r = case.cli("search", "--all", "--json")
    assert r.code == 0, r.err
    assert sorted(e["version"] for e in json.loads(r.out)["environments"]) == sorted(odd)
    # "latest" is the highest *valid* version; the odd names never crash the choice.
    r = case.install()
    assert r.code == 0, r.err
    assert (case.root / "xbuildenv").resolve().name == "2.0.0"


def test_unknown_version_lists_the_nearest(case: Case, world: World) -> None:
    versions = ("2.0.0", "2.1.0", "0.1.0")
    case.serve_index({v: {**world.good["2.0.0"], "version": v} for v in versions})
    before = case.snapshot()
    line = one_error(case.install("2.0.5"))
    assert "2.0.5" in line and "nearest available" in line and "2.1.0" in line
    case.unchanged(before)


def test_version_name_that_escapes_the_root(case: Case, world: World) -> None:
    case.serve_index({"../evil": {**world.good["2.0.0"], "version": "../evil"}})
    before = case.snapshot()
    line = one_error(case.install("../evil"), code=2)
    assert "not a valid version name" in line
    assert not (case.root.parent / "evil").exists()
    case.unchanged(before)


# --- the archive ------------------------------------------------------------------
Adder = Callable[[tarfile.TarFile], None]


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", link: str = "") -> Adder:
    def add(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = link
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        info.mode = 0o644
        tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

    return add


def _then(*adds: Callable[[tarfile.TarFile], None]) -> Callable[[tarfile.TarFile], None]:
    def add(tf: tarfile.TarFile) -> None:
        for a in adds:
            a(tf)

    return add


HOSTILE = {
    "absolute": (_member("/tmp/xbuildenv-pwned-abs"), "absolute path"),
    "dotdot": (_member("xbuildenv/../../../pwned-dotdot"), "'..'"),
    "symlink-absolute": (
        _member("xbuildenv/evil", tarfile.SYMTYPE, link="/tmp"),
        "absolute",
    ),
    "symlink-climbs": (
        _member("xbuildenv/evil", tarfile.SYMTYPE, link="../../../.."),
        "outside the environment",
    ),
    "write-through-symlink": (
        _then(
            _member("xbuildenv/inside", tarfile.SYMTYPE, link="pyodide-root"),
            _member("xbuildenv/inside/../../../pwned-through", data=b"y"),
        ),
        "'..'",
    ),
    "file-through-own-symlink": (
        _then(
            _member("xbuildenv/dir-link", tarfile.SYMTYPE, link="site-packages-extras"),
            _member("xbuildenv/dir-link/new-file", data=b"y"),
        ),
        "through a symlink",
    ),
    "hardlink-outside": (_member("xbuildenv/h", tarfile.LNKTYPE, link="/etc/passwd"), "absolute"),
    "hardlink-unknown": (
        _member("xbuildenv/h", tarfile.LNKTYPE, link="xbuildenv/not-extracted"),
        "does not point at a file",
    ),
    "char-device": (_member("xbuildenv/dev", tarfile.CHRTYPE), "device"),
    "block-device": (_member("xbuildenv/blk", tarfile.BLKTYPE), "device"),
    "fifo": (_member("xbuildenv/fifo", tarfile.FIFOTYPE), "fifo"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_member(case: Case, kind: str) -> None:
    extra, expect = HOSTILE[kind]
    body = make_tar(big_files(PY_FULL, "2.0.0", count=8), extra=extra)
    case.serve_index({"2.0.0": case.serve_archive("2.0.0", body)})
    before = case.snapshot()
    outside = [Path("/tmp/xbuildenv-pwned-abs"), *case.root.parents[0].glob("**/pwned*")]
    line = one_error(case.install("2.0.0"))
    assert expect in line, line
    assert not any(p.exists() for p in outside)
    assert not list(case.root.parents[1].glob("**/pwned*"))
    case.unchanged(before)


def test_no_top_folder(case: Case) -> None:
    body = make_tar({"other/pyodide-root/Makefile.envs": b"x"})
    case.serve_index({"2.0.0": case.serve_archive("2.0.0", body)})
    before = case.snapshot()
    assert "'xbuildenv/' top folder" in one_error(case.install("2.0.0"))
    case.unchanged(before)


def test_checksum_mismatch(case: Case, world: World) -> None:
    body = make_tar(world.files["2.0.0"])
    case.serve_index({"2.0.0": case.serve_archive("2.0.0", body, sha="0" * 64)})
    before = case.snapshot()
    line = one_error(case.install("2.0.0"))
    assert "checksum mismatch" in line and "0" * 64 in line and sha256(body) in line
    case.unchanged(before)


@pytest.mark.parametrize("how", ["truncated", "corrupt", "garbage", "empty"])
def test_broken_archive(case: Case, world: World, how: str) -> None:
    good = make_tar(world.files["2.0.0"])
    body = {
        "truncated": good[: len(good) // 2],
        "corrupt": good[:2000] + bytes(b ^ 0x5A for b in good[2000:4000]) + good[4000:],
        "garbage": b"this is not an archive at all" * 100,
        "empty": b"",
    }[how]
    case.serve_index({"2.0.0": case.serve_archive("2.0.0", body)})  # its own, matching hash
    before = case.snapshot()
    line = one_error(case.install("2.0.0"))
    assert "archive" in line and ("corrupt" in line or "truncated" in line or "empty" in line)
    case.unchanged(before)


def test_unpacked_size_limit_from_the_environment(case: Case, world: World) -> None:
    body = make_tar(world.files["2.0.0"])  # ~100 KB unpacked
    case.serve_index({"2.0.0": case.serve_archive("2.0.0", body)})
    before = case.snapshot()
    line = one_error(case.install("2.0.0", XBUILDENV_MAX_UNPACKED_BYTES="50000"))
    assert "more than 50000 bytes" in line and "XBUILDENV_MAX_UNPACKED_BYTES" in line
    case.unchanged(before)
    # The same archive is fine under the default limit.
    assert case.install("2.0.0").code == 0


@pytest.mark.parametrize("how", ["good", "truncated", "corrupt", "trailing"])
def test_multi_block_bzip2_without_checksum(case: Case, world: World, how: str) -> None:
    """bzip2 is cut into blocks and decompressed on several threads (parallel_bz2).

    With no sha256 in the index, only bzip2's own CRCs stand between a damaged block
    and an installed environment, so they must be checked on that path too.
    """
    import bz2

    good = bz2.compress(make_tar(world.files["2.0.0"], ""), 1)  # 100 kB blocks: several
    middle = len(good) // 2
    body = {
        "good": good,
        "truncated": good[: len(good) * 3 // 4],
        "corrupt": good[:middle] + bytes([good[middle] ^ 0x10]) + good[middle + 1 :],
        "trailing": good + b"\0" * 64,  # ignored after the last stream, as bzip2 does
    }[how]
    case.serve_index({"2.0.0": case.serve_archive("2.0.0", body, sha=None)})
    if how in ("good", "trailing"):
        assert case.install("2.0.0").code == 0
        assert root_problems(case.root, world.files) == []
        tree = case.root / "2.0.0"
        for name, data in world.files["2.0.0"].items():
            assert (tree / name).read_bytes() == data
        return
    before = case.snapshot()
    line = one_error(case.install("2.0.0"))
    assert "archive" in line and ("corrupt" in line or "truncated" in line)
    case.unchanged(before)
