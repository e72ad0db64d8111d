"""A store over plain HTTP(S): read with GET/HEAD, written with PUT and DELETE.

What a fleet's remote store (``XBUILDENV_REMOTE_STORE=https://...``) needs from a
server that speaks WebDAV-style uploads: nginx with ``dav_methods PUT DELETE``,
Artifactory or Nexus "raw"/"generic" repositories. Every request carries the URL's
credentials (userinfo, else netrc; :mod:`.auth`). A PUT replaces the object at once
for readers on these servers. Listing is not part of HTTP, so a mirror (which lists)
cannot be written here; a remote store never lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import DownloadError, HTTPStatusError, StorageError
from .storage import Storage

__all__ = ["HttpStorage"]


class HttpStorage(Storage):
    def __init__(self, url: str) -> None:
        from ..settings.config import env_number
        from .fetch import FetchSettings
        from .storage import ENV_STORAGE_TIMEOUT

        self.url = url.rstrip("/")
        # A store that is down must cost seconds, then the origin is used: few retries.
        timeout = env_number(ENV_STORAGE_TIMEOUT, 10.0, minimum=0.1)
        self.settings = FetchSettings(retries=1, timeout=timeout, deadline=30.0)

    def _error(self, verb: str, name: str, exc: DownloadError) -> StorageError:
        return StorageError(f"cannot {verb} {self.location(name)}: {exc.message}", exc.hint)

    def size(self, name: str) -> int | None:
        from .http import head

        try:
            headers = head(self.location(name), self.settings)
        except DownloadError as exc:
            raise self._error("read", name, exc) from None
        if headers is None:
            return None
        length = headers.get("content-length", "")
        return int(length) if length.isdigit() else 0

    def chunks(self, name: str) -> Iterator[bytes]:
        from .fetch import Download

        try:
            yield from Download(self.location(name), self.settings).chunks()
        except DownloadError as exc:
            if isinstance(exc, HTTPStatusError) and exc.status == 404:
                raise FileNotFoundError(self.location(name)) from None
            raise self._error("read", name, exc) from None

    def put_file(self, local: Path, name: str) -> None:
        from .http import send

        try:
            with local.open("rb") as fh:
                send(self.location(name), "PUT", fh, local.stat().st_size, self.settings)
        except DownloadError as exc:
            raise self._error("write", name, exc) from None

    def put_bytes(self, name: str, data: bytes) -> None:
        from .http import send

        try:
            send(self.location(name), "PUT", data, settings=self.settings)
        except DownloadError as exc:
            raise self._error("write", name, exc) from None

    def delete(self, name: str) -> None:
        from .http import send

        try:
            send(self.location(name), "DELETE", settings=self.settings)
        except DownloadError as exc:
            raise self._error("delete", name, exc) from None

    def list_files(self) -> list[str]:
        raise StorageError(
            f"cannot list {self.url}: HTTP has no listing",
            "give a folder or an object-store URL for a mirror",
        )
