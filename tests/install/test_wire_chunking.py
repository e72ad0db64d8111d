"""How the bytes are cut never changes the verdict (issue 19, item 1).

A proxy may flush the first few bytes of a response on their own: legal HTTP, the
same bytes. A loopback server here writes the body's first ``split`` bytes, flushes,
waits 30 ms and writes the rest; or writes the first 4 KB one byte at a time. Every
format installs through the real CLI in every cut.
"""

from __future__ import annotations

import json
import random
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.archives import default_files, index, make_tar
from helpers.cli import clean_env, one_error, run
from helpers.servers import Server, serve_env

FORMATS = ["gz", "bz2", "xz", "zst", ""]
PAUSE = 0.030


class ChunkedServer(socketserver.ThreadingTCPServer):
    """Serves one body per path, cut as ``cuts`` says: ``(size, pause)`` pairs, each
    chunk written on its own (TCP_NODELAY) and followed by its pause, then the rest."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.bodies: dict[str, tuple[bytes, list[tuple[int, float]]]] = {}
        self.wrong_ranges: set[str] = set()  # paths whose first answer is cut short
        super().__init__(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, body: bytes, cuts: list[tuple[int, float]]) -> str:
        self.bodies[path] = (body, cuts)
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = b""
        while b"\r\n\r\n" not in request:
            data = sock.recv(4096)
            if not data:
                return
            request += data
        path = request.split(b" ", 2)[1].decode()
        server = self.server
        assert isinstance(server, ChunkedServer)
        if b"\r\nrange:" in request.lower() and path in server.wrong_ranges:
            # a resume answered from byte 0 while saying so: the client must not splice
            body = server.bodies[path][0]
            sock.sendall(
                f"HTTP/1.1 206 Partial Content\r\nContent-Length: {len(body)}\r\n"
                f"Content-Range: bytes 0-{len(body) - 1}/{len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            return
        if path not in server.bodies:
            sock.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        body, cuts = server.bodies[path]
        if path in server.wrong_ranges:
            cuts, body = [], body  # sent in full below, but cut after half
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            sock.sendall(head.encode() + body[: len(body) // 2])
            return
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        sock.sendall(head.encode())
        at = 0
        for size, pause in cuts:
            sock.sendall(body[at : at + size])
            at += size
            time.sleep(pause)
        sock.sendall(body[at:])


@pytest.fixture
def chunked() -> Iterator[ChunkedServer]:
    server = ChunkedServer()
    yield server
    server.close()


def _archive(fmt: str) -> bytes:
    """A real environment archive with a file that does not compress, so every format's
    body is longer than the 4 KB cut byte by byte."""
    noise = random.Random(19).randbytes(16 << 10)
    return make_tar({**default_files(), "xbuildenv/noise.bin": noise}, compression=fmt)


def _install(tmp_path: Path, url: str) -> None:
    env = clean_env(tmp_path)
    root = tmp_path / "root"
    r = run("install", "--url", url, "--path", str(root), env=env)
    assert r.code == 0, r.err
    installed = root / "xbuildenv"
    assert (installed / "xbuildenv" / "pyodide-root" / "Makefile.envs").read_bytes() == (
        default_files()["xbuildenv/pyodide-root/Makefile.envs"]
    )


@pytest.mark.parametrize("split", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("fmt", FORMATS)
def test_first_chunk_split_installs(
    chunked: ChunkedServer, tmp_path: Path, fmt: str, split: int
) -> None:
    body = _archive(fmt)
    url = chunked.add(f"/env.tar{'.' + fmt if fmt else ''}", body, [(split, PAUSE)])
    _install(tmp_path, url)


@pytest.mark.parametrize("fmt", FORMATS)
def test_first_4k_one_byte_at_a_time_installs(
    chunked: ChunkedServer, tmp_path: Path, fmt: str
) -> None:
    body = _archive(fmt)
    assert len(body) > 4096  # the cuts cover the first 4 KB, and the rest follows
    # 30 ms after each of the first bytes (where formats are told apart), then 0.2 ms:
    # the rest of the 4 KB still arrives in tiny reads, in about a second.
    cuts = [(1, PAUSE)] * 8 + [(1, 0.0002)] * (4096 - 8)
    url = chunked.add(f"/bytes.tar{'.' + fmt if fmt else ''}", body, cuts)
    _install(tmp_path, url)


def test_a_resume_answered_with_another_range_is_refused(
    chunked: ChunkedServer, tmp_path: Path
) -> None:
    body = _archive("gz")
    url = chunked.add("/cut.tar.gz", body, [])
    chunked.wrong_ranges.add("/cut.tar.gz")
    r = run("install", "--url", url, "--path", str(tmp_path / "root"), env=clean_env(tmp_path))
    line = one_error(r)
    assert "asked to resume at byte" in line and "'bytes 0-" in line, line
    assert not (tmp_path / "root" / "xbuildenv").exists()


def test_an_index_cut_short_is_fetched_again_not_parsed(server: Server, tmp_path: Path) -> None:
    """A release index whose connection closes before its Content-Length is a cut, to
    retry: parsing the part that arrived would call a good index malformed."""
    body = index(serve_env(server, "1.0"))
    meta = server.add("/index.json", body, cut_after=len(body) // 2, cut_times=1)
    r = run("search", "--all", "--json", "--metadata", meta, env=clean_env(tmp_path))
    assert r.code == 0, r.err
    assert [e["version"] for e in json.loads(r.out)["environments"]] == ["1.0"]
    assert server.hits["/index.json"] == 2
