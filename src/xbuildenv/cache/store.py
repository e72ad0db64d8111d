"""The machine-wide archive store: verified archives kept once, by content.

Layout, under ``<pyodide-build cache>/xbuildenv-store/`` (or ``XBUILDENV_CACHE_DIR``)::

    archives/<sha256>           a verified archive, named by its own hash
    trees/<sha256>/             its unpacked tree, linked by every root (trees.py)
    urls/<sha256 of URL>.json   {"url", "sha256", "etag", "last_modified"}: for
                                archives installed by URL, whose hash no index gives
    index/                      cached release indexes (see index/index_cache.py)
    tmp/                        downloads in progress
    .locks/

Every root on the machine reads from it, so a second virtual environment installs
without downloading. Entries appear by atomic rename of a fully written, verified
file; a damaged entry is noticed when it is next streamed (the hash is always
checked) and is then dropped and fetched again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..fs.files import write_atomic
from ..fs.paths import make_real_dir, read_bounded, real_dir
from ..redaction import redact, strip_userinfo
from ..settings.config import env_str
from .layout import STORE_ARCHIVES, STORE_INDEX, STORE_LOCKS, STORE_NAME, STORE_TMP, STORE_URLS

ENV_CACHE_DIR = "XBUILDENV_CACHE_DIR"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def store_dir() -> Path:
    """Where the store lives; inside pyodide-build's cache folder unless overridden."""
    override = env_str(ENV_CACHE_DIR)
    if override:
        return Path(override).expanduser().absolute()
    from ..settings.dirs import cache_home

    return cache_home() / STORE_NAME


def url_key(url: str) -> str:
    """The key of what ``url`` names: the same with or without its credentials (and
    no hash of a password on disk)."""
    return hashlib.sha256(strip_userinfo(url).encode()).hexdigest()


@dataclass(frozen=True)
class UrlRecord:
    url: str
    sha256: str
    etag: str | None = None
    last_modified: str | None = None


class ArchiveStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or store_dir()

    @property
    def archives(self) -> Path:
        return self.path / STORE_ARCHIVES

    def archive_path(self, sha256: str) -> Path:
        key = sha256.lower()
        if not _HEX64.match(key):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.archives / key

    def find(self, sha256: str | None) -> Path | None:
        """The stored archive, if the store's folder and the entry are real (no links)."""
        if not sha256 or not _HEX64.match(sha256.lower()) or not real_dir(self.archives):
            return None
        path = self.archive_path(sha256)
        try:
            return path if stat.S_ISREG(os.lstat(path).st_mode) else None
        except OSError:
            return None

    def discard(self, sha256: str) -> None:
        """Drop a damaged entry (its bytes did not match its name)."""
        if real_dir(self.archives):
            try:
                self.archive_path(sha256).unlink(missing_ok=True)
            except OSError:
                pass  # a read-only store: the damaged copy is skipped again next time

    # --- writing --------------------------------------------------------------
    def open_temp(self) -> tuple[Path, IO[bytes]]:
        """A private temporary file to tee a download into."""
        tmp = make_real_dir(self.path / STORE_TMP)
        path = tmp / f"{os.urandom(16).hex()}-{os.getpid()}.part"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0))
        return path, os.fdopen(fd, "wb")

    def commit(self, temp: Path, sha256: str) -> Path:
        """Move a verified download into place (atomic; a concurrent writer is harmless)."""
        make_real_dir(self.archives)
        final = self.archive_path(sha256)
        os.replace(temp, final)
        return final

    # --- URL references -------------------------------------------------------
    def url_record(self, url: str) -> UrlRecord | None:
        folder = self.path / STORE_URLS
        if not real_dir(folder):
            return None
        try:
            data: dict[str, Any] = json.loads(read_bounded(folder / f"{url_key(url)}.json"))
            record = UrlRecord(
                data["url"], data["sha256"], data.get("etag"), data.get("last_modified")
            )
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None
        if not isinstance(record.sha256, str) or not _HEX64.match(record.sha256.lower()):
            return None  # a damaged record: forget it
        if record.etag is not None and not isinstance(record.etag, str):
            return None
        return record

    def remember_url(self, record: UrlRecord) -> None:
        folder = make_real_dir(self.path / STORE_URLS)
        # the URL as it may be shown: no userinfo, no signature (the key finds it)
        shown = {**record.__dict__, "url": redact(strip_userinfo(record.url))}
        write_atomic(folder / f"{url_key(record.url)}.json", json.dumps(shown).encode())

    def tidy(self) -> None:
        """Remove what killed processes left: partial downloads and stale lock files."""
        from ..fs.locks import sweep_stale_locks

        try:
            # Only a real folder: a planted symlink must not make us delete elsewhere.
            if stat.S_ISDIR(os.lstat(self.path / STORE_TMP).st_mode):
                self.tidy_temp()
        except OSError:
            pass
        sweep_stale_locks(self.path / STORE_LOCKS)

    def tidy_temp(self, older_than: float = 24 * 3600) -> None:
        """Remove partial downloads and half-written records left by killed processes.

        Every temporary name carries its writer's pid: a file whose process is gone
        (or that is older than a day, in case the pid was reused) is debris; so are
        the folders of tree publishers that are gone (see trees.py).
        """
        import time

        from .trees import TreeStore

        TreeStore(self.path).tidy(older_than)

        now = time.time()
        for folder in (self.path / STORE_TMP, self.path / STORE_INDEX, self.path / STORE_URLS):
            if not real_dir(folder):
                continue  # a symlink planted in its place: never clean someone's folder
            try:
                entries = [e for e in os.scandir(folder) if e.name.endswith((".part", ".tmp"))]
            except OSError:
                continue
            for entry in entries:
                alive = _writer_alive(entry.name)
                try:
                    if not alive or now - entry.stat().st_mtime > older_than:
                        Path(entry.path).unlink(missing_ok=True)
                except OSError:
                    pass


def _writer_alive(name: str) -> bool:
    """Whether the process named in a temporary file's name still runs.

    Downloads are ``<random hex>-<pid>.part``; records are ``.<name>.<pid>.<hex>.tmp``.
    """
    try:
        if name.endswith(".part"):
            pid = int(name[: -len(".part")].rsplit("-", 1)[-1])
        else:
            pid = int(name.rsplit(".", 3)[-3])
    except (ValueError, IndexError):
        return False
    return pid > 0 and pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (the writer named in a temporary name)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
