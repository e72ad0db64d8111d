"""Fixtures for every test, and the layout of the suite.

Unit tests sit in a folder per layer of ``src/xbuildenv`` (``fs/``, ``settings/``,
``net/``, ``cache/``, ``index/``, ``install/``, ``tools/``, ``mirror/``, ``manager/``,
``cli/``); ``architecture/`` checks the layers themselves; ``e2e/`` runs pyodide-build
and cibuildwheel next to xbuildenv; ``faults/`` is the fault-injection suite. What the
tests share is in ``helpers/`` (plain modules, imported as ``helpers.<name>``) and in
the conftest.py files (fixtures); no test module imports another.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import PYCACHE_VAR, clean_env
from helpers.servers import Server


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full-sweep", action="store_true", help="run the slow, exhaustive fault sweeps too"
    )
    parser.addoption(
        "--portable",
        action="store_true",
        help="turn off every Linux-only fast path (XBUILDENV_PORTABLE=all), so the code "
        "macOS and Windows run is what runs; XBUILDENV_PORTABLE=exchange,link,... for some",
    )


def pytest_configure(config: pytest.Config) -> None:
    """``--portable`` sets the library's one switch for this process and every child
    (``helpers.cli.clean_env`` passes it on); a misspelt path name is an error, not a no-op."""
    from xbuildenv.fs.platform import ENV_PORTABLE, FAST_PATHS, forced_portable

    config.addinivalue_line(
        "markers", "fast_path(name): asserts a fast path itself; skipped when it is forced off"
    )
    if config.getoption("--portable"):
        os.environ[ENV_PORTABLE] = "all"
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist >= 3.6
        config.option.loadscopereorder = False  # keep LONGEST_FIRST (below)
    unknown = forced_portable() - set(FAST_PATHS)
    if unknown:
        raise pytest.UsageError(
            f"{ENV_PORTABLE} names no fast path {sorted(unknown)}; known: {', '.join(FAST_PATHS)}"
        )


def pytest_report_header(config: pytest.Config) -> str | None:
    from xbuildenv.fs.platform import forced_portable

    off = sorted(forced_portable())
    return f"portable: fast paths forced off: {', '.join(off)}" if off else None


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than there are cores. A quarter of the suite's time
    is spent waiting (on loopback servers, throttled downloads, processes being stopped),
    and with one worker per core that time leaves a core idle (measured: 481 CPU-seconds
    in 327 s on 2 cores, 74 % busy)."""
    return (os.cpu_count() or 1) + 1


def pytest_sessionstart(session: pytest.Session) -> None:
    """One bytecode folder for the session's processes, made by the controller before
    the xdist workers start (they inherit it): ``helpers.cli.clean_env`` points every
    child's PYTHONPYCACHEPREFIX at it, and the test processes use it too.

    These machines set PYTHONDONTWRITEBYTECODE, so without it every process the tests
    start (thousands) compiled each module it imports from source: measured, 88 of 570
    CPU-seconds of the suite. A prefix rather than __pycache__ folders, so nothing is
    written next to any source a test looks at (the checkout, a root, a store tree).
    """
    if not hasattr(session.config, "workerinput") and PYCACHE_VAR not in os.environ:
        folder = tempfile.mkdtemp(prefix="xbuildenv-tests-pycache-")
        os.chmod(folder, 0o755)  # the tests that run as nobody read it too
        os.environ[PYCACHE_VAR] = folder
        session.config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    sys.pycache_prefix = os.environ[PYCACHE_VAR]
    sys.dont_write_bytecode = False


# The longest files (wall seconds, measured), started first: with ``-n auto --dist
# loadfile`` a file runs whole on one worker, and one of these started last leaves the
# other workers idle at the end (measured: test_mirror_faults.py started at 171 s and
# ran alone for the last 22 s). xdist's own order (most tests first) is switched off in
# pytest_configure: it is not the longest first.
LONGEST_FIRST = (
    "faults/test_faults_kill.py",  # 70
    "install/test_remote_store.py",  # 38
    "faults/test_faults_escapes.py",  # 36
    "faults/test_faults_emsdk_kill.py",  # 30
    "faults/test_mirror_faults.py",  # 30
    "e2e/test_cibuildwheel.py",  # 27
    "install/test_wire_chunking.py",  # 25
    "tools/test_tools_packages.py",  # 23
)


def _start_rank(item: pytest.Item) -> int:
    where = item.path.as_posix()
    return next((i for i, name in enumerate(LONGEST_FIRST) if where.endswith(name)), 99)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_start_rank)  # stable: the order within a file is kept
    from xbuildenv.fs.platform import forced_portable

    off = forced_portable()
    for item in items:
        for mark in item.iter_markers("fast_path"):
            if mark.args[0] in off:
                item.add_marker(
                    pytest.mark.skip(reason=f"checks the {mark.args[0]} fast path, forced off")
                )
    if config.getoption("--full-sweep"):
        return
    skip = pytest.mark.skip(reason="slow sweep: run with --full-sweep")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test: bound, never
    listening, and held, so no other test (or worker) can start listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[object]:
    """One S3 API server (moto) for the whole run: it takes a second or two to start."""
    from helpers.services import MotoS3

    s3 = MotoS3()
    yield s3
    s3.close()


@pytest.fixture
def private_process_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's environment without user configuration, with a private cache,
    HOME and working folder: for tests that call the library in-process."""
    for key in list(os.environ):
        if key == "XBUILDENV_PORTABLE":  # the test run's own switch (--portable)
            continue
        if key.startswith(("PYODIDE_", "XBUILDENV_")) or key == "VIRTUAL_ENV":
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def emsdk_repo(tmp_path: Path) -> str:
    """A local git repository standing in for emsdk (see helpers.archives.FAKE_EMSDK)."""
    from helpers.archives import make_emsdk_repo

    return make_emsdk_repo(tmp_path)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return clean_env(home)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker: hand this worker's fault-suite counters to the controller."""
    from helpers.faults import FAULT_STATS

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fault_stats"] = dict(FAULT_STATS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the pytest-xdist controller: add up the counters each worker handed over.

    Every counter is a sum; the one count of distinct kill points is too, because one
    module (test_faults_kill.py) makes them all and ``--dist loadfile`` keeps a module
    on one worker.
    """
    from helpers.faults import FAULT_STATS

    FAULT_STATS.update(getattr(node, "workeroutput", {}).get("fault_stats", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault suite's figures (issue 3), when any fault test ran."""
    from helpers.faults import FAULT_STATS as s

    if not s:
        return
    terminalreporter.section("fault-injection summary")
    terminalreporter.write_line(
        f"kill points tried: {s['kill_points']} ({s['kill_points_distinct']} distinct)"
        f" / corrupt states found: {s['corrupt_states']}"
    )
    terminalreporter.write_line(
        f"concurrent installs ok: {s['concurrent_ok']} of {s['concurrent_runs']}"
        f" / downloads made: {s['downloads']}"
    )
    terminalreporter.write_line(
        f"bad inputs tried: {s['bad_inputs']} / cache changes found: {s['cache_changes']}"
    )
    terminalreporter.write_line(
        f"escapes tried: {s['escapes_tried']} / escapes found: {s['escapes_found']}"
        f" (writes, deletes, reads or chmods outside the cache)"
    )
    terminalreporter.write_line(
        f"heals tried: {s['heals_tried']} / heals failed: {s['heals_failed']}"
        f" / hostile inputs with a precise message: {s['messages_tried']}"
    )
