"""Getting bytes from a URL or a local path, robustly.

* ``http(s)://`` goes through :mod:`.http` (:mod:`urllib.request`), so proxies from the
  environment (``https_proxy``, ``no_proxy``, ...) apply, credentials come from the URL
  or netrc (:mod:`.auth`), and HTTPS trusts what :mod:`.tls` says
  (``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE``, else the system trust store).
* 5xx, 429, resets and timeouts are retried with exponential backoff, bounded in count
  and total time; a body cut off part-way resumes with a ``Range`` request, and when the
  server ignores ``Range`` the bytes already seen are skipped (only if the validator
  says the content is unchanged).
* A refused connection is tried once more after a short pause, then fails: on a host
  that resolved, nothing is listening, and that is rarely over in seconds.
* Anything else (404, 401, DNS, an untrusted certificate) becomes one
  :class:`DownloadError` line at once.

Plain paths and ``file://`` URLs are read from disk, so an index and its archives can
be used offline.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checkpoints import checkpoint
from ..errors import DownloadError, HTTPStatusError, RefusedError, RetryableError
from ..settings.config import ENV_RETRIES, ENV_TIMEOUT, env_number
from .http import REFUSED_ATTEMPTS, REFUSED_PAUSE, _describe, _open
from .urls import local_path

CHUNK = 256 * 1024
# Our own knobs for the retry policy (documented in the README with the others).
ENV_BACKOFF = "XBUILDENV_BACKOFF"  # first wait in seconds; doubles on each retry
ENV_RETRY_DEADLINE = "XBUILDENV_RETRY_DEADLINE"  # total seconds spent retrying a request


@dataclass(frozen=True)
class FetchSettings:
    """Retry and timeout policy; defaults overridable by environment variables."""

    retries: int = 5
    timeout: float = 30.0  # seconds, for connecting and for each read
    backoff: float = 0.5  # first wait; doubles each retry
    max_backoff: float = 10.0
    deadline: float = 300.0  # total seconds spent retrying one request

    @classmethod
    def from_env(cls) -> FetchSettings:
        return cls(
            retries=int(env_number(ENV_RETRIES, cls.retries)),
            timeout=env_number(ENV_TIMEOUT, cls.timeout, minimum=0.1),
            backoff=env_number(ENV_BACKOFF, cls.backoff),
            deadline=env_number(ENV_RETRY_DEADLINE, cls.deadline),
        )


@dataclass
class Response:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


MAX_DOCUMENT = 64 << 20  # an index is ~40 KB; more than this is not one


def _bounded(body: bytes, source: str) -> bytes:
    if len(body) > MAX_DOCUMENT:
        raise DownloadError(
            f"{source} is larger than {MAX_DOCUMENT >> 20} MB; it is not a release index",
            "check the URL or path",
        )
    return body


def open_regular(path: Path) -> Any:
    """Open a local archive or index for reading: a regular file only (a FIFO would
    hang the read for ever, a device never end); :class:`DownloadError` otherwise."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise DownloadError(
            f"cannot read {path}: {exc.strerror or exc}", "check the path or URL"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DownloadError(f"{path} is not a regular file", "give the path of an archive file")
    if sys.platform != "win32":  # Windows has no O_NONBLOCK for files: nothing to undo
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


class _Budget:
    """Retries left for one request or download, with exponential backoff.

    One budget covers a whole download, reopening after cuts included, so a server
    that keeps accepting and then stalling cannot make us retry forever. Bytes
    actually received restore it: a long download with a few cuts still finishes.
    """

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self.progress()

    def progress(self) -> None:
        self.tries = 0
        self.refused = 0
        self.wait = self.settings.backoff
        self.started = time.monotonic()

    def spend(self, url: str, exc: RetryableError) -> None:
        """Sleep before the next attempt, or raise when the budget is spent."""
        self.tries += 1
        if isinstance(exc, RefusedError):
            self.refused += 1
            if self.refused < REFUSED_ATTEMPTS and self.tries <= self.settings.retries:
                time.sleep(REFUSED_PAUSE)
                return
            raise DownloadError(
                f"GET {url} failed after {self.tries} attempt(s): {exc}",
                "check the URL, your network connection and proxy settings (https_proxy)",
            ) from None
        spent = time.monotonic() - self.started
        if self.tries > self.settings.retries or spent + self.wait > self.settings.deadline:
            raise DownloadError(
                f"GET {url} failed after {self.tries} attempt(s): {exc}",
                "check your network connection, or try again later",
            ) from None
        import random  # only when a request is retried

        time.sleep(self.wait * (0.75 + random.random() / 2))
        self.wait = min(self.wait * 2, self.settings.max_backoff)


def _with_retries(
    url: str, settings: FetchSettings, attempt: Any, budget: _Budget | None = None
) -> Any:
    """Run ``attempt()`` until it stops raising RetryableError or the budget is spent."""
    budget = budget or _Budget(settings)
    while True:
        try:
            return attempt()
        except RetryableError as exc:
            budget.spend(url, exc)


