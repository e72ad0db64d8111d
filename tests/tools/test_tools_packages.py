"""``install-packages``: real pip, real wheels, a loopback PEP 503 index."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.archives import make_wheel
from helpers.cli import install_env, one_error, pip_env, run
from helpers.servers import Server, index_hits, serve_simple_index

from xbuildenv.tools.host_packages import installed_distributions, read_pins, same_version

SITE = "packages/.artifacts/lib/python3.13/site-packages"


def wheels() -> list[tuple[str, bytes]]:
    return [
        make_wheel("numpy", "2.2.5"),
        make_wheel("numpy", "2.0.0"),
        make_wheel("numpy", "2.3.0"),  # newer than the pin: only the constraint keeps it out
        make_wheel("scipy", "1.14.1", requires=("numpy",)),
        make_wheel("cffi", "1.17.1", requires=("pycparser",)),
        make_wheel("pycparser", "2.22"),
        make_wheel("pycparser", "2.23"),
    ]


@pytest.fixture
def setup(
    server: Server, env: dict[str, str], tmp_path: Path
) -> tuple[Path, Path, dict[str, str], str]:
    root = tmp_path / "root"
    penv = pip_env(env)
    pyroot = install_env(server, penv, root)
    index = serve_simple_index(server, wheels())
    return root, pyroot / SITE, penv, index


def dists(site: Path) -> dict[str, str]:
    return {k: d.version for k, d in installed_distributions(site).items()}


def test_installs_one_pin_with_extras(
    server: Server, setup: tuple[Path, Path, dict[str, str], str]
) -> None:
    root, site, env, index = setup
    r = run("install-packages", "numpy", "--index-url", index, "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert dists(site) == {"numpy": "2.2.5"}
    assert (site / "numpy/__init__.py").read_text() == "__version__ = '2.2.5'\n"
    # the WebAssembly files of site-packages-extras are laid over the package...
    assert (site / "numpy/_core/include/numpy/numpyconfig.h").is_file()
    assert (site / "numpy/random/lib/libnpyrandom.a").is_file()
    # ...but not those of a package that is not installed
    assert not (site / "scipy").exists()
    assert not list(site.parent.glob(".xbuildenv-staging-*"))
    # a second run is a no-op: no index request, nothing rewritten
    before = index_hits(server)
    mtime = (site / "numpy/_core/include/numpy/numpyconfig.h").stat().st_mtime_ns
    r = run("install-packages", "numpy", "--index-url", index, "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert "numpy 2.2.5 is already installed" in r.err
    assert index_hits(server) == before
    assert (site / "numpy/_core/include/numpy/numpyconfig.h").stat().st_mtime_ns == mtime


def test_dependencies_are_constrained_to_the_pins(
    setup: tuple[Path, Path, dict[str, str], str],
) -> None:
    root, site, env, index = setup
    r = run("install-packages", "scipy", "--index-url", index, "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert dists(site) == {"numpy": "2.2.5", "scipy": "1.14.1"}  # not numpy 2.3.0
    assert (site / "scipy/linalg/cython_blas.pxd").is_file()
    assert (site / "numpy/_core/lib/libnpymath.a").is_file()
    # every pin when no name is given; the two present are kept
    r = run("install-packages", "--index-url", index, "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert dists(site) == {
        "numpy": "2.2.5",
        "scipy": "1.14.1",
        "cffi": "1.17.1",
        "pycparser": "2.22",
    }
    assert "scipy 1.14.1 is already installed" in r.err


def test_other_version_is_replaced_not_duplicated(
    setup: tuple[Path, Path, dict[str, str], str],
) -> None:
    root, site, env, index = setup
    # numpy 2.0.0 arrives first, the way a user's own pip run would put it there
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--target", str(site),
         "--index-url", index, "numpy==2.0.0"],
        env=env, check=True,
    )  # fmt: skip
    (site / "numpy/only_in_2_0.py").write_text("")
    assert dists(site) == {"numpy": "2.0.0"}
    r = run("install-packages", "numpy", "--index-url", index, "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert "replaced numpy 2.0.0 with 2.2.5" in r.err
    assert sorted(p.name for p in site.glob("numpy*.dist-info")) == ["numpy-2.2.5.dist-info"]
    assert not (site / "numpy/only_in_2_0.py").exists()
    assert (site / "numpy/__init__.py").read_text() == "__version__ = '2.2.5'\n"
    assert (site / "numpy/_core/include/numpy/numpyconfig.h").is_file()


def test_pins_compare_by_pep440(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    from helpers.archives import fixture_files

    penv = pip_env(env)
    root = tmp_path / "root"
    reqs = b"numpy==2.2.05\n# a comment\n\nscipy==1.14.1 ; python_version > '3'\n"
    pyroot = install_env(server, penv, root, extra={"xbuildenv/requirements.txt": reqs})
    assert fixture_files()  # the rest of the environment is the real one
    index = serve_simple_index(server, wheels())
    r = run("install-packages", "numpy", "--index-url", index, "--path", str(root), env=penv)
    assert r.code == 0, r.err
    assert dists(pyroot / SITE) == {"numpy": "2.2.5"}
    before = index_hits(server)
    r = run("install-packages", "numpy", "--index-url", index, "--path", str(root), env=penv)
    assert r.code == 0 and index_hits(server) == before, r.err


def test_pip_failure_is_readable_and_changes_nothing(
    setup: tuple[Path, Path, dict[str, str], str], server: Server
) -> None:
    root, site, env, _ = setup
    r = run("install-packages", "numpy", "--index-url", server.url("/simple/"), "--path",
            str(root), env=env)  # fmt: skip
    assert r.code == 0, r.err
    empty = serve_simple_index(server, [make_wheel("numpy", "1.0")], prefix="/empty")
    r = run("install-packages", "scipy", "--index-url", empty, "--path", str(root), env=env)
    line = one_error(r)
    assert "pip could not install scipy==1.14.1" in line
    assert "Cannot install scipy==1.14.1 because" in line  # pip's own words
    assert "  | " in r.err  # pip's own output, indented under our message
    assert dists(site) == {"numpy": "2.2.5"}
    assert not list(site.parent.glob(".xbuildenv-staging-*"))


def test_unknown_name_and_missing_uv(setup: tuple[Path, Path, dict[str, str], str]) -> None:
    root, _, env, _index = setup
    line = one_error(run("install-packages", "pandas", "--path", str(root), env=env))
    assert "pandas is not a cross-build package of this environment" in line
    assert "numpy" in line
    env = {**env, "PATH": "/nonexistent"}
    r = run("install-packages", "numpy", "--installer", "uv", "--path", str(root), env=env)
    try:
        import uv  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        assert "uv is not installed" in one_error(r, 2)


def test_uv_installer(setup: tuple[Path, Path, dict[str, str], str]) -> None:
    from xbuildenv.tools.host_packages import find_uv

    if find_uv() is None:
        pytest.skip("uv is not installed")
    root, site, env, index = setup
    r = run("install-packages", "scipy", "--installer", "uv", "--index-url", index, "--path",
            str(root), env=env)  # fmt: skip
    assert r.code == 0, r.err
    assert dists(site) == {"numpy": "2.2.5", "scipy": "1.14.1"}


def test_library_helpers(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("Foo_Bar==1.0\nbaz[extra]==2.0.0 # pinned\nnot-a-pin>=1\n-r other.txt\n")
    assert read_pins(req) == {"foo-bar": ("Foo_Bar", "1.0"), "baz": ("baz", "2.0.0")}
    assert same_version("2024.2.2", "2024.02.02")
    assert not same_version("2.0", "2.0.1") and not same_version(None, "1")
