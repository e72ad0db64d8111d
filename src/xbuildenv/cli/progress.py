"""Progress and status lines on stderr, only where a person is watching.

A bar is drawn when stderr is a terminal, ``CI`` is unset and ``--quiet`` is off;
otherwise nothing is drawn at all, so logs stay clean. Colour follows the usual
conventions (``NO_COLOR`` disables it, ``FORCE_COLOR`` forces it).
"""

from __future__ import annotations

import os
import sys
import time

from .units import format_bytes

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from typing import TextIO


def interactive(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    return stream.isatty() and not os.environ.get("CI")


def use_colour(stream: TextIO | None = None) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return (stream or sys.stderr).isatty()


class ProgressBar:
    """A one-line download bar; a no-op when not interactive."""

    def __init__(self, label: str, enabled: bool, stream: TextIO | None = None) -> None:
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and (total is None or done < total):
            return
        self._last = now
        rate = done / max(now - self.started, 1e-6)
        if total:
            width = 30
            filled = int(width * min(done / total, 1.0))
            bar = "#" * filled + "-" * (width - filled)
            sizes = f"{format_bytes(done)}/{format_bytes(total)}"
            text = f"{self.label} [{bar}] {sizes} {format_bytes(rate)}/s"
        else:
            text = f"{self.label} {format_bytes(done)} {format_bytes(rate)}/s"
        self.stream.write("\r" + text[:120] + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
