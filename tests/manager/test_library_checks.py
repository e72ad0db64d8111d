"""Checks and settings the command line used to decide itself, now in the library.

Library callers get the same rules as ``xbuildenv``: which installer, the options
passed on to it, which interpreter host packages are for, what a mirror selection
may hold, the CI cache key of a release, and which environment a pyodide-root is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers.servers import Server, serve_env, serve_index

from xbuildenv import XBuildEnvManager
from xbuildenv.cache.layout import PYTHON_MARKER, pyodide_root_in, version_dir_of
from xbuildenv.cache.root import ResolvedRoot
from xbuildenv.cache.store import url_key
from xbuildenv.errors import UsageError
from xbuildenv.index.releases import Release
from xbuildenv.mirror.selection import Selection
from xbuildenv.mirror.sync import check_base_url
from xbuildenv.settings.config import ProjectConfig, load_project_config
from xbuildenv.settings.target import TargetEnv, current_interpreter
from xbuildenv.tools.build_config import python_mismatch
from xbuildenv.tools.host_options import installer_args, resolve_installer

pytestmark = pytest.mark.usefixtures("private_process_env")


def _project(tmp_path: Path, installer: str) -> ProjectConfig:
    (tmp_path / "pyproject.toml").write_text(f'[tool.xbuildenv]\ninstaller = "{installer}"\n')
    return load_project_config(tmp_path)


def test_installer_from_argument_environment_project_or_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve_installer(load_project_config(tmp_path)) == "pip"
    project = _project(tmp_path, "uv")
    assert resolve_installer(project) == "uv"
    monkeypatch.setenv("XBUILDENV_INSTALLER", "pip")
    assert resolve_installer(project) == "pip"
    assert resolve_installer(project, "uv") == "uv"


def test_an_unknown_installer_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="'conda' is not one of: pip, uv"):
        resolve_installer(_project(tmp_path, "conda"))


def test_installer_args() -> None:
    got = installer_args(index_url="https://i", find_links=["a", "b c"], extra="--no-deps 'x y'")
    links = ["--find-links", "a", "--find-links", "b c"]
    assert got == ["--index-url", "https://i", *links, "--no-deps", "x y"]
    with pytest.raises(UsageError, match="shell quoting"):
        installer_args(extra="'unclosed")


def test_the_interpreter_host_packages_are_for(tmp_path: Path) -> None:
    assert current_interpreter().interpreter() == sys.executable
    assert current_interpreter().interpreter("/opt/py") == "/opt/py"
    other = TargetEnv(tmp_path / "venv", "3.13", None, "VIRTUAL_ENV")
    assert other.interpreter() == str(tmp_path / "venv" / "bin" / "python")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"latest": 0}, "--latest 0"),
        ({"pythons": ("3",)}, "--python '3'"),
        ({"pythons": ("3.x",)}, "--python '3.x'"),
    ],
)
def test_a_bad_selection_is_refused_when_made(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Selection(**kwargs)  # type: ignore[arg-type]


def test_base_url_must_be_absolute() -> None:
    check_base_url("https://mirror.example/x")
    check_base_url(None)
    with pytest.raises(UsageError, match="not an absolute URL"):
        check_base_url("mirror/")


def test_cache_key_changes_with_the_archive() -> None:
    with_hash = Release("0.29.4", "https://x/a.tar.bz2", "3.13", "4.0.9", sha256="ab" * 32)
    assert with_hash.cache_key == "xbuildenv-0.29.4-" + "ab" * 8
    without = Release("0.29.4", "https://x/a.tar.bz2", "3.13", "4.0.9")
    assert without.cache_key == "xbuildenv-0.29.4-" + url_key("https://x/a.tar.bz2")[:16]


def test_python_mismatch_names_the_fix(tmp_path: Path) -> None:
    root = tmp_path / "root"
    version_dir = root / "0.29.4"
    pyodide_root = pyodide_root_in(version_dir)
    pyodide_root.mkdir(parents=True)
    assert version_dir_of(pyodide_root) == version_dir
    assert version_dir_of(tmp_path) is None
    assert python_mismatch(pyodide_root, "3.13") is None  # no marker: nothing to say
    (version_dir / PYTHON_MARKER).write_text("3.12\n")
    assert python_mismatch(pyodide_root, "3.12") is None
    default = ResolvedRoot(root, "PYODIDE_XBUILDENV_PATH", "0" * 12)
    said = python_mismatch(pyodide_root, "3.13", default)
    assert said is not None and "installed for Python 3.12" in said
    assert "'xbuildenv install 0.29.4' " in said  # its own root: no --path needed
    elsewhere = python_mismatch(pyodide_root, "3.13", ResolvedRoot(tmp_path, "default", "0" * 12))
    assert elsewhere is not None and f"--path {root}" in elsewhere
    assert python_mismatch(tmp_path / "src-tree", "3.13") is None


def test_a_given_index_names_no_channel_even_for_an_installed_version(
    server: Server, tmp_path: Path
) -> None:
    meta = serve_index(server, serve_env(server, "1.0"))
    manager = XBuildEnvManager(tmp_path / "root", meta)
    manager.install("1.0")
    hits = sum(server.hits.values())
    for channel in ("debug", "nightly"):
        with pytest.raises(UsageError, match="--metadata cannot be combined"):
            manager.install("1.0", channel=channel)
        with pytest.raises(UsageError, match="--metadata cannot be combined"):
            manager.install(url=server.url("/dl/1.0/xbuildenv-1.0.tar.gz"), channel=channel)
    assert sum(server.hits.values()) == hits  # refused before anything was read
