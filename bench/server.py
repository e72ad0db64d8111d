"""A throttled loopback HTTP server: fixed latency per request, a byte rate per response.

Each response first waits ``latency`` seconds (the round trip of a distant CDN), then
sends its body paced to ``rate`` bytes per second. Bodies are files on disk or bytes
in memory; ``Content-Length``, ``ETag``, ``HEAD`` and single ``Range`` requests are
supported so that every client sees an ordinary static host.
"""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_BLOCK = 64 * 1024


class ThrottledServer:
    def __init__(self, rate: float, latency: float) -> None:
        self.rate = rate  # bytes per second; 0 = unlimited
        self.latency = latency
        self.routes: dict[str, Path | bytes] = {}
        self.hits: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner._serve(self, body=True)

            def do_HEAD(self) -> None:
                owner._serve(self, body=False)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, path: str, body: Path | bytes) -> str:
        self.routes[path] = body
        return self.base + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _serve(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        if self.latency:
            time.sleep(self.latency)
        path = h.path.split("?", 1)[0]
        self.hits[path] = self.hits.get(path, 0) + 1
        item = self.routes.get(path)
        if item is None:
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        size = item.stat().st_size if isinstance(item, Path) else len(item)
        key = f"{item}:{item.stat().st_mtime_ns}".encode() if isinstance(item, Path) else item
        etag = f'"{hashlib.sha1(key).hexdigest()[:16]}"'
        start, end = 0, size
        status = 200
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes=") and h.headers.get("If-Range", etag) == etag:
            first, _, last = rng[6:].partition("-")
            if first.isdigit():
                start = min(int(first), size)
                end = min(int(last) + 1, size) if last.isdigit() else size
                status = 206
        h.send_response(status)
        h.send_header("Content-Length", str(end - start))
        h.send_header("ETag", etag)
        h.send_header("Accept-Ranges", "bytes")
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        h.send_header("Content-Type", "application/octet-stream")
        h.end_headers()
        if not body:
            return
        try:
            if isinstance(item, Path):
                with item.open("rb") as fh:
                    fh.seek(start)
                    self._pace(h, fh.read, end - start)
            else:
                view = memoryview(item)[start:end]
                pos = [0]

                def read(n: int) -> bytes:
                    chunk = bytes(view[pos[0] : pos[0] + n])
                    pos[0] += len(chunk)
                    return chunk

                self._pace(h, read, end - start)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _pace(self, h: BaseHTTPRequestHandler, read: object, length: int) -> None:
        assert callable(read)
        started = time.monotonic()
        sent = 0
        while sent < length:
            chunk = read(min(_BLOCK, length - sent))
            if not chunk:
                break
            h.wfile.write(chunk)
            sent += len(chunk)
            if self.rate:
                ahead = sent / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        h.wfile.flush()
