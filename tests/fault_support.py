"""Helpers of the fault-injection suite (tests/test_faults_*.py).

Kept apart from ``support`` (which every test module uses): counters for the end-of-run
summary, checks that a root is intact, a tmpfs for full and read-only disks, a forward
proxy and a server that stalls.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from support import PY_FULL, default_files

# --- fault-injection suite helpers (test_faults_*) -------------------------------
# Counters for the summary printed at the end of the run (see conftest.py).
FAULT_STATS: Counter[str] = Counter()
LEFTOVER_PREFIXES = (".staging-", ".trash-", ".replaced-", ".link-")


def big_files(python: str = PY_FULL, version: str = "0.29.4", count: int = 40) -> dict[str, bytes]:
    """A realistic tree plus ``count`` incompressible files, so the download takes
    several chunks and extraction many members (more distinct kill points)."""
    files = default_files(python, version)
    rng = __import__("random").Random(f"{version}-{count}")
    for i in range(count):
        files[f"xbuildenv/site-packages-extras/pkg{i % 5}/data{i}.bin"] = rng.randbytes(12_000)
    return files


def tree_problems(root: Path, version: str, files: dict[str, bytes]) -> list[str]:
    """What is wrong with ``root/version`` as a complete install of ``files``."""
    folder = root / version
    problems = []
    for rel, data in files.items():
        path = folder / rel
        if not path.is_file():
            problems.append(f"{version}: {rel} missing")
        elif path.read_bytes() != data:
            problems.append(f"{version}: {rel} differs")
    if not (folder / ".build-python-version").is_file():
        problems.append(f"{version}: no .build-python-version")
    return problems


def root_problems(root: Path, expected: dict[str, dict[str, bytes]]) -> list[str]:
    """Invariants after any interruption: every folder that looks installed (has
    ``.installed``) is complete, and the link points at a complete version or nowhere."""
    problems = []
    if not root.is_dir():
        return problems
    for entry in os.scandir(root):
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        if (Path(entry.path) / ".installed").is_file():
            files = expected.get(entry.name)
            if files is None:
                problems.append(f"unexpected installed folder {entry.name}")
            else:
                problems += tree_problems(root, entry.name, files)
    link = root / "xbuildenv"
    if link.is_symlink():
        target = Path(os.readlink(link))
        if not target.is_absolute():
            target = root / target
        if target.parent != root or not (target / ".installed").is_file():
            problems.append(f"link points at {target}, not a complete version")
    elif link.exists():
        problems.append("a real file or folder sits where the link belongs")
    return problems


def half_published_problems(
    root: Path, version: str, old: dict[str, Any], files: dict[str, dict[str, bytes]]
) -> list[str]:
    """What differs from the one state a publish without atomic exchange may leave when
    killed between its two renames (README, "Platforms"): no ``version`` folder, the old
    tree whole (byte-identical) in ``.replaced-*-version``, the new one whole in a
    staging folder, the link (if any) at ``version``; every other check as usual."""
    from support import snapshot

    from xbuildenv.fs.platform import fast_path

    problems = []
    if fast_path("exchange"):
        return [f"{version} was moved aside although the atomic exchange was on"]
    names = os.listdir(root)
    aside = [n for n in names if n.startswith(".replaced-") and n.endswith(f"-{version}")]
    staged = [n for n in names if n.startswith(".staging-") and n.endswith(f"-{version}")]
    if os.path.lexists(root / version):
        problems.append(f"{version} is still there after it was moved aside")
    if len(aside) != 1 or snapshot(root / aside[0]) != old:
        problems.append(f"the old {version} is not whole in one .replaced- folder: {aside}")
    if len(staged) != 1 or tree_problems(root, staged[0], files[version]):
        problems.append(f"the new {version} is not whole in one staging folder: {staged}")
    link = root / "xbuildenv"
    if link.is_symlink() and Path(os.readlink(link)).name != version:
        problems.append(f"the link points at {os.readlink(link)}")
    others = {v: f for v, f in files.items() if v != version}
    return problems + [p for p in root_problems(root, others) if "link points" not in p]


def leftovers(root: Path, store: Path | None = None) -> list[str]:
    """Staging/trash folders, temporary links, lock files and partial downloads."""
    found = []
    if root.is_dir():
        found += [n for n in os.listdir(root) if n.startswith(LEFTOVER_PREFIXES)]
        found += [n for n in os.listdir(root) if n.startswith(".xbuildenv") and n.endswith(".lock")]
    if store is not None:
        for sub in ("tmp", ".locks"):
            folder = store / sub
            if folder.is_dir():
                found += [f"store/{sub}/{n}" for n in os.listdir(folder)]
    return sorted(found)


def copy_root(template: Path, dest: Path) -> None:
    """Copy a root (links included), repointing the absolute active link at ``dest``."""
    import shutil

    shutil.copytree(template, dest, symlinks=True)
    link = dest / "xbuildenv"
    if link.is_symlink():
        name = Path(os.readlink(link)).name
        link.unlink()
        os.symlink(dest / name, link)


class Tmpfs:
    """A real tmpfs mount (root only): small for ENOSPC, or remounted read-only."""

    def __init__(self, path: Path, size: str = "1m") -> None:
        import pytest

        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'})")

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


class ForwardProxy:
    """A tiny HTTP forward proxy on 127.0.0.1 that records the URLs it was asked for."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

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

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

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
    """A loopback port with nothing listening (bound, then released)."""

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --- escapes: a decoy outside the cache, and runs as an unprivileged user ------------
NOBODY = 65534


