"""Quantities as people read them: one formatter for sizes, used by every command."""

from __future__ import annotations

__all__ = ["format_bytes"]


def format_bytes(n: float) -> str:
    """Decimal units, as download tools print them: ``512 B``, ``6.2 MB``, ``1.3 GB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable: GB ends the loop")  # pragma: no cover
