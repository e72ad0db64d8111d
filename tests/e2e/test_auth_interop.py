"""pyodide-build 0.39.2 against a private mirror (nginx with ``auth_basic``): it reads
the index with requests, so credentials in the URL and netrc work; it downloads the
archive with ``urllib.request.urlopen``, which sends none, so nginx refuses it. The
workaround the README gives: ``xbuildenv install`` (netrc), then pyodide-build uses it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.archives import default_files, make_tar, release, sha256
from helpers.auth import NGINX_PASSWORD as PASSWORD
from helpers.auth import nginx_log, private_nginx, with_password, write_netrc
from helpers.cli import run
from helpers.interop import Venv, ok, tool
from helpers.servers import Server, serve_index

pytestmark = pytest.mark.interop
INDEX = "pyodide-cross-build-environments.json"


def test_pyodide_build_reads_the_index_but_not_the_archives(
    server: Server, venv: Venv, ienv: dict[str, str], tmp_path: Path
) -> None:
    python = f"{venv.python_mm}.0"
    body = make_tar(default_files(python, "9.0.0"))
    url = server.add("/dl/9.0.0/xbuildenv-9.0.0.tar.gz", body)
    meta = serve_index(server, release("9.0.0", url, python, sha256=sha256(body)))
    nginx = private_nginx(tmp_path)
    try:
        dest = str(nginx.root / "m")
        r = run("mirror", "sync", dest, "--metadata", meta, "--base-url", nginx.url("/m"), env=ienv)
        assert r.code == 0, r.err
        index = nginx.url(f"/m/{INDEX}")

        found = tool(venv, ienv, tmp_path, "pyodide", "xbuildenv", "search", "--metadata",
                     with_password(index), "--json")  # fmt: skip
        assert [e["version"] for e in json.loads(ok(found))["environments"]] == ["9.0.0"]
        netrc = write_netrc(tmp_path / "netrc", ("127.0.0.1", "alice", PASSWORD))
        plain = {**ienv, "NETRC": str(netrc), "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": index}
        found = tool(venv, plain, tmp_path, "pyodide", "xbuildenv", "search", "--json")
        assert [e["version"] for e in json.loads(ok(found))["environments"]] == ["9.0.0"]

        # its archive download (urlopen) sends no credentials: refused by nginx
        failed = tool(venv, plain, tmp_path, "pyodide", "xbuildenv", "install", "9.0.0")
        assert failed.returncode != 0
        archive_gets = [e for e in nginx_log(nginx) if e[2].endswith(".tar.gz")]
        assert archive_gets and all(e[::3] == ("-", 401) for e in archive_gets)

        # the workaround: xbuildenv installs it (netrc), pyodide-build uses it
        ok(tool(venv, plain, tmp_path, "xbuildenv", "install", "9.0.0"))
        listed = ok(tool(venv, plain, tmp_path, "pyodide", "xbuildenv", "versions"))
        assert "* 9.0.0" in listed.splitlines()
    finally:
        nginx.close()
