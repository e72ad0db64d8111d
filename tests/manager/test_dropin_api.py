"""``xbuildenv.compat.CrossBuildEnvManager``: pyodide-build's manager names, in-process.

The script below is written against pyodide-build 0.39's ``CrossBuildEnvManager``
(properties where it has properties, ``ValueError`` where it raised one); it runs
here unchanged against ours. e2e/test_cibuildwheel.py runs the same script against the
real pyodide-build class.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.archives import OTHER_PY, PY_MM
from helpers.interop import SCRIPT
from helpers.servers import Server, serve_env, serve_index

from xbuildenv import XBuildEnvError, XBuildEnvManager
from xbuildenv.compat import CrossBuildEnvManager
from xbuildenv.errors import IncompatibleError, NotInstalledError, RootError, UsageError


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
