"""Read ``pyodide-root/Makefile.envs`` the way GNU make would, without running make.

pyodide-build runs ``make -f Makefile.envs .output_vars`` and scrapes the output of
``set``; that needs make and bash, runs ``$(shell ...)`` commands, and is slow. This
module evaluates the subset of make the file uses:

* assignments ``=`` (recursive), ``:=``/``::=``/``:::=`` (simple), ``?=``, ``+=``
  and ``!=``, with the ``export``/``override``/``unexport`` prefixes;
* ``$(VAR)``, ``${VAR}``, ``$X``, ``$$``, substitution references ``$(VAR:a=b)`` and
  ``$(VAR:%.c=%.o)``, and the text functions (``subst``, ``patsubst``, ``word``, ...);
* comments, backslash continuation lines (folded to one space, as make does);
* ``ifdef``/``ifndef``/``ifeq``/``ifneq``/``else``/``endif``, evaluated against the
  variables seen so far and the environment, exactly as make would;
* ``define``/``endef`` blocks; rules and their recipes are skipped.

Nothing is ever executed: ``$(shell ...)``, ``!=`` and the other functions that would
run commands or read files (``wildcard``, ``eval``, ``call``, ...) are left as their
literal text, and the variables whose value contains one are reported in
:attr:`MakeVars.unresolved`. ``include`` is ignored, so the parser never reads another
file.
"""

import re
from collections.abc import Mapping
from pathlib import Path

from ..errors import MakefileEnvsError
from .make_vars import MakeVars, split_args

__all__ = ["parse_makefile_envs", "parse_makefile_text"]

_ASSIGN = re.compile(r"^(?P<name>[^\s:#=?+!]+)\s*(?P<op>\?=|:::=|::=|:=|\+=|!=|=)(?P<value>.*)$")


def fold_continuations(text: str) -> list[str]:
    """Logical lines: a backslash-newline and the blanks around it become one space."""
    out: list[str] = []
    pending: list[str] | None = None
    for raw in text.splitlines():
        trailing = len(raw) - len(raw.rstrip("\\"))
        continued = trailing % 2 == 1
        piece = raw[:-1] if continued else raw
        if pending is None:
            pending = [piece.rstrip() if continued else piece]
        else:
            stripped = piece.strip() if continued else piece.lstrip()
            if stripped or not continued:
                pending.append(stripped)
        if not continued:
            first, *rest = pending
            # Consecutive backslash-newlines collapse into a single space.
            out.append(
                " ".join([first, *[p for p in rest[:-1] if p], *rest[-1:]]) if rest else first
            )
            pending = None
    if pending is not None:  # a file ending in a backslash
        out.append(" ".join(p for p in pending if p))
    return out


def _strip_comment(line: str) -> str:
    """Drop an unescaped ``#`` and what follows; ``\\#`` stands for a literal ``#``."""
    i = 0
    while True:
        i = line.find("#", i)
        if i < 0:
            return line.replace("\\#", "#")
        if i > 0 and line[i - 1] == "\\":
            i += 1
            continue
        return line[:i].replace("\\#", "#")


