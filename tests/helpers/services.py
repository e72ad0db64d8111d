"""Real parts for the mirror and remote-store tests: nginx and an S3 API server (moto).

* :class:`Nginx` runs the system's nginx (``apt-get install nginx-light``) in the
  foreground with its own configuration, logs and temporary folders under the test's
  tmp folder, on a free loopback port; its access log counts requests.
* :class:`MotoS3` runs ``python -m moto.server`` on a free loopback port; tests reach it
  with the real ``s3fs`` client (``AWS_ENDPOINT_URL``), as a user's runner would.

Both skip (never fail) with the reason when the part is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from helpers.archives import make_tar, release, sha256
from helpers.servers import Server, free_port

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers: up
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer on {url}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server process: SIGTERM, then SIGKILL if it has not gone in 10 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Nginx:
    """The system's nginx serving ``root`` on 127.0.0.1."""

    def __init__(self, root: Path, work: Path, server_extra: str = "") -> None:
        """``server_extra``: directives added to the ``server`` block (auth, dav)."""
        exe = next((found for c in NGINX_CANDIDATES if (found := shutil.which(c))), None)
        if exe is None:
            pytest.skip("nginx is not installed (apt-get install nginx-light); .ci/run installs it")
        self.root = root
        self.port = free_port()
        work.mkdir(parents=True, exist_ok=True)
        self.log = work / "access.log"
        temp = {k: work / k for k in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        # The master runs as us; as root its workers would drop to 'nobody', who cannot
        # read pytest's private tmp folders.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = work / "nginx.conf"
        conf.write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {work / 'nginx.pid'};\n"
            f"error_log {work / 'error.log'};\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            "  types { application/json json; }\n"
            "  default_type application/octet-stream;\n"
            f"  access_log {self.log};\n"
            f"  client_body_temp_path {temp['body']};\n  proxy_temp_path {temp['proxy']};\n"
            f"  fastcgi_temp_path {temp['fastcgi']};\n  uwsgi_temp_path {temp['uwsgi']};\n"
            f"  scgi_temp_path {temp['scgi']};\n"
            f"  server {{ listen 127.0.0.1:{self.port}; root {root}; {server_extra} }}\n"
            "}\n"
        )
        self.proc = subprocess.Popen(
            [exe, "-c", str(conf), "-p", str(work)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.work = work
        try:
            _wait_http(self.url("/"), self.proc, "nginx")
        except RuntimeError as exc:
            self.close()
            err = (work / "error.log").read_text() if (work / "error.log").exists() else ""
            pytest.skip(f"nginx cannot run here: {exc}: {err[-300:]}")

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self) -> Counter[str]:
        """GET requests per path so far (from nginx's own access log)."""
        found: Counter[str] = Counter()
        if self.log.exists():
            for line in self.log.read_text().splitlines():
                parts = line.split('"')
                if len(parts) > 1 and parts[1].startswith("GET "):
                    found[parts[1].split()[1]] += 1
        return found

    def close(self) -> None:
        _stop(self.proc)


class MotoS3:
    """moto's S3 API server on loopback, for the session."""

    def __init__(self) -> None:
        try:
            import moto  # noqa: F401
            import s3fs  # noqa: F401
        except ImportError as exc:
            pytest.skip(f"moto[server] and s3fs are needed ({exc}); pip install -e '.[test]'")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_http(self.endpoint + "/moto-api/", self.proc, "moto server", timeout=60)
        except RuntimeError as exc:
            self.close()
            pytest.skip(f"moto server cannot run here: {exc}")

    @property
    def env(self) -> dict[str, str]:
        """What a runner needs to reach this S3 (any credentials do for moto)."""
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def fs(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            key="testing",
            secret="testing",
            endpoint_url=self.endpoint,
            skip_instance_cache=True,
            use_listings_cache=False,
        )

    def new_bucket(self) -> str:
        name = f"b{uuid.uuid4().hex[:12]}"
        self.fs().mkdir(name)
        return name

    def close(self) -> None:
        _stop(self.proc)


OFFICIAL = "https://github.com/pyodide/pyodide/releases/download/"


def publish(
    server: Server,
    versions: dict[str, str],
    *,
    path: str = "/index.json",
    official_urls: bool = False,
    **route: Any,
) -> dict[str, bytes]:
    """Serve an index of ``{version: python}`` releases with real archives; return bodies.

    ``official_urls`` lists the archives under the official download prefix (which tests
    never reach), for ``XBUILDENV_MIRROR``.
    """
    from helpers.archives import default_files

    bodies: dict[str, bytes] = {}
    entries = []
    for version, python in versions.items():
        body = make_tar(default_files(python, version), "gz")
        bodies[version] = body
        rel = f"{version}/xbuildenv-{version}.tar.gz"
        url = server.add(f"/dl/{rel}", body, **route)
        if official_urls:
            url = OFFICIAL + rel
        entries.append(
            release(version, url, python, sha256=sha256(body), published_at="2025-01-01T00:00:00Z")
        )
    server.add(path, json.dumps({"releases": {e["version"]: e for e in entries}}).encode())
    return bodies
