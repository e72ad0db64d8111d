"""Network faults against a real loopback server: retries, resume, timeouts, errors,
proxies and certificates."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, big_files, index, make_tar, release, sha256
from helpers.cli import clean_env, one_error, run, snapshot
from helpers.faults import FAULT_STATS, leftovers, root_problems
from helpers.servers import ForwardProxy, Server, StallServer

FAST = {"XBUILDENV_BACKOFF": "0.05", "XBUILDENV_TIMEOUT": "2"}


def _setup(server: Server, **route: object) -> tuple[str, str, dict[str, bytes], bytes]:
    files = big_files(PY_FULL, "1.0.0", count=30)
    body = make_tar(files)
    url = server.add("/dl/1.0.0.tar.gz", body, **route)
    entry = release("1.0.0", url, PY_FULL, sha256=sha256(body))
    index_url = server.add("/index.json", index(entry))
    return index_url, url, files, body


def _env(home: Path, index_url: str, **extra: str) -> dict[str, str]:
    return clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=index_url, **{**FAST, **extra})


def _failed_cleanly(root: Path, before: dict[str, object]) -> None:
    """Nothing changed (but the owner record a new root gets at once, for gc)."""
    FAULT_STATS["bad_inputs"] += 1
    after = snapshot(root)
    if ".xbuildenv-owner.json" not in before:
        after.pop(".xbuildenv-owner.json", None)
    changed = after != before or bool(leftovers(root))
    FAULT_STATS["cache_changes"] += int(changed)
    assert not changed, (leftovers(root), snapshot(root))


def test_5xx_is_retried_then_succeeds(server: Server, home: Path, tmp_path: Path) -> None:
    index_url, _, files, _ = _setup(server, fail_times=2)
    server.routes["/index.json"].fail_times = 1
    env = _env(home, index_url, XBUILDENV_RETRIES="3")
    r = run("install", "1.0.0", "--path", str(tmp_path / "r"), env=env)
    assert r.code == 0, r.err
    assert server.hits["/dl/1.0.0.tar.gz"] == 3
    assert server.hits["/index.json"] == 2
    assert root_problems(tmp_path / "r", {"1.0.0": files}) == []


def test_5xx_retries_are_bounded(server: Server, home: Path, tmp_path: Path) -> None:
    index_url, url, _, _ = _setup(server, fail_times=100)
    root = tmp_path / "r"
    root.mkdir()
    before = snapshot(root)
    env = _env(home, index_url, XBUILDENV_RETRIES="2")
    r = run("install", "1.0.0", "--path", str(root), env=env)
    line = one_error(r)
    assert url in line and "3 attempt(s)" in line and "HTTP 503" in line and "try again" in line
    assert server.hits["/dl/1.0.0.tar.gz"] == 3  # first try + XBUILDENV_RETRIES
    _failed_cleanly(root, before)


def test_cut_download_resumes_with_range(server: Server, home: Path, tmp_path: Path) -> None:
    index_url, _, files, body = _setup(server, cut_after=50_000, cut_times=2)
    r = run("install", "1.0.0", "--path", str(tmp_path / "r"), env=_env(home, index_url))
    assert r.code == 0, r.err
    ranges = [h.get("Range") for p, h in server.requests if p == "/dl/1.0.0.tar.gz"]
    assert ranges == [None, "bytes=50000-", "bytes=100000-"]
    assert root_problems(tmp_path / "r", {"1.0.0": files}) == []
    assert len(body) > 100_000


def test_cut_download_without_range_starts_over(server: Server, home: Path, tmp_path: Path) -> None:
    index_url, _, files, _ = _setup(server, cut_after=50_000, cut_times=1, ranges=False)
    r = run("install", "1.0.0", "--path", str(tmp_path / "r"), env=_env(home, index_url))
    assert r.code == 0, r.err
    assert server.hits["/dl/1.0.0.tar.gz"] == 2  # the whole body again, first bytes skipped
    assert root_problems(tmp_path / "r", {"1.0.0": files}) == []
    assert leftovers(tmp_path / "r") == []


def test_server_that_stalls_mid_body_times_out(home: Path, tmp_path: Path) -> None:
    stall = StallServer()
    try:
        root = tmp_path / "r"
        r = run(
            "install",
            "--url",
            stall.url,
            "--path",
            str(root),
            env=clean_env(
                home, XBUILDENV_TIMEOUT="1", XBUILDENV_RETRIES="1", XBUILDENV_BACKOFF="0"
            ),
            timeout=60,  # a hang would fail here, not wait forever
        )
    finally:
        stall.close()
    line = one_error(r)
    assert stall.url in line and "timed out" in line
    assert stall.hits == 2
    assert [n for n in root.iterdir() if n.name.startswith(".staging")] == []


def test_server_that_never_answers_times_out(server: Server, home: Path, tmp_path: Path) -> None:
    index_url = server.add("/index.json", b"{}", delay=4)
    env = _env(home, index_url, XBUILDENV_TIMEOUT="0.5", XBUILDENV_RETRIES="1")
    r = run("search", env=env, timeout=60)
    line = one_error(r)
    assert index_url in line and "timed out" in line


def test_404_names_the_url(server: Server, home: Path, tmp_path: Path) -> None:
    index_url, url, _, _ = _setup(server)
    del server.routes["/dl/1.0.0.tar.gz"]
    root = tmp_path / "r"
    root.mkdir()
    before = snapshot(root)
    line = one_error(run("install", "1.0.0", "--path", str(root), env=_env(home, index_url)))
    assert url in line and "404" in line and "check" in line
    assert server.hits["/dl/1.0.0.tar.gz"] == 1  # a 404 is final: no retries
    _failed_cleanly(root, before)


def test_dns_failure_names_the_url(home: Path, tmp_path: Path) -> None:
    url = "http://xbuildenv-test.invalid/xbuildenv.tar.gz"
    root = tmp_path / "r"
    root.mkdir()
    before = snapshot(root)
    line = one_error(run("install", "--url", url, "--path", str(root), env=clean_env(home, **FAST)))
    assert url in line and "resolved" in line and "network" in line
    _failed_cleanly(root, before)


def test_no_network_names_the_url(home: Path, tmp_path: Path, refused_port: int) -> None:
    index_url = f"http://127.0.0.1:{refused_port}/index.json"
    line = one_error(run("search", env=_env(home, index_url, XBUILDENV_RETRIES="1")))
    assert index_url in line and "refused" in line and "network" in line


def test_proxy_from_the_environment(server: Server, home: Path, tmp_path: Path) -> None:
    index_url, url, files, _ = _setup(server)
    proxy = ForwardProxy()
    try:
        env = _env(home, index_url, http_proxy=proxy.url)
        for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
            env.pop(name, None)
        r = run("install", "1.0.0", "--path", str(tmp_path / "r"), env=env)
    finally:
        proxy.close()
    assert r.code == 0, r.err
    assert index_url in proxy.seen and url in proxy.seen
    assert root_problems(tmp_path / "r", {"1.0.0": files}) == []


@pytest.fixture
def tls_server(tmp_path: Path) -> tuple[Server, Path]:
    """The loopback server speaking HTTPS with a fresh self-signed certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Server()
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    yield server, cert
    server.close()


def test_certificate_store_is_honoured(
    tls_server: tuple[Server, Path], home: Path, tmp_path: Path
) -> None:
    server, cert = tls_server
    body = make_tar()
    url = server.add("/x.tar.gz", body).replace("http://", "https://")
    root = tmp_path / "r"
    root.mkdir()
    before = snapshot(root)
    # Not trusted: one line, no retries (they cannot help), nothing written.
    env = clean_env(home, **FAST)
    line = one_error(run("install", "--url", url, "--path", str(root), env=env))
    assert url in line and "certificate" in line and "SSL_CERT_FILE" in line
    _failed_cleanly(root, before)
    # Trusted through the certificate store the environment names.
    env = clean_env(home, SSL_CERT_FILE=str(cert))
    r = run("install", "--url", url, "--path", str(root), env=env)
    assert r.code == 0, r.err
