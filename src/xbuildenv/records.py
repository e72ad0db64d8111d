"""A light base for the small value classes on the start-up path.

``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis``, ``tokenize``):
about 15 ms on every command. The read commands (``version``, ``versions``, ``root``)
must answer before a person notices, so the few classes they touch derive from
:class:`Record` instead: fields are ``__slots__``, and equality and ``repr`` come
from them. Subclasses write their own ``__init__``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Record:
    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({args})"


def iso_utc(seconds: float | None) -> str | None:
    """A POSIX time as ISO 8601 UTC (``2026-01-02T03:04:05Z``), the one form of time in
    every JSON output; ``None`` (or 0: never) stays ``None``."""
    if not seconds:
        return None
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def iso_utc_text(text: str | None) -> str | None:
    """A time written by someone else (an index's ``published_at``) in the same form as
    :func:`iso_utc` when it is ISO 8601 (a time without an offset is taken as UTC);
    anything else is passed on as written, since dropping it would lose information."""
    if not text:
        return None
    if len(text) == 20 and text.endswith("Z") and text[10] == "T":
        return text  # already the form we print (the official indexes')
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
