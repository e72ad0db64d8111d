"""cibuildwheel's Pyodide flow, and ``pyodide build``, driving ``xbuildenv``.

cibuildwheel (from the package registry) runs its real ``cibuildwheel.platforms.pyodide``
functions with a ``pyodide`` shim on PATH that forwards ``pyodide xbuildenv X`` to
``xbuildenv X`` and ``pyodide config ...`` to ``xbuildenv config ...``; once in a venv
without pyodide-build and once with pyodide-build 0.39.2 next to it. ``pyodide build``
(pyodide-build 0.39.2, a stand-in ``emcc``) then builds a pure-Python wheel against an
environment ``xbuildenv install`` put in place.

The venvs are built once and kept in ``tests/.interop-cache/`` (git-ignored), keyed by
their requirements and this project's pyproject.toml; the tests skip, never fail, when
that is impossible (no Python 3.12+, no package registry).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.archives import DATA, default_files, make_tar, sha256
from helpers.cli import clean_env
from helpers.interop import FIXTURE_PYTHON, PYODIDE_BUILD_0392, SCRIPT, cached_venv
from helpers.servers import Server

pytestmark = pytest.mark.interop

PYODIDE_BUILD = "pyodide-build==0.39.2"
VARIANTS = {"plain": ["cibuildwheel"], "with-pyodide-build": ["cibuildwheel", PYODIDE_BUILD]}
REAL_INDEX = DATA / "pyodide-cross-build-environments-v2.json"
# The newest release of the real index for each Python, in pyodide-build 0.39.2's range.
RELEASE_FOR = {"3.12": "0.27.7", "3.13": "0.29.4", "3.14": "314.0.5"}

SHIM = """#!/bin/sh
# pyodide-build's command, as cibuildwheel calls it, forwarded to xbuildenv.
case "$1" in
  xbuildenv) shift; exec xbuildenv "$@" ;;
  config) shift; exec xbuildenv config "$@" ;;
esac
echo "shim: not forwarded: pyodide $*" >&2
exit 99
"""

# cibuildwheel's setup_python() steps after pyodide-build is installed, in its order.
DRIVER = """
import json, os, sys
from cibuildwheel.platforms import pyodide as p
env = dict(os.environ)
version, pyodide_build_version, python = sys.argv[1:4]
infos = p.get_all_xbuildenv_version_info(env)
info = p.get_xbuildenv_version_info(env, version, pyodide_build_version)
p.validate_pyodide_build_version(xbuildenv_info=info, pyodide_build_version=pyodide_build_version)
config = p.PythonConfiguration(
    version=python,
    identifier="cp" + python.replace(".", "") + "-pyodide_wasm32",
    default_pyodide_version=version,
    node_version="v22",
)
p.validate_pyodide_target_python(xbuildenv_info=info, python_configuration=config)
cache = p.CIBW_CACHE_PATH / f"pyodide-build-{pyodide_build_version}"
env["PYODIDE_ROOT"] = p.install_xbuildenv(env, cache, version)
emscripten_dir = p.install_emscripten(env, info["emscripten"], cache)
print("RESULT " + json.dumps({"infos": infos, "info": info, "cache": str(cache),
      "pyodide_root": env["PYODIDE_ROOT"], "emscripten_dir": str(emscripten_dir)}))
