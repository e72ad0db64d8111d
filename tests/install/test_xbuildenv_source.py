"""Where a version came from (issue 19, item 2): ``.xbuildenv-source`` in each version
folder (pyodide-build PR #414's name and content: the channel, or the URL), the
archive's sha256 beside it (``.archive-sha256``); a version asked for from another
channel replaces the installed one atomically, with one line saying so; ``version`` and
``versions`` show a channel that is not stable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, default_files, index, make_tar, release, sha256
from helpers.cli import Result, clean_env, run
from helpers.servers import Server


def _archive(marker: str) -> bytes:
    files = default_files(PY_FULL, "0.29.4")
    files["xbuildenv/build.txt"] = marker.encode()
    return make_tar(files)


class Channels:
    """A stable and a stable-debug index on loopback, each with its own 0.29.4."""

    def __init__(self, server: Server, tmp_path: Path, debug_body: bytes | None = None) -> None:
        self.server = server
        self.stable = _archive("stable build")
        self.debug = _archive("debug build") if debug_body is None else debug_body
        stable_url = server.add("/stable/xbuildenv-0.29.4.tar.gz", self.stable)
        debug_url = server.add("/debug/xbuildenv-0.29.4.tar.gz", self.debug)
        stable_index = server.add(
            "/stable.json",
            index(release("0.29.4", stable_url, PY_FULL, sha256=sha256(self.stable))),
        )
        debug_index = server.add(
            "/debug.json", index(release("0.29.4", debug_url, PY_FULL, sha256=sha256(self.debug)))
        )
        self.env = clean_env(
            tmp_path,
            PYODIDE_CROSS_BUILD_ENV_METADATA_URL=stable_index,
            XBUILDENV_DEBUG_METADATA_URL=debug_index,
        )
        self.root = tmp_path / "root"
        self.folder = self.root / "0.29.4"

    def cli(self, *args: str) -> Result:
        return run(*args, "--path", str(self.root), env=self.env)

    def built(self) -> str:
        return (self.folder / "xbuildenv" / "build.txt").read_text()

    def source(self) -> bytes:
        return (self.folder / ".xbuildenv-source").read_bytes()

    def downloads(self) -> int:
        return sum(n for p, n in self.server.hits.items() if p.endswith(".tar.gz"))


@pytest.fixture
def channels(server: Server, tmp_path: Path) -> Channels:
    return Channels(server, tmp_path)


def _lines(err: str, word: str) -> list[str]:
    return [line for line in err.splitlines() if word in line]


def test_debug_after_stable_replaces_it_and_says_so(channels: Channels) -> None:
    c = channels
    r = c.cli("install", "0.29.4")
    assert r.code == 0, r.err
    assert c.source() == b"stable"  # PR #414's content: the channel, no newline
    assert (c.folder / ".archive-sha256").read_text() == sha256(c.stable)
    assert c.cli("versions").out == "* 0.29.4\n"  # stable: nothing added
    r = c.cli("install", "0.29.4", "--debug")
    assert r.code == 0, r.err
    said = _lines(r.err, "replacing it")
    assert len(said) == 1 and "installed from stable" in said[0] and "stable-debug" in said[0]
    assert "already installed" not in r.err
    assert c.built() == "debug build" and c.source() == b"stable-debug"
    assert (c.folder / ".archive-sha256").read_text() == sha256(c.debug)
    assert c.cli("versions").out == "* 0.29.4 (stable-debug)\n"
    assert c.cli("version").out == "0.29.4 (stable-debug)\n"
    listed = json.loads(c.cli("versions", "--json").out)["versions"]
    assert [(v["version"], v["source"]) for v in listed] == [("0.29.4", "stable-debug")]
    assert json.loads(c.cli("version", "--json").out)["source"] == "stable-debug"
    # the same channel again: already installed, nothing fetched, nothing said
    before = c.downloads()
    r = c.cli("install", "0.29.4", "--debug")
    assert r.code == 0 and "already installed" in r.err and not _lines(r.err, "replacing"), r.err
    assert c.downloads() == before
    # and back to stable
    r = c.cli("install", "0.29.4")
    assert r.code == 0 and len(_lines(r.err, "replacing it")) == 1, r.err
    assert c.built() == "stable build" and c.source() == b"stable"
    assert list(c.root.glob(".*-0.29.4")) == []  # no staging or replaced folder left


def test_the_old_build_stays_when_the_new_one_fails(server: Server, tmp_path: Path) -> None:
    c = Channels(server, tmp_path)
    assert c.cli("install", "0.29.4").code == 0
    server.add("/debug/xbuildenv-0.29.4.tar.gz", c.debug[: len(c.debug) // 2])  # cut short
    r = c.cli("install", "0.29.4", "--debug")
    assert r.code == 1, r.err
    assert c.built() == "stable build" and c.source() == b"stable"
    assert c.cli("versions").out == "* 0.29.4\n"


def test_an_unrecorded_install_is_kept_for_stable_and_replaced_for_debug(
    channels: Channels,
) -> None:
    c = channels
    assert c.cli("install", "0.29.4").code == 0
    (c.folder / ".xbuildenv-source").unlink()  # as installed before the record existed
    before = c.downloads()
    r = c.cli("install", "0.29.4")
    assert r.code == 0 and "already installed" in r.err, r.err
    assert c.downloads() == before and c.source() == b"stable"  # kept, and now labelled
    (c.folder / ".xbuildenv-source").unlink()
    r = c.cli("install", "0.29.4", "--debug")
    assert r.code == 0 and "an unrecorded source" in r.err, r.err
    assert c.built() == "debug build" and c.source() == b"stable-debug"


def test_the_same_archive_in_both_channels_is_not_fetched_again(
    server: Server, tmp_path: Path
) -> None:
    c = Channels(server, tmp_path, debug_body=_archive("stable build"))
    assert c.cli("install", "0.29.4").code == 0
    before = c.downloads()
    r = c.cli("install", "0.29.4", "--debug")
    assert r.code == 0 and "already installed" in r.err, r.err
    assert c.downloads() == before and c.source() == b"stable"


def test_a_url_install_records_its_url(server: Server, tmp_path: Path) -> None:
    url = server.add("/custom/env.tar.gz", _archive("custom"))
    root = tmp_path / "root"
    r = run("install", "--url", url, "--path", str(root), env=clean_env(tmp_path))
    assert r.code == 0, r.err
    folder = (root / "xbuildenv").resolve()
    assert (folder / ".xbuildenv-source").read_bytes() == url.encode()
    listed = json.loads(run("versions", "--json", "--path", str(root), env=clean_env(tmp_path)).out)
    assert listed["versions"][0]["source"] == url
