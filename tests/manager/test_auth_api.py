"""The Python API hears no secrets either: a library user's reporter and warning hook
get redacted lines, and the exceptions it raises are redacted, without the CLI's
streams in between (in-process, real loopback servers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.auth import AuthServer
from helpers.servers import Server, serve_env, serve_index

from xbuildenv import NullReporter, XBuildEnvManager
from xbuildenv.errors import XBuildEnvError

pytestmark = pytest.mark.usefixtures("private_process_env")
MIRROR_PW = "ApiM1rrorS3cret"
STORE_PW = "ApiSt0reS3cret"


class Heard(NullReporter):
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def test_reporter_warnings_and_errors_are_redacted(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = serve_env(server, "1.0")
    meta = serve_index(server, entry)
    mirror = AuthServer("mallory", MIRROR_PW)
    try:
        mirror.add("/m/1.0/xbuildenv-1.0.tar.gz", b"not the archive")
        monkeypatch.setenv("XBUILDENV_MIRROR", mirror.url("/m/", userinfo=f"mallory:{MIRROR_PW}"))
        monkeypatch.setenv("XBUILDENV_MIRROR_ORIGIN", server.url("/dl/"))
        monkeypatch.setenv("XBUILDENV_REMOTE_STORE", f"http://bob:{STORE_PW}@127.0.0.1:9/fleet")
        heard, said = Heard(), list[str]()
        XBuildEnvManager(tmp_path / "a", meta, warn=said.append).install("1.0", reporter=heard)
        assert len(heard.warnings) == 2, heard.warnings  # the mirror copy, the store
        assert any("mirror copy http://mallory:****@127.0.0.1" in w for w in heard.warnings)
        assert any("remote store http://bob:****@127.0.0.1:9/fleet" in w for w in heard.warnings)
        assert not any(MIRROR_PW in w or STORE_PW in w for w in heard.warnings + said)

        bad = f"http://eve:{MIRROR_PW}@127.0.0.1:9/x.tar.gz"
        with pytest.raises(XBuildEnvError) as caught:
            XBuildEnvManager(tmp_path / "b", meta).install(url=bad)
        assert MIRROR_PW not in str(caught.value) and "eve:****@" in str(caught.value)
        assert MIRROR_PW not in caught.value.message
    finally:
        mirror.close()
