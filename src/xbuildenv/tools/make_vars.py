"""Make variables and their expansion: the evaluator behind :mod:`makefile_envs`.

:class:`MakeVars` holds variables with make's two flavours (recursive ``=`` and simple
``:=``), their origin and export flag, and expands text the way GNU make does:
``$(VAR)``, ``${VAR}``, ``$X``, ``$$``, substitution references and the text functions.
Functions that would run a command or read the disk are never called; they expand to
their own literal text and the variable is listed in :attr:`MakeVars.unresolved`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_MAX_DEPTH = 64  # deeper nesting than any real makefile: a loop we failed to see


@dataclass
class _Var:
    value: str
    recursive: bool  # expanded on use (``=``) rather than at assignment (``:=``)
    origin: str  # "environment" or "file"
    exported: bool


def split_args(text: str, limit: int | None = None) -> list[str]:
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
        self._export_names: set[str] = set()
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
            "value": lambda a: (
                self._vars[n].value if (n := self.expand(a).strip()) in self._vars else ""
            ),
            "origin": self._f_origin,
        }

    # --- reading ------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self._vars

    def names(self) -> list[str]:
        return sorted(self._vars)

    def raw(self, name: str) -> str | None:
        """The unexpanded value of ``name`` (None when it is not defined)."""
        var = self._vars.get(name)
        return None if var is None else var.value

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
        return {
            n: self._value_of(n, v) for n, v in self._vars.items() if v.exported or self._export_all
        }

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
            if m.group(1) in {
                "shell",
                "wildcard",
                "eval",
                "call",
                "foreach",
                "file",
                "info",
                "warning",
                "error",
                "realpath",
                "abspath",
                "let",
                "guile",
            }:
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
    def _args(self, args: str, count: int) -> list[str]:
        """The first ``count`` arguments, expanded; missing ones are empty."""
        parts = split_args(args, count)
        return [self.expand(a) for a in parts] + [""] * (count - len(parts))

    def _f_subst(self, args: str) -> str:
        frm, to, text = self._args(args, 3)
        return text.replace(frm, to) if frm else text

    def _f_patsubst(self, args: str) -> str:
        pat, rep, text = self._args(args, 3)
        return " ".join(_pattern_sub(pat, rep, w) for w in text.split())

    def _f_findstring(self, args: str) -> str:
        find, text = self._args(args, 2)
        return find if find in text else ""

    def _f_filter(self, args: str, *, keep: bool) -> str:
        pats, text = (a.split() for a in self._args(args, 2))

        def hit(w: str) -> bool:
            return any(_pattern_sub(p, "\0", w) == "\0" for p in pats)

        return " ".join(w for w in text if hit(w) == keep)

    def _f_word(self, args: str) -> str:
        num, text = self._args(args, 2)
        words, k = text.split(), _int_arg(num)
        return words[k - 1] if 1 <= k <= len(words) else ""

    def _f_wordlist(self, args: str) -> str:
        s, e, text = self._args(args, 3)
        start, end = _int_arg(s), _int_arg(e)
        return " ".join(text.split()[max(start, 1) - 1 : end]) if start >= 1 else ""

    def _f_affix(self, args: str, *, prefix: bool) -> str:
        affix, text = self._args(args, 2)
        return " ".join(affix + w if prefix else w + affix for w in text.split())

    def _f_if(self, args: str) -> str:
        parts = [*split_args(args, 3), "", ""]
        cond = self.expand(parts[0]).strip()
        return self.expand(parts[1] if cond else parts[2])

    def _f_or(self, args: str) -> str:
        for part in split_args(args):
            value = self.expand(part).strip()
            if value:
                return value
        return ""

    def _f_and(self, args: str) -> str:
        value = ""
        for part in split_args(args):
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
        if export is None:
            export = bool(old and old.exported) or name in self._export_names
        exported = export
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
            # "export NAME" before NAME is assigned exports it once it is.
            if exported:
                self._export_names.add(word)
            else:
                self._export_names.discard(word)
