"""The release index as a manager reads it: which index, its warnings once, the
cooldown, and one more reading when a download does not match it.

:class:`~xbuildenv.manager.XBuildEnvManager` holds one :class:`IndexReader`; the
index's rules (cache, max age, cooldown, choice) stay in the modules it calls.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import ChecksumError, UsageError
from .index_cache import IndexPolicy, load_releases
from .releases import Release, Releases, channel_url

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from collections.abc import Callable

    from .cooldown import Cooldown

__all__ = ["IndexReader"]


class IndexReader:
    """The index of a channel, or the one given (``metadata_url``), read under
    ``policy`` (max age, ``--refresh``, ``--offline``) and ``cooldown``.

    ``warn`` hears of malformed releases (once per index and reader), ``note`` of
    releases kept for want of a date (what ``-v`` adds).
    """

    def __init__(
        self,
        metadata_url: str | None,
        policy: IndexPolicy,
        cooldown: Cooldown | None,
        *,
        warn: Callable[[str], None] | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.metadata_url = metadata_url
        self.policy = policy
        self.cooldown = cooldown
        self.warn = warn
        self.note = note
        self._warned: set[str] = set()
        self._checked: dict[str, bool] = {}  # index -> read from its source this time

    def check_channel(self, nightly: bool, debug: bool) -> None:
        """A given index is the one index: it names no channel to choose besides."""
        if self.metadata_url and (nightly or debug):
            raise UsageError("--metadata cannot be combined with --nightly or --debug")

    def url(self, nightly: bool, debug: bool) -> str:
        """The index read for the channel ``(nightly, debug)``: the given one, if any."""
        return self.metadata_url or channel_url(nightly, debug)

    def releases(self, *, nightly: bool = False, debug: bool = False) -> Releases:
        """The usable releases of the index; malformed ones are left out with a warning
        (once per index) and listed in ``Releases.broken``."""
        self.check_channel(nightly, debug)
        source = self.url(nightly, debug)
        releases = load_releases(source, self.policy, warn=self.warn)
        self._checked[source] = releases.checked
        note = releases.describe_broken(f"release index {source}")
        first = source not in self._warned
        self._warned.add(source)
        if note is not None and self.warn is not None and first:
            self.warn(note)
        if self.cooldown is not None:
            releases = self.cooldown.apply(releases)
            if releases.undated and self.note is not None and first:
                self.note(
                    f"release index {source}: kept {len(releases.undated)} release(s) "
                    f"without published_at despite {self.cooldown.describe()}"
                )
        return releases

    def replaced(
        self,
        exc: ChecksumError,
        release: Release,
        nightly: bool,
        debug: bool,
        warning: Callable[[str], None],
    ) -> Release:
        """A download did not match the index: publishers replace archives in place
        (pyodide #5752, #6378). Ask the index again once, past its max age; when the
        release's entry changed, the new entry is returned (``warning`` hears of it)
        and the archive is verified against it. Only a mismatch against an index read
        just now is an error, and it says which of the two it was."""
        index = self.url(nightly, debug)
        if self._checked.get(index, True) or self.policy.offline:
            why = (
                "the cached release index (--offline: not fetched again)"
                if self.policy.offline
                else "the release index, fetched just now"
            )
            raise ChecksumError(f"{exc.message}; it does not match {why}", exc.hint) from None
        self.policy = replace(self.policy, refresh=True)
        fresh = self.releases(nightly=nightly, debug=debug).get(release.version)
        if fresh is None or (fresh.sha256, fresh.url) == (release.sha256, release.url):
            raise ChecksumError(
                f"{exc.message}; the release index was fetched again and still says "
                f"{release.sha256}",
                exc.hint,
            ) from None
        warning(
            f"release {release.version} was replaced upstream (sha256 {release.sha256} in "
            f"the cached index, {fresh.sha256} now); verifying against the new one"
        )
        return fresh
