"""Test support: a real loopback HTTP server, real archives, and CLI runs.

Shared by every test module (import from ``support``). Nothing here mocks the code
under test: the server speaks real HTTP on 127.0.0.1, archives are real tar files,
and the CLI runs as a real subprocess.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent


# --- archives -----------------------------------------------------------------
def default_files(python: str = "3.13.2", version: str = "0.29.4") -> dict[str, bytes]:
    """A small but realistic environment tree (paths under ``xbuildenv/``)."""
    mm = ".".join(python.split(".")[:2])
    lock = {
        "info": {"python": python, "abi_version": "2025_0"},
        "packages": {
            "attrs": {"file_name": "attrs-25.2.0-py3-none-any.whl", "sha256": "ab" * 32},
            "numpy": {
                "file_name": "numpy-2.2.5-cp313-cp313-pyodide_2025_0_wasm32.whl",
                "sha256": "cd" * 32,
            },
            "libfoo": {"file_name": "libfoo-1.0.zip", "sha256": "ef" * 32},
            "remote": {
                "file_name": "https://example.org/remote-1.0-py3-none-any.whl",
                "sha256": "00" * 32,
            },
        },
    }
    return {
        "xbuildenv/pyodide-root/Makefile.envs": (
            f"export PYVERSION ?= {python}\nexport PYODIDE_VERSION ?= {version}\n"
        ).encode(),
        "xbuildenv/pyodide-root/dist/pyodide-lock.json": json.dumps(lock).encode(),
        f"xbuildenv/pyodide-root/cpython/installs/python-{python}/include/python{mm}/Python.h": (
            b"/* h */\n"
        ),
        "xbuildenv/requirements.txt": b"numpy==2.2.5\n",
        "xbuildenv/site-packages-extras/numpy/_core/include/numpy/numpyconfig.h": b"/* cfg */\n",
    }


def make_tar(
    files: dict[str, bytes] | None = None,
    compression: str = "gz",
    extra: Callable[[tarfile.TarFile], None] | None = None,
) -> bytes:
    """A tar archive (``gz``, ``bz2``, ``xz``, ``zst`` or ``""``) of ``files``."""
    files = default_files() if files is None else files
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        dirs: set[str] = set()
        for name in files:
            parts = name.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tf.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(tf)
    data = raw.getvalue()
    if compression == "gz":
        import gzip

        return gzip.compress(data, mtime=0)
    if compression == "bz2":
        import bz2

        return bz2.compress(data)
    if compression == "xz":
        import lzma

        return lzma.compress(data)
    if compression == "zst":
        try:
            from compression import zstd  # type: ignore[import-not-found]

            return bytes(zstd.compress(data))
        except ImportError:
            import zstandard

            return bytes(zstandard.ZstdCompressor().compress(data))
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def release(version: str, url: str, python: str = "3.13.2", **extra: Any) -> dict[str, Any]:
    return {
        "version": version,
        "url": url,
        "python_version": python,
        "emscripten_version": "4.0.9",
        **extra,
    }


def index(*releases: dict[str, Any]) -> bytes:
    return json.dumps({"releases": {r["version"]: r for r in releases}}).encode()


# --- server -------------------------------------------------------------------
@dataclass
class Route:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    ranges: bool = True  # honour Range requests
    cut_after: int | None = None  # close the connection after this many body bytes...
    cut_times: int = 0  # ...this many times
    fail_times: int = 0  # answer 503 this many times first
    delay: float = 0.0  # seconds before answering
    rate: float | None = None  # bytes per second


class Server:
    """A threaded HTTP/1.1 server on 127.0.0.1 with per-path behaviour and counters."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self)

            def do_HEAD(self) -> None:
                server._head(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes, **kw: Any) -> str:
        self.routes[path] = Route(body, **kw)
        return self.url(path)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?")[0]
        with self._lock:
            self.hits[path] += 1
            self.requests.append((path, dict(h.headers.items())))
            route = self.routes.get(path)
            failing = route is not None and route.fail_times > 0
            if failing and route is not None:
                route.fail_times -= 1
        if route is None:
            self._send(h, 404, b"not found")
            return
        if route.delay:
            time.sleep(route.delay)
        if failing:
            self._send(h, 503, b"busy")
            return
        body, status = route.body, route.status
        headers = {"ETag": f'"{sha256(body)[:16]}"', **route.headers}
        inm = h.headers.get("If-None-Match")
        if inm and inm == headers["ETag"] and status == 200:
            self._send(h, 304, b"", headers)
            return
        rng = h.headers.get("Range")
        start = 0
        if rng and route.ranges and status == 200:
            if_range = h.headers.get("If-Range")
            if if_range is None or if_range == headers["ETag"]:
                start = int(rng.split("=")[1].split("-")[0])
                status = 206
                headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        payload = body[start:]
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Accept-Ranges", "bytes" if route.ranges else "none")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        cut = None
        with self._lock:
            if route.cut_times > 0 and route.cut_after is not None:
                route.cut_times -= 1
                cut = route.cut_after
        try:
            self._write(h, payload if cut is None else payload[:cut], route.rate)
            if cut is not None:
                h.close_connection = True
                h.wfile.flush()
                h.connection.shutdown(2)
        except OSError:
            pass

    def _head(self, h: BaseHTTPRequestHandler) -> None:
        """HEAD: the headers a GET would send (counted separately as 'HEAD <path>')."""
        path = h.path.split("?")[0]
        with self._lock:
            self.hits["HEAD " + path] += 1
            route = self.routes.get(path)
        if route is None:
            self._send(h, 404, b"")
            return
        h.send_response(route.status)
        h.send_header("ETag", f'"{sha256(route.body)[:16]}"')
        for k, v in route.headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(route.body)))
        h.end_headers()

    @staticmethod
    def _write(h: BaseHTTPRequestHandler, payload: bytes, rate: float | None) -> None:
        if rate is None:
            h.wfile.write(payload)
            return
        step = max(1, int(rate / 20))
        for i in range(0, len(payload), step):
            h.wfile.write(payload[i : i + step])
            h.wfile.flush()
            time.sleep(0.05)

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body:
            h.wfile.write(body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- running the CLI ----------------------------------------------------------
@dataclass
class Result:
    code: int
    out: str
    err: str


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment with no user config leaking in and a private cache folder."""
    # XBUILDENV_PORTABLE is the test run's own switch (pytest --portable): passed on.
    env = {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith(("PYODIDE_", "XBUILDENV_")) or k == "XBUILDENV_PORTABLE")
        and k not in ("VIRTUAL_ENV", "CI")
    }
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_COLOR="1",
        XBUILDENV_RETRIES="2",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


def run(
    *args: str,
    env: dict[str, str],
    cwd: Path | None = None,
    python: str | None = None,
    timeout: float = 120,
) -> Result:
    proc = subprocess.run(
        [python or sys.executable, "-m", "xbuildenv", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def snapshot(root: Path) -> dict[str, Any]:
    """Everything under ``root`` (names, link targets, file hashes) to compare states."""
    state: dict[str, Any] = {}
    if not root.exists():
        return state
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                state[rel] = ("link", os.readlink(p))
            elif p.is_file():
                state[rel] = ("file", sha256(p.read_bytes()))
            else:
                state[rel] = ("dir",)
    return state


# --- virtual environments -------------------------------------------------------
def make_venv(path: Path) -> Path:
    """A real, fast venv (no pip) that can run this checkout's xbuildenv.

    The venv's own ``sys.prefix`` makes its own install id and default root, exactly
    like a user's venv; the code and its dependencies come from this checkout and the
    test interpreter's site-packages through a ``.pth`` file.
    """
    import platformdirs

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next((path / "lib").glob("python*/site-packages"))
    deps = Path(platformdirs.__file__).resolve().parent.parent
    (site / "_xbuildenv_dev.pth").write_text(f"{REPO / 'src'}\n{deps}\n")
    return path / "bin" / "python"


def disk_usage(*roots: Path) -> int:
    """Bytes on disk under ``roots``, hard-linked files counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                info = os.lstat(os.path.join(dirpath, name))
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


# --- CLI-suite helpers (test_cli_*, test_root, test_releases, test_compat, test_interop) --
PY_MM = f"{sys.version_info.major}.{sys.version_info.minor}"  # the running host Python
PY_FULL = f"{PY_MM}.0"
OTHER_PY = "3.99.0"  # a Python no host has: releases for it are never compatible


def total_hits(server: Server) -> int:
    """Every request the server saw (GET and HEAD), to prove a command made none."""
    return sum(server.hits.values())


def serve_env(
    server: Server,
    version: str,
    *,
    python: str = PY_FULL,
    compression: str = "gz",
    files: dict[str, bytes] | None = None,
    path: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Serve an archive for ``version`` and return its release entry (with sha256)."""
    suffix = {"gz": ".tar.gz", "bz2": ".tar.bz2", "xz": ".tar.xz", "zst": ".tar.zst", "": ".tar"}
    body = make_tar(files or default_files(python, version), compression)
    url = server.add(path or f"/dl/{version}/xbuildenv-{version}{suffix[compression]}", body)
    extra.setdefault("sha256", sha256(body))
    return release(version, url, python, **extra)


def serve_index(server: Server, *releases: dict[str, Any], path: str = "/index.json") -> str:
    return server.add(path, index(*releases))


def one_error(result: Result, code: int = 1) -> str:
    """Assert the run failed with ``code`` and exactly one ``error: ...`` line; return it."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err, result.err
    lines = result.err.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.err
    return errors[0]


def root_json(env: dict[str, str], *args: str, cwd: Path | None = None) -> dict[str, Any]:
    r = run("root", "--json", *args, env=env, cwd=cwd)
    assert r.code == 0, r.err
    data: dict[str, Any] = json.loads(r.out)
    return data


def expected_install_id(prefix: str | os.PathLike[str], package_dir: str | os.PathLike[str]) -> str:
    """The SPEC's formula, written out independently of the code under test."""
    scope = f"{Path(prefix).resolve()}\0{Path(package_dir).resolve()}"
    return hashlib.sha256(scope.encode()).hexdigest()[:12]
