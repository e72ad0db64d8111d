"""Ordering installed versions without importing ``packaging`` (start-up time).

``xbuildenv versions`` must answer in milliseconds, and ``packaging.version`` (which
imports ``typing``) costs more than the rest of the command. This key orders every
public PEP 440 version the way ``packaging`` does (epoch, release, pre, post, dev);
anything else, such as folders named after a URL, sorts after them by text with
numbers compared as numbers. ``index.compatibility.version_key`` stays the reference for the
release index, where the full rules matter.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Compiled on first use: the usual folder names (``0.29.4``) never need it.
_PEP440 = r"""v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d+)?)?
    (?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?
    (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?"""
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_INF = float("inf")


def installed_version_key(name: str) -> tuple[Any, ...]:
    text = name.strip()
    numbers = text.split(".")
    if all(part.isdecimal() for part in numbers):
        # A plain release (``0.29.4``), as the pattern below would read it: ``isdecimal``
        # is what ``\d`` matches, so no name takes another path than it would there.
        return (0, (0, _release(numbers), (_INF, 0), -_INF, _INF))
    match = re.fullmatch(_PEP440, text, re.VERBOSE | re.IGNORECASE)
    if match is None:
        parts = [(0, int(t), "") if t.isdecimal() else (1, 0, t) for t in re.split(r"(\d+)", name)]
        return (1, tuple(p for p in parts if p != (1, 0, "")))
    release = _release(match["release"].split("."))
    has_pre = match["pre_l"] is not None
    has_post = match["post_n1"] is not None or match["post_l"] is not None
    has_dev = match["dev_l"] is not None
    if has_pre:
        pre: tuple[float, int] = (_PRE_RANK[match["pre_l"].lower()], int(match["pre_n"] or 0))
    elif has_dev and not has_post:
        pre = (-_INF, 0)  # 1.0.dev0 comes before 1.0a1
    else:
        pre = (_INF, 0)
    post = int(match["post_n1"] or match["post_n2"] or 0) if has_post else -_INF
    dev = int(match["dev_n"] or 0) if has_dev else _INF
    return (0, (int(match["epoch"] or 0), release, pre, post, dev))


def _release(parts: list[str]) -> tuple[int, ...]:
    """``1.2.0`` -> ``(1, 2)``: trailing zeros do not count (``1.0 == 1`` in PEP 440)."""
    release = [int(p) for p in parts]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    return tuple(release)
