"""Where an archive is fetched from: a mirror in front of its origin, and the fleet's
remote store. Decisions from configuration (``XBUILDENV_MIRROR``,
``XBUILDENV_REMOTE_STORE`` and their ``[tool.xbuildenv]`` keys) kept out of the manager.
"""

from __future__ import annotations

from collections.abc import Callable

from ..settings.config import ProjectConfig, env_number, setting
from .request import InstallSource

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .remote_store import RemoteStore

__all__ = ["mirrored_source", "remote_store_for"]

# Read here, not in remote_store.py: an install without a remote store (most) does not
# import that module (nor socket, nor the storage backends).
ENV_REMOTE_STORE = "XBUILDENV_REMOTE_STORE"
ENV_REMOTE_READ_ONLY = "XBUILDENV_REMOTE_STORE_READ_ONLY"
ENV_REMOTE_WAIT = "XBUILDENV_REMOTE_STORE_WAIT"  # seconds to wait for another runner
DEFAULT_WAIT = 60.0


def _no_weaker(url: str, origin: str) -> bool:
    """An index's fallback URL may only be remote, and as strong as the archive's own."""
    scheme = url.split("://", 1)[0] if "://" in url else "file"
    origin_scheme = origin.split("://", 1)[0] if "://" in origin else "file"
    return origin_scheme == "https" or (origin_scheme == "http" and scheme != "https")


def mirrored_source(
    project: ProjectConfig, source: InstallSource, release_origin: str | None
) -> InstallSource:
    """The archive from ``XBUILDENV_MIRROR`` (the official URL kept as the fallback),
    or from a mirror's index whose releases name their origin (``origin_url``)."""
    from dataclasses import replace

    from ..net.urls import ENV_MIRROR, mirror_origin, mirrored_url

    if source.sha256 is None:
        return source  # without a published hash a mirror's copy cannot be checked
    if release_origin and _no_weaker(source.url, release_origin):
        # a release of a mirror made by `mirror sync`: its origin is the fallback
        source = replace(source, origin_url=release_origin)
    mirror = setting(project, ENV_MIRROR, "mirror")
    if not mirror:
        return source
    url = mirrored_url(source.url, mirror, mirror_origin(project))
    return source if url is None else replace(source, url=url, origin_url=source.url)


def remote_store_for(
    project: ProjectConfig, warn: Callable[[str], None] | None, upload: bool
) -> RemoteStore | None:
    url, read_only = remote_store_setting(project)
    if url is None:
        return None
    from .remote_store import RemoteStore

    wait = env_number(ENV_REMOTE_WAIT, DEFAULT_WAIT)
    return RemoteStore(url, upload=upload and not read_only, wait=wait, warn=warn)


def remote_store_setting(project: ProjectConfig) -> tuple[str | None, bool]:
    """The fleet's store (``XBUILDENV_REMOTE_STORE`` / ``remote_store``) and whether this
    runner only reads it. One reading for archives and SDKs alike: an untrusted runner
    configured read-only in pyproject.toml must not upload an SDK either."""
    from ..errors import ConfigError

    url = setting(project, ENV_REMOTE_STORE, "remote_store") or None
    raw = (setting(project, ENV_REMOTE_READ_ONLY, "remote_store_read_only") or "").strip()
    if raw.lower() in ("1", "true", "yes", "on"):
        return url, True
    if raw.lower() in ("", "0", "false", "no", "off"):
        return url, False
    raise ConfigError(
        f"{ENV_REMOTE_READ_ONLY} (or remote_store_read_only) is {raw!r}, not a yes or no",
        "use 1/true to only read the remote store, 0/false to also write it",
    )


def mirror_setting(project: ProjectConfig) -> str | None:
    """The mirror prefix (``XBUILDENV_MIRROR`` / ``mirror``), if one is configured."""
    from ..net.urls import ENV_MIRROR

    return setting(project, ENV_MIRROR, "mirror") or None
