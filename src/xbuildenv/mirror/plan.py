"""What a ``mirror sync`` will do, decided before any byte moves (and all ``--dry-run`` does).

Layout of a mirror::

    pyodide-cross-build-environments.json   stable index (the official file name)
    debug.json, nightly.json, nightly-debug.json
    <tag>/<file>                            archives from the official download prefix,
                                            at the same path below it, so the folder is
                                            also an XBUILDENV_MIRROR for the official index
    archives/<hash16>/<file>                archives from anywhere else

Each archive is either already in the destination with the right sha256 (``present``),
in this machine's archive store (``store``: copied, no download) or fetched from its
origin (``fetch``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlparse

from ..cache.store import ArchiveStore, url_key
from ..errors import MetadataError, MirrorError, UsageError
from ..index.cooldown import Cooldown
from ..index.releases import Release, Releases, channel_url, parse_index
from ..net.fetch import fetch_bytes
from ..net.storage import Storage
from ..net.urls import (
    OFFICIAL_PREFIX,
    local_path,
    mirror_origin,
    relative_path,
    remote_archive_problem,
    resolve_relative,
)
from .selection import CHANNELS, INDEX_NAMES, Selection, select

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass
class Item:
    """One archive of the mirror."""

    channel: str
    version: str
    origin_url: str
    path: str  # below the mirror's root
    sha256: str | None  # from the index; filled in after download when the index has none
    action: str = "fetch"  # "present" | "store" | "fetch"
    size: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "version": self.version,
            "path": self.path,
            "origin_url": self.origin_url,
            "sha256": self.sha256,
            "size_bytes": self.size,
            "action": self.action,
        }


@dataclass
class ChannelPlan:
    channel: str
    source: str  # the index it was read from
    index_name: str  # its file in the mirror
    doc: dict[str, Any]  # the source index as JSON (unknown fields are kept)
    items: list[Item] = field(default_factory=list)


@dataclass
class Plan:
    dest: str
    channels: list[ChannelPlan]
    items: list[Item]  # one per distinct archive path
    prune: list[str] = field(default_factory=list)  # filled in after the index is written

    def count(self, action: str) -> int:
        return sum(1 for i in self.items if i.action == action)

    def bytes(self, action: str) -> int:
        return sum(i.size or 0 for i in self.items if i.action == action)

    @property
    def to_fetch(self) -> list[Item]:
        return [i for i in self.items if i.action == "fetch"]

    @property
    def unknown_sizes(self) -> int:
        """How many archives to fetch have a size the origin did not tell."""
        return sum(1 for i in self.to_fetch if i.size is None)

    def to_json(
        self, indexes: list[str], pruned: list[str], *, dry_run: bool, known: bool | None = None
    ) -> dict[str, Any]:
        """``mirror sync --json``: the plan, and what a sync wrote (``indexes``, ``pruned``).

        ``known``: every size to fetch is known (default: no archive to fetch lacks one).
        """
        known = self.unknown_sizes == 0 if known is None else known
        return {
            "dest": self.dest,
            "dry_run": dry_run,
            "archives": [i.to_json() for i in self.items],
            "fetch_bytes": self.bytes("fetch") if known else None,
            "copy_bytes": self.bytes("store"),
            "indexes": indexes,
            "pruned": pruned,
        }


def archive_path(url: str, sha256: str | None, origin: str = OFFICIAL_PREFIX) -> str:
    """Where ``url``'s archive lives in the mirror (see the module docstring)."""
    rest = relative_path(url, origin)
    if rest is not None:
        return rest
    name = unquote(urlparse(url).path.rsplit("/", 1)[-1]) if "/" in url else url
    if not _SAFE_NAME.match(name):
        name = "archive" + "".join(re.findall(r"\.tar(?:\.[a-z0-9]+)?$|\.tgz$|\.zip$", name))
    return f"archives/{(sha256 or url_key(url))[:16]}/{name}"


def _check_scheme(index_source: str, url: str) -> None:
    """A remote index may only name remote archives (the rule installs keep too)."""
    problem = remote_archive_problem(index_source, url)
    if problem is not None:
        raise MirrorError(
            f"the release index {index_source} names {url}, which is not a remote archive "
            f"it may name ({problem})",
            "refusing to copy it into the mirror; check the index",
        )


def _load_index(source: str) -> tuple[dict[str, Any], dict[str, Release]]:
    """The index as JSON (to keep every field) and as checked releases, URLs absolute."""
    body = fetch_bytes(source).body
    releases = parse_index(body, f"release index {source}")
    doc = json.loads(body)
    for key, release in releases.items():
        url = resolve_relative(source, release.url)
        _check_scheme(source, url)
        releases[key] = replace(release, url=url)
    return doc, releases


