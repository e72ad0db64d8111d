"""Interpreters, virtual environments and timed child processes for the benchmark."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYODIDE_BUILD = "pyodide-build==0.39.2"


# --- interpreters -------------------------------------------------------------
@dataclass(frozen=True)
class Python:
    path: str  # the real executable
    version: str  # "X.Y.Z"

    @property
    def short(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def tag(self) -> str:
        return "py" + self.short


def probe(candidate: str) -> Python | None:
    """The interpreter behind ``candidate`` (a name on PATH or a path), if it runs."""
    exe = shutil.which(candidate) or candidate
    try:
        out = subprocess.run(
            [
                exe,
                "-c",
                "import sys, platform; print(sys.executable); print(platform.python_version())",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    return Python(out[0], out[1]) if len(out) >= 2 and out[0] else None


def find_pyodide_build_python() -> Python | None:
    """A Python 3.12+ for pyodide-build 0.39.2 (which needs 3.12 or newer)."""
    candidates = ["python3.12", "python3.13"]
    for minor in ("3.12", "3.13"):
        candidates += sorted(
            glob.glob(os.path.expanduser(f"~/.pyenv/versions/{minor}*/bin/python{minor}"))
        )
    for c in candidates:
        found = probe(c)
        if found and tuple(int(x) for x in found.version.split(".")[:2]) >= (3, 12):
            return found
    return None


# --- virtual environments -----------------------------------------------------
def source_hash() -> str:
    """Changes whenever the package's sources or metadata change."""
    digest = hashlib.sha256()
    files = [*sorted((REPO / "src" / "xbuildenv").rglob("*.py")), REPO / "pyproject.toml"]
    for f in files:
        digest.update(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


def build_wheel(out: Path, log: Path) -> Path:
    """A wheel of this checkout (cached by source hash)."""
    folder = out / "wheels" / source_hash()
    found = sorted(folder.glob("xbuildenv-*.whl"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        subprocess.run(
            ["python3", "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), str(REPO)],
            check=True,
            stdout=fh,
            stderr=fh,
        )
    return sorted(folder.glob("xbuildenv-*.whl"))[0]


def _venv(python: Python, path: Path, log: Path) -> None:
    with log.open("ab") as fh:
        subprocess.run([python.path, "-m", "venv", str(path)], check=True, stdout=fh, stderr=fh)


def _pip(venv: Path, args: list[str], log: Path) -> None:
    with log.open("ab") as fh:
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args],
            check=True,
            stdout=fh,
            stderr=fh,
        )


def xbuildenv_venv(python: Python, path: Path, wheel: Path, log: Path) -> Path:
    """A plain venv with this checkout installed from its wheel; reused while current."""
    stamp = path / ".bench-wheel"
    if stamp.is_file() and stamp.read_text() == wheel.name + wheel.parent.name:
        return path
    if not (path / "bin" / "python").exists():
        shutil.rmtree(path, ignore_errors=True)
        _venv(python, path, log)
    _pip(path, ["--force-reinstall", "--no-deps", str(wheel)], log)
    _pip(path, [str(wheel)], log)  # the dependencies
    stamp.write_text(wheel.name + wheel.parent.name)
    return path


def pyodide_build_venv(python: Python, path: Path, log: Path) -> Path:
    stamp = path / ".bench-installed"
    if stamp.is_file() and stamp.read_text() == PYODIDE_BUILD:
        return path
    shutil.rmtree(path, ignore_errors=True)
    _venv(python, path, log)
    _pip(path, [PYODIDE_BUILD], log)
    stamp.write_text(PYODIDE_BUILD)
    return path


# --- running and timing -------------------------------------------------------
class CommandFailed(RuntimeError):
    pass


@dataclass
class Timed:
    seconds: float
    max_rss_mb: float
    stdout: str


def clean_env(home: Path, index_url: str, venv: Path | None = None) -> dict[str, str]:
    """What a user's shell would have: no project variables, a private HOME and cache."""
    keep = ("PATH", "LANG", "LC_ALL", "TERM", "TMPDIR", "SSL_CERT_FILE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        PYODIDE_CROSS_BUILD_ENV_METADATA_URL=index_url,
        NO_COLOR="1",
    )
    return env


GNU_TIME = "/usr/bin/time"
SYNC_BEFORE = True


def run_timed(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> Timed:
    """Run ``argv``; wall time and the peak RSS of it (and its children).

    The RSS comes from GNU time when it is there: the ``wait4`` figure of a child we
    fork ourselves starts at the benchmark's own RSS (the fork copies it before exec).
    """
    use_time = os.access(GNU_TIME, os.X_OK)
    if SYNC_BEFORE:
        os.sync()  # start from a quiet disk: earlier runs' write-back would slow this one
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as rss,
    ):
        full = [GNU_TIME, "-f", "%M", "-o", rss.name, *argv] if use_time else argv
        started = time.perf_counter()
        proc = subprocess.Popen(
            full, env=env, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # blocks: no polling noise
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        rss_kb = float(usage.ru_maxrss)
        if use_time:
            lines = rss.read().split()
            rss_kb = float(lines[-1]) if lines and lines[-1].isdigit() else rss_kb
    if proc.returncode != 0:
        tail = "\n".join((stderr or stdout).strip().splitlines()[-15:])
        raise CommandFailed(f"{' '.join(argv)} exited {proc.returncode}:\n{tail}")
    return Timed(elapsed, rss_kb / 1024, stdout)


@dataclass
class Series:
    """Samples of one measurement (seconds, or MB for memory)."""

    unit: str = "s"
    samples: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.samples.append(value)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    def as_dict(self) -> dict[str, object]:
        s = self.samples
        return {
            "unit": self.unit,
            "samples": [round(x, 4) for x in s],
            "median": self.median,
            "min": min(s) if s else None,
            "max": max(s) if s else None,
        }

    def fmt(self, with_range: bool = True) -> str:
        if not self.samples:
            return "-"
        med = self.median
        assert med is not None
        text = fmt_value(med, self.unit)
        if with_range and len(self.samples) > 1:
            text += (
                f" ({fmt_value(min(self.samples), self.unit, False)}-"
                f"{fmt_value(max(self.samples), self.unit, False)})"
            )
        return text


def fmt_value(v: float, unit: str, suffix: bool = True) -> str:
    if unit == "s":
        text = f"{v * 1000:.0f}" if v < 1 else f"{v:.2f}"
        return text + (" ms" if v < 1 else " s") if suffix else text + ("ms" if v < 1 else "s")
    if unit == "MB/s":
        return f"{v:.2f}" + (" MB/s" if suffix else "")
    return f"{v:.1f}" + (" MB" if suffix else "")
