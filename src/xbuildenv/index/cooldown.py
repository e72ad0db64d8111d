"""A cooldown: releases published after a cut-off are not seen (``--exclude-newer``).

The option's name and meaning are uv's: the value is a moment, an RFC 3339 timestamp
(``2026-01-31T12:00:00Z``) or a date (``2026-01-31``, midnight in the local time zone),
or a span back from now, friendly (``7 days``, ``1 week 12 hours``) or ISO 8601
(``P7D``, ``P1W``, ``PT36H``). As in uv, what counts is "published before the
cut-off": a release published at or after it is held back. A release without
``published_at`` cannot be judged and is kept (the caller says so once, with ``-v``).
"""

from __future__ import annotations

import re

from ..errors import UsageError
from ..settings.config import ProjectConfig, env_str
from .releases import Release, Releases

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from datetime import datetime, timedelta

# datetime and the patterns below are loaded on first use: every install reads this
# module to learn that no cut-off is set (the usual case), and needs neither.

__all__ = [
    "ENV_EXCLUDE_NEWER",
    "KEY_EXCLUDE_NEWER",
    "Cooldown",
    "cooldown_from",
    "parse_exclude_newer",
]

ENV_EXCLUDE_NEWER = "XBUILDENV_EXCLUDE_NEWER"
KEY_EXCLUDE_NEWER = "exclude_newer"  # in [tool.xbuildenv]

_UNITS = {
    "s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "d": 86400, "day": 86400, "w": 604800, "week": 604800,
}  # fmt: skip
_FRIENDLY = r"(\d+(?:\.\d+)?)\s*([a-z]+?)s?(?=\d|\s|,|$)"
_ISO = r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
_HINT = (
    "give a date (2026-01-31), an RFC 3339 time (2026-01-31T12:00:00Z) or a span back "
    "from now (7 days, 1 week, P7D)"
)


def _span(text: str) -> timedelta | None:
    """``7 days`` / ``1 week 2 days`` / ``P7D`` as a span; None when it is not one."""
    from datetime import timedelta

    iso = re.match(_ISO, text.upper())
    if iso is not None and text.upper() not in ("P", "PT") and not text.upper().endswith("T"):
        parts = {k: int(v) for k, v in iso.groupdict().items() if v}
        return timedelta(
            weeks=parts.get("w", 0),
            days=parts.get("d", 0),
            hours=parts.get("h", 0),
            minutes=parts.get("m", 0),
            seconds=parts.get("s", 0),
        )
    lowered = text.lower().strip().removesuffix(" ago")
    pieces = re.findall(_FRIENDLY, lowered)
    if not pieces or re.sub(_FRIENDLY, "", lowered).replace(",", "").strip():
        return None  # something besides "<number> <unit>" pairs
    seconds = 0.0
    for number, unit in pieces:
        if unit not in _UNITS:
            return None
        seconds += float(number) * _UNITS[unit]
    return timedelta(seconds=seconds)


def parse_exclude_newer(text: str, source: str, now: datetime | None = None) -> datetime:
    """The cut-off ``text`` names, in UTC; :class:`UsageError` naming ``source`` (the
    option, variable or key it came from) when it names none."""
    from datetime import UTC, datetime

    value = text.strip()
    span = _span(value) if value else None
    if span is not None:
        return (now or datetime.now(UTC)) - span
    try:
        when = datetime.fromisoformat(value.replace("z", "Z")) if value else None
    except ValueError:
        when = None
    if when is None:
        raise UsageError(f"{source} {text!r} is not a date, a time or a span", _HINT)
    if when.tzinfo is None:
        when = when.astimezone()  # a plain date or time: the local time zone, as uv
    return when.astimezone(UTC)


def _published(text: str) -> datetime | None:
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class Cooldown:
    """A cut-off and where it came from (for messages)."""

    __slots__ = ("cutoff", "source")

    def __init__(self, cutoff: datetime, source: str) -> None:
        self.cutoff = cutoff
        self.source = source

    def describe(self) -> str:
        return f"{self.source} ({self.cutoff.strftime('%Y-%m-%dT%H:%M:%SZ')})"

    def apply(self, releases: Releases) -> Releases:
        """The releases published before the cut-off; those held back are listed in
        ``held`` (version -> published_at), those without a usable date in
        ``undated`` (kept)."""
        kept: dict[str, Release] = {}
        held: dict[str, str] = {}
        undated: list[str] = []
        for key, release in releases.items():
            when = _published(release.published_at) if release.published_at else None
            if when is None:
                undated.append(key)
                kept[key] = release
            elif when >= self.cutoff:
                held[key] = release.published_at or ""
            else:
                kept[key] = release
        out = Releases(kept, releases.broken)
        out.held = held
        out.undated = undated
        out.cooldown = self.describe()
        out.checked = releases.checked
        return out


def cooldown_from(project: ProjectConfig, given: str | None = None) -> Cooldown | None:
    """The cut-off in force: ``given`` (``--exclude-newer``), else the variable, else
    the ``[tool.xbuildenv]`` key; None when none is set (an empty value is unset)."""
    if given is not None and given.strip():
        return Cooldown(parse_exclude_newer(given, "--exclude-newer"), f"--exclude-newer {given}")
    text = env_str(ENV_EXCLUDE_NEWER)
    if text is not None:
        return Cooldown(parse_exclude_newer(text, ENV_EXCLUDE_NEWER), f"{ENV_EXCLUDE_NEWER}={text}")
    raw = project.own.get(KEY_EXCLUDE_NEWER)
    if raw is None or raw == "":
        return None
    where = f"{KEY_EXCLUDE_NEWER} in {project.path}"
    if hasattr(raw, "isoformat"):  # an unquoted TOML date or date-time
        raw = raw.isoformat()
    if not isinstance(raw, str):
        raise UsageError(f"{where} must be a string or a date, not {type(raw).__name__}", _HINT)
    return Cooldown(parse_exclude_newer(raw, where), f"{where} = {raw!r}")
