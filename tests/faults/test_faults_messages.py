"""Messages: each hostile or broken input gives one precise ``error:`` line that names
the input at fault (never "unexpected X; rerun with --verbose", never "cannot write to
ROOT" for a problem of the archive), the right exit code, and nothing outside the
cache changes."""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers.archives import PY_FULL, big_files, make_tar, release, sha256
from helpers.cli import Result, one_error
from helpers.faults import FAULT_STATS, check_decoy

if TYPE_CHECKING:
    from helpers.faults import Arena


def _archive(a: Arena, files: dict[str, bytes] | None = None, extra: object = None) -> None:
    tree = dict(files or big_files(PY_FULL, "2.0.0", count=2))
    body = make_tar(tree, extra=extra)  # type: ignore[arg-type]
    entry = release("2.0.0", a.serve("msg.tar.gz", body), PY_FULL, sha256=sha256(body))
    a.serve_index({"2.0.0": entry})


def _keyed(a: Arena, key: str) -> None:
    """An index whose only release is keyed ``key`` (its fields are fine: the key, the
    version name an install uses, is what is at fault)."""
    a.serve_index({key: a.goods.releases["2.0.0"]})


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> Callable[..., None]:
    def add(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = link
        info.size = 1 if kind == tarfile.REGTYPE else 0
        tf.addfile(info, io.BytesIO(b"x") if kind == tarfile.REGTYPE else None)

    return add


def _lock(packages: object) -> dict[str, bytes]:
    files = big_files(PY_FULL, "2.0.0", count=2)
    files["xbuildenv/pyodide-root/dist/pyodide-lock.json"] = (
        packages if isinstance(packages, bytes) else json.dumps({"packages": packages}).encode()
    )
    return files


def _probe_script(a: Arena, output: str) -> str:
    script = a.base / "fake-python"
    script.write_text(f"#!/bin/sh\necho '{output}'\n")
    script.chmod(0o755)
    return str(script)


def case_long_version(a: Arena) -> Result:
    key = "1." + "9" * 300
    _keyed(a, key)
    return a.install(key)


def case_nul_version(a: Arena) -> Result:
    _keyed(a, "9.9.9\x00x")
    return a.install()


def case_newline_version(a: Arena) -> Result:
    _keyed(a, "9.9.9\n* 1.0.0")
    return a.install()


def case_deep_index(a: Arena) -> Result:
    a.serve_index(b"[" * 100_000 + b"]" * 100_000)
    return a.install("2.0.0")


def case_deep_index_object(a: Arena) -> Result:
    a.serve_index(b'{"releases": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001)
    return a.install("2.0.0")


def case_deep_lock(a: Arena) -> Result:
    _archive(a, _lock(b'{"packages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    return a.install("2.0.0")


def case_lock_index_html(a: Arena) -> Result:
    _archive(a, _lock({"index.html": {"file_name": "index.html-1.0-py3-none-any.whl"}}))
    return a.install("2.0.0")


def case_lock_long_name(a: Arena) -> Result:
    _archive(a, _lock({"p" * 300: {"file_name": "p-1.0-py3-none-any.whl"}}))
    return a.install("2.0.0")


def case_member_name_too_long(a: Arena) -> Result:
    _archive(a, extra=_member("xbuildenv/" + "a" * 300))
    return a.install("2.0.0")


def case_member_path_too_long(a: Arena) -> Result:
    _archive(a, extra=_member("xbuildenv/" + "/".join(["d" * 200] * 40) + "/f"))
    return a.install("2.0.0")


def case_hard_link_to_itself(a: Arena) -> Result:
    def add(tf: tarfile.TarFile) -> None:
        _member("xbuildenv/h")(tf)
        _member("xbuildenv/h", tarfile.LNKTYPE, "xbuildenv/h")(tf)

    _archive(a, extra=add)
    return a.install("2.0.0")


def case_member_under_a_file(a: Arena) -> Result:
    def add(tf: tarfile.TarFile) -> None:
        _member("xbuildenv/plain")(tf)
        _member("xbuildenv/plain/inside")(tf)

    _archive(a, extra=add)
    return a.install("2.0.0")


def case_long_url(a: Arena) -> Result:
    url = a.goods.releases["2.0.0"]["url"] + "?" + "x" * 300
    return a.cli("install", "--url", url, "--path", str(a.root))


def case_emscripten_version_option(a: Arena) -> Result:
    files = big_files(PY_FULL, "2.0.0", count=2)
    files["xbuildenv/pyodide-root/Makefile.envs"] += (
        b"export PYODIDE_EMSCRIPTEN_VERSION ?= --help\n"
    )
    _archive(a, files)
    assert a.install("2.0.0").code == 0
    return a.cli("install-emscripten", "--path", str(a.root))


def case_empty_url(a: Arena) -> Result:
    return a.cli("install", "--url", "", "--path", str(a.root))


def case_tool_is_a_number(a: Arena) -> Result:
    (a.base / "pyproject.toml").write_text("tool = 5\n")
    return a.cli("versions")


def case_pyproject_not_utf8(a: Arena) -> Result:
    (a.base / "pyproject.toml").write_bytes(b'[tool.pyodide.build]\nxbuildenv_path = "\xff\xfe"\n')
    return a.cli("versions")


def case_pyproject_nan(a: Arena) -> Result:
    (a.base / "pyproject.toml").write_text("[tool.xbuildenv]\nindex_max_age = nan\n")
    a.serve_index(a.goods.releases)
    return a.install("2.0.0")


def case_python_list(a: Arena) -> Result:
    return a.cli("versions", "--python", _probe_script(a, "[1, 2]"))


def case_python_wrong_types(a: Arena) -> Result:
    out = '{"prefix": 5, "python": "3.13", "pb_dir": null, "pb_ver": null}'
    return a.cli("versions", "--python", _probe_script(a, out))


def case_python_bad_version(a: Arena) -> Result:
    out = '{"prefix": "/", "python": "../..", "pb_dir": null, "pb_ver": null}'
    return a.cli("versions", "--python", _probe_script(a, out))


def case_metadata_dev_zero(a: Arena) -> Result:
    return a.cli("search", "--metadata", "/dev/zero", "--path", str(a.root), timeout=30)


def case_metadata_fifo(a: Arena) -> Result:
    os.mkfifo(a.base / "index-pipe")
    return a.cli("search", "--metadata", str(a.base / "index-pipe"), timeout=30)


def case_url_fifo(a: Arena) -> Result:
    os.mkfifo(a.base / "archive-pipe")
    return a.cli("install", "--url", str(a.base / "archive-pipe"), "--path", str(a.root))


def case_index_url_with_newline(a: Arena) -> Result:
    entry = {**a.goods.releases["2.0.0"]}
    entry["url"] = entry["url"] + "\r\nX-Evil: 1"
    a.serve_index({"2.0.0": entry})
    return a.install("2.0.0")


def case_index_field_newline(a: Arena) -> Result:
    # The tolerant index leaves such a release out (one warning naming the field, so
    # the forged line never reaches a table); asking for it by name is the error.
    entry = {**a.goods.releases["2.0.0"], "emscripten_version": "4.0.9\n2.0.0  3.13  9.9.9"}
    a.serve_index({"2.0.0": entry})
    return a.install("2.0.0")


NUMERIC = [
    "XBUILDENV_TIMEOUT",
    "XBUILDENV_RETRIES",
    "XBUILDENV_BACKOFF",
    "XBUILDENV_RETRY_DEADLINE",
    "XBUILDENV_MAX_UNPACKED_BYTES",
    "XBUILDENV_STORE_LOCK_TIMEOUT",
]

CASES: dict[str, tuple[Callable[[Arena], Result], int, str]] = {
    "long-version": (case_long_version, 2, "is not a valid version name: it is longer than 200"),
    "nul-version": (case_nul_version, 2, "is not a valid version name: it holds a NUL"),
    "newline-version": (case_newline_version, 2, "holds a newline or another control"),
    "deep-index": (case_deep_index, 1, "is nested too deeply to be a release index"),
    "deep-index-object": (case_deep_index_object, 1, "is nested too deeply to be a release"),
    "deep-lock": (case_deep_lock, 1, "pyodide-lock.json is nested too deeply to be a lock file"),
    "lock-index-html": (case_lock_index_html, 1, "lists a package named 'index.html', which"),
    "lock-long-name": (case_lock_long_name, 1, "which is not a package name"),
    "member-name-too-long": (case_member_name_too_long, 1, "has a name too long for the file"),
    "member-path-too-long": (case_member_path_too_long, 1, "has a name too long for the file"),
    "hard-link-to-itself": (
        case_hard_link_to_itself,
        1,
        "hard link 'xbuildenv/h' points at itself",
    ),
    "member-under-a-file": (case_member_under_a_file, 1, "is inside 'xbuildenv/plain', a file"),
    "long-url": (case_long_url, 2, "cannot name a version folder: it is longer than 200"),
    "emscripten-version-option": (
        case_emscripten_version_option,
        2,
        "'--help' is not an Emscripten version",
    ),
    "empty-url": (case_empty_url, 2, "--url is empty; give the URL or path of an archive"),
    "tool-is-a-number": (case_tool_is_a_number, 1, "'tool' must be a table, not int"),
    "pyproject-not-utf8": (case_pyproject_not_utf8, 1, "pyproject.toml is not valid UTF-8"),
    "pyproject-nan": (case_pyproject_nan, 1, "index max age 'nan' is not a number of seconds"),
    "python-list": (case_python_list, 2, "answered the probe with something that is not its"),
    "python-wrong-types": (case_python_wrong_types, 2, "answered the probe with something"),
    "python-bad-version": (case_python_bad_version, 2, "reported version '../..'"),
    "metadata-dev-zero": (case_metadata_dev_zero, 1, "/dev/zero is not a regular file"),
    "metadata-fifo": (case_metadata_fifo, 1, "index-pipe is not a regular file"),
    "url-fifo": (case_url_fifo, 1, "archive-pipe is not a regular file"),
    "index-url-newline": (case_index_url_with_newline, 1, "field 'url' holds a control char"),
    "index-field-newline": (case_index_field_newline, 1, "'emscripten_version' holds a control"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_message(root_arena: Arena, name: str) -> None:
    make, code, expect = CASES[name]
    before = root_arena.decoy_state()
    result = make(root_arena)
    FAULT_STATS["messages_tried"] += 1
    line = one_error(result, code=code)
    assert expect in line, line
    assert "unexpected" not in line and "cannot write to" not in line, line
    if name != "emscripten-version-option":  # that one needs an installed environment
        assert not (root_arena.root / "2.0.0").exists()
    check_decoy(root_arena.decoy, before)


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
@pytest.mark.parametrize("variable", [*NUMERIC, "XBUILDENV_INDEX_MAX_AGE"])
def test_numeric_variable_not_finite(root_arena: Arena, variable: str, value: str) -> None:
    root_arena.serve_index(root_arena.goods.releases)
    before = root_arena.decoy_state()
    line = one_error(root_arena.install("2.0.0", **{variable: value}))
    FAULT_STATS["messages_tried"] += 1
    if variable == "XBUILDENV_INDEX_MAX_AGE":
        assert f"index max age {value!r} is not a number of seconds" in line, line
    else:
        assert f"{variable}={value!r} is not a finite number" in line, line
    check_decoy(root_arena.decoy, before)


def test_newline_folder_cannot_forge_a_versions_line(root_arena: Arena) -> None:
    a = root_arena
    a.serve_index(a.goods.releases)
    assert a.install("1.0.0").code == 0
    forged = a.root / "x\n* 9.9.9"
    forged.mkdir()
    (forged / ".installed").touch()
    r = a.cli("versions", "--path", str(a.root))
    assert r.code == 0, r.err
    assert "9.9.9" not in r.out, r.out
    # The active link pointing at it: no active version.
    (a.root / "xbuildenv").unlink()
    os.symlink(forged, a.root / "xbuildenv")
    r = a.cli("versions", "--path", str(a.root))
    assert (r.code, r.out, r.err) == (0, "  1.0.0\n", ""), r
    # "version": a link to a folder that cannot be a version is no active version
    line = one_error(a.cli("version", "--path", str(a.root)))
    assert "no cross-build environment is active" in line and "9.9.9" not in line, line


def test_lock_file_names_are_still_written(root_arena: Arena) -> None:
    """The name check refuses only what cannot be a package (the real lock file passes)."""
    a = root_arena
    names = {
        "numpy": "numpy-2.2.5-cp313-cp313-pyodide_2025_0_wasm32.whl",
        "zope.interface": "z.whl",
    }
    _archive(a, _lock({k: {"file_name": v, "sha256": "00" * 32} for k, v in names.items()}))
    r = a.install("2.0.0")
    assert r.code == 0, r.err
    index = a.root / "2.0.0/xbuildenv/pyodide-root/package_index"
    assert (index / "zope.interface/index.html").is_file()
    assert os.path.isfile(Path(index) / "index.html")
