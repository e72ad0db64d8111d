"""A mirror made by ``mirror sync``, served by a real nginx, used by ``xbuildenv``.

Both ways of using it: its own index (``PYODIDE_CROSS_BUILD_ENV_METADATA_URL``; the
archive URLs in it are relative and resolved by xbuildenv), and the official index with
the archives from the mirror (``XBUILDENV_MIRROR``), where a damaged mirror copy is
refused and fetched from the origin.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.archives import PY_FULL, sha256
from helpers.cli import clean_env, run
from helpers.servers import Server
from helpers.services import OFFICIAL, Nginx, publish

INDEX = "pyodide-cross-build-environments.json"
ARCHIVE = "/dl/0.29.4/xbuildenv-0.29.4.tar.gz"


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    root = tmp_path / "www"
    root.mkdir()
    n = Nginx(root, tmp_path / "nginx")
    yield n
    n.close()


def _sync(env: dict[str, str], dest: Path, meta: str, *args: str) -> None:
    r = run("mirror", "sync", str(dest), "--metadata", meta, "-q", *args, env=env)
    assert r.code == 0, r.err


def test_mirror_index_served_by_nginx(
    server: Server, nginx: Nginx, env: dict[str, str], tmp_path: Path
) -> None:
    publish(server, {"0.29.4": PY_FULL, "0.28.0": PY_FULL})
    _sync(env, nginx.root / "xbuildenv", server.url("/index.json"))
    origin_before = server.hits[ARCHIVE]
    home = tmp_path / "client"
    home.mkdir()
    client = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=nginx.url(f"/xbuildenv/{INDEX}"))
    r = run("install", "0.29.4", env=client)
    assert r.code == 0, r.err
    assert run("version", env=clean_env(home)).out.strip() == "0.29.4"
    served = [p for p, n in nginx.hits().items() if p.endswith(".tar.gz") for _ in range(n)]
    assert len(served) == 1 and served[0].startswith("/xbuildenv/archives/")
    assert server.hits[ARCHIVE] == origin_before  # nothing from the origin


def test_xbuildenv_mirror_rewrites_the_official_prefix(
    server: Server, nginx: Nginx, env: dict[str, str], tmp_path: Path
) -> None:
    """The official index (its URLs under the official CDN, which tests never reach) and
    the archives from the mirror; the sha256 still comes from the official index."""
    bodies = publish(server, {"0.29.4": PY_FULL}, official_urls=True)
    (nginx.root / "0.29.4").mkdir()
    (nginx.root / "0.29.4" / "xbuildenv-0.29.4.tar.gz").write_bytes(bodies["0.29.4"])
    home = tmp_path / "client"
    home.mkdir()
    client = clean_env(home, XBUILDENV_MIRROR=nginx.url("/"))
    r = run("install", "0.29.4", "--metadata", server.url("/index.json"), env=client)
    assert r.code == 0, r.err
    assert nginx.hits()["/0.29.4/xbuildenv-0.29.4.tar.gz"] == 1
    # The same from [tool.xbuildenv] in pyproject.toml.
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(f'[tool.xbuildenv]\nmirror = "{nginx.url("/")}"\n')
    home2 = tmp_path / "client2"
    home2.mkdir()
    r = run(
        "install",
        "0.29.4",
        "--metadata",
        server.url("/index.json"),
        env=clean_env(home2),
        cwd=project,
    )
    assert r.code == 0, r.err
    assert nginx.hits()["/0.29.4/xbuildenv-0.29.4.tar.gz"] == 2
    assert OFFICIAL.startswith("https://github.com/")


def test_damaged_mirror_copy_is_refused_and_fetched_from_origin(
    server: Server, nginx: Nginx, env: dict[str, str], tmp_path: Path
) -> None:
    publish(server, {"0.29.4": PY_FULL})
    origin = server.url("/dl/")
    env = {**env, "XBUILDENV_MIRROR_ORIGIN": origin}
    _sync(env, nginx.root, server.url("/index.json"))
    copy = nginx.root / "0.29.4" / "xbuildenv-0.29.4.tar.gz"
    good = copy.read_bytes()
    assert server.hits[ARCHIVE] == 1
    for damaged in (good[:-200] + bytes(200), b"<html>login</html>", None):
        if damaged is None:
            copy.unlink()  # a 404 at the mirror
        else:
            copy.write_bytes(damaged)
        before = server.hits[ARCHIVE]
        home = tmp_path / f"client-{before}"
        home.mkdir()
        client = clean_env(home, XBUILDENV_MIRROR=nginx.url("/"), XBUILDENV_MIRROR_ORIGIN=origin)
        r = run("install", "0.29.4", "--metadata", server.url("/index.json"), env=client)
        assert r.code == 0, r.err
        warnings = [line for line in r.err.splitlines() if line.startswith("warning: ")]
        assert len(warnings) == 1 and "refused" in warnings[0], r.err
        assert server.hits[ARCHIVE] == before + 1  # the origin served it once
        installed = json.loads(run("versions", "--json", env=clean_env(home)).out)
        assert [v["version"] for v in installed["versions"]] == ["0.29.4"]
    # A good copy again: the mirror serves it and the origin is not asked.
    copy.write_bytes(good)
    home = tmp_path / "client-good"
    home.mkdir()
    before = server.hits[ARCHIVE]
    client = clean_env(home, XBUILDENV_MIRROR=nginx.url("/"), XBUILDENV_MIRROR_ORIGIN=origin)
    r = run("install", "0.29.4", "--metadata", server.url("/index.json"), env=client)
    assert r.code == 0 and "warning" not in r.err, r.err
    assert server.hits[ARCHIVE] == before
    assert sha256(good) == sha256(copy.read_bytes())


def test_damaged_archive_behind_a_mirror_index_comes_from_its_origin(
    server: Server, nginx: Nginx, env: dict[str, str], tmp_path: Path
) -> None:
    """A mirror's index names each archive's origin (``origin_url``, ignored by
    pyodide-build); a damaged or missing copy is refused and fetched from there."""
    publish(server, {"0.29.4": PY_FULL})
    _sync(env, nginx.root, server.url("/index.json"))
    entry = json.loads((nginx.root / INDEX).read_text())["releases"]["0.29.4"]
    assert entry["origin_url"] == server.url(ARCHIVE)
    copy = nginx.root / entry["url"]
    good = copy.read_bytes()
    for round_, damaged in enumerate((good[: len(good) // 2], None)):
        if damaged is None:
            copy.unlink()
        else:
            copy.write_bytes(damaged)
        before = server.hits[ARCHIVE]
        home = tmp_path / f"client-{round_}"
        home.mkdir()
        client = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=nginx.url(f"/{INDEX}"))
        r = run("install", "0.29.4", env=client)
        assert r.code == 0, r.err
        warnings = [line for line in r.err.splitlines() if line.startswith("warning: ")]
        assert len(warnings) == 1 and "refused" in warnings[0], r.err
        assert server.hits[ARCHIVE] == before + 1
    # An index may not fall back from https to plain http (nor to a local file).
    entry["url"] = "https://127.0.0.1:1/none.tar.gz"
    index = {"releases": {"0.29.4": entry}}
    (nginx.root / "downgrade.json").write_text(json.dumps(index))
    home = tmp_path / "client-downgrade"
    home.mkdir()
    client = clean_env(home, PYODIDE_CROSS_BUILD_ENV_METADATA_URL=nginx.url("/downgrade.json"))
    before = server.hits[ARCHIVE]
    r = run("install", "0.29.4", env=client)
    assert r.code == 1 and "warning" not in r.err, r.err
    assert server.hits[ARCHIVE] == before
