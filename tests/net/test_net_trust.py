"""HTTPS trust and refused connections, against real loopback servers.

A private CA is made with the ``openssl`` command at test time; it signs the
certificate of a loopback HTTPS server. The CA reaches the tool only through
``SSL_CERT_FILE`` or ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.archives import make_tar
from helpers.cli import clean_env as _clean_env
from helpers.cli import one_error, run
from helpers.servers import Server


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """As helpers.cli.clean_env, without the machine's own certificate variables (some set
    SSL_CERT_FILE machine-wide): each test says which one it means."""
    env = _clean_env(home, **extra)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        if name not in extra:
            env.pop(name, None)
    return env


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, cwd=cwd)


@pytest.fixture
def ca_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """An HTTPS server whose certificate a fresh private CA signed; the CA's PEM."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test CA (.ci/run installs it)")
    d = tmp_path / "pki"
    d.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=xbuildenv test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "server.key", "-out", "server.csr", cwd=d)  # fmt: skip
    (d / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "1", "-extfile", "ext.cnf", "-out", "server.pem",
             cwd=d)  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / "server.pem", d / "server.key")
    server = Server()
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    yield server, d / "ca.pem"
    server.close()


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_private_ca_through_a_variable(
    variable: str, ca_server: tuple[Server, Path], home: Path, tmp_path: Path
) -> None:
    server, ca = ca_server
    url = server.add("/env.tar.gz", make_tar()).replace("http://", "https://")
    root = str(tmp_path / "r")
    line = one_error(run("install", "--url", url, "--path", root, env=clean_env(home)))
    assert "cannot verify the TLS certificate" in line and url in line
    assert server.hits["/env.tar.gz"] == 0  # the handshake failed: no request was made
    r = run("install", "--url", url, "--path", root, env=clean_env(home, **{variable: str(ca)}))
    assert r.code == 0, r.err
    assert server.hits["/env.tar.gz"] == 1


def test_a_bad_bundle_is_one_clear_error(home: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    env = clean_env(home, REQUESTS_CA_BUNDLE=str(bogus))
    line = one_error(run("install", "--url", "https://127.0.0.1:9/x.tar.gz", "--path",
                         str(tmp_path / "r"), env=env))  # fmt: skip
    assert "REQUESTS_CA_BUNDLE" in line and str(bogus) in line


def test_system_store_through_truststore_and_only_for_https(
    tmp_path: Path, refused_port: int
) -> None:
    pytest.importorskip("truststore")
    code = (
        "import sys\n"
        "from xbuildenv.net import fetch\n"
        "try:\n"
        f"    fetch.fetch_bytes('http://127.0.0.1:{refused_port}/i.json')\n"
        "except Exception:\n"
        "    pass\n"
        "print('truststore' in sys.modules)\n"
        "from xbuildenv.net.tls import context\n"
        "print(type(context()).__module__.split('.')[0])\n"
    )
    env = clean_env(tmp_path)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["False", "truststore"], done.stderr


def test_refused_connection_fails_fast(home: Path, refused_port: int) -> None:
    url = f"http://127.0.0.1:{refused_port}/index.json"
    # Generous retry settings: only refused connections are cut short.
    env = clean_env(home, XBUILDENV_RETRIES="5", XBUILDENV_BACKOFF="2")
    started = time.monotonic()
    line = one_error(run("search", "--metadata", url, env=env))
    # Retrying as for other failures would wait 2 + 4 + 8 + 10 + 10 s; two quick attempts
    # take well under a second (the bound leaves room for a loaded machine).
    assert time.monotonic() - started < 10
    assert "failed after 2 attempt(s): the connection was refused" in line and url in line
