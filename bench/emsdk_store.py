"""The Emscripten SDK store: first install vs a second root vs a second machine.

Run by hand (never in the test suite)::

    python bench/emsdk_store.py [--files 9000] [--mb 200] [--repeat 3]

The SDK is the stand-in of the tests (tests/data/fake_emsdk.py) at realistic shape: a
local git repository tagged with the version whose ``emsdk install`` writes ``--files``
files and ``--mb`` MB (a large ``clang`` with ``clang++ -> clang`` links, executables,
a prebuilt Emscripten cache). Figures, medians over ``--repeat`` runs:

* first install (clone, emsdk, publish with manifest, link into the root);
* a second root on the same machine (quick check + link): time and extra disk (``du``
  over the store and both roots counts each hard-linked inode once);
* a second machine through a remote store folder (download, verify, unpack, publish,
  link) against ``curl | zstd -d | tar x`` of the same pack over loopback HTTP.

Each figure also gives the CPU seconds it took (this process and its children) and the
load average before the second root: the machine may be shared. Creating a file or a
folder (an inode) dominates both the second root and the second machine; on a busy ext4
it costs from 0.1 to over 1 ms, so compare figures of one run, taken a moment apart.
``--mb`` up to 1500 (the 1.5 GB of a real SDK; ``--files 30000``) needs ~5 GB free.
"""

# The lambdas below run at once, inside the loop that binds their variables.
# ruff: noqa: B023

from __future__ import annotations

import argparse
import functools
import http.server
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from xbuildenv.cache.sdk_store import SdkStore  # noqa: E402
from xbuildenv.tools.emsdk import install_emscripten  # noqa: E402
from xbuildenv.tools.emsdk_sources import RemoteSdks  # noqa: E402

VERSION = "4.0.9"


def make_repo(folder: Path) -> str:
    repo = folder / "emsdk-repo"
    repo.mkdir()
    script = (HERE.parent / "tests" / "data" / "fake_emsdk.py").read_text()
    (repo / "emsdk").write_text(f"#!{sys.executable}\n" + script)
    (repo / "emsdk").chmod(0o755)
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "emsdk"], cwd=repo, check=True)
    subprocess.run([*git, "tag", "-a", "-m", VERSION, VERSION], cwd=repo, check=True)
    return f"file://{repo}"


def pyodide_root(folder: Path) -> Path:
    root = folder / VERSION / "xbuildenv" / "pyodide-root"
    (root / "emsdk" / "patches").mkdir(parents=True)
    return root


def du(*paths: Path) -> int:
    out = subprocess.run(["du", "-sbc", *map(str, paths)], capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1].split()[0])


CPU: list[float] = []  # CPU seconds of the last timed() call, this process and children


def timed(fn: object) -> float:
    start = time.perf_counter()
    before = _cpu()
    fn()  # type: ignore[operator]
    CPU.append(_cpu() - before)
    return time.perf_counter() - start


def _cpu() -> float:
    mine = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=9000)
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    opts = ap.parse_args()
    env = {**os.environ, "FAKE_EMSDK_FILES": str(opts.files), "FAKE_EMSDK_MB": str(opts.mb)}
    first, second, machine, curl = [], [], [], []
    cpu: dict[str, list[float]] = {"second": [], "machine": [], "curl": []}
    loads = []
    extra_disk, pack_bytes = [], 0
    for _ in range(opts.repeat):
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp_name:
            tmp = Path(tmp_name)
            url = make_repo(tmp)
            remote = tmp / "remote"
            store_a = SdkStore(tmp / "store-a")
            share = RemoteSdks(str(remote), "remote", None, upload=True)
            root_a, root_b = pyodide_root(tmp / "a"), pyodide_root(tmp / "b")

            def install(root: Path, store: SdkStore, sources: list[RemoteSdks]) -> None:
                install_emscripten(root, VERSION, url=url, environ=env, store=store,
                                   sources=sources)  # fmt: skip

            t = timed(lambda: install(root_a, store_a, []))
            first.append(t)
            share.share(store_a.all()[0])  # what a build with a remote store uploads
            before = du(store_a.path, tmp / "a")
            loads.append(os.getloadavg()[0])
            second.append(timed(lambda: install(root_b, store_a, [])))
            cpu["second"].append(CPU[-1])
            after = du(store_a.path, tmp / "a", tmp / "b")
            extra_disk.append((after - before) / before)
            # a second machine: its own store, the remote store only
            fetch = RemoteSdks(str(remote), "remote", None, upload=False)
            root_c = pyodide_root(tmp / "c")
            machine.append(timed(lambda: install(root_c, SdkStore(tmp / "store-c"), [fetch])))
            cpu["machine"].append(CPU[-1])
            (pack,) = (remote / "packs").glob("*.tar.zst")
            pack_bytes = pack.stat().st_size
            handler = functools.partial(
                http.server.SimpleHTTPRequestHandler, directory=str(pack.parent)
            )
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            out = tmp / "curl"
            out.mkdir()
            link = f"http://127.0.0.1:{server.server_address[1]}/{pack.name}"
            cmd = f"curl -s {link} | zstd -d -q | tar x -C {out}"
            curl.append(timed(lambda: subprocess.run(cmd, shell=True, check=True)))
            cpu["curl"].append(CPU[-1])
            server.shutdown()
            server.server_close()
            shutil.rmtree(out)

    def med(xs: list[float], what: str = "") -> str:
        used = f" (cpu {statistics.median(cpu[what]):.2f} s)" if what else ""
        return f"{statistics.median(xs):.2f} s{used}"

    print(f"stand-in SDK: {opts.files} files, {opts.mb:.0f} MB; {opts.repeat} runs, medians; "
          f"load before the second root {statistics.median(loads):.1f}")  # fmt: skip
    print(f"first install (clone, emsdk, publish, link):  {med(first)}")
    print(f"second root, same machine (check + link):     {med(second, 'second')}, "
          f"extra disk {statistics.median(extra_disk) * 100:.2f} %")  # fmt: skip
    print(f"second machine via the remote store:          {med(machine, 'machine')} "
          f"({pack_bytes / 1e6:.1f} MB pack)")  # fmt: skip
    print(f"curl | zstd -d | tar x of the same pack:      {med(curl, 'curl')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
