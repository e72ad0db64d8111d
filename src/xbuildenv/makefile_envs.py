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

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import XBuildEnvError

_ASSIGN = re.compile(r"^(?P<name>[^\s:#=?+!]+)\s*(?P<op>\?=|:::=|::=|:=|\+=|!=|=)(?P<value>.*)$")
_MAX_DEPTH = 64  # deeper nesting than any real makefile: a loop we failed to see


class MakefileEnvsError(XBuildEnvError):
    """Makefile.envs is missing or cannot be read."""


@dataclass
class _Var:
    value: str
    recursive: bool  # expanded on use (``=``) rather than at assignment (``:=``)
    origin: str  # "environment" or "file"
    exported: bool


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
            out.append(" ".join([first, *[p for p in rest[:-1] if p], *rest[-1:]]) if rest else first)
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


def _split_args(text: str, limit: int | None = None) -> list[str]:
    """Split a function's arguments on top-level commas (at most ``limit`` pieces)."""
    args: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch == "," and depth == 0 and (limit is None or len(args) < limit - 1):
            args.append(text[start:i])
            start = i + 1
    args.append(text[start:])
    return args


def _pattern_sub(pattern: str, replacement: str, word: str) -> str:
    """make's ``patsubst`` on one word (``%`` matches any stem)."""
    if "%" not in pattern:
        return replacement if word == pattern else word
    head, _, tail = pattern.partition("%")
    if word.startswith(head) and word.endswith(tail) and len(word) >= len(head) + len(tail):
        stem = word[len(head) : len(word) - len(tail)]
        return replacement.replace("%", stem, 1) if "%" in replacement else replacement
    return word


