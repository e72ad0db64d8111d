"""A private mirror: a real nginx with ``auth_basic`` (an htpasswd file made here with
``openssl passwd``) serving a mirror made by ``mirror sync``, and a fleet store it
accepts PUTs into (``dav_methods``). ``xbuildenv`` gets in with credentials in the URL
and with a netrc file; without them it says so in one line. pyodide-build 0.39.2 reads
the index with requests (credentials work) but archives with ``urlopen`` (they do not).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from auth_support import files_holding, write_netrc
from mirror_support import Nginx
from support import Server, clean_env, one_error, run, serve_env, serve_index

PASSWORD = "Ngx-Pa55-4f2c"
INDEX = "pyodide-cross-build-environments.json"


def _htpasswd(path: Path, user: str, password: str) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the htpasswd file)")
    hashed = subprocess.run(
        ["openssl", "passwd", "-apr1", password], capture_output=True, text=True, check=True
    ).stdout.strip()
    path.write_text(f"{user}:{hashed}\n")
    return path


@pytest.fixture
def private_nginx(tmp_path: Path) -> Iterator[Nginx]:
    www = tmp_path / "www"
    (www / "fleet").mkdir(parents=True)
    users = _htpasswd(tmp_path / "htpasswd", "alice", PASSWORD)
    extra = (
        f'auth_basic "private mirror"; auth_basic_user_file {users}; '
        "location /fleet/ { dav_methods PUT DELETE; create_full_put_path on; }"
    )
    n = Nginx(www, tmp_path / "nginx", server_extra=extra)
    yield n
    n.close()


def _log(nginx: Nginx) -> list[tuple[str, str, str, int]]:
    """(user, method, path, status) of every request, from nginx's combined log."""
    found = []
    for line in nginx.log.read_text().splitlines():
        head, request, rest = line.split('"')[:3]
        method, path = request.split()[:2]
        found.append((head.split()[2], method, path, int(rest.split()[0])))
    return found


def _synced(server: Server, nginx: Nginx, env: dict[str, str]) -> dict[str, object]:
    """0.29.4 synced from an open origin into nginx's /m/ (relative archive URLs)."""
    entry = serve_env(server, "0.29.4")
    r = run(
        "mirror", "sync", str(nginx.root / "m"), "--metadata", serve_index(server, entry), env=env
    )
    assert r.code == 0, r.err
    return entry


def test_mirror_behind_auth_basic_with_url_credentials(
    server: Server, private_nginx: Nginx, env: dict[str, str], tmp_path: Path
) -> None:
    _synced(server, private_nginx, env)
    meta = private_nginx.url(f"/m/{INDEX}").replace("http://", f"http://alice:{PASSWORD}@")
    home = tmp_path / "client"
    home.mkdir()
    client = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=meta)
    r = run("-v", "install", "0.29.4", env=client)
    assert r.code == 0, r.err
    archives = [e for e in _log(private_nginx) if e[2].endswith(".tar.gz")]
    assert archives == [("alice", "GET", archives[0][2], 200)]
    assert PASSWORD not in r.out + r.err and files_holding(home, PASSWORD) == []


def test_mirror_behind_auth_basic_with_netrc_and_without_credentials(
    server: Server, private_nginx: Nginx, env: dict[str, str], tmp_path: Path
) -> None:
    _synced(server, private_nginx, env)
    home = tmp_path / "client"
    home.mkdir()
    client = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=private_nginx.url(f"/m/{INDEX}"))
    line = one_error(run("install", "0.29.4", env=client))
    assert f"127.0.0.1:{private_nginx.port} asks for credentials (HTTP 401)" in line
    assert "netrc" in line
    write_netrc(home / ".netrc", ("127.0.0.1", "alice", PASSWORD))  # the default place
    assert run("install", "0.29.4", env=client).code == 0
    assert [e for e in _log(private_nginx) if e[2].endswith(".tar.gz")][-1][::3] == ("alice", 200)
    # NETRC names another file; a wrong password there is named by user and file only
    other = write_netrc(tmp_path / "other-netrc", ("127.0.0.1", "alice", "not-it-9x"))
    fresh = {**client, "NETRC": str(other), "XDG_CACHE_HOME": str(tmp_path / "fresh")}
    r = run("install", "0.29.4", env=fresh)
    line = one_error(r)
    assert f"refused the credentials of user 'alice' from netrc file {other}" in line
    assert "not-it-9x" not in r.out + r.err


