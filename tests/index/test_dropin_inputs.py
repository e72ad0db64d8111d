"""Inputs people really have: archives made with ``tar``/``shutil``, an index with one bad
release, and ``search`` saying what decided compatibility.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from helpers.archives import DATA, PY_MM, default_files, fixture_files, make_tar, sha256
from helpers.cli import one_error, run
from helpers.interop import PYODIDE_BUILD_0392
from helpers.servers import Server

from xbuildenv.index.compatibility import is_compatible
from xbuildenv.index.releases import parse_index

REAL = DATA / "pyodide-cross-build-environments-v2.json"


def tree(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


# --- archives made the usual way: "./" members -----------------------------------------------
@pytest.mark.parametrize("maker", ["tar", "shutil"])
def test_archives_people_make_install(
    maker: str, server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    src = tree(tmp_path / "src", fixture_files("3.13"))
    if maker == "tar":
        archive = tmp_path / "env.tgz"
        subprocess.run(["tar", "-C", str(src), "-czf", str(archive), "."], check=True)
    else:
        archive = Path(shutil.make_archive(str(tmp_path / "env"), "gztar", root_dir=src))
    with tarfile.open(archive) as tf:
        names = tf.getnames()
    assert names[0] in (".", "./") and all(n.startswith("./") for n in names[1:])
    url = server.add("/made.tar.gz", archive.read_bytes())
    root = tmp_path / "root"
    r = run("install", "--url", url, "--path", str(root), env=env)
    assert r.code == 0, r.err
    version_dir = (root / "xbuildenv").resolve()
    installed = version_dir / "xbuildenv"
    for name, data in fixture_files("3.13").items():
        assert (version_dir / name).read_bytes() == data, name
    assert sorted(p.name for p in version_dir.iterdir() if not p.name.startswith(".")) == [
        "xbuildenv"
    ]
    r = run("config", "get", "python_version", "--path", str(root), env=env)
    assert (r.code, r.out) == (0, "3.13.2\n"), r.err
    assert (installed / "pyodide-root" / "Makefile.envs").is_file()


def _hostile(build: str) -> bytes:
    """An otherwise good ``./``-style archive with one bad member added."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        top = tarfile.TarInfo("./")
        top.type = tarfile.DIRTYPE
        tf.addfile(top)
        for name, data in default_files().items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        bad = tarfile.TarInfo({"climb": "./xbuildenv/../../decoy/owned",
                               "dot-climb": "./../decoy/owned",
                               "dot-file": ".",
                               "symlink-out": "./xbuildenv/out",
                               "write-through": "./xbuildenv/out/owned",
                               "absolute": "/./decoy/owned"}[build])  # fmt: skip
        if build == "symlink-out":
            bad.type = tarfile.SYMTYPE
            bad.linkname = "../../decoy"
        elif build == "write-through":
            link = tarfile.TarInfo("./xbuildenv/out")
            link.type = tarfile.SYMTYPE
            link.linkname = "pyodide-root"  # inside: allowed
            tf.addfile(link)
            bad.size = 3
        else:
            bad.size = 3
        tf.addfile(bad, io.BytesIO(b"bad") if bad.isreg() else None)
    return raw.getvalue()


@pytest.mark.parametrize(
    ("build", "expect"),
    [
        ("climb", "outside the archive"),
        ("dot-climb", "outside the archive"),
        ("dot-file", "is not a folder"),
        ("symlink-out", "points outside the environment"),
        ("write-through", "written through a symlink"),
        ("absolute", "absolute path"),
    ],
)
def test_dot_members_keep_every_safety_rule(
    build: str, expect: str, server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "keep.txt").write_text("mine\n")
    before = snapshot(tmp_path / "decoy")
    url = server.add(f"/{build}.tar", _hostile(build))
    root = tmp_path / "cache" / "root"
    line = one_error(run("install", "--url", url, "--path", str(root), env=env, cwd=tmp_path))
    assert expect in line, line
    assert snapshot(decoy) == before
    assert not (root / "xbuildenv").exists()
    assert not [p for p in root.iterdir() if not p.name.startswith(".")] if root.exists() else True


# --- a tolerant index: the real 44 releases plus one broken one --------------------------------
@pytest.fixture
def real_plus_broken(server: Server) -> tuple[str, dict[str, object]]:
    body = make_tar(default_files(f"{PY_MM}.0"))
    doc = json.loads(REAL.read_bytes())
    assert len(doc["releases"]) == 44
    for key, entry in doc["releases"].items():
        entry["url"] = server.add(f"/dl/{key}.tar.gz", body)
        entry["sha256"] = sha256(body)
    broken = {**doc["releases"]["0.29.4"], "version": "0.29.5", "sha256": "not-a-digest"}
    doc["releases"]["0.29.5"] = broken
    # A release for the running Python that is newer than every other: "latest" must
    # still work, and never pick the broken one.
    doc["releases"]["999.0.0"] = {
        **doc["releases"]["0.29.4"],
        "version": "999.0.0",
        "python_version": f"{PY_MM}.0",
        "min_pyodide_build_version": None,
        "max_pyodide_build_version": None,
    }
    return server.add("/real-plus-broken.json", json.dumps(doc).encode()), doc


