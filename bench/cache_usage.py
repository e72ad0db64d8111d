"""Measure what the machine-wide cache saves: downloads and disk for 1, 2 and 5 venvs.

Run by hand: ``python bench/cache_usage.py``. It builds the benchmark's realistic
environment archive (about 1,200 files, ~29 MB unpacked; see archive_gen.py), serves
it from a loopback server that counts requests, installs it into N fresh virtual
environments sharing one cache folder, and prints downloads and bytes on disk
(hard-linked files counted once), then deletes all venvs but one and runs
``xbuildenv gc``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support import disk_usage, make_venv  # noqa: E402

VERSION = "0.29.4"


def build_archive() -> bytes:
    """The benchmark's realistic archive (~6 MB .tar.bz2, ~1,200 entries, ~29 MB unpacked)."""
    sys.path.insert(0, str(REPO / "bench"))
    import archive_gen

    spec = archive_gen.ArchiveSpec("3.13", 23.5)
    return archive_gen.build(spec, REPO / "bench" / "out" / "archives").path.read_bytes()


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