def make_decoy(folder: Path, owner: int | None = None) -> Path:
    """A folder outside every cache that no input may change: files of the kinds the
    tool itself writes and deletes (``*.part``, ``*.tmp``, ``*.lock``, sha-named
    archives), a private key at mode 600, a sub-folder."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "id_rsa": b"-----BEGIN OPENSSH PRIVATE KEY-----\n",
        "download.part": b"partial",
        "record.tmp": b"temporary",
        "victim.lock": b"",
        "a" * 64: b"looks like a stored archive",
        "sub/notes.txt": b"keep me",
        "index.json": b'{"releases": {}}',
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    os.chmod(folder / "id_rsa", 0o600)
    if owner is not None:
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in [".", *dirnames, *filenames]:
                os.lchown(os.path.join(dirpath, name), owner, owner)
    return folder


def decoy_state(folder: Path) -> dict[str, Any]:
    """Names, types, modes, owners, sizes and hashes under ``folder`` (and itself)."""
    import hashlib

    state: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [".", *dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            info = os.lstat(p)
            entry: tuple[Any, ...] = (info.st_mode, info.st_uid, info.st_size)
            if os.path.islink(p):
                entry += (os.readlink(p),)
            elif os.path.isfile(p):
                with open(p, "rb") as fh:
                    entry += (hashlib.sha256(fh.read()).hexdigest(),)
            state[os.path.relpath(p, folder)] = entry
    return state


def check_decoy(folder: Path, before: dict[str, Any]) -> None:
    """Count one escape tried; assert nothing in the decoy changed."""
    FAULT_STATS["escapes_tried"] += 1
    after = decoy_state(folder)
    changed = {
        k: (before.get(k), after.get(k))
        for k in before.keys() | after.keys()
        if before.get(k) != after.get(k)
    }
    FAULT_STATS["escapes_found"] += int(bool(changed))
    assert not changed, f"written outside the cache: {changed}"


def heal(ok: bool) -> bool:
    """Count one heal tried (and failed, when not ``ok``)."""
    FAULT_STATS["heals_tried"] += 1
    FAULT_STATS["heals_failed"] += int(not ok)
    return ok


_nobody_ok: list[str] = []


def nobody_prefix() -> list[str]:
    """``setpriv`` to run a command as nobody, or a pytest skip saying why not."""
    import shutil
    import sys

    import pytest

    if os.geteuid() != 0:
        pytest.skip("running as an unprivileged user needs root to switch users")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    if not _nobody_ok:
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "import xbuildenv"], capture_output=True, text=True
        )
        if probe.returncode != 0:
            pytest.skip(f"nobody cannot run this Python and package: {probe.stderr.strip()[-200:]}")
        _nobody_ok.append("yes")
    return prefix
