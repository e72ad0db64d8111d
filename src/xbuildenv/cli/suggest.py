"""'Did you mean ...?' for mistyped commands, options and versions.

Only ever imported on an error path, so ``difflib`` costs the commands that succeed
nothing.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable

_CHOICE = re.compile(r"invalid choice: '?(?P<word>[^' ]*)'? \(choose from (?P<choices>.*)\)")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (?P<words>.*)")


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, if any is close enough to be a typo."""
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [s for action in parser._actions for s in action.option_strings if s.startswith("--")]


def with_suggestion(message: str, parser: argparse.ArgumentParser) -> str:
    """An argparse error ``message`` with "did you mean 'X'?" when a near match exists
    (the long "choose from" list is then dropped: the suggestion says more)."""
    match = _CHOICE.search(message)
    if match:
        choices = [c.strip().strip("'") for c in match.group("choices").split(",")]
        found = nearest(match.group("word"), choices)
        if found:
            return f"{message[: match.end('word') + 1].rstrip()}; did you mean '{found}'?"
        return message
    match = _UNRECOGNIZED.search(message)
    if match:
        for word in match.group("words").split():
            if word.startswith("--"):
                found = nearest(word.split("=", 1)[0], _options(parser))
                if found:
                    return f"{message}; did you mean '{found}'?"
    return message
