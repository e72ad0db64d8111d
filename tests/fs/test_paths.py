"""The shared guards of fs/paths.py, on real files, links, FIFOs and devices."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from xbuildenv.errors import PathEscapeError
from xbuildenv.fs.paths import chmod_here, contained, make_real_dir, read_bounded, real_dir


@pytest.mark.parametrize(
    ("rel", "why"),
    [
        ("../x", "leads outside"),
        ("a/../../x", "leads outside"),
        ("python3.13/" + "../" * 9 + "etc", "leads outside"),
        ("/etc/passwd", "is an absolute path"),
        ("a\0b", "NUL"),
        ("link/inside", "through a symlink"),
        ("link", "through a symlink"),
    ],
)
def test_contained_refuses_paths_that_leave(tmp_path: Path, rel: str, why: str) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", base / "link")
    with pytest.raises(PathEscapeError, match=why):
        contained(base, rel, "TEST")


def test_contained_accepts_paths_inside(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    os.symlink("a", tmp_path / "inner")  # a link that stays inside is fine
    assert contained(tmp_path, "a/b/../c", "x") == tmp_path / "a/c"
    assert contained(tmp_path, "inner/new/deeper", "x") == tmp_path / "inner/new/deeper"
    assert contained(tmp_path, ".", "x") == tmp_path


def test_read_bounded_reads_only_small_regular_files(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_bytes(b"3.13")
    assert read_bounded(good) == b"3.13"
    os.symlink(good, tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b"x" * 2000)
    cases = {
        tmp_path / "link": errno.ELOOP,
        tmp_path / "fifo": errno.EINVAL,
        Path("/dev/zero"): errno.EINVAL,
        tmp_path / "big": errno.EFBIG,
        tmp_path: errno.EINVAL,
    }
    for path, code in cases.items():
        with pytest.raises(OSError) as info:
            read_bounded(path, 1000)
        assert info.value.errno == code, (path, info.value)


def test_chmod_here_never_follows_a_link(tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("key")
    secret.chmod(0o600)
    os.symlink(secret, tmp_path / "link")
    assert chmod_here(tmp_path / "link", 0o755) is False
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert chmod_here(secret, 0o640) is True
    assert stat.S_IMODE(secret.stat().st_mode) == 0o640


def test_real_dir_and_make_real_dir(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    os.symlink(tmp_path / "d", tmp_path / "l")
    assert real_dir(tmp_path / "d") and not real_dir(tmp_path / "l")
    assert make_real_dir(tmp_path / "new/deep") == tmp_path / "new/deep"
    with pytest.raises(OSError):
        make_real_dir(tmp_path / "l")


@pytest.mark.parametrize(
    ("raw", "off"),
    [
        ("", set()),
        ("no", set()),
        ("ALL", "every"),
        (" 1 ", "every"),
        ("exchange, link,", {"exchange", "link"}),
    ],
)
def test_the_portable_switch(raw: str, off: object) -> None:
    from xbuildenv.fs.platform import ENV_PORTABLE, FAST_PATHS, forced_portable

    want = set(FAST_PATHS) if off == "every" else off
    assert forced_portable({ENV_PORTABLE: raw}) == want
