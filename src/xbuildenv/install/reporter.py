"""What an install tells whoever is watching: one object instead of five callbacks.

The install path calls a :class:`Reporter` when a phase starts, as bytes arrive, when
it waits for another process's lock, and for one-line warnings (a refused mirror
copy, a remote store that is down). Nothing it does changes the install. The CLI draws
a bar and prints lines from it (:mod:`xbuildenv.cli.progress`); a library user passes
nothing and gets :class:`NullReporter`, or subclasses it for what they care about.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

__all__ = ["NullReporter", "Phase", "Reporter", "WarningsTo"]

# The phases of an install, in the order they can start. "link", "remote", "unpack"
# and "download" are the routes a tree can take (see :mod:`.materialize`); a failed
# route starts the next one, so a phase may follow a later one.
Phase = Literal[
    "resolve",  # which release (the index)
    "link",  # sharing the files another root on this machine unpacked
    "remote",  # copying the archive from the fleet's remote store
    "unpack",  # unpacking the archive from this machine's store
    "download",  # download, hash and unpack in one pass
    "verify",  # the whole archive's sha256 against the published one
    "index",  # the package index
    "publish",  # markers, then one rename
    "activate",  # the ``xbuildenv`` link
]


class Reporter(Protocol):
    """Progress of one install. Calls come from the installing thread only."""

    def phase(self, name: Phase) -> None:
        """``name`` starts."""

    def progress(self, done: int, total: int | None) -> None:
        """Bytes of the archive read so far, and its size when the server said."""

    def waiting(self, message: str) -> None:
        """Another process holds a lock this install needs (said once per lock)."""

    def warning(self, message: str) -> None:
        """Something went wrong that the install worked around."""


class NullReporter:
    """Hears everything, says nothing: the default, and a base to subclass."""

    def phase(self, name: Phase) -> None:
        pass

    def progress(self, done: int, total: int | None) -> None:
        pass

    def waiting(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass


class WarningsTo(NullReporter):
    """Only the warnings, to ``warn`` (the manager's warning hook when no reporter is
    given, so a library user's warnings go where they went before)."""

    def __init__(self, warn: Callable[[str], None] | None) -> None:
        self._warn = warn

    def warning(self, message: str) -> None:
        if self._warn is not None:
            self._warn(message)
