"""What the manifest check costs on the second-venv install (the linked route).

Run by hand: ``python bench/manifest_check.py [--runs N] [--large]``. It builds the
benchmark's realistic environment (about 1,200 files, ~29 MB unpacked; ``--large``: the
~200 MB one, see archive_gen.py), installs it once into a root in a private cache
folder, then measures, each as the median of ``--runs`` runs:

* ``second install``: ``xbuildenv install`` into a second root of the same cache folder
  (a real process, as a second venv would run it): the linked route, which checks every
  file against the first root's manifest before sharing it;
* ``link, checked``: the same linking in-process (``treelink.link_tree``);
* ``link, unchecked``: the same walk and links without reading a byte (what the linked
  route did before the check), so the difference is the check's own cost;
* ``store route``: what the install falls back to when the check fails (unpacking the
  stored archive), for scale.

Page cache warm (every run reads files the previous one read), writeback flushed
before each run (``sync``), one machine: compare the figures with each other, not with
another machine's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import archive_gen  # noqa: E402

from xbuildenv.cache.layout import MANIFEST  # noqa: E402
from xbuildenv.cache.treelink import PRIVATE, link_tree  # noqa: E402

VERSION = "0.29.4"
ROOT = ".pyodide-xbuildenv-bench00000{}"


def _serve(body: bytes, index: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            data = body if self.path.endswith(".tar.bz2") else index
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _link_unchecked(source: Path, dest: Path) -> int:
    """The linked route without the check: walk, make folders, hard-link every file."""
    base = str(source)
    private = {os.path.join(base, p) for p in PRIVATE}
    count = 0
    for dirpath, dirnames, filenames in os.walk(os.path.join(base, "xbuildenv")):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in private]
        out_dir = os.path.join(dest, os.path.relpath(dirpath, base))
        os.makedirs(out_dir, exist_ok=True)
        for name in filenames:
            src = os.path.join(dirpath, name)
            if os.path.islink(src):
                os.symlink(os.readlink(src), os.path.join(out_dir, name))
            else:
                os.link(src, os.path.join(out_dir, name))
                count += 1
    return count


def _median(runs: int, step: Callable[[], None], reset: Callable[[], None]) -> list[float]:
    times = []
    for _ in range(runs):
        reset()
        os.sync()  # no writeback of the previous run's files in this run's time
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    reset()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--large", action="store_true", help="the ~200 MB environment")
    args = parser.parse_args()
    spec = archive_gen.ArchiveSpec("3.13", 180.0 if args.large else 23.5)
    built = archive_gen.build(spec, REPO / "bench" / "out" / "archives")
    body = built.path.read_bytes()
    mb = (built.size / 1e6, built.unpacked / 1e6)
    print(f"archive: {mb[0]:.1f} MB, {built.entries} entries, {mb[1]:.1f} MB unpacked")
    base = Path(tempfile.mkdtemp(prefix="xbuildenv-manifest-bench-", dir=Path.home()))
    home = base / "home"
    cache = home / ".cache" / "pyodide-build"
    cache.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYODIDE_", "XBUILDENV_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    httpd = _serve(body, b"")
    port = httpd.server_address[1]
    release = {
        "version": VERSION,
        "url": f"http://127.0.0.1:{port}/x.tar.bz2",
        "sha256": built.sha256,
        "python_version": built.full_python,
        "emscripten_version": "4.0.9",
    }
    index = base / "index.json"
    index.write_text(json.dumps({"releases": {VERSION: release}}))
    install = [sys.executable, "-m", "xbuildenv", "install", VERSION, "--force", "-q"]
    install += ["--metadata", str(index)]
    first = cache / ROOT.format(1)
    second = cache / ROOT.format(2)
    outside = base / "outside-root"
    try:
        subprocess.run([*install, "--path", str(first)], env=env, check=True)
        source = first / VERSION

        def rm(path: Path) -> Callable[[], None]:
            return lambda: shutil.rmtree(path, ignore_errors=True)

        def cli(root: Path) -> Callable[[], None]:
            return lambda: subprocess.run([*install, "--path", str(root)], env=env, check=True)

        dest = base / "dest"
        rows = {"second install (linked, checked)": _median(args.runs, cli(second), rm(second))}
        # The store route: the first root's tree no longer matches (no manifest), as
        # after a failed check.
        manifest = source / MANIFEST
        manifest.rename(base / "manifest-aside")
        rows["store route (for scale)"] = _median(args.runs, cli(outside), rm(outside))
        (base / "manifest-aside").rename(manifest)
        rows |= {
            "link, checked (in-process)": _median(
                args.runs, lambda: link_tree(source, dest), rm(dest)
            ),
            "link, unchecked (in-process)": _median(
                args.runs, lambda: _link_unchecked(source, dest), rm(dest)
            ),
        }
    finally:
        httpd.shutdown()
        shutil.rmtree(base, ignore_errors=True)
    print(f"{'step':<34} {'median':>8} {'min':>8} {'max':>8}   ({args.runs} runs)")
    for name, times in rows.items():
        m = statistics.median(times)
        print(
            f"{name:<34} {m * 1000:>6.0f}ms {min(times) * 1000:>6.0f}ms {max(times) * 1000:>6.0f}ms"
        )
    check = statistics.median(rows["link, checked (in-process)"]) - statistics.median(
        rows["link, unchecked (in-process)"]
    )
    total = statistics.median(rows["second install (linked, checked)"])
    rate = built.unpacked / 1e6 / max(check, 1e-9)
    print(
        f"\nthe check costs {check * 1000:.0f} ms of a {total * 1000:.0f} ms second install "
        f"({check / total:.0%}); {rate:.0f} MB/s hashed"
    )


if __name__ == "__main__":
    main()
