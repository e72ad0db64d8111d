"""Benchmark xbuildenv against pyodide-build and against `curl | tar xj`.

One command (``python bench/run.py``; ``--help`` for the flags) builds a realistic
cross-build environment archive (and a ~200 MB one for scaling), serves it from a
throttled loopback server with a release index, and times cold install, re-install,
install into a second venv, ``version``, ``versions``, ``search`` (cold, warm) and peak
RSS of install for xbuildenv (in venvs made from this checkout), for pyodide-build
0.39.2 (in its own venvs) and for curl as the limit. Prints one table with ratios and
the targets of issue 5; writes everything to ``bench/out/results.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import archive_gen
import harness
import report
from harness import Python, Series, Timed, clean_env, run_timed
from server import ThrottledServer

BENCH = Path(__file__).resolve().parent
SMALL_MB, LARGE_MB = 23.5, 195.0  # binary payload: ~29 MB and ~200 MB unpacked


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python bench/run.py",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument(
        "--runs",
        type=int,
        default=5,
        help="runs per step for the ~6 MB archive (default: %(default)s)",
    )
    p.add_argument(
        "--large-runs",
        type=int,
        default=2,
        help="runs for the ~200 MB archive (default: %(default)s)",
    )
    p.add_argument("--no-large", action="store_true", help="skip the ~200 MB scaling archive")
    p.add_argument(
        "--rate",
        type=float,
        default=5.0,
        help="server rate in MB/s per response, 0 for unlimited (default: %(default)s)",
    )
    p.add_argument(
        "--latency",
        type=float,
        default=50.0,
        help="server latency per request in ms (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=20240229,
        help="seed of the generated archives (default: %(default)s)",
    )
    p.add_argument(
        "--xbuildenv-python",
        action="append",
        metavar="PYTHON",
        help="interpreter(s) to run xbuildenv under (repeatable; default: python3 "
        "and, for a same-interpreter side-by-side, pyodide-build's)",
    )
    p.add_argument(
        "--pyodide-build-python",
        metavar="PYTHON",
        help="Python 3.12+ for pyodide-build (default: python3.12/3.13 or ~/.pyenv)",
    )
    p.add_argument("--no-pyodide-build", action="store_true", help="skip pyodide-build")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 runs, no large archive")
    p.add_argument(
        "--no-sync",
        action="store_true",
        help="do not sync the disks before each timed command (then earlier runs' "
        "write-back of hundreds of MB slows later runs)",
    )
    p.add_argument(
        "--work",
        type=Path,
        default=Path.home() / ".cache" / "xbuildenv-bench",
        help="folder for the per-run homes, roots and curl's output (default: "
        "%(default)s; neither /tmp, where these VMs create files 20-50x slower than "
        "elsewhere on the same disk, nor inside this repository, whose pyproject.toml "
        "every command would find and read)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=BENCH / "out",
        help="folder for cached archives, venvs and results.json (default: bench/out)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.no_large = min(args.runs, 2), True
    return args


@dataclass
class Tool:
    name: str  # "xbuildenv" | "pyodide-build"
    python: Python
    venv_a: Path
    venv_b: Path
    results: dict[str, Series] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} {self.python.tag}"

    def argv(self, venv: Path, *args: str) -> list[str]:
        if self.name == "xbuildenv":
            return [str(venv / "bin" / "xbuildenv"), *args]
        return [str(venv / "bin" / "pyodide"), "xbuildenv", *args]

    def series(self, key: str, unit: str = "s") -> Series:
        return self.results.setdefault(key, Series(unit))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.counter = 0
        self.server = ThrottledServer(args.rate * 1_000_000, args.latency / 1000)
        self.archives: dict[tuple[str, str], archive_gen.BuiltArchive] = {}
        self.versions: dict[tuple[str, str], str] = {}
        self.index_url = ""

    # Nothing a run unpacks is deleted before the whole benchmark ends (about 2.5 GB
    # with the 200 MB archive). The disks here are ext4 without a journal, where the
    # kernel will not reuse an inode freed in the last 60 s (5 min while its block is
    # dirty) and scans past every such inode to find a free one: after deleting a
    # run's trees, each file the next run creates cost 0.4-0.7 ms of kernel time
    # instead of ~15 us, and the runs measured that rather than the tools.
    def fresh(self, name: str) -> Path:
        self.counter += 1
        path = self.work / f"{name}-{self.counter}"
        path.mkdir()
        return path

    def prepare_archives(self, pythons: list[str]) -> None:
        sizes = [("small", SMALL_MB)] + ([] if self.args.no_large else [("large", LARGE_MB)])
        releases = json.loads(
            (harness.REPO / "tests/data/pyodide-cross-build-environments-v2.json").read_text()
        )
        for short in sorted(set(pythons)):
            minor = short.split(".")[1]
            for kind, mb in sizes:
                started = time.monotonic()
                built = archive_gen.build(
                    archive_gen.ArchiveSpec(short, mb, self.args.seed), self.args.out / "archives"
                )
                if time.monotonic() - started > 1:
                    log(f"  built {built.path.name} in {time.monotonic() - started:.0f} s")
                version = f"0.{98 if kind == 'small' else 99}.{minor}"
                url = self.server.add(f"/releases/{built.path.name}", built.path)
                releases["releases"][version] = {
                    "version": version,
                    "url": url,
                    "python_version": built.full_python,
                    "emscripten_version": "4.0.9",
                    "sha256": built.sha256,
                    "published_at": "2025-06-01T12:00:00Z",
                }
                self.archives[(short, kind)] = built
                self.versions[(short, kind)] = version
        self.index_url = self.server.add(
            "/api/v2/pyodide-cross-build-environments.json", json.dumps(releases, indent=2).encode()
        )

    # --- one run of every step for one tool ------------------------------------
    def run_tool(self, tool: Tool) -> None:
        version = self.versions[(tool.python.short, "small")]
        search = self.fresh("search")
        env = clean_env(search, self.index_url, tool.venv_a)
        for key in ("search_cold", "search_warm"):
            tool.series(key).add(run_timed(tool.argv(tool.venv_a, "search"), env, search).seconds)
        home = self.fresh("home")
        env = clean_env(home, self.index_url, tool.venv_a)
        cold = run_timed(tool.argv(tool.venv_a, "install", version), env, home)
        tool.series("cold").add(cold.seconds)
        tool.series("rss", "MB").add(cold.max_rss_mb)
        tool.series("reinstall").add(
            run_timed(tool.argv(tool.venv_a, "install", version), env, home).seconds
        )
        env_b = clean_env(home, self.index_url, tool.venv_b)
        tool.series("second").add(
            run_timed(tool.argv(tool.venv_b, "install", version), env_b, home).seconds
        )
        shown = run_timed(tool.argv(tool.venv_a, "version"), env, home)
        if version not in shown.stdout:
            raise harness.CommandFailed(
                f"{tool.label}: 'version' printed {shown.stdout!r}, not {version}"
            )
        tool.series("version").add(shown.seconds)
        tool.series("versions").add(
            run_timed(tool.argv(tool.venv_a, "versions"), env, home).seconds
        )

    def run_tool_large(self, tool: Tool) -> None:
        version = self.versions[(tool.python.short, "large")]
        home = self.fresh("home")
        env = clean_env(home, self.index_url, tool.venv_a)
        cold = run_timed(tool.argv(tool.venv_a, "install", version), env, home, timeout=1800)
        tool.series("cold_large").add(cold.seconds)
        tool.series("rss_large", "MB").add(cold.max_rss_mb)

    def run_limit(self, limit: dict[str, Series], kind: str, python: str) -> None:
        built = self.archives[(python, kind)]
        url = f"{self.server.base}/releases/{built.path.name}"
        suffix = "" if kind == "small" else "_large"
        dest = self.fresh("curl")
        env = clean_env(dest, self.index_url)
        piped = run_timed(["sh", "-c", f"curl -sf '{url}' | tar xjf - -C '{dest}'"], env, dest)
        limit.setdefault("cold" + suffix, Series()).add(piped.seconds)
        limit.setdefault("rss" + suffix, Series("MB")).add(piped.max_rss_mb)
        got: Timed = run_timed(["curl", "-sf", "-o", str(dest / "archive"), url], env, dest)
        limit.setdefault("download" + suffix, Series()).add(got.seconds)


def setup_tools(args: argparse.Namespace, out: Path) -> tuple[list[Tool], Tool | None, list[str]]:
    notes: list[str] = []
    setup_log = out / "setup.log"
    venvs = out / "venvs"
    pb_python = None
    if not args.no_pyodide_build:
        pb_python = (
            harness.probe(args.pyodide_build_python)
            if args.pyodide_build_python
            else harness.find_pyodide_build_python()
        )
        if pb_python is None:
            notes.append(
                "pyodide-build skipped: no Python 3.12+ found (pass --pyodide-build-python)"
            )
    candidates = args.xbuildenv_python or ["python3"] + ([pb_python.path] if pb_python else [])
    xb_pythons: list[Python] = []
    for c in candidates:
        found = harness.probe(c)
        if found is None:
            notes.append(f"xbuildenv under {c} skipped: it does not run")
        elif found.short not in {p.short for p in xb_pythons}:
            xb_pythons.append(found)
    log("setting up venvs (cached under bench/out/venvs; see bench/out/setup.log) ...")
    wheel = harness.build_wheel(out, setup_log)
    tools = []
    for py in xb_pythons:
        a, b = (
            harness.xbuildenv_venv(py, venvs / f"xbuildenv-{py.tag}-{n}", wheel, setup_log)
            for n in "ab"
        )
        tools.append(Tool("xbuildenv", py, a, b))
    pb = None
    if pb_python is not None:
        try:
            a, b = (
                harness.pyodide_build_venv(
                    pb_python, venvs / f"pyodide-build-{pb_python.tag}-{n}", setup_log
                )
                for n in "ab"
            )
            pb = Tool("pyodide-build", pb_python, a, b)
        except Exception as exc:  # e.g. PyPI unreachable
            notes.append(
                f"pyodide-build skipped: could not install {harness.PYODIDE_BUILD} ({exc})"
            )
    return tools, pb, notes


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    harness.SYNC_BEFORE = not args.no_sync
    started = time.monotonic()
    tools, pb, notes = setup_tools(args, args.out)
    everyone = tools + ([pb] if pb else [])
    args.work.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=args.work))
    bench = Bench(args, work)
    limit: dict[str, Series] = {}
    limit_python = (pb or tools[0]).python.short
    try:
        log("building archives (cached under bench/out/archives) ...")
        bench.prepare_archives([t.python.short for t in everyone])
        # Warm-up: the first start of a fresh venv compiles nothing (pip did), but
        # page-caches the interpreter and the archives; not recorded.
        for tool in everyone:
            run_timed(tool.argv(tool.venv_a, "--help"), clean_env(work, bench.index_url), work)
        for i in range(args.runs):
            log(f"run {i + 1}/{args.runs} (6 MB archive) ...")
            bench.run_limit(limit, "small", limit_python)
            for tool in everyone:
                bench.run_tool(tool)
        if not args.no_large:
            for i in range(args.large_runs):
                log(f"run {i + 1}/{args.large_runs} (200 MB archive) ...")
                bench.run_limit(limit, "large", limit_python)
                for tool in everyone:
                    bench.run_tool_large(tool)
    except harness.CommandFailed as exc:
        log(f"error: {exc}")
        return 1
    finally:
        bench.server.close()
        rmtree(work)
    info = {
        "machine": {"platform": platform.platform(), "cpus": __import__("os").cpu_count()},
        "rate_mb_s": args.rate,
        "latency_ms": args.latency,
        "runs": args.runs,
        "large_runs": 0 if args.no_large else args.large_runs,
        "archives": {
            f"{k[0]}-{k[1]}": {
                "file": a.path.name,
                "bytes": a.size,
                "unpacked": a.unpacked,
                "entries": a.entries,
                "sha256": a.sha256,
                "version": bench.versions[k],
            }
            for k, a in bench.archives.items()
        },
        "limit_python": limit_python,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    table, data = report.build(tools, pb, limit, bench.archives, limit_python, info, notes)
    print(table)
    (args.out / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    log(f"results written to {args.out / 'results.json'} ({info['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
