"""Release indexes, fetched at most once a day (by default) and revalidated cheaply.

A cached index is reused while it is younger than the maximum age
(``XBUILDENV_INDEX_MAX_AGE`` seconds or ``index_max_age`` in ``[tool.xbuildenv]``,
default 24 h). After that it is revalidated with ``If-None-Match`` /
``If-Modified-Since``; a 304 costs no body. ``--refresh`` forces a fetch;
``--offline`` never touches the network. When the network fails and a stale copy
exists, the copy is used and a one-line warning says so.

Local paths are never cached: reading them is as cheap as reading the cache.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..cache.layout import STORE_INDEX
from ..cache.store import store_dir, url_key
from ..errors import ConfigError, DownloadError, MetadataError
from ..fs.files import write_atomic
from ..fs.paths import make_real_dir, read_bounded, real_dir
from ..net.auth import lend
from ..net.fetch import fetch_bytes
from ..net.urls import local_path, resolve_relative
from ..redaction import redact, strip_userinfo
from ..settings.config import ENV_INDEX_MAX_AGE, ProjectConfig, setting
from .releases import Releases, parse_index

DEFAULT_MAX_AGE = 24 * 3600.0


def index_max_age(project: ProjectConfig) -> float:
    """Seconds a downloaded index is reused without asking the server (the setting)."""
    raw = setting(project, ENV_INDEX_MAX_AGE, "index_max_age")
    if raw is None:
        return DEFAULT_MAX_AGE
    try:
        value = float(raw)
        if value != value or abs(value) == float("inf"):
            raise ValueError(raw)
        return max(value, 0.0)
    except ValueError:
        raise ConfigError(
            f"index max age {raw!r} is not a number of seconds",
            f"fix {ENV_INDEX_MAX_AGE} or index_max_age in [tool.xbuildenv]",
        ) from None


MAX_INDEX_BYTES = 64 << 20  # the real stable index is ~40 KB


@dataclass(frozen=True)
class IndexPolicy:
    max_age: float = DEFAULT_MAX_AGE
    refresh: bool = False
    offline: bool = False


def _paths(folder: Path, url: str) -> tuple[Path, Path]:
    key = url_key(url)[:32]
    return folder / f"{key}.json", folder / f"{key}.meta.json"


def load_releases(
    source: str,
    policy: IndexPolicy | None = None,
    *,
    folder: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> Releases:
    """The releases of ``source`` (URL or path); release URLs resolved against it.

    A malformed release is left out (see ``Releases.broken``), not fatal.
    """
    policy = policy or IndexPolicy()
    folder = folder or store_dir() / STORE_INDEX
    lend(source)  # the archives it names on its host use its credentials
    body, cached, checked = _index_bytes(source, policy, folder, warn)
    try:
        releases = parse_index(body, f"release index {source}", tolerant=True)
    except MetadataError:
        if not cached:
            raise
        # Our own copy is damaged (a bad disk, a killed writer, a hand edit), not the
        # server's: drop it and fetch again.
        _discard(folder, source)
        if policy.offline:
            raise MetadataError(
                f"the cached copy of the release index {source} is damaged and was removed",
                "run the command again without --offline to fetch it again",
            ) from None
        body, _, checked = _index_bytes(source, replace(policy, refresh=True), folder, warn)
        releases = parse_index(body, f"release index {source}", tolerant=True)
    out = releases.with_urls(lambda url: resolve_relative(source, url))
    out.checked = checked
    return out


def _discard(folder: Path, source: str) -> None:
    for path in _paths(folder, source):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _index_bytes(
    source: str, policy: IndexPolicy, folder: Path, warn: Callable[[str], None] | None
) -> tuple[bytes, bool, bool]:
    """The index's bytes, whether they are our cached copy, and whether the server (or
    the file) was asked just now (a 304 confirms the copy: it counts as asked)."""
    if local_path(source) is not None:
        return fetch_bytes(source).body, False, True
    body_path, meta_path = _paths(folder, source)
    cached: bytes | None = None
    meta: dict[str, object] = {}
    try:
        if not real_dir(folder):
            raise OSError("not our folder")  # a symlink in its place: never read through it
        cached = read_bounded(body_path, MAX_INDEX_BYTES)
        loaded = json.loads(read_bounded(meta_path))
        meta = loaded if isinstance(loaded, dict) else {}
    except (OSError, ValueError, RecursionError):
        cached = None
    if policy.offline:
        if cached is None:
            raise MetadataError(
                f"--offline: no cached copy of the release index {source}",
                "run once without --offline to cache it",
            )
        return cached, True, False
    fetched_at = meta.get("fetched_at")
    age = time.time() - fetched_at if isinstance(fetched_at, (int, float)) else None
    if cached is not None and not policy.refresh and age is not None and 0 <= age < policy.max_age:
        return cached, True, False

    headers: dict[str, str] = {}
    if cached is not None and not policy.refresh:
        for key, header in (("etag", "If-None-Match"), ("last_modified", "If-Modified-Since")):
            value = meta.get(key)
            # Only a plain one-line value: a damaged record must not break the request.
            if isinstance(value, str) and value.isprintable() and len(value) < 1024:
                headers[header] = value
    try:
        response = fetch_bytes(source, headers=headers)
    except DownloadError as exc:
        if cached is None:
            raise
        if warn is not None:
            warn(f"could not refresh the release index ({exc.message}); using the cached copy")
        return cached, True, False
    if response.status == 304 and cached is not None:
        _save(body_path, meta_path, None, {**meta, "fetched_at": time.time()})
        return cached, True, True
    # Never cache a document that is not an index (single bad releases are left out later).
    parse_index(response.body, f"release index {source}", tolerant=True)
    _save(
        body_path,
        meta_path,
        response.body,
        {
            "url": redact(strip_userinfo(source)),
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            "fetched_at": time.time(),
        },
    )
    return response.body, False, True


def _save(body_path: Path, meta_path: Path, body: bytes | None, meta: dict[str, object]) -> None:
    """Best effort: a cache we cannot write is a slower run, not a failure."""
    try:
        make_real_dir(body_path.parent)
        if body is not None:
            write_atomic(body_path, body)
        write_atomic(meta_path, json.dumps(meta).encode())
    except OSError:
        pass
