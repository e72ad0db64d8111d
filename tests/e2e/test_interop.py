"""Interop with pyodide-build 0.39.2, in one venv that holds both tools.

The venv is built once and kept in ``tests/.interop-cache/`` (git-ignored), keyed by
the Python version, the pyodide-build pin and this project's pyproject.toml. These
tests skip, never fail, when no Python 3.12+ is found or the venv cannot be set up
(no network for PyPI, no ``venv`` module, ...). Every tool runs as a subprocess with
a private HOME and XDG_CACHE_HOME, so both resolve their *default* root.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.interop import Published, Venv, ok, tool
from helpers.servers import Server

pytestmark = pytest.mark.interop


def pyodide_build_root(venv: Venv, env: dict[str, str], cwd: Path) -> Path:
    code = (
        "from pyodide_build.common import default_xbuildenv_path; print(default_xbuildenv_path())"
    )
    return Path(ok(tool(venv, env, cwd, "python", "-c", code)).strip())


def hrefs(package_index: Path) -> dict[str, list[str]]:
    return {
        page.parent.name: re.findall(r'href="([^"]+)"', page.read_text())
        for page in sorted(package_index.glob("*/index.html"))
    }


# --- the tests ----------------------------------------------------------------------------
def test_same_default_root(venv: Venv, ienv: dict[str, str], tmp_path: Path) -> None:
    ours = Path(ok(tool(venv, ienv, tmp_path, "xbuildenv", "root")).strip())
    assert ours == pyodide_build_root(venv, ienv, tmp_path)
    assert ours.parent == tmp_path / "home" / ".cache" / "pyodide-build"
    # The same with the root configured in pyproject.toml (relative to that file).
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.pyodide.build]\nxbuildenv_path = "envs"\n')
    ours = Path(ok(tool(venv, ienv, project / "sub", "xbuildenv", "root")).strip())
    assert ours == project / "envs"


def xbuildenv_install(venv: Venv, ienv: dict[str, str], cwd: Path, published: Published) -> None:
    """``xbuildenv install`` of the published version, run inside the interop venv."""
    ok(
        tool(
            venv, ienv, cwd, "xbuildenv", "install", published.version, "--metadata", published.meta
        )
    )


def test_xbuildenv_installs_pyodide_build_uses(
    venv: Venv, ienv: dict[str, str], tmp_path: Path, published: Published
) -> None:
    xbuildenv_install(venv, ienv, tmp_path, published)
    root = pyodide_build_root(venv, ienv, tmp_path)
    assert (root / published.version / ".installed").is_file()

    listed = ok(tool(venv, ienv, tmp_path, "pyodide", "xbuildenv", "versions")).splitlines()
    assert f"* {published.version}" in listed
    assert (
        ok(tool(venv, ienv, tmp_path, "pyodide", "xbuildenv", "version")).strip()
        == published.version
    )
    # pyodide-build reads the build variables out of the environment we installed.
    config = ok(tool(venv, ienv, tmp_path, "pyodide", "config", "get", "pyodide_root"))
    assert Path(config.strip()) == root / published.version / "xbuildenv" / "pyodide-root"

    ok(tool(venv, ienv, tmp_path, "pyodide", "xbuildenv", "uninstall"))
    assert not (root / published.version).exists()
    assert ok(tool(venv, ienv, tmp_path, "xbuildenv", "versions")) == ""
    assert tool(venv, ienv, tmp_path, "xbuildenv", "version").returncode == 1


def test_pyodide_build_installs_xbuildenv_uses(
    server: Server, venv: Venv, ienv: dict[str, str], tmp_path: Path, published: Published
) -> None:
    env = {**ienv, "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": published.meta}
    ok(tool(venv, env, tmp_path, "pyodide", "xbuildenv", "install", published.version))
    root = Path(ok(tool(venv, env, tmp_path, "xbuildenv", "root")).strip())
    assert (root / published.version).is_dir()
    assert ok(tool(venv, env, tmp_path, "xbuildenv", "versions")) == f"* {published.version}\n"
    assert ok(tool(venv, env, tmp_path, "xbuildenv", "version")) == f"{published.version}\n"

    # Our install of the same version is a no-op: no index, no download.
    hits = sum(server.hits.values())
    proc = tool(venv, env, tmp_path, "xbuildenv", "install", published.version)
    assert "already installed" in ok(proc) + proc.stderr
    assert sum(server.hits.values()) == hits

    # A URL install by pyodide-build: both tools name the folder the same way.
    ok(tool(venv, env, tmp_path, "pyodide", "xbuildenv", "install", "--url", published.url))
    port = server.base.rsplit(":", 1)[1]
    mangled = f"http_127_0_0_1_{port}_dl_{published.version.replace('.', '_')}_xbuildenv-" + (
        published.version.replace(".", "_") + "_tar_gz"
    )
    assert ok(tool(venv, env, tmp_path, "xbuildenv", "version")) == f"{mangled}\n"
    listed = ok(tool(venv, env, tmp_path, "xbuildenv", "versions", "--json"))
    assert f'"{mangled}"' in listed and f'"{published.version}"' in listed

    ok(tool(venv, env, tmp_path, "xbuildenv", "use", published.version))
    assert (
        ok(tool(venv, env, tmp_path, "pyodide", "xbuildenv", "version")).strip()
        == published.version
    )
    ok(tool(venv, env, tmp_path, "xbuildenv", "uninstall", mangled))
    assert not (root / mangled).exists()


def test_package_index_matches_pyodide_build(
    venv: Venv, ienv: dict[str, str], tmp_path: Path, published: Published
) -> None:
    env = {**ienv, "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": published.meta}
    ok(tool(venv, env, tmp_path, "pyodide", "xbuildenv", "install", published.version))
    theirs = pyodide_build_root(venv, env, tmp_path) / published.version
    ours = tmp_path / "ours"
    ok(tool(venv, env, tmp_path, "xbuildenv", "install", published.version, "--path", str(ours)))
    index = Path("xbuildenv") / "pyodide-root" / "package_index"
    assert hrefs(ours / published.version / index) == hrefs(theirs / index)
    assert hrefs(theirs / index)  # not vacuous
    top_ours = re.findall(
        r'href="([^"]+)"', (ours / published.version / index / "index.html").read_text()
    )
    top_theirs = re.findall(r'href="([^"]+)"', (theirs / index / "index.html").read_text())
    assert top_ours == top_theirs
    assert (ours / published.version / ".build-python-version").read_text().strip() == (
        (theirs / ".build-python-version").read_text().strip()
    )


def test_pyodide_build_lists_only_versions(
    venv: Venv, ienv: dict[str, str], tmp_path: Path, published: Published
) -> None:
    xbuildenv_install(venv, ienv, tmp_path, published)
    listed = ok(tool(venv, ienv, tmp_path, "pyodide", "xbuildenv", "versions"))
    assert listed.splitlines() == [f"* {published.version}"]
