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

_PEP440 = re.compile(
    r"""v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d+)?)?
    (?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?
    (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_INF = float("inf")


def installed_version_key(name: str) -> tuple[Any, ...]:
    match = _PEP440.fullmatch(name.strip())
    if match is None:
        parts = [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name)]
        return (1, tuple(p for p in parts if p != (1, 0, "")))
    release = [int(p) for p in match["release"].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
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
    return (0, (int(match["epoch"] or 0), tuple(release), pre, post, dev))
