"""How ``search`` shows releases: the JSON schema of the SPEC and the table.

Plain functions from releases (and whether each fits) to output, so the CLI only
prints and the formats are easy to test and keep stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..index.releases import Release
from .output import table


def pyodide_build_range(release: Release) -> str:
    low, high = release.min_pyodide_build_version, release.max_pyodide_build_version
    if low and high:
        return f"{low} - {high}"
    if low:
        return f">={low}"
    return f"<={high}" if high else ""


def as_json(rows: Sequence[tuple[Release, bool]], source: str | None) -> dict[str, Any]:
    """``{"environments": [...]}``; each entry gets ``source`` when a channel was chosen."""
    return {"environments": [r.to_json(ok, source) for r, ok in rows]}


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
