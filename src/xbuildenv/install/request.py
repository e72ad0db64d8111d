"""One install, described once: where the archive comes from and how to install it.

The manager resolves what the user asked (a version, a series, a URL, the default) and
the configuration (link mode, size cap, mirror, remote store) into an
:class:`InstallRequest`; the installer, the routes in :mod:`.materialize` and the
stream in :mod:`.pipeline` read what they need from it, so a new setting is one new
field here rather than one more parameter in every function between.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings.config import DEFAULT_MAX_UNPACKED

TYPE_CHECKING = False  # typing and the heavier modules stay out of start-up
if TYPE_CHECKING:
    from ..cache.treelink import LinkMode
    from ..net.fetch import FetchSettings
    from .remote_store import RemoteStore

__all__ = ["InstallRequest", "InstallSource"]


@dataclass(frozen=True)
class InstallSource:
    """Where a version comes from: a release of an index, or a bare URL."""

    version: str
    url: str
    sha256: str | None = None
    release_version: str | None = None  # set for index releases: names the CDN in the index
    origin_url: str | None = None  # when ``url`` is a mirror's copy: where it came from
    label: str | None = None  # written to .xbuildenv-source: the channel, or the URL


@dataclass(frozen=True, kw_only=True)
class InstallRequest:
    """Everything one install needs; the defaults are what the CLI does.

    ``source`` names the version folder and the archive (a mirror's copy keeps its
    origin as the fallback); ``python`` ("X.Y") is the host Python the markers are
    written for.
    """

    source: InstallSource
    python: str
    force: bool = False  # reinstall even when installed
    activate: bool = True
    max_unpacked: int = DEFAULT_MAX_UNPACKED
    link_mode: LinkMode = "hardlink"  # how to share a tree another root already unpacked
    use_store: bool = True  # the machine-wide archive store and tree sharing
    settings: FetchSettings | None = None  # None: from the environment
    remote: RemoteStore | None = None  # the fleet's shared store (XBUILDENV_REMOTE_STORE)

    @property
    def version(self) -> str:
        return self.source.version
