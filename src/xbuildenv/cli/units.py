"""Quantities as people read them: one formatter for sizes and one for durations."""

from __future__ import annotations

__all__ = ["format_bytes", "format_seconds"]


def format_bytes(n: float) -> str:
    """Decimal units, as download tools print them: ``512 B``, ``6.2 MB``, ``1.3 GB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable: GB ends the loop")  # pragma: no cover


def format_seconds(s: float) -> str:
    """A duration as a clock shows it: ``0:07``, ``12:30``, ``1:02:03``."""
    s = max(int(s + 0.5), 0)
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"