"""


def archive_for(mm: str) -> bytes:
    if mm in FIXTURE_PYTHON:
        return (DATA / f"xbuildenv-test-{mm}.tar.gz").read_bytes()
    return make_tar(default_files(f"{mm}.0"))


def served_real_index(server: Server, mm: str) -> str:
    """The real 44-release index, every archive on the loopback server (one for ``mm``)."""
    body = archive_for(mm)
    doc = json.loads(REAL_INDEX.read_bytes())
    for key, entry in doc["releases"].items():
        entry["url"] = server.add(f"/dl/{key}.tar.gz", body)
        entry["sha256"] = sha256(body)
    return server.add("/index.json", json.dumps(doc).encode())


def venv_env(venv: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = clean_env(home, **extra)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    env["PIP_NO_INDEX"] = "1"  # nothing here may reach a package registry
    return env


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (proc.args, proc.stdout, proc.stderr)
    return proc.stdout


def xbuildenv(venv: Path, env: dict[str, str], cwd: Path, *args: str) -> str:
    """The venv's ``xbuildenv``; its stdout, after checking it succeeded."""
    command = [str(venv / "bin" / "xbuildenv"), *args]
    return ok(subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cibuildwheel_pyodide_flow(
    variant: str, server: Server, tmp_path: Path, emsdk_repo: str
) -> None:
    made = cached_venv(f"cibw-{variant}", VARIANTS[variant])
    venv, mm = made.path, made.python_mm
    if mm not in RELEASE_FOR:
        pytest.skip(f"the real index has no release for Python {mm}")
    version = RELEASE_FOR[mm]
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "pyodide").write_text(SHIM)
    (shim / "pyodide").chmod(0o755)
    meta = served_real_index(server, mm)
    env = venv_env(
        venv,
        tmp_path,
        PYODIDE_CROSS_BUILD_ENV_METADATA_URL=meta,
        XBUILDENV_EMSDK_URL=emsdk_repo,
        FAKE_EMSDK_LOG=str(tmp_path / "emsdk.log"),
        CIBW_CACHE_PATH=str(tmp_path / "cibw-cache"),
    )
    env["PATH"] = os.pathsep.join([str(shim), env["PATH"]])
    (tmp_path / "cibw-cache").mkdir()  # cibuildwheel makes it before this step
    # The venv's default root has another version active: nothing may come from it.
    other = "0.29.3" if version != "0.29.3" else "0.29.2"
    xbuildenv(venv, env, tmp_path, "install", other, "--force")

    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", DRIVER, version, "0.39.2", mm],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert len(result["infos"]) == 44
    assert result["info"]["version"] == version and result["info"]["compatible"] is True
    assert result["info"]["python"].startswith(mm + ".")
    cache = Path(result["cache"])
    version_dir = cache / version
    assert result["pyodide_root"] == str(version_dir / "xbuildenv" / "pyodide-root")
    assert (version_dir / ".installed").is_file()
    assert result["emscripten_dir"] == str(version_dir / "emsdk" / "upstream" / "emscripten")
    assert (
        Path(result["emscripten_dir"], "emscripten-version.txt").read_text().strip()
        == (result["info"]["emscripten"])
    )
    log = (tmp_path / "emsdk.log").read_text().splitlines()
    assert [line.split()[0] for line in log] == ["install", "activate"]

    # A second job on this machine (its own cibuildwheel cache, so its own root) gets
    # the SDK from the machine's SDK store: emsdk does not run again.
    env2 = {**env, "CIBW_CACHE_PATH": str(tmp_path / "cibw-cache-2")}
    (tmp_path / "cibw-cache-2").mkdir()
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", DRIVER, version, "0.39.2", mm],
        env=env2, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    second: dict[str, Any] = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert second["emscripten_dir"] != result["emscripten_dir"]
    assert Path(second["emscripten_dir"], "emscripten-version.txt").is_file()
    assert (tmp_path / "emsdk.log").read_text().splitlines() == log

    # What decided "compatible" is said, and with pyodide-build it is its range.
    listed = json.loads(xbuildenv(venv, env, tmp_path, "search", "--json"))
    if variant == "plain":
        assert listed["compatibility"]["pyodide_build"] is None
    else:
        assert listed["compatibility"] == {
            "python": mm,
            "pyodide_build": "0.39.2",
            "pyodide_build_source": "target environment",
        }
        compatible = {e["version"] for e in listed["environments"] if e["compatible"]}
        assert compatible == PYODIDE_BUILD_0392.get(mm, compatible)


BACKEND = '''
"""A tiny in-tree PEP 517 backend: a pure-Python wheel, no registry needed."""
import base64, hashlib, json, os, zipfile

NAME, VERSION, TAG = "purepkg", "1.0", "py3-none-any"


def _digest(data):
    raw = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "sha256=" + raw


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    seen = {k: os.environ.get(k) for k in ("PYODIDE", "PYODIDE_ROOT", "HOSTSITEPACKAGES")}
    with open(os.environ["BACKEND_SAW"], "w") as fh:
        json.dump(seen, fh)
    dist = f"{NAME}-{VERSION}.dist-info"
    files = {
        f"{NAME}/__init__.py": open(os.path.join(NAME, "__init__.py"), "rb").read(),
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n".encode()
        ),
        f"{dist}/WHEEL": f"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: {TAG}\\n".encode(),
    }
    record = "".join(f"{p},{_digest(d)},{len(d)}\\n" for p, d in files.items())
    name = f"{NAME}-{VERSION}-{TAG}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{dist}/RECORD", record + f"{dist}/RECORD,,\\n")
    return name
'''


