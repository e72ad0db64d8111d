"""How ``search`` shows releases: its ``--json`` shape (``search`` in docs/reference/json.md)
and the table.

Plain functions from releases (and whether each fits) to output, so the CLI only
prints and the formats are easy to test and keep stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from ..index.releases import Release
from .output import table


def pyodide_build_range(release: Release) -> str:
    low, high = release.min_pyodide_build_version, release.max_pyodide_build_version
    if low and high:
        return f"{low} - {high}"
    if low:
        return f">={low}"
    return f"<={high}" if high else ""


class Checked(NamedTuple):
    """What ``compatible`` was decided against."""

    python: str  # the target's "major.minor"
    pyodide_build: str | None  # the pyodide-build version whose range was checked, if any
    pyodide_build_source: str | None  # "target environment" or "--pyodide-build-version"

    def to_json(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "pyodide_build": self.pyodide_build,
            "pyodide_build_source": self.pyodide_build_source,
        }


def checked_line(checked: Checked) -> str:
    """The line under the table that says what decided "Compatible"."""
    if checked.pyodide_build is None:
        return (
            f"Compatible: Python {checked.python}; no pyodide-build range checked "
            "(pyodide-build is not installed in the target environment; "
            "pass --pyodide-build-version V to check one)"
        )
    return (
        f"Compatible: Python {checked.python} and pyodide-build {checked.pyodide_build} "
        f"(from the {checked.pyodide_build_source})"
    )


def as_json(
    rows: Sequence[tuple[Release, bool]], source: str | None, checked: Checked | None = None
) -> dict[str, Any]:
    """``{"environments": [...], "compatibility": {...}}``.

    Each entry gets ``source`` when a channel was chosen. ``compatibility`` names what
    ``compatible`` was decided against (``pyodide_build`` is null when no range was
    checked).
    """
    out: dict[str, Any] = {"environments": [r.to_json(ok, source) for r, ok in rows]}
    if checked is not None:
        out["compatibility"] = checked.to_json()
    return out


def as_table(rows: Sequence[tuple[Release, bool]], source: str | None) -> str:
    headers = ["Version", "Python", "Emscripten", "pyodide-build", "Published", "Compatible"]
    if source is not None:
        headers.append("Source")
    body = []
    for r, ok in rows:
        row = [
            r.version,
            r.python_version,
            r.emscripten_version,
            pyodide_build_range(r),
            (r.published_at or "")[:10],
            "yes" if ok else "no",
        ]
        if source is not None:
            row.append(source)
        body.append(row)
    return table(headers, body)
