"""Progress and status lines on stderr, only where a person is watching.

A bar (bytes, speed and time left) is drawn when stderr is a terminal, ``CI`` is unset
and ``--quiet`` is off. Otherwise nothing is drawn while the download runs, so logs stay
clean, and when it is done one line says what was fetched: URL, bytes, seconds, MB/s
and route. Colour follows the usual conventions (``NO_COLOR`` disables it,
``FORCE_COLOR`` forces it: see :mod:`.output`). Only ``install`` imports this module.
"""

from __future__ import annotations

import os
import sys
import time

from .output import info, warn
from .units import format_bytes, format_seconds

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from typing import Any, TextIO

    from ..install.reporter import Phase


def interactive(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    return stream.isatty() and not os.environ.get("CI")


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
            left = format_seconds((total - done) / rate) if rate > 0 else "-:--"
            text = (
                f"{self.label} [{bar}] {format_bytes(done)}/{format_bytes(total)} "
                f"{format_bytes(rate)}/s ETA {left}"
            )
        else:
            text = f"{self.label} {format_bytes(done)} {format_bytes(rate)}/s"
        self.stream.write("\r" + text[:120] + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# What the bar says while each phase of an install runs (others keep the last label).
_LABELS = {
    "link": "linking",
    "remote": "fetching",
    "unpack": "unpacking",
    "download": "downloading",
    "verify": "verifying",
}


class InstallReporter:
    """The CLI's :class:`~xbuildenv.install.reporter.Reporter`: bytes to the bar (when
    interactive), waits as status lines (unless ``--quiet``), warnings always."""

    def __init__(self, quiet: bool, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.bar = ProgressBar("downloading", interactive(stream) and not quiet, stream)

    def phase(self, name: Phase) -> None:
        label = _LABELS.get(name)
        if label is not None and label != self.bar.label:
            self.bar.label = label
            self.bar.started = time.monotonic()  # the rate is per phase

    def progress(self, done: int, total: int | None) -> None:
        self.bar.update(done, total)

    def waiting(self, message: str) -> None:
        info(message, self.quiet)

    def warning(self, message: str) -> None:
        warn(message)

    def close(self) -> None:
        self.bar.close()


def fetched_line(result: Any) -> str | None:
    """``fetched URL: N bytes in S s (R MB/s) via ROUTE`` for an install that read an
    archive (``None`` when nothing was: installed already, or files shared with another
    root): the one line a CI log gets."""
    if result.route in (None, "linked") or result.url is None:
        return None
    seconds = dict(result.phases).get("fetch", 0.0)
    size = result.archive_bytes or 0
    rate = size / seconds / 1e6 if seconds > 0 else 0.0
    return (
        f"fetched {result.url}: {size} bytes in {seconds:.2f} s ({rate:.1f} MB/s) "
        f"via {result.route}"
    )
