"""pyodide-build 0.39.2, unchanged, installing from a mirror made by ``mirror sync``.

The mirror is synced with an absolute ``--base-url`` (pyodide-build does not resolve
archive URLs relative to the index), served by nginx, and named by
``PYODIDE_CROSS_BUILD_ENV_METADATA_URL``. The venv is the one of ``test_interop``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.cli import run
from helpers.interop import Published, Venv, ok, tool
from helpers.servers import Server
from helpers.services import Nginx

pytestmark = pytest.mark.interop
INDEX = "pyodide-cross-build-environments.json"


def test_pyodide_build_installs_from_a_synced_mirror(
    server: Server,
    venv: Venv,
    ienv: dict[str, str],
    published: Published,
    tmp_path: Path,
) -> None:
    www = tmp_path / "www"
    www.mkdir()
    nginx = Nginx(www, tmp_path / "nginx")
    try:
        r = run(
            "mirror",
            "sync",
            str(www / "m"),
            "--metadata",
            published.meta,
            "--base-url",
            nginx.url("/m"),
            "-q",
            env=ienv,
        )
        assert r.code == 0, r.err
        entry = json.loads((www / "m" / INDEX).read_text())["releases"][published.version]
        assert entry["url"].startswith(nginx.url("/m/"))
        origin = server.hits[published.url.replace(server.base, "")]
        env = {**ienv, "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": nginx.url(f"/m/{INDEX}")}
        ok(tool(venv, env, tmp_path, "pyodide", "xbuildenv", "install", published.version))
        listed = ok(tool(venv, env, tmp_path, "pyodide", "xbuildenv", "versions"))
        assert f"* {published.version}" in listed.splitlines()
        assert ok(tool(venv, env, tmp_path, "xbuildenv", "version")).strip() == published.version
        archive = entry["url"][len(nginx.url("")) :]
        assert nginx.hits()[archive] == 1
        # xbuildenv from the same mirror, into another root
        ours = tmp_path / "ours"
        ok(
            tool(
                venv, env, tmp_path, "xbuildenv", "install", published.version, "--path", str(ours)
            )
        )
        assert (ours / published.version / ".installed").is_file()
        assert server.hits[published.url.replace(server.base, "")] == origin  # all from nginx
    finally:
        nginx.close()
