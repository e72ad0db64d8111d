"""Archives replaced upstream (issue 19, item 3): publishers re-upload an archive under
the same URL with a new sha256 in the index (pyodide #5752, #6378/#6379). A client
holding the old index revalidates it once on a mismatch and verifies against the new
entry; only a mismatch against an index read just now is an error, and it says which.
"""

from __future__ import annotations

from pathlib import Path

from helpers.archives import PY_FULL, default_files, index, make_tar, release, sha256
from helpers.cli import Result, one_error, run
from helpers.servers import Server

ARCHIVE = "/dl/1.0/xbuildenv-1.0.tar.gz"


def _build(marker: str) -> bytes:
    files = default_files(PY_FULL, "1.0")
    files["xbuildenv/build.txt"] = marker.encode()
    return make_tar(files)


def _publish(server: Server, body: bytes, listed: bytes | None = None) -> str:
    """Serve ``body`` as the archive and an index whose entry names ``listed``'s sha256
    (default: the body's own)."""
    url = server.add(ARCHIVE, body)
    entry = release("1.0", url, PY_FULL, sha256=sha256(listed if listed is not None else body))
    return server.add("/index.json", index(entry))


def _install(env: dict[str, str], meta: str, root: Path, *args: str) -> Result:
    return run("install", "1.0", "--metadata", meta, "--path", str(root), *args, env=env)


def test_a_replaced_archive_is_verified_against_the_new_entry(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    old, new = _build("first upload"), _build("second upload")
    meta = _publish(server, old)
    assert run("search", "--metadata", meta, env=env).code == 0  # the index is cached
    _publish(server, new)  # re-uploaded: same URL, new bytes, new sha256 in the index
    root = tmp_path / "root"
    r = _install(env, meta, root)
    assert r.code == 0, r.err
    warnings = [line for line in r.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, r.err
    assert "replaced upstream" in warnings[0] and sha256(new) in warnings[0]
    assert (root / "1.0" / "xbuildenv" / "build.txt").read_text() == "second upload"
    assert server.hits["/index.json"] == 2  # asked again once, past its max age


def test_a_mismatch_against_a_fresh_index_is_an_error_saying_so(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    listed, served = _build("listed"), _build("tampered")
    meta = _publish(server, served, listed)
    root = tmp_path / "root"
    line = one_error(_install(env, meta, root))
    assert "checksum mismatch" in line and "fetched just now" in line, line
    assert server.hits["/index.json"] == 1  # fresh already: not asked twice
    assert not (root / "1.0").exists()


def test_a_mismatch_the_index_still_confirms_is_an_error_saying_so(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    good = _build("good")
    meta = _publish(server, good)
    assert run("search", "--metadata", meta, env=env).code == 0  # cached
    server.add(ARCHIVE, _build("swapped without telling the index"))
    root = tmp_path / "root"
    line = one_error(_install(env, meta, root))
    assert "fetched again and still says" in line and sha256(good) in line, line
    assert server.hits["/index.json"] == 2
    assert not (root / "1.0").exists()


def test_offline_says_the_index_was_not_asked_again(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta = _publish(server, _build("first"))
    assert run("search", "--metadata", meta, env=env).code == 0
    _publish(server, _build("second"))
    line = one_error(_install(env, meta, tmp_path / "root", "--offline"))
    assert "--offline: not fetched again" in line, line