class _Reader:
    """Walks the logical lines, keeping the conditional stack and the rule context."""

    def __init__(self, mv: MakeVars) -> None:
        self.mv = mv
        # One entry per open conditional: (enclosing block active, this branch active,
        # some branch already taken).
        self.stack: list[tuple[bool, bool, bool]] = []
        self.in_recipe = False
        self.define: tuple[str, str, bool] | None = None  # (name, op, export) being read
        self.define_lines: list[str] = []

    @property
    def active(self) -> bool:
        return not self.stack or self.stack[-1][1]

    def feed(self, line: str) -> None:
        if self.define is not None:
            if line.strip() == "endef" or line.strip().startswith("endef "):
                name, op, export = self.define
                self.define = None
                if self.active:
                    self.mv.assign(name, op, "\n".join(self.define_lines), export=export)
                return
            self.define_lines.append(line)
            return
        if line.startswith("\t") and self.in_recipe:
            return  # a recipe line: shell code, not makefile syntax
        # make keeps trailing blanks in a value (even before a comment): only the
        # left side is stripped.
        stripped = _strip_comment(line).lstrip()
        if not stripped.strip():
            return
        word, _, rest = stripped.rstrip().partition(" ")
        rest = rest.strip()
        if word in ("ifdef", "ifndef", "ifeq", "ifneq"):
            self._open(word, rest)
            return
        if word == "else":
            self._else(rest)
            return
        if word == "endif":
            if self.stack:
                self.stack.pop()
            return
        if not self.active:
            return
        self.in_recipe = False
        self._statement(stripped)

    def _open(self, kind: str, rest: str) -> None:
        outer = self.active
        cond = self._test(kind, rest) if outer else False
        self.stack.append((outer, outer and cond, outer and cond))

    def _else(self, rest: str) -> None:
        if not self.stack:
            return
        outer, _, taken = self.stack[-1]
        if taken or not outer:
            self.stack[-1] = (outer, False, taken)
            return
        word, _, cond_rest = rest.partition(" ")
        if word in ("ifdef", "ifndef", "ifeq", "ifneq"):
            cond = self._test(word, cond_rest.strip())
        else:
            cond = True
        self.stack[-1] = (outer, cond, cond)

    def _test(self, kind: str, rest: str) -> bool:
        if kind in ("ifdef", "ifndef"):
            name = self.mv.expand(rest).strip()
            # make's ifdef asks whether the value is non-empty, without expanding it.
            defined = self.mv.raw(name) not in (None, "")
            return defined if kind == "ifdef" else not defined
        pair = self._ifeq_args(rest)
        if pair is None:
            return False  # unparseable condition: take neither branch, never guess
        same = self.mv.expand(pair[0]).strip() == self.mv.expand(pair[1]).strip()
        return same if kind == "ifeq" else not same

    @staticmethod
    def _ifeq_args(rest: str) -> tuple[str, str] | None:
        if rest.startswith("(") and rest.endswith(")"):
            parts = split_args(rest[1:-1], 2)
            return (parts[0], parts[1]) if len(parts) == 2 else None
        m = re.fullmatch(r"""(["'])(.*?)\1\s+(["'])(.*?)\3""", rest)
        return (m.group(2), m.group(4)) if m else None

    def _statement(self, text: str) -> None:
        export: bool | None = None
        while True:
            head, _, tail = text.partition(" ")
            if head == "export" and tail:
                export, text = True, tail.lstrip()
            elif head == "override" and tail:
                text = tail.lstrip()
            elif head in ("export", "unexport"):
                self.mv.set_export(tail, head == "export")
                return
            else:
                break
        if head in ("include", "-include", "sinclude", "vpath", "undefine", "private"):
            return  # we never read other files; the rest does not touch our values
        if head == "define":
            name_op = tail.split()
            name = name_op[0] if name_op else ""
            op = name_op[1] if len(name_op) > 1 else "="
            self.define, self.define_lines = (name, op, bool(export)), []
            return
        m = _ASSIGN.match(text)
        if m:
            name = self.mv.expand(m.group("name"))
            self.mv.assign(name, m.group("op"), m.group("value").lstrip(), export=export)
            return
        if export:
            self.mv.set_export(text, True)  # "export A B": mark them exported
            return
        if ":" in text:
            self.in_recipe = True  # a rule: the tab-indented lines after it are shell


def parse_makefile_text(text: str, environ: Mapping[str, str] | None = None) -> MakeVars:
    """Evaluate makefile ``text`` with ``environ`` as make's environment."""
    mv = MakeVars(environ)
    reader = _Reader(mv)
    for line in fold_continuations(text):
        reader.feed(line)
    return mv


def parse_makefile_envs(pyodide_root: Path, environ: Mapping[str, str] | None = None) -> MakeVars:
    """Evaluate ``pyodide_root/Makefile.envs`` as pyodide-build's make call would.

    ``environ`` is the environment make would inherit (default: none); PYODIDE_ROOT
    is set to ``pyodide_root`` on top of it, as pyodide-build does.
    """
    from ..cache.layout import MAKEFILE_ENVS

    path = pyodide_root / MAKEFILE_ENVS
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise MakefileEnvsError(
            f"{path} does not exist", "the environment is incomplete; reinstall it with --force"
        ) from None
    except OSError as exc:
        raise MakefileEnvsError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_makefile_text(text, {**(environ or {}), "PYODIDE_ROOT": str(pyodide_root)})


def pinned_version(pyodide_root: Path, source: str) -> str:
    """The version of a pinned pyodide-root (``PYODIDE_ROOT``, a source tree; ``source``
    says which, for the message): its version folder, else its ``PYODIDE_VERSION``."""
    import os

    from ..cache.layout import version_dir_of

    version_dir = version_dir_of(pyodide_root)
    if version_dir is not None:
        return version_dir.name
    made = parse_makefile_envs(pyodide_root, dict(os.environ)).exported()
    version = made.get("PYODIDE_VERSION", "").strip()
    if not version:
        raise MakefileEnvsError(
            f"the pyodide-root {pyodide_root} (from {source}) names no PYODIDE_VERSION",
            "check its Makefile.envs",
        )
    return version
