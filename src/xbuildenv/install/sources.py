"""Where an install's archive comes from, and which build a version folder holds.

Plain decisions the manager takes before it installs: the folder an archive named by URL
gets, the label ``.xbuildenv-source`` records (the channel, or a custom index), whether
an installed build of another channel is replaced, and the (possibly mirrored) source of
a release from an index.
"""

from __future__ import annotations

from ..cache.layout import check_version_name, url_to_version
from ..cache.root_layout import RootLayout
from ..errors import InvalidVersionNameError, MetadataError, UsageError
from ..index.releases import OFFICIAL_INDEXES, Release, channel_name
from ..net.urls import remote_archive_problem
from ..settings.config import ProjectConfig
from .origins import mirrored_source
from .request import InstallSource

__all__ = ["channel_of", "label_for", "release_source", "replacement_note", "source_from_url"]

CHANNELS = ("stable", "stable-debug", "nightly", "nightly-debug")


def source_from_url(url: str) -> InstallSource:
    """An archive named by URL or path: its version folder is named after the URL."""
    if not url.strip():
        raise UsageError("--url is empty", "give the URL or path of an archive")
    name = url_to_version(url)
    try:
        check_version_name(name)
    except InvalidVersionNameError as exc:
        shown = url if len(url) <= 60 else url[:57] + "..."
        raise UsageError(
            f"--url {shown!r} cannot name a version folder: {exc.reason}",
            "use a shorter URL (e.g. a redirect) or serve it from an index",
        ) from None
    return InstallSource(name, url, label=url)


def channel_of(label: str | None) -> str:
    """The channel a recorded source stands for: an unrecorded one, a custom index and a
    URL are taken as stable (as pyodide-build's #414 keeps an unlabelled environment for
    a stable request); only a debug or nightly build differs from them."""
    return label if label in CHANNELS else "stable"


def label_for(metadata_url: str | None, nightly: bool, debug: bool) -> str:
    """What ``.xbuildenv-source`` records for a release install: the channel, or the
    index given with ``--metadata`` when it is none of the official ones."""
    if metadata_url is None:
        return channel_name(nightly, debug)
    for flags in ((False, False), (False, True), (True, False), (True, True)):
        if metadata_url == OFFICIAL_INDEXES[flags]:
            return channel_name(*flags)
    return metadata_url


def replacement_note(layout: RootLayout, release: Release, label: str, force: bool) -> str | None:
    """The line saying an installed build of ``release`` from another channel is
    replaced; None when it stays (same channel, or the very archive installed)."""
    if force or not layout.is_installed(release.version):
        return None
    recorded = layout.source_of(release.version)
    if channel_of(recorded) == channel_of(label):
        return None
    if release.sha256 is not None and release.sha256 == layout.archive_of(release.version):
        return None
    return (
        f"{release.version} is installed from {recorded or 'an unrecorded source'}; "
        f"replacing it with the {label} build (the installed one stays until the new "
        "one is complete)"
    )


def release_source(
    project: ProjectConfig, index: str, release: Release, label: str
) -> InstallSource:
    """The archive of ``release`` from ``index``, from the mirror when one is configured."""
    problem = remote_archive_problem(index, release.url)
    if problem is not None:
        raise MetadataError(
            f"release {release.version!r} of the remote index {index} names "
            f"{release.url!r}; {problem}",
            "nothing was read; report the index to its publisher",
        )
    check_version_name(release.version)
    source = InstallSource(
        release.version, release.url, release.sha256, release.version, label=label
    )
    return mirrored_source(project, source, release.origin_url)
