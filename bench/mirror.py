"""Figures for mirrors and the shared store (issue 13). Run by hand: ``python bench/mirror.py``.

1. ``xbuildenv mirror sync`` of the benchmark's realistic archive set (one ~6 MB
   ``.tar.bz2`` per Python 3.11-3.14, from archive_gen.py) from the throttled loopback
   host (server.py; 5 MB/s per response, 50 ms per request by default) into an empty
   folder, against ``curl`` downloading the same URLs in one invocation (one connection,
   one file after another, as sync does). Median of ``--runs`` runs each, alternating.
2. Bytes the origin serves when 8 runners (8 cache homes, real ``xbuildenv install``
   processes started at once) each install 2 versions, without and with a remote store
   (moto's S3 server on loopback, through s3fs; needs ``pip install -e '.[test]'``).

Run it with the interpreter that has this checkout installed (``.venv/bin/python``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import archive_gen  # noqa: E402
from server import ThrottledServer  # noqa: E402

SMALL_MB = 23.5  # as bench/run.py: ~6 MB .tar.bz2, ~29 MB unpacked
PYTHONS = ("3.11", "3.12", "3.13", "3.14")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), NO_COLOR="1", **extra)
    return env


def xbuildenv(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xbuildenv", *args], env=env, capture_output=True, text=True
    )


def publish(server: ThrottledServer, specs: list[archive_gen.ArchiveSpec], out: Path) -> str:
    releases = {}
    for i, spec in enumerate(specs):
        built = archive_gen.build(spec, out)
        version = f"0.{90 + i}.0"
        url = server.add(f"/releases/{built.path.name}", built.path)
        releases[version] = {
            "version": version,
            "url": url,
            "python_version": built.full_python,
            "emscripten_version": "4.0.9",
            "sha256": built.sha256,
        }
    return server.add("/index.json", json.dumps({"releases": releases}).encode())


def bench_sync(args: argparse.Namespace, work: Path) -> dict[str, object]:
    server = ThrottledServer(args.rate * 1e6, args.latency / 1000)
    specs = [archive_gen.ArchiveSpec(py, SMALL_MB) for py in PYTHONS]
    meta = publish(server, specs, args.out)
    urls = [r["url"] for r in json.loads(urllib.request.urlopen(meta).read())["releases"].values()]
    total = sum(archive_gen.build(s, args.out).size for s in specs)
    curl = shutil.which("curl")
    sync_times, curl_times = [], []
    for run in range(args.runs):
        dest = work / f"sync-{run}"
        env = clean_env(work / f"home-sync-{run}")
        started = time.monotonic()
        done = xbuildenv("mirror", "sync", str(dest), "--metadata", meta, "-q", env=env)
        sync_times.append(time.monotonic() - started)
        if done.returncode != 0:
            raise SystemExit(f"mirror sync failed: {done.stderr}")
        if curl:
            folder = work / f"curl-{run}"
            folder.mkdir()
            argv = [curl, "-sSf"]
            for i, url in enumerate(urls):
                argv += ["-o", str(folder / f"{i}.tar.bz2"), url]
            started = time.monotonic()
            subprocess.run(argv, check=True)
            curl_times.append(time.monotonic() - started)
    server.close()
    result: dict[str, object] = {
        "archives": len(specs),
        "bytes": total,
        "sync_s": sync_times,
        "sync_median_s": statistics.median(sync_times),
        "wire_limit_s": total / (args.rate * 1e6) if args.rate else None,
    }
    if curl_times:
        result["curl_s"] = curl_times
        result["curl_median_s"] = statistics.median(curl_times)
        result["sync_over_curl"] = statistics.median(sync_times) / statistics.median(curl_times)
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/").close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, endpoint


def bench_fleet(args: argparse.Namespace, work: Path) -> dict[str, object]:
    mm = f"{sys.version_info.major}.{sys.version_info.minor}"
    specs = [archive_gen.ArchiveSpec(mm, SMALL_MB, seed) for seed in (20240229, 20240301)]
    sizes = {}
    for spec in specs:
        built = archive_gen.build(spec, args.out)
        sizes[f"/releases/{built.path.name}"] = built.size
    proc, endpoint = _moto()
    s3 = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    import s3fs

    s3fs.S3FileSystem(key="bench", secret="bench", endpoint_url=endpoint).mkdir("fleet")
    result: dict[str, object] = {"runners": args.runners, "versions": 2}
    try:
        for label, extra in (("without_store", {}), ("with_store", s3)):
            server = ThrottledServer(args.rate * 1e6, args.latency / 1000)
            meta = publish(server, specs, args.out)
            store = {"XBUILDENV_REMOTE_STORE": "s3://fleet/store", **s3} if extra else {}
            failures: list[str] = []

            def runner(
                i: int,
                label: str = label,
                meta: str = meta,
                store: dict[str, str] = store,
                failures: list[str] = failures,
            ) -> None:
                env = clean_env(work / f"fleet-{label}-{i}", **store)
                for version in ("0.90.0", "0.91.0"):
                    done = xbuildenv("install", version, "--metadata", meta, "-q", env=env)
                    if done.returncode != 0:
                        failures.append(done.stderr)

            threads = [threading.Thread(target=runner, args=(i,)) for i in range(args.runners)]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            served = {p: server.hits.get(p, 0) for p in sizes}
            server.close()
            if failures:
                raise SystemExit(f"{label}: {failures[0]}")
            result[label] = {
                "origin_requests": served,
                "origin_bytes": sum(sizes[p] * n for p, n in served.items()),
                "seconds": elapsed,
            }
    finally:
        proc.terminate()
    return result


def main() -> int:
    p = argparse.ArgumentParser(prog="python bench/mirror.py", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--runners", type=int, default=8)
    p.add_argument("--rate", type=float, default=5.0, help="MB/s per response (default 5)")
    p.add_argument("--latency", type=float, default=50.0, help="ms per request (default 50)")
    p.add_argument("--out", type=Path, default=BENCH / "out" / "archives")
    p.add_argument("--no-fleet", action="store_true")
    args = p.parse_args()
    base = Path.home() / ".cache" / "xbuildenv-bench"
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mirror-", dir=base))
    try:
        results: dict[str, object] = {"sync": bench_sync(args, work)}
        if not args.no_fleet:
            results["fleet"] = bench_fleet(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    out = BENCH / "out" / "mirror.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
