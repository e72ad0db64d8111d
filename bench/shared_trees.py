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
* ``cpu``: CPU seconds the children used (user + system; ``system`` alone too), and
  the load average before the run: the machine may be shared, and ``wall`` is only
  comparable at equal load;
* ``unpack``: the ``fetch`` seconds of the root that unpacked (download, verify,
  unpack, publish), which the other roots wait for.

``--src DIR`` runs the installs from another source tree (``DIR/src`` first on
PYTHONPATH), e.g. a checkout of ``main`` for a before/after comparison; given more than
once, the runs of the trees alternate.

No run's folders are deleted before the end. On ext4 without a journal (these VMs'
disks) the kernel does not reuse an inode for a minute after it was freed (six while
its inode-table block is dirty), and every new file or folder scans past each such
inode (perf: ``recently_deleted()`` under ``ext4_mkdir``/``ext4_create``): a run right
after another run's ~40,000 deletions costs up to three times the CPU. A fresh CI
machine has no such backlog, so neither does the benchmark, as long as it is not
started within six minutes of its last exit (which deletes everything). ``--churn``
measures the other case, a machine that has just deleted many files (roots removed
and installed again): each run's folders are deleted right before the next run.
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
    user: float
    system: float
    load: float
    routes: Counter[str]
    downloads: int
    first: float

    @property
    def cpu(self) -> float:
        return self.user + self.system

    @property
    def unpacks(self) -> int:
        return sum(n for route, n in self.routes.items() if route != "linked")


def _children_cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime, usage.ru_stime


def one_run(
    roots: int, index: Path, env: dict[str, str], server: ThrottledServer, base: Path
) -> Run:
    home = base / "home"
    # Start with nothing left to write back (the last run's trees).
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
    first = 0.0  # the unpacking root's download and unpack, while the others wait
    for proc, (out, err) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            raise SystemExit(f"an install failed ({proc.returncode}): {err.strip()}")
        done = json.loads(out)
        routes[done["route"]] += 1
        if done["route"] != "linked":
            first = max(first, float(done["seconds"]["fetch"]))
    downloads = sum(n for path, n in server.hits.items() if path.endswith(".tar.bz2"))
    user, system = _children_cpu()
    return Run(wall, user - cpu[0], system - cpu[1], load, routes, downloads, first)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--roots", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--churn",
        action="store_true",
        help="delete each run's roots and cache before the next run starts",
    )
    parser.add_argument(
        "--src",
        type=Path,
        action="append",
        help="install with this source tree's code (repeat to compare: runs alternate)",
    )
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
    sources: list[Path | None] = list(args.src or [None])
    runs: dict[str, list[Run]] = {_label(src): [] for src in sources}
    previous: Path | None = None
    try:
        # A first run per source, not counted: it compiles that source's bytecode.
        for i in range(args.runs + 1):
            for src in sources:
                label = _label(src)
                src_env = dict(env)
                if src is not None:
                    src_env["PYTHONPATH"] = str(src.resolve() / "src")
                if args.churn and previous is not None:
                    shutil.rmtree(previous)  # see the module's docstring
                previous = work / f"run{i}-{sources.index(src)}"
                got = one_run(
                    args.roots,
                    index,
                    src_env,
                    server,
                    work / f"run{i}-{sources.index(src)}",
                )
                if i == 0:
                    continue
                runs[label].append(got)
                print(
                    f"{label}: run {i}: wall {got.wall:5.2f} s, unpacks {got.unpacks}, "
                    f"downloads {got.downloads}, cpu {got.cpu:5.1f} s (system "
                    f"{got.system:4.1f} s), unpack {got.first:4.2f} s, load before "
                    f"{got.load:.1f}, routes {dict(got.routes)}"
                )
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    for label, done in runs.items():
        wall = statistics.median(r.wall for r in done)
        cpu = statistics.median(r.cpu for r in done)
        print(
            f"{label}: median of {len(done)}: wall {wall:.2f} s (goal <= 5 s), unpacks "
            f"{statistics.median(r.unpacks for r in done):g}, downloads "
            f"{statistics.median(r.downloads for r in done):g}, cpu {cpu:.1f} s "
            f"({cpu / args.roots * 1000:.0f} ms per root), system "
            f"{statistics.median(r.system for r in done):.1f} s, unpack "
            f"{statistics.median(r.first for r in done):.2f} s"
        )


def _label(src: Path | None) -> str:
    return "this tree" if src is None else str(src)


if __name__ == "__main__":
    main()