@pytest.mark.parametrize("installer", ["same-venv", "other-venv"])
def test_pyodide_build_builds_against_our_install(
    installer: str, server: Server, tmp_path: Path
) -> None:
    """``xbuildenv install`` in the build's own venv (its default root), or in another
    venv (without pyodide-build) into a tree both share through PYODIDE_XBUILDENV_PATH."""
    made = cached_venv("cibw-with-pyodide-build", VARIANTS["with-pyodide-build"])
    venv, mm = made.path, made.python_mm
    if mm not in RELEASE_FOR:
        pytest.skip(f"the real index has no release for Python {mm}")
    version = RELEASE_FOR[mm]
    meta = served_real_index(server, mm)
    tools = tmp_path / "tools"
    tools.mkdir()
    saw = tmp_path / "backend-saw.json"
    shared = {} if installer == "same-venv" else {"PYODIDE_XBUILDENV_PATH": str(tmp_path / "tree")}
    env = venv_env(venv, tmp_path, BACKEND_SAW=str(saw), **shared)
    env["PATH"] = os.pathsep.join([str(tools), env["PATH"]])
    if installer == "same-venv":
        xbuildenv(venv, env, tmp_path, "install", version, "--metadata", meta)
    else:
        made = cached_venv("cibw-plain", VARIANTS["plain"])
        other, other_mm = made.path, made.python_mm
        assert other_mm == mm
        other_env = venv_env(other, tmp_path, **shared)
        xbuildenv(other, other_env, tmp_path, "install", version, "--metadata", meta)
    root = Path(xbuildenv(venv, env, tmp_path, "root").strip())
    if installer == "other-venv":
        assert root == tmp_path / "tree"
    emscripten = xbuildenv(venv, env, tmp_path, "config", "get", "emscripten_version").strip()
    (tools / "emcc").write_text(
        "#!/bin/sh\n"
        f'echo "emcc (Emscripten gcc/clang-like replacement + linker) {emscripten} (0)" >&2\n'
    )
    (tools / "emcc").chmod(0o755)

    project = tmp_path / "project"
    (project / "purepkg").mkdir(parents=True)
    (project / "purepkg" / "__init__.py").write_text("X = 1\n")
    (project / "backend.py").write_text(BACKEND)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        '[project]\nname = "purepkg"\nversion = "1.0"\n'
    )
    proc = subprocess.run([str(venv / "bin" / "pyodide"), "build"], env=env, cwd=project,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p.name for p in (project / "dist").iterdir()] == ["purepkg-1.0-py3-none-any.whl"]
    seen = json.loads(saw.read_text())
    pyodide_root = root / version / "xbuildenv" / "pyodide-root"
    assert seen["PYODIDE"] == "1"
    assert Path(seen["PYODIDE_ROOT"]).resolve() == pyodide_root.resolve()
    assert seen["HOSTSITEPACKAGES"].startswith(str(pyodide_root.resolve())) or seen[
        "HOSTSITEPACKAGES"
    ].startswith(str(pyodide_root))


def test_compatible_is_pyodide_build_0392s_answer(tmp_path: Path) -> None:
    """Real pyodide-build 0.39.2 decides, for Python 3.11-3.14; ours must agree."""
    venv = cached_venv("cibw-with-pyodide-build", VARIANTS["with-pyodide-build"]).path
    code = (
        "import json, sys\n"
        "from pyodide_build.xbuildenv_releases import CrossBuildEnvMetaSpec\n"
        "m = CrossBuildEnvMetaSpec.from_json(open(sys.argv[1]).read())\n"
        "print(json.dumps({mm: sorted(v for v, r in m.releases.items() if r.is_compatible("
        "python_version=mm, pyodide_build_version='0.39.2')) for mm in sys.argv[2:]}))\n"
    )
    pythons = ["3.11", "3.12", "3.13", "3.14"]
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", code, str(REAL_INDEX), *pythons],
                          capture_output=True, text=True, check=True)  # fmt: skip
    theirs = {mm: set(v) for mm, v in json.loads(proc.stdout).items()}
    assert theirs == PYODIDE_BUILD_0392
    from xbuildenv.index.compatibility import is_compatible
    from xbuildenv.index.releases import parse_index

    releases = parse_index(REAL_INDEX.read_bytes())
    for mm in pythons:
        assert {v for v, r in releases.items() if is_compatible(r, mm, "0.39.2")} == theirs[mm]


def test_same_manager_script_runs_on_pyodide_builds_class(server: Server, tmp_path: Path) -> None:
    """The script of manager/test_dropin_api.py (on our CrossBuildEnvManager), on the real one."""
    made = cached_venv("cibw-with-pyodide-build", VARIANTS["with-pyodide-build"])
    venv, mm = made.path, made.python_mm
    body = archive_for(mm)
    full = {"3.13": "3.13.2", "3.14": "3.14.2"}.get(mm, f"{mm}.0")
    releases = {
        "1.0": {"version": "1.0", "url": server.add("/a.tar.gz", body), "python_version": full,
                "emscripten_version": "4.0.9", "sha256": sha256(body)},
        "9.0": {"version": "9.0", "url": server.add("/b.tar.gz", body), "python_version": "3.99.0",
                "emscripten_version": "4.0.9", "sha256": sha256(body)},
    }  # fmt: skip
    meta = server.add("/i.json", json.dumps({"releases": releases}).encode())
    code = (
        SCRIPT
        + "\nimport sys, json\nfrom pathlib import Path\n"
        + "from pyodide_build.xbuildenv import CrossBuildEnvManager\n"
        + "print(json.dumps(drive(CrossBuildEnvManager, Path(sys.argv[1]), sys.argv[2], "
        + "'1.0', '9.0')))\n"
    )
    env = venv_env(venv, tmp_path)
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", code, str(tmp_path / "root"), meta],
                          env=env, cwd=tmp_path, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == ["ValueError"] * 6
