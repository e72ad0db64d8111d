"""A private mirror: a real nginx with ``auth_basic`` (an htpasswd file made here with
``openssl passwd``) serving a mirror made by ``mirror sync``, and a fleet store it
accepts PUTs into (``dav_methods``). ``xbuildenv`` gets in with credentials in the URL
and with a netrc file; without them it says so in one line. (pyodide-build against the
same mirror: ``e2e/test_auth_interop.py``.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.auth import (
    NGINX_PASSWORD as PASSWORD,
)
from helpers.auth import (
    files_holding,
    nginx_log,
    private_nginx,
    with_password,
    write_netrc,
)
from helpers.cli import clean_env, one_error, run
from helpers.servers import Server, serve_env, serve_index
from helpers.services import Nginx

INDEX = "pyodide-cross-build-environments.json"


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    n = private_nginx(tmp_path)
    yield n
    n.close()


def _synced(server: Server, nginx: Nginx, env: dict[str, str]) -> dict[str, object]:
    """0.29.4 synced from an open origin into nginx's /m/ (relative archive URLs)."""
    entry = serve_env(server, "0.29.4")
    r = run(
        "mirror", "sync", str(nginx.root / "m"), "--metadata", serve_index(server, entry), env=env
    )
    assert r.code == 0, r.err
    return entry


def test_mirror_behind_auth_basic_with_url_credentials(
    server: Server, nginx: Nginx, env: dict[str, str], tmp_path: Path
) -> None:
    _synced(server, nginx, env)
    meta = with_password(nginx.url(f"/m/{INDEX}"))
    home = tmp_path / "client"
    home.mkdir()
    client = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=meta)
    r = run("-v", "install", "0.29.4", env=client)
    assert r.code == 0, r.err
    archives = [e for e in nginx_log(nginx) if e[2].endswith(".tar.gz")]
    assert archives == [("alice", "GET", archives[0][2], 200)]
    assert PASSWORD not in r.out + r.err and files_holding(home, PASSWORD) == []


def test_mirror_behind_auth_basic_with_netrc_and_without_credentials(
    server: Server, nginx: Nginx, env: dict[str, str], tmp_path: Path
) -> None:
    _synced(server, nginx, env)
    home = tmp_path / "client"
    home.mkdir()
    client = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=nginx.url(f"/m/{INDEX}"))
    line = one_error(run("install", "0.29.4", env=client))
    assert f"127.0.0.1:{nginx.port} asks for credentials (HTTP 401)" in line
    assert "netrc" in line
    write_netrc(home / ".netrc", ("127.0.0.1", "alice", PASSWORD))  # the default place
    assert run("install", "0.29.4", env=client).code == 0
    assert [e for e in nginx_log(nginx) if e[2].endswith(".tar.gz")][-1][::3] == ("alice", 200)
    # NETRC names another file; a wrong password there is named by user and file only
    other = write_netrc(tmp_path / "other-netrc", ("127.0.0.1", "alice", "not-it-9x"))
    fresh = {**client, "NETRC": str(other), "XDG_CACHE_HOME": str(tmp_path / "fresh")}
    r = run("install", "0.29.4", env=fresh)
    line = one_error(r)
    assert f"refused the credentials of user 'alice' from netrc file {other}" in line
    assert "not-it-9x" not in r.out + r.err


def test_fleet_store_behind_auth_basic_takes_puts(
    server: Server, nginx: Nginx, env: dict[str, str], tmp_path: Path
) -> None:
    entry = serve_env(server, "0.29.4")
    store = with_password(nginx.url("/fleet"))
    first = clean_env(
        tmp_path,
        PYODIDE_CROSS_BUILD_ENV_METADATA_URL=serve_index(server, entry),
        XBUILDENV_REMOTE_STORE=store,
        XDG_CACHE_HOME=str(tmp_path / "one"),
    )
    assert run("install", "0.29.4", env=first).code == 0
    stored = nginx.root / "fleet" / "archives" / str(entry["sha256"])
    assert stored.is_file()
    assert not list((nginx.root / "fleet").glob("pending/*"))  # released
    # a second machine gets it from the store, not from the origin
    origin_hits = sum(server.hits.values())
    second = {**first, "XDG_CACHE_HOME": str(tmp_path / "two")}
    assert run("install", "0.29.4", env=second).code == 0
    assert sum(n for p, n in server.hits.items() if p.endswith(".tar.gz")) == 1
    assert sum(server.hits.values()) == origin_hits + 1  # the index only
    gets = [e for e in nginx_log(nginx) if e[1] == "GET" and "/archives/" in e[2]]
    assert gets[-1][::3] == ("alice", 200)
