"""Real parts for the authentication tests: a loopback HTTP server that asks for Basic
credentials, nginx behind ``auth_basic``, netrc files, and a check that a secret
appears in nothing the tool printed or wrote.

:class:`AuthServer` speaks real HTTP/1.1 on 127.0.0.1: GET/HEAD of stored bodies,
PUT/DELETE into the same store (a WebDAV-style remote store), redirects to any URL,
and 401 for a request without the right ``Authorization``. It records every request's
headers, so a test can see what a redirect carried to it.
"""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from helpers.servers import QuietHandler, serve_in_thread
from helpers.services import Nginx


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def authorization(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "authorization"), None)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class AuthServer:
    """Files behind HTTP Basic (``user``/``password``; ``None`` for an open server)."""

    def __init__(self, user: str | None = None, password: str | None = None) -> None:
        self.expected = basic(user, password) if user is not None and password else None
        self.files: dict[str, bytes] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.redirects: dict[str, tuple[int, str]] = {}
        self.forbidden: set[str] = set()  # 403 to anyone, authenticated or not
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                owner._serve(self, body=True)

            def do_HEAD(self) -> None:
                owner._serve(self, body=False)

            def do_PUT(self) -> None:
                owner._put(self)

            def do_DELETE(self) -> None:
                owner._delete(self)

        self.httpd = serve_in_thread(Handler)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, path: str = "", *, host: str = "127.0.0.1", userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}{host}:{self.port}{path}"

    def add(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> str:
        """Serve ``body`` at ``path`` (with extra response ``headers``); its URL."""
        self.files[path] = body
        self.headers[path] = headers or {}
        return self.url(path)

    def redirect(self, path: str, target: str, code: int = 302) -> None:
        self.redirects[path] = (code, target)

    def seen_at(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    # --- handling ---------------------------------------------------------------
    def _record(self, h: BaseHTTPRequestHandler) -> str:
        path = h.path.split("?")[0]
        with self._lock:
            self.seen.append(Seen(h.command, path, dict(h.headers.items())))
        return path

    def _allowed(self, h: BaseHTTPRequestHandler) -> bool:
        if self.expected is None or h.headers.get("Authorization") == self.expected:
            return True
        self._reply(h, 401, b"who are you?", {"WWW-Authenticate": 'Basic realm="private"'})
        return False

    def _serve(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path = self._record(h)
        if not self._allowed(h):
            return
        if path in self.forbidden:
            self._reply(h, 403, b"not for you")
            return
        if path in self.redirects:
            code, target = self.redirects[path]
            self._reply(h, code, b"", {"Location": target})
            return
        data = self.files.get(path)
        if data is None:
            self._reply(h, 404, b"not found")
            return
        h.send_response(200)
        for k, v in self.headers.get(path, {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.send_header("ETag", f'"{len(data)}-{hash(data) & 0xFFFF:x}"')
        h.end_headers()
        if body:
            h.wfile.write(data)

    def _put(self, h: BaseHTTPRequestHandler) -> None:
        path = self._record(h)
        length = int(h.headers.get("Content-Length") or 0)
        data = h.rfile.read(length)
        if not self._allowed(h):
            return
        self.files[path] = data
        self._reply(h, 201, b"")

    def _delete(self, h: BaseHTTPRequestHandler) -> None:
        path = self._record(h)
        if not self._allowed(h):
            return
        existed = self.files.pop(path, None) is not None
        self._reply(h, 204 if existed else 404, b"")

    @staticmethod
    def _reply(
        h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body and h.command != "HEAD":
            h.wfile.write(body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def write_netrc(path: Path, *entries: tuple[str, str, str]) -> Path:
    """A netrc file of ``(machine, login, password)`` entries, private to its owner."""
    text = "".join(f"machine {m}\n  login {u}\n  password {p}\n" for m, u, p in entries)
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def files_holding(folder: Path, secret: str) -> list[str]:
    """Every file below ``folder`` (names and contents, decompressed or not) that
    holds ``secret``: what a leak check greps."""
    needle = secret.encode()
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            if secret in name:
                found.append(os.path.join(dirpath, name))
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                if secret in os.readlink(path):
                    found.append(str(path))
                continue
            try:
                if needle in path.read_bytes():
                    found.append(str(path))
            except OSError:
                pass
    return found


# --- nginx with auth_basic ------------------------------------------------------------
NGINX_USER = "alice"
NGINX_PASSWORD = "Ngx-Pa55-4f2c"


def htpasswd(path: Path, user: str, password: str) -> Path:
    """An htpasswd file made with ``openssl passwd -apr1`` (skips without openssl)."""
    import shutil
    import subprocess

    import pytest

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the htpasswd file)")
    hashed = subprocess.run(
        ["openssl", "passwd", "-apr1", password], capture_output=True, text=True, check=True
    ).stdout.strip()
    path.write_text(f"{user}:{hashed}\n")
    return path


def private_nginx(tmp_path: Path) -> Nginx:
    """nginx serving ``tmp_path/www`` to ``alice`` only (``auth_basic``), with a
    ``/fleet/`` folder that takes PUT and DELETE (a remote store)."""
    www = tmp_path / "www"
    (www / "fleet").mkdir(parents=True)
    users = htpasswd(tmp_path / "htpasswd", NGINX_USER, NGINX_PASSWORD)
    extra = (
        f'auth_basic "private mirror"; auth_basic_user_file {users}; '
        "location /fleet/ { dav_methods PUT DELETE; create_full_put_path on; }"
    )
    return Nginx(www, tmp_path / "nginx", server_extra=extra)


def with_password(url: str, user: str = NGINX_USER, password: str = NGINX_PASSWORD) -> str:
    return url.replace("://", f"://{user}:{password}@", 1)


def nginx_log(nginx: Nginx) -> list[tuple[str, str, str, int]]:
    """(user, method, path, status) of every request, from nginx's combined log."""
    found = []
    for line in nginx.log.read_text().splitlines():
        head, request, rest = line.split('"')[:3]
        method, path = request.split()[:2]
        found.append((head.split()[2], method, path, int(rest.split()[0])))
    return found
