"""Running the external tools the build commands drive (pip, uv, git, emsdk).

Their output is passed on line by line as it comes (an Emscripten download takes
minutes; silence would look like a hang) and the last lines are kept, so that a
failure can be reported as one line plus the tool's own words.
"""

from __future__ import annotations

import subprocess
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolError

TAIL_LINES = 25


@dataclass(frozen=True)
class ToolResult:
    code: int
    tail: list[str]

    def error_line(self, *prefixes: str, first: bool = False) -> str:
        """The last (or ``first``) line starting with one of ``prefixes``, without the
        prefix; else the last non-blank line."""
        lines = [line.strip() for line in self.tail if line.strip()]
        for line in lines if first else reversed(lines):
            for p in prefixes:
                if line.startswith(p):
                    return line[len(p) :].strip() if p.endswith(":") else line
        return lines[-1] if lines else ""


def run_tool(
    cmd: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> ToolResult:
    """Run ``cmd`` with stdout and stderr merged; a missing program is a ToolError."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except FileNotFoundError:
        raise ToolError(
            f"cannot run {cmd[0]}: program not found", "install it or fix PATH"
        ) from None
    except OSError as exc:
        raise ToolError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from None
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            if on_line is not None:
                on_line(line)
        code = proc.wait()
    except BaseException:
        proc.kill()  # Ctrl-C or SIGTERM: do not leave the tool running behind us
        proc.wait()
        raise
    return ToolResult(code, list(tail))
