"""Running the CLI inside the test process, as ``python -m xbuildenv`` would run it.

A short ``xbuildenv`` process spends most of its CPU time starting: an install of the
fixture environment takes 120 ms, 80 of them importing. The suite runs about a
thousand such commands, so ``helpers.cli.run`` calls :func:`xbuildenv.cli.main.main`
here instead, with what a process would have of its own set up and put back around it:

* the environment (``os.environ`` replaced whole) and the working folder;
* file descriptors 1 and 2, pointed at files (``dup2``), so what the tools the command
  starts (pip, git, emsdk) print is captured as a process's output would be; stdin is
  empty;
* the SIGTERM handler the CLI installs, and the module state a process would start
  without (:data:`PROCESS_STATE`, checked against the source by
  tests/architecture/test_in_process.py, so a new cache cannot leak between commands);
* an exit as ``SystemExit`` (argparse's ``--help``, a usage error) gives its code; an
  exception that escapes ``main`` is printed as the interpreter would, exit code 1.

What only a process can show runs as one (:func:`needs_a_process`): fault injection
through checkpoints (they signal the process), ``xbuildenv run`` (it execs), commands
started from other threads (the environment and fds are the process's), another
interpreter or interpreter settings (``PYTHONPATH``), and everything when
``XBUILDENV_TESTS_PROCESSES=1`` is set: the whole suite passes both ways.
"""

from __future__ import annotations

import faulthandler
import io
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

FORCE_PROCESSES = "XBUILDENV_TESTS_PROCESSES"

# Module-level state of the package that one process's command could leave for the next:
# (module, name, what a fresh process starts with). Emptied or reset before each command.
PROCESS_STATE: tuple[tuple[str, str, object], ...] = (
    ("xbuildenv.net.auth", "_by_host", dict),
    ("xbuildenv.net.auth", "_netrc_cache", dict),
    ("xbuildenv.net.auth", "_netrc_broken", dict),
    ("xbuildenv.net.tls", "_context", None),
    ("xbuildenv.cli.options", "_innermost", list),
    ("xbuildenv.cli.options", "_WARNED", set),
    ("xbuildenv.checkpoints", "_count", 0),
    ("xbuildenv.redaction", "_SECRETS", set),
)


def _command_word(args: Sequence[str]) -> str | None:
    return next((a for a in args if not a.startswith("-")), None)


def needs_a_process(args: Sequence[str], env: dict[str, str]) -> bool:
    from xbuildenv.checkpoints import ENV_CHECKPOINTS

    return (
        bool(os.environ.get(FORCE_PROCESSES))
        or threading.current_thread() is not threading.main_thread()
        or ENV_CHECKPOINTS in env
        or _command_word(args) == "run"
        or any(_interpreter_var(k) and os.environ.get(k) != v for k, v in env.items())
    )


def _interpreter_var(name: str) -> bool:
    """Read by the interpreter as it starts (PYTHONPATH, PYTHONHOME, ...), too late to
    set for this one; PYTHONPYCACHEPREFIX only moves bytecode."""
    return name.startswith("PYTHON") and name != "PYTHONPYCACHEPREFIX"


def _reset_state() -> None:
    for module_name, name, fresh in PROCESS_STATE:
        module = sys.modules.get(module_name)
        if module is None:
            continue  # never imported: nothing to reset
        if isinstance(fresh, type):
            getattr(module, name).clear()  # in place: other modules may hold it by name
        else:
            setattr(module, name, fresh)


def run_in_process(
    args: Sequence[str], env: dict[str, str], cwd: Path | None, timeout: float
) -> tuple[int, str, str]:
    """Run ``xbuildenv ARGS`` here; return (exit code, stdout, stderr)."""
    from xbuildenv.cli.main import main

    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_term = signal.getsignal(signal.SIGTERM)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved_fds = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        os.environ.clear()
        # argparse asks the terminal of sys.__stdout__ for its width when COLUMNS is not
        # set: a process whose output is captured has none, and gets 80.
        os.environ.update({"COLUMNS": "80", **env})
        _reset_state()
        # A hang here would hang the worker: end it with every thread's stack instead.
        faulthandler.dump_traceback_later(timeout, exit=True, file=sys.__stderr__)
        try:
            if cwd is not None:
                os.chdir(cwd)
            sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - closed below
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
            code = _call(main, list(args))
        finally:
            faulthandler.cancel_dump_traceback_later()
            for stream in (sys.stdout, sys.stderr, sys.stdin):
                try:
                    stream.close()  # flushes the two outputs first
                except (OSError, ValueError):
                    pass
            sys.stdin, sys.stdout, sys.stderr = saved_streams
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])
            signal.signal(signal.SIGTERM, saved_term)
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
        out.seek(0)
        err.seek(0)
        return code, _text(out.read()), _text(err.read())


def _call(main: Callable[[list[str]], int], argv: list[str]) -> int:
    try:
        return int(main(argv))
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        sys.stderr.write(f"{exc.code}\n")
        return 1
    except BaseException:  # what the interpreter prints for an uncaught exception
        sys.stderr.write(traceback.format_exc())
        return 1


def _text(data: bytes) -> str:
    """Decoded as ``subprocess.run(text=True)`` does: universal newlines (a lone ``\r``
    of a progress line becomes ``\n`` too)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace").read()
