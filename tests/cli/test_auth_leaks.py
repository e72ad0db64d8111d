"""A whole workflow with a secret in every URL: not one of them in anything printed or
written.

Real subprocesses against real loopback servers that ask for credentials (an origin,
a mirror, a fleet store that takes PUT), through ``search``, ``install`` (by version,
``-v``, ``--json``, ``--url`` with a signed query, through ``XBUILDENV_MIRROR``, with
an HTTP remote store), ``mirror sync`` (``--base-url`` with a password), ``cache list``,
``gc``, ``versions``, an install that fails (wrong password, unreachable host), and a
store that fails. Then every byte of stdout and stderr, the whole home folder (cache,
roots, store, cached indexes, records) and the mirror folder are searched for every
secret: zero hits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, default_files, make_tar, release, sha256
from helpers.auth import AuthServer, files_holding
from helpers.cli import Result, clean_env, run, run_on_terminal

ORIGIN_PW = "Orig1nS3cret"
MIRROR_PW = "M1rrorS3cret"
STORE_PW = "St0reS3cret"
BASE_PW = "Bas3UrlS3cret"
TOKEN = "T0kenS3cret"
SIGNATURE = "S1gnatureS3cret"
WRONG_PW = "Wr0ngS3cret"
DEAD_PW = "D3adHostS3cret"
DEAD_STORE_PW = "D3adStoreS3cret"
SECRETS = (
    ORIGIN_PW,
    MIRROR_PW,
    STORE_PW,
    BASE_PW,
    TOKEN,
    SIGNATURE,
    WRONG_PW,
    DEAD_PW,
    DEAD_STORE_PW,
)


@pytest.fixture
def servers() -> Iterator[tuple[AuthServer, AuthServer, AuthServer]]:
    origin = AuthServer("alice", ORIGIN_PW)
    mirror = AuthServer("mallory", MIRROR_PW)
    store = AuthServer("bob", STORE_PW)
    yield origin, mirror, store
    for s in (origin, mirror, store):
        s.close()


def _archive(version: str) -> bytes:
    return make_tar(default_files(PY_FULL, version))


def test_no_secret_in_any_output_or_file(
    servers: tuple[AuthServer, AuthServer, AuthServer], tmp_path: Path
) -> None:
    import json

    origin, mirror, store = servers
    bodies = {v: _archive(v) for v in ("0.29.4", "0.28.0", "0.27.0", "0.26.0")}
    origin.add("/pub/0.29.4.tar.gz", bodies["0.29.4"])  # absolute URL: credentials lent
    origin.add("/rel/0.28.0.tar.gz", bodies["0.28.0"])  # relative URL in the index
    origin.add("/dl/0.27.0/xbuildenv.tar.gz", bodies["0.27.0"])  # under the mirror's prefix
    mirror.add("/m/0.27.0/xbuildenv.tar.gz", bodies["0.27.0"])
    origin.add("/signed/0.26.0.tar.gz", bodies["0.26.0"])
    releases = [
        release(
            "0.29.4", origin.url("/pub/0.29.4.tar.gz"), PY_FULL, sha256=sha256(bodies["0.29.4"])
        ),
        release("0.28.0", "rel/0.28.0.tar.gz", PY_FULL, sha256=sha256(bodies["0.28.0"])),
        release(
            "0.27.0",
            origin.url("/dl/0.27.0/xbuildenv.tar.gz"),
            PY_FULL,
            sha256=sha256(bodies["0.27.0"]),
        ),
    ]
    origin.add(
        "/index.json", json.dumps({"releases": {r["version"]: r for r in releases}}).encode()
    )

    index = origin.url("/index.json", userinfo=f"alice:{ORIGIN_PW}")
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(
        home,
        PYODIDE_CROSS_BUILD_ENV_METADATA_URL=index,
        XBUILDENV_REMOTE_STORE=store.url("/fleet", userinfo=f"bob:{STORE_PW}"),
        XBUILDENV_MIRROR=mirror.url("/m/", userinfo=f"mallory:{MIRROR_PW}"),
        XBUILDENV_MIRROR_ORIGIN=origin.url("/dl/"),
        XBUILDENV_RETRIES="0",
    )
    results: list[Result] = []

    def ok(*args: str, **extra: str) -> Result:
        r = run(*args, env={**env, **extra})
        results.append(r)
        assert r.code == 0, (args, r.out, r.err)
        return r

    def fails(*args: str, **extra: str) -> Result:
        r = run(*args, env={**env, **extra})
        results.append(r)
        assert r.code != 0, (args, r.out, r.err)
        assert args[0] == "-v" or "Traceback" not in r.err  # -v shows the traceback
        assert sum(line.startswith("error: ") for line in r.err.splitlines()) == 1, r.err
        return r

    ok("search")
    ok("-v", "search", "--json", "--metadata", index, "--refresh")
    ok("-v", "install", "0.29.4", "--json")
    assert any(s.method == "PUT" for s in store.seen), "the archive went to the fleet store"
    ok("-v", "install", "0.27.0")  # from the mirror, with the mirror's own credentials
    assert mirror.seen_at("/m/0.27.0/xbuildenv.tar.gz")
    signed = origin.url(
        f"/signed/0.26.0.tar.gz?X-Amz-Signature={SIGNATURE}&token={TOKEN}",
        userinfo=f"alice:{ORIGIN_PW}",
    )
    ok("-v", "install", "--url", signed, "--json")
    origin.add("/pub/tty.tar.gz", _archive("0.25.0"))
    tty_url = origin.url("/pub/tty.tar.gz", userinfo=f"alice:{ORIGIN_PW}")
    code, terminal = run_on_terminal(["-v", "install", "--url", tty_url], env, stdout_too=True)
    assert code == 0, terminal
    assert "downloading [" in terminal  # the progress bar was drawn
    ok("versions")
    ok("versions", "--json")
    dest = tmp_path / "mirror-out"
    base = f"http://carol:{BASE_PW}@mirror.example/x"
    ok("-v", "mirror", "sync", str(dest), "--metadata", index, "--base-url", base, "--json")
    ok("-v", "mirror", "sync", str(dest), "--metadata", index, "--base-url", base)
    dry = ok("mirror", "sync", str(tmp_path / "dry"), "--metadata", index, "--dry-run", "--json")
    sizes = [item["size_bytes"] for item in json.loads(dry.out)["archives"]]
    assert None not in sizes, dry.out  # the HEAD requests got in with the index's credentials
    ok("cache", "list")
    ok("cache", "list", "--json")
    ok("-v", "gc", "--dry-run", "--json")
    ok("gc")

    wrong = origin.url("/index.json", userinfo=f"alice:{WRONG_PW}")
    stale = ok("-v", "search", "--metadata", wrong, "--refresh")  # the cached copy serves
    assert "refused the credentials of user 'alice' from the URL" in stale.err
    fails("-v", "install", "--url", origin.url("/pub/0.29.4.tar.gz", userinfo=f"alice:{WRONG_PW}"))
    dead = f"http://eve:{DEAD_PW}@127.0.0.1:9/index.json"
    fails("-v", "install", "--refresh", PYODIDE_CROSS_BUILD_ENV_METADATA_URL=dead)
    fails("install", "--url", f"http://eve:{DEAD_PW}@127.0.0.1:9/x.tar.gz?sig={TOKEN}")
    fails("-v", "install", "--url", origin.url(f"/none.tar.gz?X-Amz-Signature={SIGNATURE}"))
    dead_store = f"http://bob:{DEAD_STORE_PW}@127.0.0.1:9/fleet"
    store_down = ok("-v", "install", "0.28.0", "--force", XBUILDENV_REMOTE_STORE=dead_store)
    assert "remote store http://bob:****@127.0.0.1:9/fleet is not usable" in store_down.err
    rejected_store = store.url("/fleet", userinfo=f"bob:{WRONG_PW}")
    ok("-v", "install", "0.29.4", "--force", XBUILDENV_REMOTE_STORE=rejected_store)

    printed = "\n".join(r.out + r.err for r in results) + terminal
    assert "alice:****@" in printed  # what was shown instead
    for secret in SECRETS:
        assert secret not in printed, secret
        assert files_holding(home, secret) == [], secret
        assert files_holding(dest, secret) == [], secret
    mirror_index = json.loads((dest / "pyodide-cross-build-environments.json").read_text())
    assert all("@" not in r["url"] for r in mirror_index["releases"].values())
