"""``install-packages`` from a package index that asks for credentials: real pip gets
them from the URL (and netrc, as pip reads it); nothing we print shows them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.archives import make_wheel
from helpers.auth import AuthServer, basic, write_netrc
from helpers.cli import install_env, one_error, pip_env, run
from helpers.servers import Server, serve_simple_index

SECRET = "P1pIndexS3cret"


@pytest.fixture
def private_index() -> Iterator[AuthServer]:
    s = AuthServer("alice", SECRET)
    yield s
    s.close()


def test_install_packages_from_an_authenticated_index(
    server: Server, private_index: AuthServer, env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    penv = pip_env(env)
    install_env(server, penv, root)
    plain = serve_simple_index(private_index, [make_wheel("numpy", "2.2.5")])  # type: ignore[arg-type]
    with_password = plain.replace("http://", f"http://alice:{SECRET}@")

    r = run(
        "-v",
        "install-packages",
        "numpy",
        "--index-url",
        with_password,
        "--path",
        str(root),
        env=penv,
    )
    assert r.code == 0, r.err
    assert SECRET not in r.out + r.err
    wheel_gets = [s for s in private_index.seen if s.path.startswith("/files/")]
    assert wheel_gets and all(s.authorization == basic("alice", SECRET) for s in wheel_gets)

    wrong = plain.replace("http://", "http://alice:n0t-the-pw@")
    r = run("install-packages", "numpy", "-f", "--index-url", wrong, "--path", str(root), env=penv)
    one_error(r)
    assert "n0t-the-pw" not in r.out + r.err

    netrc = write_netrc(tmp_path / "netrc", ("127.0.0.1", "alice", SECRET))
    r = run(
        "install-packages",
        "numpy",
        "-f",
        "--index-url",
        plain,
        "--path",
        str(root),
        env={**penv, "NETRC": str(netrc)},
    )
    assert r.code == 0, r.err
    assert SECRET not in r.out + r.err
