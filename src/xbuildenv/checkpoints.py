"""Fault-injection points for the crash-safety tests; a no-op in normal use.

The install path calls :func:`checkpoint` at each phase boundary (metadata fetch,
download chunks, verification, each extracted member, package index, markers,
publish, activation). Normally the call does nothing: the environment variable is
read once at import and the function returns at once.

With ``XBUILDENV_TEST_CHECKPOINTS`` set to comma-separated ``key=value`` pairs the
tests can stop a real process at an exact point with a real signal:

* ``log=PATH``: append each checkpoint's name, one per line, to ``PATH`` (written
  with ``O_APPEND`` before any signal, so the line survives a SIGKILL);
* ``at=N``: at the N-th checkpoint (1-based, counted across threads) send
  ``signal`` to this process;
* ``signal=KILL|INT|TERM|STOP|NONE``: which signal (default KILL); ``NONE`` sends
  nothing, so the tests can check that their own checks fail without the signal;
* ``name=PREFIX``: count only checkpoints whose name starts with ``PREFIX``;
* ``point=NAME``: count only checkpoints named exactly ``NAME`` (so ``at=N`` is its
  N-th occurrence, whatever the other threads did meanwhile).

This is a test hook, never a user setting: it is deliberately undocumented in the
CLI help and costs one dictionary lookup per call when unset.
"""

from __future__ import annotations

import os
import signal
import threading
import time

ENV_CHECKPOINTS = "XBUILDENV_TEST_CHECKPOINTS"


def _parse(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    spec: dict[str, str] = {}
    for part in raw.split(","):
        key, _, value = part.partition("=")
        if key.strip():
            spec[key.strip()] = value.strip()
    return spec


_SPEC = _parse(os.environ.get(ENV_CHECKPOINTS))
_lock = threading.Lock()
_count = 0


def checkpoint(name: str) -> None:
    """Mark a point of the install; see the module docstring."""
    if _SPEC is None:
        return
    _hit(name, _SPEC)


def _hit(name: str, spec: dict[str, str]) -> None:
    global _count
    prefix = spec.get("name", "")
    if not name.startswith(prefix) or spec.get("point", name) != name:
        return
    with _lock:  # the network and extraction threads both pass checkpoints
        _count += 1
        number = _count
        log = spec.get("log")
        if log:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{name}\n".encode())
            finally:
                os.close(fd)
        name = spec.get("signal", "KILL").upper()
        if spec.get("at", "").isdigit() and number == int(spec["at"]) and name != "NONE":
            signum = getattr(signal, "SIG" + name)
            os.kill(os.getpid(), signum)
            if signum == getattr(signal, "SIGKILL", None):
                time.sleep(10)  # never reached: the kernel has already ended us
