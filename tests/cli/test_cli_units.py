"""Durations and sizes as the CLI prints them."""

from __future__ import annotations

import pytest

from xbuildenv.cli.units import format_seconds


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(-3, "0:00"), (7.4, "0:07"), (750, "12:30"), (3599.6, "1:00:00"), (3723, "1:02:03")],
)
def test_durations_read_like_a_clock(seconds: float, shown: str) -> None:
    assert format_seconds(seconds) == shown
