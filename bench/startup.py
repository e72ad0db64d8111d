"""Start-up time of the read commands, compared across git revisions.

    python bench/startup.py                      # HEAD against HEAD~1
    python bench/startup.py --rev 18e1f7e --rev HEAD --runs 40

Each revision is checked out into its own folder under ``--work`` and installed into its
own venv (not editable, as users get it). The runs of all revisions are interleaved, so a
noisy neighbour slows every revision alike; the table gives the median and min-max of
``xbuildenv version`` and ``xbuildenv versions`` per revision and the ratio to the first,
in wall time and in CPU time (user + system of the process).
The root holds one installed-looking version so that ``version`` has something to print.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def prepare(rev: str, work: Path) -> Path:
    """A venv with the package of ``rev`` installed; its ``xbuildenv`` script."""
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", rev],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tree = work / f"src-{sha}"
    venv = work / f"venv-{sha}"
    script = venv / "bin" / "xbuildenv"
    if script.exists():
        return script
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", sha], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(tree)], check=True)
    return script


def _children_cpu() -> float:
    # user + system seconds of the finished children: steadier than wall time on a
    # shared machine, where a neighbour's load stretches wall time but not CPU time
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fake_root(work: Path) -> Path:
    root = work / "root"
    version = root / "0.29.4"
    (version / "xbuildenv" / "pyodide-root").mkdir(parents=True, exist_ok=True)
    (version / ".installed").touch()
    (version / ".build-python-version").write_text(
        f"{sys.version_info.major}.{sys.version_info.minor}"
    )
    link = root / "xbuildenv"
    if not link.is_symlink():
        link.symlink_to(version)
    return root


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rev", action="append", help="git revision (repeatable)")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument(
        "--work", type=Path, default=Path.home() / ".cache" / "xbuildenv-bench" / "startup"
    )
    args = p.parse_args(argv)
    revs = args.rev or ["HEAD~1", "HEAD"]
    args.work.mkdir(parents=True, exist_ok=True)
    scripts = {rev: prepare(rev, args.work) for rev in revs}
    root = fake_root(args.work)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYODIDE", "XBUILDENV"))}
    env["HOME"] = str(args.work)
    samples: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    # The last: `versions` in the default root (no --path), which must find
    # pyodide-build's cache folder (settings/dirs.py).
    commands = {
        "version": ["version", "--path", str(root)],
        "versions": ["versions", "--path", str(root)],
        "versions*": ["versions"],
    }
    for _ in range(args.runs):
        for command, command_args in commands.items():
            for rev, script in scripts.items():
                cpu = _children_cpu()
                start = time.perf_counter()
                subprocess.run(
                    [str(script), *command_args],
                    env=env,
                    cwd=args.work,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                samples.setdefault((rev, command), []).append(time.perf_counter() - start)
                cpus.setdefault((rev, command), []).append(_children_cpu() - cpu)
    first = revs[0]
    print(
        f"{'command':10} {'revision':12} {'median':>8} {'min-max':>15} {'ratio':>6} "
        f"{'cpu':>8} {'ratio':>6}"
    )
    for command in commands:
        base = statistics.median(samples[(first, command)])
        base_cpu = statistics.median(cpus[(first, command)])
        for rev in revs:
            s = samples[(rev, command)]
            med = statistics.median(s)
            cpu = statistics.median(cpus[(rev, command)])
            print(
                f"{command:10} {rev:12} {med * 1000:6.1f}ms "
                f"{min(s) * 1000:6.1f}-{max(s) * 1000:5.1f}ms {med / base:6.3f} "
                f"{cpu * 1000:6.1f}ms {cpu / base_cpu:6.3f}"
            )
    print(
        f"{args.runs} runs per cell, interleaved; Python {sys.version.split()[0]}; "
        "versions*: in the default root (no --path)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
