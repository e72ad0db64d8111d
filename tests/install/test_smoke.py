from __future__ import annotations

from pathlib import Path

from helpers.archives import index, make_tar, release, sha256
from helpers.cli import run
from helpers.servers import Server


def test_install_from_loopback(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    body = make_tar()
    url = server.add("/x.tar.gz", body)
    meta = server.add("/index.json", index(release("0.29.4", url, sha256=sha256(body))))
    root = tmp_path / "root"
    r = run("install", "0.29.4", "--force", "--metadata", meta, "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert (root / "0.29.4" / ".installed").is_file()
    assert (root / "xbuildenv").resolve() == (root / "0.29.4").resolve()
    assert server.hits["/x.tar.gz"] == 1