def make_plan(
    storage: Storage,
    channels: list[str],
    selection: Selection,
    *,
    metadata: str | None = None,
    origin_prefix: str | None = None,
    store: ArchiveStore | None = None,
    sizes: bool = False,
    cooldown: Cooldown | None = None,
    note: Callable[[str], None] | None = None,
) -> Plan:
    """Read the channels' indexes and decide the action for every selected archive.

    ``origin_prefix`` is the download prefix whose archives keep their path in the
    mirror (default: ``XBUILDENV_MIRROR_ORIGIN``, ``mirror_origin`` in
    ``[tool.xbuildenv]``, else the official one). ``sizes`` asks the origin for the size
    of each archive still to fetch (a HEAD request each): what ``--dry-run`` reports.
    ``cooldown`` (``--exclude-newer``) leaves out releases published at or after its
    cut-off; ``note`` hears once per index how many were kept for want of a date.
    """
    if origin_prefix is None:
        from ..settings.config import load_project_config

        origin_prefix = mirror_origin(load_project_config())
    channels = list(dict.fromkeys(channels))  # each once, in the order given
    for channel in channels:
        if channel not in CHANNELS:
            raise UsageError(f"unknown channel {channel!r}", f"choose from: {', '.join(CHANNELS)}")
    if metadata and channels != ["stable"]:
        raise UsageError("--metadata names one index: it cannot be combined with --channel")
    plans: list[ChannelPlan] = []
    by_path: dict[str, Item] = {}
    for channel in channels:
        nightly, debug = CHANNELS[channel]
        source = metadata or channel_url(nightly, debug)
        doc, loaded = _load_index(source)
        releases = Releases(loaded)
        if cooldown is not None:
            releases = cooldown.apply(releases)
            if releases.undated and note is not None:
                note(
                    f"release index {source}: kept {len(releases.undated)} release(s) "
                    f"without published_at despite {cooldown.describe()}"
                )
        cplan = ChannelPlan(channel, source, INDEX_NAMES[channel], doc)
        for release in select(releases.values(), selection, nightly=nightly):
            path = archive_path(release.url, release.sha256, origin_prefix)
            item = by_path.get(path)
            if item is None:
                item = by_path[path] = Item(
                    channel, release.version, release.url, path, release.sha256
                )
            elif item.sha256 != release.sha256:
                raise MirrorError(
                    f"{path} is listed twice with different sha256 "
                    f"({item.channel} {item.version} and {channel} {release.version})",
                    "sync the channels one at a time into different folders",
                )
            cplan.items.append(Item(channel, release.version, release.url, path, release.sha256))
        plans.append(cplan)
    items = list(by_path.values())
    if not items:
        raise MirrorError(
            "nothing to mirror: the selection matches no release",
            "check --channel, --version and --python (see 'xbuildenv search --all')",
        )
    known = _known_hashes(storage, channels)
    for item in items:
        previous = next((sha for url, sha in known.items() if names_file([url], item.path)), None)
        _decide(storage, item, previous, store)
        if sizes and item.action == "fetch":
            item.size = _origin_size(item.origin_url)
    return Plan(storage.url, plans, items)


def _known_hashes(storage: Storage, channels: list[str]) -> dict[str, str]:
    """URL -> sha256 from the mirror's current indexes (for releases without a hash)."""
    found: dict[str, str] = {}
    for channel in channels:
        for url, sha in listed(storage, INDEX_NAMES[channel]).items():
            if sha:
                found[url] = sha
    return found


def listed(storage: Storage, index_name: str) -> dict[str, str | None]:
    """URL (relative, or absolute under some base URL) -> sha256 of an index in the mirror."""
    raw = storage.read_bytes(index_name)
    if raw is None:
        return {}
    try:
        releases = parse_index(raw, index_name)
    except MetadataError:
        return {}  # a damaged index lists nothing we must keep: the new one replaces it
    return {r.url: r.sha256 for r in releases.values()}


def names_file(urls: Iterable[str], name: str) -> bool:
    """Whether one of an index's URLs (relative, or under any base URL) is file ``name``."""
    return any(url == name or url.endswith("/" + name) for url in urls)


def _decide(storage: Storage, item: Item, previous: str | None, store: ArchiveStore | None) -> None:
    from .transfer import hash_of

    expected = item.sha256 or previous
    size = storage.size(item.path)
    if size is not None and expected is not None and hash_of(storage.chunks(item.path)) == expected:
        item.action, item.size, item.sha256 = "present", size, expected
        return
    cached = store.find(item.sha256) if store is not None else None
    if cached is not None:
        item.action, item.size = "store", cached.stat().st_size
        return
    item.action = "fetch"


def _origin_size(url: str) -> int | None:
    path = local_path(url)
    if path is not None:
        try:
            return path.stat().st_size
        except OSError:
            return None
    from ..errors import DownloadError
    from ..net.http import head

    try:
        headers = head(url)  # with the origin's credentials, like the download itself
    except (DownloadError, OSError, ValueError):
        return None  # the dry run says "unknown size" rather than failing
    length = (headers or {}).get("content-length")
    return int(length) if length and length.isdigit() else None
