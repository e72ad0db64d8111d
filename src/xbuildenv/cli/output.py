"""Printing for the CLI: tables, JSON, the one-line error format, and the redacting
streams every line goes out through."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from typing import Any, TextIO


# The version of the JSON shapes in docs/reference/json.md: raised when a shape changes in a way
# that can break a reader (a key removed or its meaning changed), not when keys are added.
JSON_SCHEMA = 1


def print_json(data: dict[str, Any], stream: TextIO | None = None) -> None:
    """One JSON object, tagged with the schema version (first key)."""
    import json  # only the --json outputs pay for it

    tagged = {"schema": JSON_SCHEMA, **data}
    (stream or sys.stdout).write(json.dumps(tagged, indent=2) + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def use_colour(stream: TextIO | None = None) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return (stream or sys.stderr).isatty()


def _paint(text: str, code: str, stream: TextIO) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if use_colour(stream) else text


class RedactingStream:
    """A text stream that masks URL passwords, signatures and known secrets in
    everything written to it (:func:`xbuildenv.redaction.redact`). The CLI puts its
    stdout and stderr behind it, so no message, warning, ``-v`` detail, progress line,
    tool output, traceback or JSON can show a secret, whoever wrote it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        from ..redaction import redact

        return self._stream.write(redact(text))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def error(message: str) -> None:
    sys.stderr.write(f"{_paint('error', '1;31', sys.stderr)}: {message}\n")


def warn(message: str) -> None:
    sys.stderr.write(f"{_paint('warning', '1;33', sys.stderr)}: {message}\n")


def info(message: str, quiet: bool = False) -> None:
    if not quiet:
        sys.stderr.write(message + "\n")
