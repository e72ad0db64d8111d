"""The command examples of the README and the docs pages, extracted for the tests.

A shell block (```sh, ```console, ```bash) holds examples: each line (``$ `` prompts and
trailing comments dropped) is a command. An ``xbuildenv`` command is run by the tests
as written; a command of another tool (``pipx``, ``pyodide``) is checked to be one of
the tools named in :data:`OTHER_TOOLS`, and an ``xbuildenv`` call inside it
(``eval "$(xbuildenv env)"``) is run.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

SHELL_FENCES = ("sh", "console", "bash", "shell")
FENCE = re.compile(r"^```(\w*)\s*$")
INNER = re.compile(r"\$\((xbuildenv [^)]*)\)")

# The tools examples may call besides xbuildenv, and why the tests do not run them.
OTHER_TOOLS = {
    "pipx": "installs from PyPI (the test installs the checkout instead)",
    "uv": "installs from PyPI (the test installs the checkout instead)",
    "pip": "installs from PyPI (the test installs the checkout instead)",
    "python3": "the checkout's own install lines, run by .ci/run itself",
    "pyodide": "pyodide-build's command; the interop tests run it",
    "eval": "runs the xbuildenv command inside it",
    "source": "runs the xbuildenv command inside it",
    "export": "sets a variable for the commands after it",
    "cd": "changes folder",
    "git": "clones this repository",
    "pytest": "the test suite itself",
    "python": "benchmark scripts, run by hand (minutes each)",
}


@dataclass(frozen=True)
class Example:
    """One command line of a shell block: where it is, and the words to run."""

    file: str
    line: int
    text: str
    block: int

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)

    @property
    def xbuildenv_calls(self) -> list[str]:
        """The xbuildenv command lines this example runs (itself, or inside ``$(...)``)."""
        if self.words and self.words[0] == "xbuildenv":
            return [self.text]
        return INNER.findall(self.text)


def _lines(block: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join continuation lines, drop prompts, comments-only and blank lines."""
    joined: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in block:
        line = raw.strip()
        if line.startswith("$ "):
            line = line[2:]
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line and not line.startswith("#"):
            joined.append((start, line))
    return joined


def extract(path: Path, root: Path) -> list[Example]:
    found: list[Example] = []
    fence: str | None = None
    block: list[tuple[int, str]] = []
    blocks = 0
    for number, text in enumerate(path.read_text().splitlines(), 1):
        match = FENCE.match(text.strip())
        if fence is None and match:
            fence = match.group(1)
            block = []
            continue
        if fence is not None and text.strip() == "```":
            # a block that starts with "#!" is a script file shown whole, not commands
            script = bool(block) and block[0][1].startswith("#!")
            if fence in SHELL_FENCES and not script:
                blocks += 1
                name = str(path.relative_to(root))
                found += [Example(name, n, line, blocks) for n, line in _lines(block)]
            fence = None
            continue
        if fence is not None:
            block.append((number, text))
    return found


def all_examples(root: Path) -> list[Example]:
    """Every example of the README and of every page under docs/."""
    files = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    return [e for f in files for e in extract(f, root)]
