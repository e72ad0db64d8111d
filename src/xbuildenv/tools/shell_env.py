"""The environment a build runs in: printed for a shell (``env``) or applied (``run``).

It holds the build variables of :mod:`build_config` (``PYODIDE_ROOT`` first: with it
set, pyodide-build uses this environment as it is, without looking for one), and, when
the environment's Emscripten SDK is installed, what ``emsdk_env`` would set: ``EMSDK``,
``EM_CONFIG``, ``EMSDK_NODE`` and the SDK's folders in front of ``PATH``.
Empty values are left out, so printing and sourcing them never overrides a user's
setting with nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CommandNotFoundError, UsageError
from .build_config import BuildConfig, build_environment, emsdk_dir_for
from .emsdk import installed_emscripten

__all__ = ["SHELLS", "BuildEnv", "build_env", "default_shell", "render", "run_in"]

SHELLS = ("bash", "zsh", "fish", "powershell", "cmd")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class BuildEnv:
    variables: dict[str, str]
    path_prepend: list[str] = field(default_factory=list)


def build_env(config: BuildConfig) -> BuildEnv:
    """What a build of the environment described by ``config`` needs set."""
    found = {k: v for k, v in build_environment(config).items() if v != "" and _NAME.match(k)}
    ordered = {"PYODIDE_ROOT": str(config.pyodide_root)}
    ordered.update(sorted(found.items()))
    prepend: list[str] = []
    if installed_emscripten(config.pyodide_root) is not None:
        emsdk = emsdk_dir_for(config.pyodide_root)
        ordered["EMSDK"] = str(emsdk)
        if (emsdk / ".emscripten").is_file():
            ordered["EM_CONFIG"] = str(emsdk / ".emscripten")
        prepend = [str(emsdk), str(emsdk / "upstream" / "emscripten")]
        node = sorted((emsdk / "node").glob("*/bin/node"))
        if node:
            ordered["EMSDK_NODE"] = str(node[-1])
            prepend.append(str(node[-1].parent))
    return BuildEnv(ordered, prepend)


def default_shell(environ: Mapping[str, str] | None = None) -> str:
    """The user's shell, from $SHELL (PowerShell on Windows; bash when unknown)."""
    env = os.environ if environ is None else environ
    if os.name == "nt":
        return "powershell"
    name = Path(env.get("SHELL", "")).name
    return name if name in SHELLS else "bash"


def _posix_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _fish_quote(value: str) -> str:
    # Inside fish single quotes only backslash and the quote itself are special.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ps_quote(value: str) -> str:
    # PowerShell also takes the typographic single quotes as quote characters.
    for q in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
        value = value.replace(q, q + q)
    return "'" + value + "'"


def _cmd_value(name: str, value: str) -> str:
    if any(c in value for c in '"\r\n'):
        raise UsageError(
            f"{name} holds a quote or a line break, which cmd cannot set safely",
            "use --shell powershell",
        )
    return value.replace("%", "%%")


def quote(value: str, shell: str) -> str:
    """``value`` as one word of ``shell`` (a path with spaces stays one argument)."""
    if shell == "fish":
        return _fish_quote(value)
    if shell == "powershell":
        return _ps_quote(value)
    if shell == "cmd":
        return f'"{_cmd_value("the path", value)}"'
    return _posix_quote(value)


def render(env: BuildEnv, shell: str) -> str:
    """Commands that set ``env`` in ``shell``, one per line."""
    lines: list[str] = []
    if shell in ("bash", "zsh"):
        lines = [f"export {k}={_posix_quote(v)}" for k, v in env.variables.items()]
        if env.path_prepend:
            lines.append(
                f'export PATH={_posix_quote(os.pathsep.join(env.path_prepend))}"${{PATH:+:$PATH}}"'
            )
    elif shell == "fish":
        lines = [f"set -gx {k} {_fish_quote(v)}" for k, v in env.variables.items()]
        if env.path_prepend:
            lines.append(
                "set -gx PATH " + " ".join(_fish_quote(p) for p in env.path_prepend) + " $PATH"
            )
    elif shell == "powershell":
        lines = [f"$env:{k} = {_ps_quote(v)}" for k, v in env.variables.items()]
        if env.path_prepend:
            joined = " + [IO.Path]::PathSeparator + ".join(_ps_quote(p) for p in env.path_prepend)
            lines.append(f"$env:PATH = {joined} + [IO.Path]::PathSeparator + $env:PATH")
    elif shell == "cmd":
        # For a batch file (`xbuildenv env --shell cmd > env.bat`, then `call env.bat`):
        # inside `set "K=V"` only % (doubled) and " (refused) are special.
        lines = [f'set "{k}={_cmd_value(k, v)}"' for k, v in env.variables.items()]
        if env.path_prepend:
            joined = ";".join(_cmd_value("PATH", p) for p in env.path_prepend)
            lines.append(f'set "PATH={joined};%PATH%"')
    else:
        raise UsageError(f"unknown shell {shell!r}; choose one of: {', '.join(SHELLS)}")
    return "\n".join(lines) + "\n"


def applied(env: BuildEnv, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: our environment) with ``env`` set on top."""
    out = dict(os.environ if base is None else base)
    out.update(env.variables)
    if env.path_prepend:
        rest = out.get("PATH", "")
        out["PATH"] = os.pathsep.join([*env.path_prepend, *([rest] if rest else [])])
    return out


def run_in(env: BuildEnv, cmd: Sequence[str]) -> int:
    """Run ``cmd`` with ``env`` set and return its exit code.

    On POSIX the command replaces this process (``exec``), so its exit status,
    signals and terminal handling are exactly its own; elsewhere it runs as a child.
    """
    if not cmd:
        raise UsageError("no command given", "usage: xbuildenv run -- COMMAND [ARG ...]")
    full = applied(env)
    program = cmd[0]
    if os.sep not in program and shutil.which(program, path=full.get("PATH")) is None:
        raise CommandNotFoundError(f"command not found: {program}")
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execvpe(program, list(cmd), full)
        except OSError as exc:  # vanished, not executable, bad interpreter line...
            raise CommandNotFoundError(f"cannot run {program}: {exc.strerror or exc}") from None
    try:
        code = subprocess.run(list(cmd), env=full).returncode
    except OSError as exc:
        raise CommandNotFoundError(f"cannot run {program}: {exc.strerror or exc}") from None
    return 128 - code if code < 0 else code
