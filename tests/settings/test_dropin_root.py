"""Which environment a reading command uses, and where settings come from, as pyodide-build.

``PYODIDE_ROOT`` (how cibuildwheel pins the environment it installed) and a Pyodide
source tree (``[tool._pyodide]``) name the pyodide-root; every overridable setting is
read from its variable first, then ``[tool.pyodide.build]``; a stale Python marker is
reported. Everything runs the real ``xbuildenv`` command against real installs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.archives import PY_MM, fixture_files, make_tar
from helpers.cli import REPO, install_env, one_error, run
from helpers.servers import Server


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning: ")]


@pytest.fixture
def two_envs(server: Server, env: dict[str, str], tmp_path: Path) -> tuple[Path, Path]:
    """The default root has one environment active; ``pinned/`` holds another.

    Returns (pyodide-root in the default root, pyodide-root under pinned/).
    """
    url = server.add("/default.tar.gz", make_tar(fixture_files("3.13")))
    r = run("install", "--url", url, env=env, cwd=tmp_path)
    assert r.code == 0, r.err
    default = Path(run("root", env=env, cwd=tmp_path).out.strip())
    default_pyroot = (default / "xbuildenv").resolve() / "xbuildenv" / "pyodide-root"
    pinned = install_env(
        server,
        env,
        tmp_path / "pinned",
        python="3.14",
        extra={"xbuildenv/requirements.txt": b"onlyinpinned==1.0\n"},
        name="pinned",
    )
    return default_pyroot, pinned


def test_pyodide_root_pins_every_reading_command(
    two_envs: tuple[Path, Path], env: dict[str, str], tmp_path: Path, emsdk_repo: str
) -> None:
    default_pyroot, pinned = two_envs
    version_dir = pinned.parent.parent
    env = {
        **env,
        "PYODIDE_ROOT": str(pinned),
        "XBUILDENV_EMSDK_URL": emsdk_repo,
        "FAKE_EMSDK_LOG": str(tmp_path / "emsdk.log"),
    }

    def out(*args: str) -> str:
        r = run(*args, env=env, cwd=tmp_path)
        assert r.code == 0, r.err
        return r.out

    # cibuildwheel's question, answered from the pinned environment and never the default's.
    emscripten_dir = version_dir / "emsdk" / "upstream" / "emscripten"
    assert out("config", "get", "emscripten_dir") == f"{emscripten_dir}\n"
    assert out("config", "get", "emsdk_dir") == f"{version_dir / 'emsdk'}\n"
    assert out("config", "get", "pyodide_root") == f"{pinned}\n"
    assert out("config", "get", "python_version").startswith("3.14.")
    listed = json.loads(out("config", "list", "--json"))
    assert listed["pyodide_root"] == str(pinned) and listed["emsdk_dir"] == str(
        version_dir / "emsdk"
    )
    assert out("version") == f"{version_dir.name}\n"
    assert f"export PYODIDE_ROOT='{pinned}'" in out("env", "--shell", "bash").splitlines()
    assert out("run", "--", "sh", "-c", 'printf %s "$PYVERSION"').startswith("3.14.")
    # install-packages reads the pinned environment's pins.
    line = one_error(run("install-packages", "nosuchpkg", env=env, cwd=tmp_path))
    assert "onlyinpinned" in line
    # install-emscripten installs next to the pinned environment.
    assert out("install-emscripten", "--version", "4.0.9")
    assert (emscripten_dir / "emscripten-version.txt").is_file()
    assert not (default_pyroot.parent.parent / "emsdk").exists()

    # Without the variable, the default root's active version answers again...
    plain = {k: v for k, v in env.items() if k != "PYODIDE_ROOT"}
    r = run("config", "get", "pyodide_root", env=plain, cwd=tmp_path)
    assert r.out == f"{default_pyroot}\n"
    # ...and an explicit --path beats the variable: it names the root to read.
    r = run("config", "get", "pyodide_root", "--path", str(tmp_path / "pinned"), env=env)
    assert r.out == f"{pinned}\n"
    other = {**env, "PYODIDE_ROOT": str(default_pyroot)}
    r = run("config", "get", "pyodide_root", "--path", str(tmp_path / "pinned"), env=other)
    assert r.out == f"{pinned}\n"


@pytest.mark.parametrize("what", ["missing", "no-makefile"])
def test_bad_pyodide_root_is_one_error(
    what: str, env: dict[str, str], tmp_path: Path, two_envs: tuple[Path, Path]
) -> None:
    bad = tmp_path / "nowhere"
    if what == "no-makefile":
        bad.mkdir()
    env = {**env, "PYODIDE_ROOT": str(bad)}
    for args in (
        ["config", "get", "emscripten_dir"],
        ["config", "list"],
        ["env"],
        ["run", "--", "true"],
        ["install-packages"],
        ["install-emscripten"],
        ["version"],
    ):
        r = run(*args, env=env, cwd=tmp_path)
        line = one_error(r)
        assert line.startswith(f"error: PYODIDE_ROOT={bad} "), line
        assert ("does not exist" if what == "missing" else "holds no Makefile.envs") in line
        assert r.out == ""


def test_pyodide_source_tree_is_the_pyodide_root(
    two_envs: tuple[Path, Path], env: dict[str, str], tmp_path: Path
) -> None:
    # A Pyodide checkout: [tool._pyodide] in its pyproject.toml, Makefile.envs at its top.
    tree = tmp_path / "pyodide"
    (tree / "packages" / "sub").mkdir(parents=True)
    (tree / "pyproject.toml").write_text("[tool._pyodide]\nx = 1\n[tool.pyodide.build]\n")
    (tree / "Makefile.envs").write_bytes(
        fixture_files("3.13")["xbuildenv/pyodide-root/Makefile.envs"]
    )
    r = run("config", "get", "pyodide_root", env=env, cwd=tree / "packages" / "sub")
    assert (r.code, r.out) == (0, f"{tree}\n"), r.err
    r = run("config", "get", "emsdk_dir", env=env, cwd=tree / "packages" / "sub")
    assert r.out == f"{tree.parent.parent / 'emsdk'}\n"
    r = run("version", env=env, cwd=tree)
    assert (r.code, r.out) == (0, "0.29.4\n"), r.err
    # PYODIDE_ROOT still wins over the tree, as in pyodide-build.
    _, pinned = two_envs
    r = run("config", "get", "pyodide_root", env={**env, "PYODIDE_ROOT": str(pinned)}, cwd=tree)
    assert r.out == f"{pinned}\n"


def test_marker_for_another_python_is_one_warning(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    pyroot = install_env(server, env, root)
    version = pyroot.parent.parent.name
    marker = pyroot.parent.parent / ".build-python-version"
    assert marker.read_text().strip() == PY_MM
    at = ["--path", str(root)]
    for args in (["config", "get", "pyodide_root", *at], ["env", *at], ["run", *at, "--", "true"]):
        r = run(*args, env=env)
        assert r.code == 0 and warnings(r.err) == [], r.err

    marker.write_text("3.7\n")
    fix = f"run 'xbuildenv install {version} --path {root}' to refresh it"
    for args in (
        ["config", "get", "pyodide_root", *at],
        ["config", "list", *at],
        ["env", "--shell", "bash", *at],
        ["run", *at, "--", "true"],
        ["install-packages", "nosuchpkg", *at],
    ):
        r = run(*args, env=env)
        got = warnings(r.err)
        assert len(got) == 1, (args, r.err)
        assert f"was installed for Python 3.7, not for the target Python {PY_MM}" in got[0]
        assert got[0].endswith(fix), got[0]
    # The same check through PYODIDE_ROOT, and the command it names really fixes it.
    r = run("env", env={**env, "PYODIDE_ROOT": str(pyroot)}, cwd=tmp_path)
    assert len(warnings(r.err)) == 1
    r = run("install", version, "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert marker.read_text().strip() == PY_MM
    r = run("config", "get", "pyodide_root", "--path", str(root), env=env)
    assert warnings(r.err) == []


# --- settings: variable, then [tool.pyodide.build], then default ---------------------------
def test_default_cross_build_env_url_from_the_environment(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    from_env = server.add("/from-env.tar.gz", make_tar(fixture_files("3.13")))
    from_file = server.add("/from-file.tar.gz", make_tar(fixture_files("3.14")))
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[tool.pyodide.build]\ndefault_cross_build_env_url = "{from_file}"\n'
    )
    root = tmp_path / "root"
    # No index is served at all: a fall back to "latest" would fail loudly.
    env = {**env, "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": server.url("/no-index.json")}

    r = run("install", "--path", str(root), env={**env, "DEFAULT_CROSS_BUILD_ENV_URL": from_env},
            cwd=project)  # fmt: skip
    assert r.code == 0, r.err
    assert server.hits["/from-env.tar.gz"] == 1 and server.hits["/from-file.tar.gz"] == 0
    r = run("config", "get", "default_cross_build_env_url", "--path", str(root),
            env={**env, "DEFAULT_CROSS_BUILD_ENV_URL": from_env}, cwd=project)  # fmt: skip
    assert r.out == f"{from_env}\n"
    # Without the variable the file's key is used.
    r = run("install", "--path", str(root), env=env, cwd=project)
    assert r.code == 0, r.err
    assert server.hits["/from-file.tar.gz"] == 1
    r = run("config", "get", "default_cross_build_env_url", "--path", str(root), env=env,
            cwd=project)  # fmt: skip
    assert r.out == f"{from_file}\n"


def test_settings_precedence_matches_pyodide_build(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    install_env(server, env, root)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[tool.pyodide.build]\n"
        'cflags = "-O1 $(EXTRA)"\n'
        'ldflags = "-from-file"\n'
        "skip_emscripten_version_check = true\n"
        'build_dependency_index_url = "https://file.example/simple"\n'
        'xbuildenv_path = "from-file"\n'
    )
    env = {**env, "EXTRA": "-DX", "SIDE_MODULE_LDFLAGS": "-from-env", "PYODIDE_XBUILDENV_PATH": ""}

    def get(key: str, **extra: str) -> str:
        r = run("config", "get", key, "--path", str(root), env={**env, **extra}, cwd=project)
        assert r.code == 0, r.err
        return r.out.rstrip("\n")

    assert get("cflags") == "-O1 -DX"  # the file, $(NAME) replaced from the environment
    assert get("ldflags") == "-from-env"  # the variable beats the file
    assert get("skip_emscripten_version_check") == "1"  # TOML true is "1"
    assert get("skip_emscripten_version_check", SKIP_EMSCRIPTEN_VERSION_CHECK="0") == "0"
    assert get("build_dependency_index_url") == "https://file.example/simple"
    assert get("use_legacy_platform") == "0"  # pyodide-build's default
    assert get("_f2c_fixes_wrapper", _F2C_FIXES_WRAPPER="w") == "w"
    # An empty variable still wins over the file, as pyodide-build merges it.
    assert get("xbuildenv_path") == ""
    r = run("root", "--json", env=env, cwd=project)
    assert json.loads(r.out)["rule"] == "user cache"
    unset = {k: v for k, v in env.items() if k != "PYODIDE_XBUILDENV_PATH"}
    r = run("root", "--json", env=unset, cwd=project)
    assert json.loads(r.out)["root"] == str(project / "from-file")


def test_the_docs_list_every_overridable_key() -> None:
    import sys

    from xbuildenv.settings.build_settings import OVERRIDABLE

    sys.path.insert(0, str(REPO))
    from docs_gen.reference import expand

    readme = expand((REPO / "docs" / "reference" / "configuration.md").read_text())
    for key, variable in OVERRIDABLE.items():
        assert f"| `{key}` | `{variable}` |" in readme, key
