"""``xbuildenv.compat.CrossBuildEnvManager``: pyodide-build's manager names, in-process.

The script below is written against pyodide-build 0.39's ``CrossBuildEnvManager``
(properties where it has properties, ``ValueError`` where it raised one); it runs
here unchanged against ours. test_cibuildwheel.py runs the same script against the
real pyodide-build class.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import OTHER_PY, PY_MM, Server, serve_env, serve_index

from xbuildenv import XBuildEnvError, XBuildEnvManager
from xbuildenv.compat import CrossBuildEnvManager
from xbuildenv.errors import IncompatibleError, NotInstalledError, RootError, UsageError

# Written against pyodide_build.xbuildenv.CrossBuildEnvManager; ``Manager`` is either.
SCRIPT = """
def drive(Manager, root, meta, good, bad):
    seen = []
    m = Manager(root, metadata_url=meta)
    assert m.current_version is None
    assert m.list_versions() == []
    path = m.install(good)
    assert path == m.env_dir / good / "xbuildenv" / "pyodide-root", path
    assert (path / "Makefile.envs").is_file()
    assert m.current_version == good
    assert m.pyodide_root == path
    assert m.symlink_dir == m.env_dir / "xbuildenv"
    assert m.list_versions() == [good]
    assert m.version_marker_matches() == (True, None)
    for call, words in (
        (lambda: m.install(good, url="https://example.org/x.tar.gz"), "both version and url"),
        (lambda: m.install(bad), f"Version {bad} is not compatible with the current environment"),
        (lambda: m.use_version("0.0.0-nope"), "environment version 0.0.0-nope, available"),
        (lambda: m.uninstall_version("0.0.0-nope"), "Cannot find cross-build environment version"),
    ):
        try:
            call()
        except ValueError as exc:
            assert words in str(exc), (words, str(exc))
            seen.append(type(exc).__name__)
        else:
            raise AssertionError("no ValueError")
    # A bare folder is a version to pyodide-build: listed, usable, removable.
    (m.env_dir / "0.0.1").mkdir()
    assert m.list_versions() == ["0.0.1", good]
    m.use_version("0.0.1")
    assert m.current_version == "0.0.1" and m.symlink_dir.resolve() == m.env_dir / "0.0.1"
    assert m.uninstall_version(None) == "0.0.1"
    assert m.current_version is None and m.list_versions() == [good]
    m.use_version(good)
    assert m.uninstall_version(None) == good
    assert m.current_version is None
    for call in (lambda: m.uninstall_version(None), lambda: m.install_emscripten("4.0.9")):
        try:
            call()
        except ValueError as exc:
            seen.append(type(exc).__name__)
        else:
            raise AssertionError("no ValueError")
    return seen
"""


def drive(*args: object) -> list[str]:
    scope: dict[str, object] = {}
    exec(SCRIPT, scope)
    result = scope["drive"](*args)  # type: ignore[operator]
    assert isinstance(result, list)
    return result


# In-process API calls: no user configuration, a private cache, HOME and working folder.
pytestmark = pytest.mark.usefixtures("private_process_env")


def test_pyodide_build_style_code_runs_unchanged(server: Server, tmp_path: Path) -> None:
    meta = serve_index(server, serve_env(server, "1.0"), serve_env(server, "9.0", python=OTHER_PY))
    seen = drive(CrossBuildEnvManager, tmp_path / "root", meta, "1.0", "9.0")
    assert len(seen) == 6
    # Each is also one of ours, with a one-line message.
    assert seen == [
        "UsageError",
        "IncompatibleError",
        "NotInstalledError",
        "NotInstalledError",
        "NotInstalledError",
        "NotInstalledError",
    ]


def test_pyodide_build_helpers_and_messages(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = serve_index(server, serve_env(server, "1.0", python="3.99.1"))
    m = CrossBuildEnvManager(tmp_path / "root", meta)
    # pyodide-build's words for "nothing fits" (its test suite matches them).
    with pytest.raises(ValueError, match=rf"^Python version {PY_MM} is too old\. The oldest "
                       r"supported version of Python is 3\.99\.$"):  # fmt: skip
        m._find_latest_version()
    meta = serve_index(server, serve_env(server, "2.0", python="3.1.0"), path="/old.json")
    m = CrossBuildEnvManager(tmp_path / "root", meta)
    with pytest.raises(ValueError, match=rf"^Python version {PY_MM} is not yet supported\. The "
                       r"newest supported version of Python is 3\.1\.$"):  # fmt: skip
        m._find_latest_version()
    assert m._find_remote_release("2.0").version == "2.0"
    with pytest.raises(ValueError):
        m._find_remote_release("7.7")
    assert m._path_for_version("2.0") == m.env_dir / "2.0"
    assert m._get_default_xbuildenv_url() == ""
    monkeypatch.setenv("DEFAULT_CROSS_BUILD_ENV_URL", "https://example.org/x.tar.bz2")
    assert m._get_default_xbuildenv_url() == "https://example.org/x.tar.bz2"


def test_value_errors_are_xbuildenv_errors() -> None:
    for cls in (UsageError, IncompatibleError, NotInstalledError, RootError):
        assert issubclass(cls, ValueError) and issubclass(cls, XBuildEnvError)


def test_root_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way\n")
    with pytest.raises(ValueError, match="Failed to create cross-build environment"):
        CrossBuildEnvManager(tmp_path / "file" / "root")


def test_marker_mismatch_and_native(server: Server, tmp_path: Path) -> None:
    meta = serve_index(server, serve_env(server, "1.0"))
    m = CrossBuildEnvManager(tmp_path / "root", meta)
    m.install()
    assert isinstance(m.native, XBuildEnvManager)
    assert m.native.current_version() == "1.0"  # the native API keeps its method
    (m.env_dir / "1.0" / ".build-python-version").write_text("3.7")
    ok, why = m.version_marker_matches()
    assert not ok and why is not None and f"({PY_MM})" in why and "(3.7)" in why
    # install() of an installed version for another Python refreshes it, as pyodide-build.
    assert m.install("1.0") == m.env_dir / "1.0" / "xbuildenv" / "pyodide-root"
    assert m.version_marker_matches() == (True, None)
