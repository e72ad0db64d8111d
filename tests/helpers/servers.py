"""Real servers on 127.0.0.1, started in-process: the release server, a forward proxy
and a server that stalls.

:class:`Server` is a threaded HTTP/1.1 server with per-path behaviour (status, cuts,
failures, delays, rates) and per-path request counters, so "not downloaded again" is
a count. ``serve_env``/``serve_index`` put releases and their index on it;
``serve_simple_index`` a PEP 503 index of wheels, so pip runs for real without PyPI.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from packaging.utils import canonicalize_name

from helpers.archives import PY_FULL, default_files, index, make_tar, release, sha256


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive, as real servers) and no request log on the test's stderr."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass


def serve_in_thread(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A threaded server on a free 127.0.0.1 port, serving from a daemon thread."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


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

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server._handle(self)

            def do_HEAD(self) -> None:
                server._head(self)

        self.httpd = serve_in_thread(Handler)

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


def serve_simple_index(
    server: Server, wheels: list[tuple[str, bytes]], prefix: str = "/simple"
) -> str:
    """Serve ``wheels`` as a PEP 503 simple index; return its URL."""
    by_project: dict[str, list[tuple[str, bytes]]] = {}
    for file_name, data in wheels:
        by_project.setdefault(canonicalize_name(file_name.split("-")[0]), []).append(
            (file_name, data)
        )
    links = []
    for project, items in sorted(by_project.items()):
        links.append(f'<a href="{project}/">{project}</a>')
        anchors = []
        for file_name, data in items:
            server.add(f"/files/{file_name}", data)
            anchors.append(f'<a href="/files/{file_name}#sha256={sha256(data)}">{file_name}</a>')
        page = "<html><body>" + "\n".join(anchors) + "</body></html>"
        server.add(f"{prefix}/{project}/", page.encode(), headers={"Content-Type": "text/html"})
    top = "<html><body>" + "\n".join(links) + "</body></html>"
    return server.add(f"{prefix}/", top.encode(), headers={"Content-Type": "text/html"})


def index_hits(server: Server, prefix: str = "/simple") -> int:
    return sum(n for path, n in server.hits.items() if path.startswith((prefix, "/files/")))


class ForwardProxy:
    """A tiny HTTP forward proxy on 127.0.0.1 that records the URLs it was asked for."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                import urllib.error
                import urllib.request

                proxy.seen.append(self.path)  # absolute URI: the client used the proxy
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                wanted = ("range", "if-range")
                headers = {k: v for k, v in self.headers.items() if k.lower() in wanted}
                try:
                    with opener.open(urllib.request.Request(self.path, headers=headers)) as resp:
                        status, body, got = resp.status, resp.read(), resp.headers
                except urllib.error.HTTPError as exc:
                    status, body, got = exc.code, exc.read(), exc.headers
                self.send_response(status)
                for k in ("ETag", "Content-Range", "Accept-Ranges"):
                    if got.get(k):
                        self.send_header(k, got[k])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = serve_in_thread(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class StallServer:
    """Answers every GET with headers and ``sent`` body bytes of a larger body, then
    goes silent without closing: only a read timeout gets the client out."""

    def __init__(self, sent: int = 100, total: int = 10_000) -> None:

        self.hits = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.conns: list[Any] = []
        self._stop = threading.Event()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/xbuildenv.tar.gz"

        def serve() -> None:
            while not self._stop.is_set():
                try:
                    conn, _ = self.sock.accept()
                except OSError:
                    return
                self.hits += 1
                self.conns.append(conn)
                conn.recv(65536)
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode()
                conn.sendall(head + b"\0" * sent)

        threading.Thread(target=serve, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for conn in self.conns:
            conn.close()


def free_port() -> int:
    """A loopback port free a moment ago, for a server process that binds it itself
    (a test that needs a port nothing listens on uses the ``refused_port`` fixture)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