def test_one_malformed_release_is_left_out(
    real_plus_broken: tuple[str, dict[str, object]], env: dict[str, str], tmp_path: Path
) -> None:
    meta, _ = real_plus_broken
    root = tmp_path / "root"
    expected_warning = (
        f"warning: release index {meta}: left out malformed release: "
        "0.29.5 (field 'sha256' is not 64 hex digits: 'not-a-digest')"
    )
    for quiet in ([], ["--quiet"]):
        r = run("search", "--all", "--json", "--metadata", meta, "--path", str(root), *quiet,
                env=env)  # fmt: skip
        assert r.code == 0, r.err
        listed = {e["version"] for e in json.loads(r.out)["environments"]}
        assert len(listed) == 45 and "0.29.5" not in listed
        assert r.err.splitlines() == [expected_warning]
    # The rest of the index works: the latest compatible release installs.
    r = run("install", "--metadata", meta, "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert (root / "xbuildenv").resolve().name == "999.0.0"
    assert [line for line in r.err.splitlines() if line.startswith("warning:")] == [
        expected_warning
    ]
    r = run("install", "0.29.4", "--force", "--metadata", meta, "--path", str(root), env=env)
    assert r.code == 0, r.err
    # Asked for by name, the broken one is an error naming the field.
    line = one_error(run("install", "0.29.5", "--metadata", meta, "--path", str(root), env=env))
    assert line.startswith("error: release '0.29.5': field 'sha256' is not 64 hex digits")
    assert not (root / "0.29.5").exists()


def test_broken_document_is_still_an_error(server: Server, env: dict[str, str], tmp_path: Path):
    meta = server.add("/x.json", b'{"releases": 3}')
    assert "no 'releases' object" in one_error(
        run("search", "--metadata", meta, "--path", str(tmp_path), env=env)
    )


# --- search says what decided "compatible" --------------------------------------------------
def test_search_json_names_what_was_checked(server: Server, env: dict[str, str], tmp_path: Path):
    body = make_tar(default_files(f"{PY_MM}.0"))
    url = server.add("/e.tar.gz", body)
    entry = {"version": "1.0", "url": url, "python_version": f"{PY_MM}.0",
             "emscripten_version": "4.0.9", "min_pyodide_build_version": "0.40.0"}  # fmt: skip
    meta = server.add("/i.json", json.dumps({"releases": {"1.0": entry}}).encode())

    def search(*extra: str) -> dict[str, object]:
        r = run("search", "--all", "--json", "--metadata", meta, "--path", str(tmp_path), *extra,
                env=env)  # fmt: skip
        assert r.code == 0, r.err
        return dict(json.loads(r.out))

    got = search()
    assert got["compatibility"] == {
        "python": PY_MM,
        "pyodide_build": None,
        "pyodide_build_source": None,
    }
    [item] = got["environments"]  # type: ignore[misc]
    assert item["compatible"] is True
    assert item["published_at"] == ""  # missing in the index: "" as pyodide-build prints it
    got = search("--pyodide-build-version", "0.39.2")
    assert got["compatibility"] == {
        "python": PY_MM,
        "pyodide_build": "0.39.2",
        "pyodide_build_source": "--pyodide-build-version",
    }
    assert got["environments"][0]["compatible"] is False  # type: ignore[index]
    r = run("search", "--all", "--metadata", meta, "--path", str(tmp_path),
            "--pyodide-build-version", "0.39.2", env=env)  # fmt: skip
    assert r.out.splitlines()[-1] == (
        f"Compatible: Python {PY_MM} and pyodide-build 0.39.2 (from the --pyodide-build-version)"
    )
    helptext = run("search", "--help", env=env).out
    assert "no range is checked" in " ".join(helptext.split())


@pytest.mark.parametrize("mm", sorted(PYODIDE_BUILD_0392))
def test_compatible_equals_pyodide_build_0392(mm: str) -> None:
    releases = parse_index(REAL.read_bytes())
    ours = {v for v, r in releases.items() if is_compatible(r, mm, "0.39.2")}
    assert ours == PYODIDE_BUILD_0392[mm]


@pytest.mark.skipif(PY_MM not in PYODIDE_BUILD_0392, reason="no fact for this Python")
def test_cli_compatible_equals_pyodide_build_0392(
    server: Server, env: dict[str, str], tmp_path: Path
) -> None:
    meta = server.add("/real.json", REAL.read_bytes())
    r = run("search", "--all", "--json", "--metadata", meta, "--path", str(tmp_path),
            "--pyodide-build-version", "0.39.2", env=env)  # fmt: skip
    assert r.code == 0, r.err
    envs = json.loads(r.out)["environments"]
    assert len(envs) == 44
    assert {e["version"] for e in envs if e["compatible"]} == PYODIDE_BUILD_0392[PY_MM]
