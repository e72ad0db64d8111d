"""``install`` on each of the four release indexes (``channel=``; ``--nightly``,
``--debug`` on the command line), each served from the loopback server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.cli import run
from helpers.servers import Server, serve_env, serve_index

from xbuildenv import XBuildEnvManager
from xbuildenv.errors import UsageError
from xbuildenv.index.releases import Channel

# The one release each channel's index lists.
RELEASES: dict[Channel, str] = {
    "stable": "0.29.4",
    "nightly": "0.30.0.dev1",
    "debug": "0.29.4-debug",
    "nightly-debug": "0.30.0.dev1-debug",
}
VARIABLES: dict[Channel, str] = {
    "stable": "PYODIDE_CROSS_BUILD_ENV_METADATA_URL",
    "nightly": "XBUILDENV_NIGHTLY_METADATA_URL",
    "debug": "XBUILDENV_DEBUG_METADATA_URL",
    "nightly-debug": "XBUILDENV_NIGHTLY_DEBUG_METADATA_URL",
}


def _serve_channels(server: Server) -> dict[str, str]:
    return {
        VARIABLES[channel]: serve_index(server, serve_env(server, version), path=f"/{channel}.json")
        for channel, version in RELEASES.items()
    }


@pytest.mark.usefixtures("private_process_env")
@pytest.mark.parametrize("channel", list(RELEASES))
def test_the_api_installs_from_the_channels_index(
    channel: Channel, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, url in _serve_channels(server).items():
        monkeypatch.setenv(name, url)
    result = XBuildEnvManager(tmp_path / "root").install(channel=channel)
    assert result.version == RELEASES[channel]


@pytest.mark.parametrize(
    ("flags", "channel"),
    [((), "stable"), (("--nightly",), "nightly"), (("--debug",), "debug"),
     (("--debug", "--nightly"), "nightly-debug")],
)  # fmt: skip
def test_the_flags_name_the_channel(
    flags: tuple[str, ...], channel: Channel, server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    r = run("install", *flags, "--path", str(root), env={**env, **_serve_channels(server)})
    assert r.code == 0, r.err
    assert os.readlink(root / "xbuildenv") == str(root / RELEASES[channel])


@pytest.mark.usefixtures("private_process_env")
def test_an_index_given_by_hand_refuses_another_channel_even_when_installed(
    server: Server, tmp_path: Path
) -> None:
    meta = serve_index(server, serve_env(server, "1.0"))
    manager = XBuildEnvManager(tmp_path / "root", meta)
    assert manager.install("1.0").action == "installed"
    others: list[Channel] = ["nightly", "debug", "nightly-debug"]
    for channel in others:
        with pytest.raises(UsageError, match="--metadata cannot be combined with --nightly"):
            manager.install("1.0", channel=channel)
    assert manager.install("1.0").action == "already installed"
