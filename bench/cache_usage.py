"""Measure what the machine-wide cache saves: downloads and disk for 1, 2 and 5 venvs.

Run by hand: ``python bench/cache_usage.py``. It builds a realistic environment
archive (about 1,200 files, ~29 MB unpacked), serves it from a loopback server that
counts requests, installs it into N fresh virtual environments sharing one cache
folder, and prints downloads and bytes on disk (hard-linked files counted once), then
deletes all venvs but one and runs ``xbuildenv gc``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support import disk_usage, make_venv  # noqa: E402

VERSION = "0.29.4"


def build_archive(seed: int = 7) -> bytes:
    """~1,200 members, ~29 MB unpacked, compressible headers plus binary libraries."""
    rng = random.Random(seed)
    words = [f"PyAPI_FUNC(int) Py_Thing{i}(PyObject *o);\n".encode() for i in range(400)]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(f"xbuildenv/{name}")
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))

        add("pyodide-root/Makefile.envs", b"export PYVERSION ?= 3.13.2\n")
        lock = {
            "packages": {
                f"pkg{i}": {"file_name": f"pkg{i}-1.0-py3-none-any.whl", "sha256": "ab" * 32}
                for i in range(300)
            }
        }
        add("pyodide-root/dist/pyodide-lock.json", json.dumps(lock).encode())
        for i in range(1150):
            text = b"".join(rng.choice(words) for _ in range(rng.randint(20, 400)))
            add(f"pyodide-root/cpython/installs/python-3.13.2/include/python3.13/h{i}.h", text)
        for i in range(40):
            blob = rng.randbytes(300_000) + bytes(200_000)
            add(f"site-packages-extras/lib/lib{i}.a", blob)
        add("requirements.txt", b"numpy==2.2.5\n")
    import bz2

    return bz2.compress(raw.getvalue(), 9)


def serve(body: bytes, meta: bytes) -> tuple[ThreadingHTTPServer, Counter[str]]:
    hits: Counter[str] = Counter()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            hits[self.path] += 1
            data = body if self.path.endswith(".tar.bz2") else meta
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, hits


def _index(url: str, body: bytes) -> bytes:
    import hashlib

    release = {
        "version": VERSION,
        "url": url,
        "sha256": hashlib.sha256(body).hexdigest(),
        "python_version": "3.13.2",
        "emscripten_version": "4.0.9",
    }
    return json.dumps({"releases": {VERSION: release}}).encode()


def measure(n: int, body: bytes, work: Path) -> tuple[int, int, int]:
    """Install into ``n`` venvs; return downloads, cache bytes, cache bytes after gc."""
    home = work / "home"
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYODIDE_", "XBUILDENV_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    httpd, hits = serve(body, b"")
    index = work / "index.json"
    index.write_bytes(_index(f"http://127.0.0.1:{httpd.server_address[1]}/x.tar.bz2", body))
    try:
        for i in range(n):
            py = make_venv(work / f"venv{i}")
            cmd = [str(py), "-m", "xbuildenv", "install", VERSION, "--force", "-q"]
            subprocess.run([*cmd, "--metadata", str(index)], env=env, check=True)
        cache = home / ".cache" / "pyodide-build"
        before = disk_usage(cache)
        for i in range(1, n):
            shutil.rmtree(work / f"venv{i}")
        gc = [sys.executable, "-m", "xbuildenv", "gc", "-q"]
        subprocess.run(gc, env=env, check=True, stdout=subprocess.DEVNULL)
        return hits["/x.tar.bz2"], before, disk_usage(cache)
    finally:
        httpd.shutdown()
        httpd.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--venvs", type=int, nargs="+", default=[1, 2, 5])
    args = parser.parse_args()
    body = build_archive()
    print(f"archive: {len(body) / 1e6:.1f} MB compressed")
    base = Path(tempfile.mkdtemp(prefix="xbuildenv-cache-bench-"))
    try:
        rows = [(n, *measure(n, body, base / f"n{n}")) for n in args.venvs]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    after_gc = "after deleting all venvs but one + gc"
    print(f"{'venvs':>5}  {'downloads':>9}  {'cache on disk':>13}  {after_gc:>38}")
    for n, downloads, before, after in rows:
        print(f"{n:>5}  {downloads:>9}  {before / 1e6:>10.1f} MB  {after / 1e6:>35.1f} MB")


if __name__ == "__main__":
    main()
