"""Cache-root resolution: the SPEC's five rules, in order, through the real CLI.

Each test runs ``xbuildenv root --json`` as a subprocess with a private HOME and
XDG_CACHE_HOME, so nothing from the machine leaks in. Unwritable locations are made
by putting a regular file where a folder would have to be: that works even as root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import clean_env, expected_install_id, one_error, root_json, run

import xbuildenv

OUR_PACKAGE = Path(xbuildenv.__file__).resolve().parent
OUR_ID = expected_install_id(sys.prefix, OUR_PACKAGE)
DIRNAME = f".pyodide-xbuildenv-{OUR_ID}"


def write_pyproject(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pyproject.toml"
    path.write_text(body)
    return path


def blocked(tmp_path: Path) -> Path:
    """A path that can never be created: its parent is a regular file."""
    wall = tmp_path / "a-file"
    wall.write_text("not a folder")
    return wall / "root"


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


# --- rule 4: the platformdirs default, and the install id ------------------------
def test_default_is_user_cache_with_install_id(
    env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    data = root_json(env, cwd=tmp_path)
    assert data["install_id"] == OUR_ID
    assert data["rule"] == "user cache"
    assert Path(data["root"]) == home / ".cache" / "pyodide-build" / DIRNAME


def test_plain_root_prints_only_the_path(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    r = run("root", env=env, cwd=tmp_path)
    assert r.code == 0, r.err
    assert r.out == f"{home / '.cache' / 'pyodide-build' / DIRNAME}\n"
    assert r.err == ""


def test_xdg_cache_home_is_honoured(home: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "xdg"
    data = root_json(clean_env(home, XDG_CACHE_HOME=str(elsewhere)), cwd=tmp_path)
    assert Path(data["root"]) == elsewhere / "pyodide-build" / DIRNAME


def test_install_id_uses_pyodide_build_folder_when_importable(home: Path, tmp_path: Path) -> None:
    # A package named pyodide_build on the path is what the formula looks at; its
    # folder (not ours) scopes the id, so both tools land in the same root.
    fake = tmp_path / "site" / "pyodide_build"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    env = clean_env(home, PYTHONPATH=str(tmp_path / "site"))
    data = root_json(env, cwd=tmp_path)
    want = expected_install_id(sys.prefix, fake)
    assert want != OUR_ID
    assert data["install_id"] == want
    assert Path(data["root"]).name == f".pyodide-xbuildenv-{want}"


def test_install_id_differs_per_interpreter(env: dict[str, str], tmp_path: Path) -> None:
    # A second environment (a venv without pip is enough) gets its own root.
    venv = tmp_path / "other-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    data = root_json(env, "--python", str(venv / "bin" / "python"), cwd=tmp_path)
    assert data["install_id"] == expected_install_id(venv, OUR_PACKAGE)
    assert data["install_id"] != OUR_ID


def test_tool_install_targets_the_active_venv(home: Path, tmp_path: Path) -> None:
    """Run from a pipx-style environment, the target is $VIRTUAL_ENV, not ourselves."""
    tool = tmp_path / "tool-venv"
    user = tmp_path / "user-venv"
    for venv in (tool, user):
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # Make our package and its dependencies importable in the tool venv, and mark it
    # the way pipx marks the environments it creates.
    site = next((tool / "lib").glob("python*/site-packages"))
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (site / "xbuildenv-test.pth").write_text("\n".join([str(OUR_PACKAGE.parent), *deps]) + "\n")
    (tool / "pipx_metadata.json").write_text("{}")
    env = clean_env(home, VIRTUAL_ENV=str(user))
    r = run("root", "--json", env=env, cwd=tmp_path, python=str(tool / "bin" / "python"))
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["install_id"] == expected_install_id(user, OUR_PACKAGE)
    # Without the marker it is an ordinary venv, and VIRTUAL_ENV does not matter.
    (tool / "pipx_metadata.json").unlink()
    r = run("root", "--json", env=env, cwd=tmp_path, python=str(tool / "bin" / "python"))
    assert json.loads(r.out)["install_id"] == expected_install_id(tool, OUR_PACKAGE)


# --- rule 5: working-directory fallback ----------------------------------------
def test_cwd_fallback_when_cache_unwritable(home: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = clean_env(home, XDG_CACHE_HOME=str(blocked(tmp_path)))
    r = run("root", "--json", env=env, cwd=work)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["rule"] == "working directory"
    assert Path(data["root"]) == work / DIRNAME


# --- rule 1: --path --------------------------------------------------------------
def test_path_option_beats_everything(home: Path, tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.pyodide.build]\nxbuildenv_path = "from-file"\n')
    env = clean_env(home, PYODIDE_XBUILDENV_PATH=str(tmp_path / "from-env"))
    data = root_json(env, "--path", "rel/cli-root", cwd=tmp_path)
    assert data["rule"] == "--path"
    assert Path(data["root"]) == tmp_path / "rel" / "cli-root"  # relative to the cwd


# --- rule 2: PYODIDE_XBUILDENV_PATH ----------------------------------------------
def test_env_var_beats_pyproject(home: Path, tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.pyodide.build]\nxbuildenv_path = "from-file"\n')
    env = clean_env(home, PYODIDE_XBUILDENV_PATH=str(tmp_path / "from-env"))
    data = root_json(env, cwd=tmp_path)
    assert data["rule"] == "PYODIDE_XBUILDENV_PATH"
    assert Path(data["root"]) == tmp_path / "from-env"


def test_unwritable_env_var_warns_once_and_falls_through(home: Path, tmp_path: Path) -> None:
    bad = blocked(tmp_path)
    env = clean_env(home, PYODIDE_XBUILDENV_PATH=str(bad))
    r = run("root", "--json", env=env, cwd=tmp_path)
    assert r.code == 0, r.err
    lines = warnings(r.err)
    assert len(lines) == 1 and r.err.count("\n") == 1, r.err
    assert str(bad) in lines[0] and "PYODIDE_XBUILDENV_PATH" in lines[0]
    data = json.loads(r.out)
    assert data["rule"] == "user cache"
    assert Path(data["root"]) == home / ".cache" / "pyodide-build" / DIRNAME


# --- rule 3: pyproject.toml --------------------------------------------------------
def test_pyproject_relative_value_found_searching_upwards(
    env: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    pyproject = write_pyproject(project, '[tool.pyodide.build]\nxbuildenv_path = "envs/x"\n')
    deep = project / "src" / "pkg" / "deeper"
    deep.mkdir(parents=True)
    data = root_json(env, cwd=deep)
    # Relative to the file's folder, not to the working directory.
    assert Path(data["root"]) == project / "envs" / "x"
    assert str(pyproject) in data["rule"] and "xbuildenv_path" in data["rule"]


def test_pyproject_absolute_value(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "absolute-root"
    write_pyproject(tmp_path / "p", f'[tool.pyodide.build]\nxbuildenv_path = "{target}"\n')
    assert Path(root_json(env, cwd=tmp_path / "p")["root"]) == target


def test_nearest_pyproject_wins_even_without_the_key(
    env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    # The nearest file decides: an inner project without the key does not inherit the
    # outer project's setting (the same rule pyodide-build applies).
    write_pyproject(tmp_path / "outer", '[tool.pyodide.build]\nxbuildenv_path = "outer-root"\n')
    write_pyproject(tmp_path / "outer" / "inner", '[project]\nname = "inner"\n')
    data = root_json(env, cwd=tmp_path / "outer" / "inner")
    assert data["rule"] == "user cache"
    assert Path(data["root"]) == home / ".cache" / "pyodide-build" / DIRNAME


def test_unwritable_pyproject_path_warns_naming_the_file(
    env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    bad = blocked(tmp_path)
    pyproject = write_pyproject(tmp_path / "p", f'[tool.pyodide.build]\nxbuildenv_path = "{bad}"\n')
    r = run("root", env=env, cwd=tmp_path / "p")
    assert r.code == 0, r.err
    lines = warnings(r.err)
    assert len(lines) == 1 and r.err.count("\n") == 1, r.err
    assert str(bad) in lines[0] and str(pyproject) in lines[0]
    assert r.out.strip() == str(home / ".cache" / "pyodide-build" / DIRNAME)


def test_broken_pyproject_is_one_error_line(env: dict[str, str], tmp_path: Path) -> None:
    pyproject = write_pyproject(tmp_path, "[tool.pyodide.build\nxbuildenv_path = 1\n")
    line = one_error(run("root", env=env, cwd=tmp_path))
    assert str(pyproject) in line


def test_mistyped_pyproject_value_is_one_error_line(env: dict[str, str], tmp_path: Path) -> None:
    write_pyproject(tmp_path, "[tool.pyodide.build]\nxbuildenv_path = 5\n")
    line = one_error(run("root", env=env, cwd=tmp_path))
    assert "xbuildenv_path" in line and "string" in line


# --- the probe -------------------------------------------------------------------------
def test_probe_leaves_nothing_behind(home: Path, tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    parent.mkdir()
    env = clean_env(home, PYODIDE_XBUILDENV_PATH=str(parent / "not" / "yet" / "there"))
    data = root_json(env, cwd=tmp_path)
    assert data["rule"] == "PYODIDE_XBUILDENV_PATH"
    assert os.listdir(parent) == []  # probed in the nearest existing ancestor, then removed


def test_unwritable_everything_still_answers(home: Path, tmp_path: Path) -> None:
    # Neither the cache nor the working directory can be written: resolution still
    # names a root (the cwd fallback) and says why, instead of crashing.
    wall = tmp_path / "wall"
    wall.write_text("")
    env = clean_env(home, XDG_CACHE_HOME=str(wall / "cache"))
    r = run("root", "--json", env=env, cwd=tmp_path)
    assert r.code == 0, r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize("rule_env", ["PYODIDE_XBUILDENV_PATH"])
def test_api_default_path_matches_cli(
    rule_env: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xbuildenv import default_xbuildenv_path

    for key in list(os.environ):
        if key.startswith(("PYODIDE_", "XBUILDENV_")) or key == "VIRTUAL_ENV":
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.chdir(tmp_path)
    env = clean_env(home)
    assert default_xbuildenv_path() == Path(root_json(env, cwd=tmp_path)["root"])
    monkeypatch.setenv(rule_env, str(tmp_path / "configured"))
    env[rule_env] = str(tmp_path / "configured")
    assert default_xbuildenv_path() == tmp_path / "configured"
    assert Path(root_json(env, cwd=tmp_path)["root"]) == tmp_path / "configured"


@pytest.mark.parametrize("name", ["", "1.0\x000", "../1.0", "1.0\n2.0"])
def test_version_names_that_cannot_be_folders_are_refused(name: str) -> None:
    from xbuildenv.cache.layout import check_version_name
    from xbuildenv.errors import XBuildEnvError

    with pytest.raises(XBuildEnvError):
        check_version_name(name)