def test_fleet_store_behind_auth_basic_takes_puts(
    server: Server, private_nginx: Nginx, env: dict[str, str], tmp_path: Path
) -> None:
    entry = serve_env(server, "0.29.4")
    store = private_nginx.url("/fleet").replace("http://", f"http://alice:{PASSWORD}@")
    first = clean_env(
        tmp_path,
        PYODIDE_CROSS_BUILD_ENV_METADATA_URL=serve_index(server, entry),
        XBUILDENV_REMOTE_STORE=store,
        XDG_CACHE_HOME=str(tmp_path / "one"),
    )
    assert run("install", "0.29.4", env=first).code == 0
    stored = private_nginx.root / "fleet" / "archives" / str(entry["sha256"])
    assert stored.is_file()
    assert not list((private_nginx.root / "fleet").glob("pending/*"))  # released
    # a second machine gets it from the store, not from the origin
    origin_hits = sum(server.hits.values())
    second = {**first, "XDG_CACHE_HOME": str(tmp_path / "two")}
    assert run("install", "0.29.4", env=second).code == 0
    assert sum(n for p, n in server.hits.items() if p.endswith(".tar.gz")) == 1
    assert sum(server.hits.values()) == origin_hits + 1  # the index only
    gets = [e for e in _log(private_nginx) if e[1] == "GET" and "/archives/" in e[2]]
    assert gets[-1][::3] == ("alice", 200)


# --- pyodide-build 0.39.2 against the same private mirror ---------------------------
try:  # the one venv with pyodide-build that the interop tests build and keep
    from test_interop import Venv, ienv, ok, tool, venv  # noqa: F401
except ImportError:  # pragma: no cover
    pass


@pytest.mark.interop
def test_pyodide_build_reads_the_index_but_not_the_archives(
    server: Server,
    private_nginx: Nginx,
    venv: Venv,
    ienv: dict[str, str],
    tmp_path: Path,
) -> None:
    from support import PY_FULL, default_files, make_tar, release, sha256

    python = f"{venv.python_mm}.0"
    body = make_tar(default_files(python, "9.0.0"))
    url = server.add("/dl/9.0.0/xbuildenv-9.0.0.tar.gz", body)
    meta = serve_index(server, release("9.0.0", url, python, sha256=sha256(body)))
    base = private_nginx.url("/m")
    r = run(
        "mirror",
        "sync",
        str(private_nginx.root / "m"),
        "--metadata",
        meta,
        "--base-url",
        base,
        env=ienv,
    )
    assert r.code == 0, r.err
    assert PY_FULL  # the running Python's archive is not needed here
    with_password = private_nginx.url(f"/m/{INDEX}").replace("http://", f"http://alice:{PASSWORD}@")
    found = ok(
        tool(
            venv,
            ienv,
            tmp_path,
            "pyodide",
            "xbuildenv",
            "search",
            "--metadata",
            with_password,
            "--json",
        )
    )
    assert [e["version"] for e in json.loads(found)["environments"]] == ["9.0.0"]
    netrc = write_netrc(tmp_path / "netrc", ("127.0.0.1", "alice", PASSWORD))
    plain = {
        **ienv,
        "NETRC": str(netrc),
        "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": private_nginx.url(f"/m/{INDEX}"),
    }
    found = ok(tool(venv, plain, tmp_path, "pyodide", "xbuildenv", "search", "--json"))
    assert [e["version"] for e in json.loads(found)["environments"]] == ["9.0.0"]
    # its archive download (urlopen) sends no credentials: refused by nginx
    failed = tool(venv, plain, tmp_path, "pyodide", "xbuildenv", "install", "9.0.0")
    assert failed.returncode != 0
    refused = [e for e in _log(private_nginx) if e[2].endswith(".tar.gz")]
    assert refused and all(e[::3] == ("-", 401) for e in refused)
    # the workaround: xbuildenv installs it (netrc), pyodide-build uses it
    ok(tool(venv, plain, tmp_path, "xbuildenv", "install", "9.0.0"))
    listed = ok(tool(venv, plain, tmp_path, "pyodide", "xbuildenv", "versions"))
    assert "* 9.0.0" in listed.splitlines()
