"""Reference text generated from the code itself.

Each ``render_*`` function returns Markdown. The docs pages hold a marker such as
``<!-- generate: cli -->``; the MkDocs hook (:mod:`docs_gen.hooks`) replaces it with the
text rendered here, so the reference changes whenever a parser, a setting or an
error class does.
"""

from __future__ import annotations

import argparse
import inspect
import re
from collections.abc import Iterator

MARKER = re.compile(r"<!-- generate: ([a-z-]+) -->")


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def commands(
    parser: argparse.ArgumentParser | None = None, prefix: str = "xbuildenv"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command and subcommand as (``"xbuildenv cache list"``, its parser)."""
    if parser is None:
        from xbuildenv.cli.main import build_parser

        parser = build_parser()
    for name, sub in _subparsers(parser).items():
        path = f"{prefix} {name}"
        yield path, sub
        yield from commands(sub, path)


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """The long options of one parser (or the short one when it has no long form)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        longs = [o for o in action.option_strings if o.startswith("--")]
        found.append((longs or action.option_strings)[0])
    return found


def _option_row(action: argparse.Action) -> str:
    names = ", ".join(f"`{o}`" for o in action.option_strings)
    if action.option_strings and action.nargs != 0:
        names += f" `{action.metavar or action.dest.upper()}`"
    if not action.option_strings:
        names = f"`{action.metavar or action.dest}`"
    text = action.help if action.help and action.help != argparse.SUPPRESS else ""
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        text += f" (one of: {', '.join(f'`{c}`' for c in action.choices)})"
    return f"| {names} | {_escape(text)} |"


def render_cli() -> str:
    """One section per command: usage, description, arguments and options, examples."""
    out = []
    for path, parser in commands():
        depth = path.count(" ")
        out.append(f"{'#' * (depth + 1)} `{path}`\n")
        parser.prog = path
        out.append(f"```text\n{parser.format_usage().strip()}\n```\n")
        if parser.description:
            out.append(parser.description.strip() + "\n")
        rows = [
            _option_row(a)
            for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
            and a.help != argparse.SUPPRESS
        ]
        if rows:
            out.append("| argument or option | meaning |\n| --- | --- |\n" + "\n".join(rows) + "\n")
        subs = _subparsers(parser)
        if subs:
            out.append("Subcommands: " + ", ".join(f"`{n}`" for n in subs) + ".\n")
        if parser.epilog:
            out.append(f"```text\n{parser.epilog.strip()}\n```\n")
    return "\n".join(out)


def render_errors() -> str:
    """Every exception class users can meet, with the docstring that says when."""
    from xbuildenv import errors

    out = []
    for name in errors.__all__:
        cls = getattr(errors, name)
        doc = inspect.cleandoc(cls.__doc__ or "")
        code = getattr(cls, "exit_code", 1)
        out.append(f"### `{name}`\n\nExit code {code}. {doc}\n")
    return "\n".join(out)


def render_settings(group: str) -> str:
    """One group of the settings registry as a table (variables, keys, defaults, help)."""
    from xbuildenv.settings import registry

    return registry.markdown(group)  # type: ignore[arg-type]


GENERATORS = {
    "cli": render_cli,
    "errors": render_errors,
    **{
        f"settings-{group}": (lambda group=group: render_settings(group))
        for group in ("ours", "shared", "build", "external", "test")
    },
}


def expand(markdown: str) -> str:
    """``markdown`` with every generation marker replaced by its rendered text."""
    return MARKER.sub(lambda m: GENERATORS[m.group(1)](), markdown)
