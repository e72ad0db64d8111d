"""Helpers for the build-tool tests (test_tools_*): real environments, wheels, an index.

Environments are the real stripped archives in ``tests/data`` (optionally with extra
files such as Emscripten patches), served on loopback and installed with the real CLI.
Wheels are real zip files with dist-info metadata; the index is a PEP 503 simple index
served by the same loopback server, so pip runs for real without touching PyPI.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name
from support import DATA, Server, make_tar, run, sha256


def fixture_files(python: str = "3.13") -> dict[str, bytes]:
    """Every file of the real stripped environment for ``python`` (archive paths)."""
    files: dict[str, bytes] = {}
    with tarfile.open(DATA / f"xbuildenv-test-{python}.tar.gz") as tf:
        for member in tf.getmembers():
            if member.isfile():
                fh = tf.extractfile(member)
                assert fh is not None
                files[member.name] = fh.read()
    return files


def install_env(
    server: Server,
    env: dict[str, str],
    root: Path,
    *,
    python: str = "3.13",
    extra: dict[str, bytes] | None = None,
    name: str = "env",
) -> Path:
    """Install (and activate) the fixture environment; return its pyodide-root."""
    files = {**fixture_files(python), **(extra or {})}
    url = server.add(f"/{name}-{python}.tar.gz", make_tar(files))
    # -v: a failure shows its traceback, not only the one-line error
    r = run("install", "-v", "--url", url, "--path", str(root), env=env)
    if r.code != 0 and "the archive is corrupt or truncated" in r.err:
        # Setup for the build-tool tests, not the install under test. A full-suite run
        # on a machine shared with other test sessions has, rarely, seen this install
        # refused with "invalid header" (never alone: 300 runs in a loop passed); the
        # refusal is safe (nothing installed). One retry keeps those tests about tools;
        # the first failure is still printed for whoever looks into it.
        print(f"install_env: retrying after: {r.err.strip().splitlines()[-1]}")
        r = run("install", "-v", "--url", url, "--path", str(root), env=env)
    assert r.code == 0, r.err
    link = root / "xbuildenv"
    return link.resolve() / "xbuildenv" / "pyodide-root"


def pip_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the machine's pip configuration shut out: only our index is used."""
    out = {k: v for k, v in env.items() if not k.startswith(("PIP_", "UV_"))}
    out.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_CACHE_DIR="1", UV_NO_CACHE="1", UV_NO_CONFIG="1")
    return out


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def make_wheel(
    name: str,
    version: str,
    files: dict[str, bytes] | None = None,
    requires: tuple[str, ...] = (),
) -> tuple[str, bytes]:
    """A minimal pure-Python wheel: (file name, bytes)."""
    dist = f"{canonicalize_name(name).replace('-', '_')}-{version}"
    pkg = canonicalize_name(name).replace("-", "_")
    content = dict(files or {f"{pkg}/__init__.py": f"__version__ = {version!r}\n".encode()})
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    content[f"{dist}.dist-info/METADATA"] = meta.encode()
    content[f"{dist}.dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    lines = [f"{path},{_record_hash(data)},{len(data)}" for path, data in content.items()]
    lines.append(f"{dist}.dist-info/RECORD,,")
    content[f"{dist}.dist-info/RECORD"] = ("\n".join(lines) + "\n").encode()
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as zf:
        for path, data in content.items():
            zf.writestr(path, data)
    return f"{dist}-py3-none-any.whl", raw.getvalue()


def serve_index(server: Server, wheels: list[tuple[str, bytes]], prefix: str = "/simple") -> str:
    """Serve ``wheels`` as a PEP 503 simple index; return its URL."""
    by_project: dict[str, list[tuple[str, bytes]]] = {}
    for file_name, data in wheels:
        by_project.setdefault(canonicalize_name(file_name.split("-")[0]), []).append(
            (file_name, data)
        )
    links = []
    for project, items in sorted(by_project.items()):
        links.append(f'<a href="{project}/">{project}</a>')
        anchors = []
        for file_name, data in items:
            server.add(f"/files/{file_name}", data)
            anchors.append(f'<a href="/files/{file_name}#sha256={sha256(data)}">{file_name}</a>')
        page = "<html><body>" + "\n".join(anchors) + "</body></html>"
        server.add(f"{prefix}/{project}/", page.encode(), headers={"Content-Type": "text/html"})
    top = "<html><body>" + "\n".join(links) + "</body></html>"
    return server.add(f"{prefix}/", top.encode(), headers={"Content-Type": "text/html"})


def index_hits(server: Server, prefix: str = "/simple") -> int:
    return sum(n for path, n in server.hits.items() if path.startswith((prefix, "/files/")))


# The stand-in: records each call, and builds the tree a real emsdk would (its shape:
# tests/data/fake_emsdk.py).
FAKE_EMSDK = (DATA / "fake_emsdk.py").read_text()


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_emsdk_repo(folder: Path, tags: tuple[str, ...] = ("4.0.9",)) -> str:
    """A local git repository standing in for emsdk (its ``emsdk`` is FAKE_EMSDK, run by
    this Python), tagged with ``tags`` as emsdk tags its releases; its URL."""
    repo = folder / "emsdk-repo"
    repo.mkdir()
    (repo / "emsdk").write_text(f"#!{sys.executable}\n" + FAKE_EMSDK)
    (repo / "emsdk").chmod(0o755)
    (repo / "emsdk_env.sh").write_text("# sourced by users\n")
    git("init", "-q", cwd=repo)
    git("add", ".", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "emsdk", cwd=repo)
    for tag in tags:
        git("-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a", "-m", tag, tag, cwd=repo)
    return f"file://{repo}"
