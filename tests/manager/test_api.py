"""The Python API, in-process, against the loopback server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.archives import OTHER_PY, PY_MM
from helpers.servers import Server, serve_env, serve_index

from xbuildenv import XBuildEnvError, XBuildEnvManager, default_xbuildenv_path
from xbuildenv.errors import IncompatibleError, NotInstalledError

# In-process API calls: no user configuration, a private cache, HOME and working folder.
pytestmark = pytest.mark.usefixtures("private_process_env")


def test_manager_lifecycle(server: Server, tmp_path: Path) -> None:
    meta = serve_index(server, serve_env(server, "1.0"), serve_env(server, "2.0"))
    m = XBuildEnvManager(tmp_path / "root", meta)
    assert m.env_dir == tmp_path / "root"
    assert m.symlink_dir == tmp_path / "root" / "xbuildenv"
    assert m.current_version() is None and m.list_versions() == []
    with pytest.raises(NotInstalledError):
        _ = m.pyodide_root

    result = m.install("1.0")
    assert (result.version, result.action) == ("1.0", "installed")
    result = m.install()  # the latest compatible
    assert result.version == "2.0"
    assert m.current_version() == "2.0"
    assert m.list_versions() == ["1.0", "2.0"]
    assert m.pyodide_root == tmp_path / "root" / "2.0" / "xbuildenv" / "pyodide-root"
    assert (m.pyodide_root / "Makefile.envs").is_file()
    assert m.python_version == PY_MM

    assert m.install("1.0").action == "already installed"
    assert m.current_version() == "1.0"
    m.use_version("2.0")
    assert os.readlink(m.symlink_dir) == str(tmp_path / "root" / "2.0")
    assert m.uninstall_version() == "2.0"
    assert m.current_version() is None and m.list_versions() == ["1.0"]
    assert m.uninstall_version("1.0") == "1.0"
    assert m.list_versions() == []


def test_manager_errors_are_xbuildenv_errors(server: Server, tmp_path: Path) -> None:
    meta = serve_index(server, serve_env(server, "1.0", python=OTHER_PY))
    m = XBuildEnvManager(tmp_path / "root", meta)
    with pytest.raises(IncompatibleError) as info:
        m.install()
    assert isinstance(info.value, XBuildEnvError) and "\n" not in str(info.value)
    with pytest.raises(XBuildEnvError):
        m.use_version("1.0")
    with pytest.raises(XBuildEnvError):
        m.uninstall_version("1.0")
    assert m.install("1.0", force_install=True).version == "1.0"


def test_pyodide_build_version_argument(server: Server, tmp_path: Path) -> None:
    meta = serve_index(server, serve_env(server, "1.0", max_pyodide_build_version="0.27.0"))
    assert (
        XBuildEnvManager(tmp_path / "a", meta, pyodide_build_version="0.26.0").install().version
        == "1.0"
    )
    with pytest.raises(IncompatibleError):
        XBuildEnvManager(tmp_path / "b", meta, pyodide_build_version="0.28.0").install()


def test_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = default_xbuildenv_path()
    assert default.parent == tmp_path / "cache" / "pyodide-build"
    assert default.name.startswith(".pyodide-xbuildenv-")
    assert XBuildEnvManager().env_dir == default
    monkeypatch.setenv("PYODIDE_XBUILDENV_PATH", str(tmp_path / "elsewhere"))
    assert default_xbuildenv_path() == tmp_path / "elsewhere"
    assert XBuildEnvManager().env_dir == tmp_path / "elsewhere"


def test_api_and_cli_list_versions_in_one_order(tmp_path: Path) -> None:
    """PEP 440 order (a pre-release before its release, 0.9 before 0.27), URL-named
    folders last; ``list_versions()`` and ``xbuildenv versions`` agree."""
    import json
    import subprocess
    import sys

    root = tmp_path / "root"
    names = ["https___example_org_env_tar_gz", "0.28.0", "0.9.0", "0.28.0a1", "0.27.7"]
    for name in names:
        (root / name / "xbuildenv" / "pyodide-root").mkdir(parents=True)
        (root / name / ".installed").touch()
    expected = ["0.9.0", "0.27.7", "0.28.0a1", "0.28.0", "https___example_org_env_tar_gz"]
    assert XBuildEnvManager(root).list_versions() == expected
    shown = subprocess.run(
        [sys.executable, "-m", "xbuildenv", "versions", "--json", "--path", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert [v["version"] for v in json.loads(shown.stdout)["versions"]] == expected
