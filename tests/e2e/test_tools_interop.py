"""``xbuildenv config`` agrees with ``pyodide config`` (pyodide-build 0.39) on one environment.

Needs pyodide-build in a Python 3.12+ virtual environment. It is set up once under
``tests/.interop-cache/`` (shared with test_interop.py's cache) and the test is skipped
when that is impossible (no such Python, no network for pip).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers.cli import install_env, run
from helpers.interop import cached_venv
from helpers.servers import Server

PYODIDE_BUILD = "0.39.2"

pytestmark = pytest.mark.interop


def _working(venv: Path) -> bool:
    tool = venv / "bin" / "pyodide"
    if not tool.is_file():
        return False
    probe = subprocess.run([str(tool), "--help"], capture_output=True, timeout=120)
    return probe.returncode == 0


def pyodide_build_venv() -> Path:
    """The venv with pyodide-build that test_interop.py uses too; skip when impossible."""
    venv = cached_venv(f"pyodide-build-{PYODIDE_BUILD}", [f"pyodide-build=={PYODIDE_BUILD}"]).path
    if not _working(venv):
        pytest.skip("pyodide-build was installed but does not run")
    return venv


@pytest.mark.parametrize("python", ["3.13", "3.14"])
def test_config_matches_pyodide_build(
    python: str, server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    venv = pyodide_build_venv()
    root = tmp_path / "root"
    pyroot = install_env(server, env, root, python=python)
    r = run("config", "list", "--json", "--path", str(root), env=env)
    assert r.code == 0, r.err
    ours = json.loads(r.out)
    # PYODIDE_ROOT makes pyodide-build use this environment as it is (no install, no
    # Python-version check), which is what a build run under 'xbuildenv run' does.
    theirs_env = {**env, "PYODIDE_ROOT": str(pyroot)}
    listed = subprocess.run(
        [str(venv / "bin" / "pyodide"), "config", "list"],
        env=theirs_env, capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout  # fmt: skip
    theirs = {}
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        theirs[key] = value.removeprefix('"').removesuffix('"')
    # These two point into pyodide-build's own installation, not the environment.
    tool_paths = {"cmake_toolchain_file", "meson_cross_file"}
    compared = sorted(set(theirs) - tool_paths)
    assert len(compared) >= 15
    for key in compared:
        assert ours[key] == theirs[key], key
    # Keys pyodide-build computes but does not list: ask its Python API.
    code = (
        "import json, os; from pathlib import Path;"
        "from pyodide_build.build_env import get_build_environment_vars as g;"
        "print(json.dumps(g(Path(os.environ['PYODIDE_ROOT']))))"
    )
    api = json.loads(
        subprocess.run([str(venv / "bin" / "python"), "-c", code], env=theirs_env,
                       capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    )  # fmt: skip
    assert ours["host_site_packages"] == api["HOSTSITEPACKAGES"]
    assert ours["pyodide_version"] == api["PYODIDE_VERSION"]
    assert ours["host_install_dir"] == api["HOSTINSTALLDIR"]
    # ...and 'xbuildenv run' hands a build the same variables pyodide-build would.
    r = run("env", "--shell", "bash", "--path", str(root), env=env)
    exported = dict(
        line.removeprefix("export ").split("=", 1) for line in r.out.splitlines()
        if not line.startswith("export PATH=")
    )  # fmt: skip
    for name, value in api.items():
        if value and name not in ("CMAKE_TOOLCHAIN_FILE", "MESON_CROSS_FILE"):
            assert exported.get(name) == f"'{value}'", name
    assert os.path.isdir(pyroot)