def fetch_bytes(
    source: str, settings: FetchSettings | None = None, headers: dict[str, str] | None = None
) -> Response:
    """Read a whole (small) document: an index. 304 comes back with an empty body."""
    path = local_path(source)
    if path is not None:
        try:
            with open_regular(path) as fh:
                return Response(_bounded(fh.read(MAX_DOCUMENT + 1), source))
        except OSError as exc:
            raise DownloadError(
                f"cannot read {path}: {exc.strerror or exc}", "check the path"
            ) from None
    settings = settings or FetchSettings.from_env()
    checkpoint("metadata.fetch")

    def attempt() -> Response:
        import http.client
        import urllib.error

        try:
            resp = _open(source, settings, headers or {})
        except HTTPStatusError as exc:
            if exc.status == 304:  # not modified: the cached copy stands
                return Response(b"", {}, 304)
            raise
        with resp:
            try:
                body = _bounded(resp.read(MAX_DOCUMENT + 1), source)
            except (OSError, http.client.HTTPException) as exc:  # reset, IncompleteRead
                raise RetryableError(_describe(exc)) from None
            except urllib.error.URLError as exc:  # pragma: no cover - defensive
                raise RetryableError(_describe(exc)) from None
            # http.client returns what arrived when the server closes before
            # Content-Length: a cut index must be fetched again, never parsed.
            length = resp.headers.get("Content-Length") or ""
            if resp.status == 200 and length.isdigit() and len(body) < int(length):
                raise RetryableError(f"connection closed after {len(body)} of {length} bytes")
            return Response(body, {k.lower(): v for k, v in resp.headers.items()}, resp.status)

    result: Response = _with_retries(source, settings, attempt)
    checkpoint("metadata.fetched")
    return result


@dataclass
class Download:
    """A streaming download: iterate :meth:`chunks`; ``size`` is known after opening."""

    url: str
    settings: FetchSettings = field(default_factory=FetchSettings.from_env)
    size: int | None = None
    received: int = 0
    validator: str | None = None

    def chunks(self) -> Iterator[bytes]:
        path = local_path(self.url)
        if path is not None:
            yield from self._file_chunks(path)
            return
        import http.client  # lazily, like _open: a local file or a read command needs none

        budget = _Budget(self.settings)
        resp = _with_retries(
            self.url, self.settings, lambda: _open(self.url, self.settings, {}), budget
        )
        self._learn(resp)
        checkpoint("download.open")
        while True:
            try:
                with resp:
                    while True:
                        try:
                            read = resp.read1 if hasattr(resp, "read1") else resp.read
                            chunk = read(CHUNK)
                        except (OSError, http.client.HTTPException) as exc:
                            # reset, timeout, IncompleteRead; never Ctrl-C/SIGTERM
                            raise RetryableError(_describe(exc)) from None
                        if not chunk:
                            break
                        self.received += len(chunk)
                        budget.progress()
                        checkpoint("download.chunk")
                        yield chunk
                if self.size is not None and self.received < self.size:
                    raise RetryableError(f"connection closed after {self.received} bytes")
                return
            except RetryableError as exc:
                budget.spend(self.url, exc)
                resp = _with_retries(self.url, self.settings, self._resume, budget)

    def _file_chunks(self, path: Path) -> Iterator[bytes]:
        fh = open_regular(path)
        with fh:
            self.size = os.fstat(fh.fileno()).st_size
            while True:
                try:
                    chunk = fh.read(CHUNK)
                except OSError as exc:  # an I/O error: a damaged disk or stored copy
                    raise DownloadError(
                        f"cannot read {path}: {exc.strerror or exc}", "check the file"
                    ) from None
                if not chunk:
                    break
                self.received += len(chunk)
                yield chunk

    def _learn(self, resp: Any) -> None:
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and resp.status == 200:
            self.size = int(length)
        self.validator = resp.headers.get("ETag") or resp.headers.get("Last-Modified")

    def _resume(self) -> Any:
        """Reopen after a cut: ask for the rest, or skip what we have if Range is ignored."""
        headers = {"Range": f"bytes={self.received}-"}
        if self.validator:
            headers["If-Range"] = self.validator
        resp = _open(self.url, self.settings, headers)
        if resp.status == 206:
            # The bytes must go on exactly where the cut was: a server (or proxy) that
            # answers with another range would splice the wrong bytes in.
            start = (resp.headers.get("Content-Range") or "").removeprefix("bytes ")
            if start.split("-", 1)[0].strip() != str(self.received):
                resp.close()
                raise DownloadError(
                    f"{self.url}: asked to resume at byte {self.received}, the server sent "
                    f"the range {resp.headers.get('Content-Range')!r}",
                    "run the command again",
                )
            return resp
        new_validator = resp.headers.get("ETag") or resp.headers.get("Last-Modified")
        # Without Range support we read the whole body again and drop what we already
        # have; that is only sound if it is the same body (the sha256 check at the end
        # still guards the no-validator case).
        if new_validator != self.validator:
            resp.close()
            raise DownloadError(
                f"{self.url} changed on the server while it was being downloaded",
                "run the command again",
            )
        skip = self.received
        try:
            while skip:
                got = resp.read(min(skip, CHUNK))
                if not got:
                    raise RetryableError("connection closed while skipping")
                skip -= len(got)
        except OSError as exc:
            resp.close()
            raise RetryableError(_describe(exc)) from None
        return resp


def validator_of(url: str, settings: FetchSettings | None = None) -> str | None:
    """The ETag (else Last-Modified) of ``url`` from a HEAD request, without the body.

    For a local file, its size and modification time play the same role.
    """
    path = local_path(url)
    if path is not None:
        info = path.stat()
        return f"{info.st_size}-{info.st_mtime_ns}"
    with _open(url, settings or FetchSettings.from_env(), {}, "HEAD") as resp:
        value = resp.headers.get("ETag") or resp.headers.get("Last-Modified")
        return str(value) if value else None