def _int_arg(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return 0


class MakeVars:
    """The variables of one makefile after reading it (values expanded on request)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._vars: dict[str, _Var] = {}
        self.unresolved: set[str] = set()  # names whose value kept an unrun command
        self._export_all = False
        for name, value in (environ or {}).items():
            # Environment values are taken literally: a "$" in a user's variable is
            # data, never a reference to expand.
            self._vars[name] = _Var(value, False, "environment", True)
        self._expanding: list[str] = []
        self._functions: dict[str, Callable[[str], str]] = {
            "subst": self._f_subst,
            "patsubst": self._f_patsubst,
            "strip": lambda a: " ".join(self.expand(a).split()),
            "findstring": self._f_findstring,
            "filter": lambda a: self._f_filter(a, keep=True),
            "filter-out": lambda a: self._f_filter(a, keep=False),
            "sort": lambda a: " ".join(sorted(set(self.expand(a).split()))),
            "word": self._f_word,
            "wordlist": self._f_wordlist,
            "words": lambda a: str(len(self.expand(a).split())),
            "firstword": lambda a: next(iter(self.expand(a).split()), ""),
            "lastword": lambda a: (self.expand(a).split() or [""])[-1],
            "addprefix": lambda a: self._f_affix(a, prefix=True),
            "addsuffix": lambda a: self._f_affix(a, prefix=False),
            "notdir": lambda a: " ".join(w.rsplit("/", 1)[-1] for w in self.expand(a).split()),
            "dir": lambda a: " ".join(
                (w.rsplit("/", 1)[0] + "/") if "/" in w else "./" for w in self.expand(a).split()
            ),
            "if": self._f_if,
            "or": self._f_or,
            "and": self._f_and,
            "value": lambda a: self._vars[n].value if (n := self.expand(a).strip()) in self._vars else "",
            "origin": self._f_origin,
        }

    # --- reading ------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self._vars

    def names(self) -> list[str]:
        return sorted(self._vars)

    def get(self, name: str) -> str | None:
        """The expanded value of ``name``; None when it is not defined."""
        var = self._vars.get(name)
        if var is None:
            return None
        return self._value_of(name, var)

    def is_exported(self, name: str) -> bool:
        var = self._vars.get(name)
        return var is not None and (var.exported or self._export_all)

    def exported(self) -> dict[str, str]:
        """What a recipe would see in its environment: every exported variable, expanded."""
        return {n: self._value_of(n, v) for n, v in self._vars.items() if v.exported or self._export_all}

    def _value_of(self, name: str, var: _Var) -> str:
        if not var.recursive:
            return var.value
        if name in self._expanding or len(self._expanding) > _MAX_DEPTH:
            self.unresolved.add(name)  # make stops with "references itself"; we yield ""
            return ""
        self._expanding.append(name)
        try:
            return self.expand(var.value, owner=name)
        finally:
            self._expanding.pop()

    # --- expansion ----------------------------------------------------------
    def expand(self, text: str, owner: str | None = None) -> str:
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            j = text.find("$", i)
            if j < 0:
                out.append(text[i:])
                break
            out.append(text[i:j])
            if j + 1 >= n:
                break  # a lone "$" at the end expands to nothing
            ch = text[j + 1]
            if ch == "$":
                out.append("$")
                i = j + 2
            elif ch in "({":
                close = ")" if ch == "(" else "}"
                end = self._matching(text, j + 1, ch, close)
                if end < 0:  # unterminated: make errors out; keep the text as it is
                    out.append(text[j:])
                    break
                out.append(self._reference(text[j + 2 : end], text[j : end + 1], owner))
                i = end + 1
            else:
                out.append(self.get(ch) or "")
                i = j + 2
        return "".join(out)

    @staticmethod
    def _matching(text: str, start: int, open_: str, close: str) -> int:
        depth = 0
        for k in range(start, len(text)):
            if text[k] == open_:
                depth += 1
            elif text[k] == close:
                depth -= 1
                if depth == 0:
                    return k
        return -1

    def _reference(self, inner: str, literal: str, owner: str | None) -> str:
        m = re.match(r"([a-z-]+)[ \t]", inner)
        if m:
            func = self._functions.get(m.group(1))
            if func is not None:
                return func(inner[m.end() :].lstrip(" \t"))
            if m.group(1) in {"shell", "wildcard", "eval", "call", "foreach", "file", "info",
                              "warning", "error", "realpath", "abspath", "let", "guile"}:
                # Would run a command, read the disk or print: never done here.
                if owner is not None:
                    self.unresolved.add(owner)
                return literal
        name_part, colon, subst = self._split_subst_ref(inner)
        name = self.expand(name_part)
        value = self.get(name) or ""
        if colon:
            frm, _, to = subst.partition("=")
            frm, to = self.expand(frm), self.expand(to)
            if "%" not in frm:
                frm, to = "%" + frm, "%" + to
            value = " ".join(_pattern_sub(frm, to, w) for w in value.split())
        return value

    @staticmethod
    def _split_subst_ref(inner: str) -> tuple[str, bool, str]:
        """``VAR:a=b`` -> ("VAR", True, "a=b"), ignoring colons inside nested references."""
        depth = 0
        for k, ch in enumerate(inner):
            if ch in "({":
                depth += 1
            elif ch in ")}":
                depth -= 1
            elif ch == ":" and depth == 0 and "=" in inner[k:]:
                return inner[:k], True, inner[k + 1 :]
        return inner, False, ""

    # --- functions ----------------------------------------------------------
    def _f_subst(self, args: str) -> str:
        frm, to, text = (self.expand(a) for a in _split_args(args, 3) + ["", ""])[:3]
        return text.replace(frm, to) if frm else text

    def _f_patsubst(self, args: str) -> str:
        pat, rep, text = (self.expand(a) for a in _split_args(args, 3) + ["", ""])[:3]
        return " ".join(_pattern_sub(pat, rep, w) for w in text.split())

    def _f_findstring(self, args: str) -> str:
        find, text = (self.expand(a) for a in _split_args(args, 2) + [""])[:2]
        return find if find in text else ""

    def _f_filter(self, args: str, *, keep: bool) -> str:
        pats, text = (self.expand(a).split() for a in _split_args(args, 2) + [""])[:2]

        def hit(w: str) -> bool:
            return any(_pattern_sub(p, "\0", w) == "\0" for p in pats)

        return " ".join(w for w in text if hit(w) == keep)

    def _f_word(self, args: str) -> str:
        num, text = (self.expand(a) for a in _split_args(args, 2) + [""])[:2]
        words, k = text.split(), _int_arg(num)
        return words[k - 1] if 1 <= k <= len(words) else ""

    def _f_wordlist(self, args: str) -> str:
        s, e, text = (self.expand(a) for a in _split_args(args, 3) + ["", ""])[:3]
        start, end = _int_arg(s), _int_arg(e)
        return " ".join(text.split()[max(start, 1) - 1 : end]) if start >= 1 else ""

    def _f_affix(self, args: str, *, prefix: bool) -> str:
        affix, text = (self.expand(a) for a in _split_args(args, 2) + [""])[:2]
        return " ".join(affix + w if prefix else w + affix for w in text.split())

    def _f_if(self, args: str) -> str:
        parts = _split_args(args, 3) + ["", ""]
        cond = self.expand(parts[0]).strip()
        return self.expand(parts[1] if cond else parts[2])

    def _f_or(self, args: str) -> str:
        for part in _split_args(args):
            value = self.expand(part).strip()
            if value:
                return value
        return ""

    def _f_and(self, args: str) -> str:
        value = ""
        for part in _split_args(args):
            value = self.expand(part).strip()
            if not value:
                return ""
        return value

    def _f_origin(self, args: str) -> str:
        var = self._vars.get(self.expand(args).strip())
        return "undefined" if var is None else var.origin

    # --- assignment ---------------------------------------------------------
    def assign(self, name: str, op: str, value: str, *, export: bool | None = None) -> None:
        old = self._vars.get(name)
        exported = bool(old and old.exported) if export is None else export
        if op == "?=":
            if old is not None:
                if export:
                    old.exported = True
                return
            self._vars[name] = _Var(value, True, "file", exported)
        elif op == "=":
            self._vars[name] = _Var(value, True, "file", exported)
        elif op in (":=", "::=", ":::="):
            self._vars[name] = _Var(self.expand(value, owner=name), False, "file", exported)
        elif op == "!=":
            # A shell assignment: keep the command as text instead of running it.
            self.unresolved.add(name)
            self._vars[name] = _Var(f"$(shell {value})".replace("$", "$$"), True, "file", exported)
        elif op == "+=":
            if old is None:
                self._vars[name] = _Var(value, True, "file", exported)
            elif old.recursive:
                old.value = f"{old.value} {value}" if old.value else value
                old.exported = exported
            else:
                added = self.expand(value, owner=name)
                old.value = f"{old.value} {added}" if old.value else added
                old.exported = exported

    def set_export(self, names: str, exported: bool) -> None:
        words = self.expand(names).split()
        if not words:
            self._export_all = exported
        for word in words:
            if word in self._vars:
                self._vars[word].exported = exported
            elif exported:
                self._vars[word] = _Var("", False, "file", True)
                del self._vars[word]  # exporting an undefined name defines nothing


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
        stripped = _strip_comment(line).strip()
        if not stripped:
            return
        word, _, rest = stripped.partition(" ")
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
            var = self.mv._vars.get(name)
            # make's ifdef asks whether the value is non-empty, without expanding it.
            defined = var is not None and var.value != ""
            return defined if kind == "ifdef" else not defined
        pair = self._ifeq_args(rest)
        if pair is None:
            return False  # unparseable condition: take neither branch, never guess
        same = self.mv.expand(pair[0]).strip() == self.mv.expand(pair[1]).strip()
        return same if kind == "ifeq" else not same

    @staticmethod
    def _ifeq_args(rest: str) -> tuple[str, str] | None:
        if rest.startswith("(") and rest.endswith(")"):
            parts = _split_args(rest[1:-1], 2)
            return (parts[0], parts[1]) if len(parts) == 2 else None
        m = re.fullmatch(r"""(["'])(.*?)\1\s+(["'])(.*?)\3""", rest)
        return (m.group(2), m.group(4)) if m else None

    def _statement(self, text: str) -> None:
        export: bool | None = None
        while True:
            head, _, tail = text.partition(" ")
            if head == "export" and tail:
                export, text = True, tail.strip()
            elif head == "override" and tail:
                text = tail.strip()
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


def parse_makefile_envs(
    pyodide_root: Path, environ: Mapping[str, str] | None = None
) -> MakeVars:
    """Evaluate ``pyodide_root/Makefile.envs`` as pyodide-build's make call would.

    ``environ`` is the environment make would inherit (default: none); PYODIDE_ROOT
    is set to ``pyodide_root`` on top of it, as pyodide-build does.
    """
    path = pyodide_root / "Makefile.envs"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise MakefileEnvsError(
            f"{path} does not exist", "the environment is incomplete; reinstall it with --force"
        ) from None
    except OSError as exc:
        raise MakefileEnvsError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_makefile_text(text, {**(environ or {}), "PYODIDE_ROOT": str(pyodide_root)})
