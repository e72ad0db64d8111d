"""Many roots installing one version at once on a cold machine: wall time and unpacks.

Run by hand: ``python bench/shared_trees.py [--roots 32] [--runs 3] [--src DIR]``.

Each run starts cold (a fresh, empty cache folder: no stored archive, no tree) and
starts ``--roots`` real ``xbuildenv install --path ROOT_i`` processes at the same moment,
as a CI matrix, ``tox -p`` or cibuildwheel jobs sharing one cache would. The archive is
the benchmark's realistic one (bench/archive_gen.py: ~6 MB bz2, ~1,200 entries, ~30 MB
unpacked), served from a loopback server. Reported per run and as the median:

* ``wall``: from the first start to the last exit;
* ``unpacks``: roots whose tree did not arrive linked (routes ``network``, ``store``,
  ``remote``); the goal is one;
* ``downloads``: GET requests for the archive;
* ``cpu``: CPU seconds the children used (user + system), and the load average before
  the run: the machine may be shared, and ``wall`` is only comparable at equal load.

``--src DIR`` runs the installs from another source tree (``DIR/src`` first on
PYTHONPATH), e.g. a checkout of ``main`` for a before/after comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import archive_gen  # noqa: E402
from server import ThrottledServer  # noqa: E402

VERSION = "0.29.4"


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    load: float
    routes: Counter[str]
    downloads: int

    @property
    def unpacks(self) -> int:
        return sum(n for route, n in self.routes.items() if route != "linked")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(
    roots: int, index: Path, env: dict[str, str], server: ThrottledServer, base: Path
) -> Run:
    home = base / "home"
    shutil.rmtree(base, ignore_errors=True)
    # Start with nothing left to write back (the last run's trees, their deletion): on
    # this VM a pending write-back makes every file creation of the next run slower.
    os.sync()
    (home / ".cache").mkdir(parents=True)
    env = dict(env, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    server.hits.clear()
    argv = [sys.executable, "-m", "xbuildenv", "install", VERSION, "--json"]
    argv += ["--metadata", str(index)]
    load = os.getloadavg()[0]
    cpu = _children_cpu()
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*argv, "--path", str(base / "roots" / f"r{i:02d}")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(roots)
    ]
    outputs = [p.communicate() for p in procs]
    wall = time.perf_counter() - started
    routes: Counter[str] = Counter()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            raise SystemExit(f"an install failed ({proc.returncode}): {err.strip()}")
        routes[json.loads(out)["route"]] += 1
    downloads = sum(n for path, n in server.hits.items() if path.endswith(".tar.bz2"))
    return Run(wall, _children_cpu() - cpu, load, routes, downloads)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--roots", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--src", type=Path, help="install with this source tree's code")
    args = parser.parse_args()
    built = archive_gen.build(
        archive_gen.ArchiveSpec("3.13", 23.5), REPO / "bench" / "out" / "archives"
    )
    print(
        f"archive: {built.size / 1e6:.1f} MB, {built.entries} entries, "
        f"{built.unpacked / 1e6:.1f} MB unpacked; {args.roots} roots at once, "
        f"{os.cpu_count()} cores"
    )
    work = Path(tempfile.mkdtemp(prefix="xbuildenv-shared-trees-", dir=Path.home()))
    server = ThrottledServer(rate=0, latency=0)
    url = server.add("/xbuildenv.tar.bz2", built.path)
    release = {
        "version": VERSION,
        "url": url,
        "sha256": built.sha256,
        # the host Python's own version, so that no install refuses it
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}.0",
        "emscripten_version": "4.0.9",
    }
    index = work / "index.json"
    index.write_text(json.dumps({"releases": {VERSION: release}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYODIDE_", "XBUILDENV_"))}
    env.pop("VIRTUAL_ENV", None)
    # Bytecode as an installed package has it (compiled once), not compiled again by
    # each of the processes.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.src is not None:
        env["PYTHONPATH"] = str(args.src.resolve() / "src")
    runs = []
    try:
        for i in range(args.runs):
            got = one_run(args.roots, index, env, server, work / "run")
            runs.append(got)
            print(
                f"run {i + 1}: wall {got.wall:5.2f} s, unpacks {got.unpacks}, downloads "
                f"{got.downloads}, cpu {got.cpu:5.1f} s, load before {got.load:.1f}, "
                f"routes {dict(got.routes)}"
            )
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    wall = statistics.median(r.wall for r in runs)
    cpu = statistics.median(r.cpu for r in runs)
    print(
        f"median of {len(runs)}: wall {wall:.2f} s (goal <= 5 s), unpacks "
        f"{statistics.median(r.unpacks for r in runs):g}, downloads "
        f"{statistics.median(r.downloads for r in runs):g}, cpu {cpu:.1f} s "
        f"({cpu / args.roots * 1000:.0f} ms per root), load before "
        f"{statistics.median(r.load for r in runs):.1f}"
    )


if __name__ == "__main__":
    main()
