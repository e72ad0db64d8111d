"""What the tests serve and install, built for real: release archives (tar files), index
documents, wheels, and a git repository standing in for emsdk.

Nothing here is a stand-in for the code under test: archives are real tar files,
wheels real zip files with dist-info metadata, the emsdk repository a real git
repository whose ``emsdk`` script writes what the real one would.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

DATA = Path(__file__).resolve().parent.parent / "data"


PY_MM = f"{sys.version_info.major}.{sys.version_info.minor}"  # the running host Python


PY_FULL = f"{PY_MM}.0"


OTHER_PY = "3.99.0"  # a Python no host has: releases for it are never compatible


def default_files(python: str = "3.13.2", version: str = "0.29.4") -> dict[str, bytes]:
    """A small but realistic environment tree (paths under ``xbuildenv/``)."""
    mm = ".".join(python.split(".")[:2])
    lock = {
        "info": {"python": python, "abi_version": "2025_0"},
        "packages": {
            "attrs": {"file_name": "attrs-25.2.0-py3-none-any.whl", "sha256": "ab" * 32},
            "numpy": {
                "file_name": "numpy-2.2.5-cp313-cp313-pyodide_2025_0_wasm32.whl",
                "sha256": "cd" * 32,
            },
            "libfoo": {"file_name": "libfoo-1.0.zip", "sha256": "ef" * 32},
            "remote": {
                "file_name": "https://example.org/remote-1.0-py3-none-any.whl",
                "sha256": "00" * 32,
            },
        },
    }
    return {
        "xbuildenv/pyodide-root/Makefile.envs": (
            f"export PYVERSION ?= {python}\nexport PYODIDE_VERSION ?= {version}\n"
        ).encode(),
        "xbuildenv/pyodide-root/dist/pyodide-lock.json": json.dumps(lock).encode(),
        f"xbuildenv/pyodide-root/cpython/installs/python-{python}/include/python{mm}/Python.h": (
            b"/* h */\n"
        ),
        "xbuildenv/requirements.txt": b"numpy==2.2.5\n",
        "xbuildenv/site-packages-extras/numpy/_core/include/numpy/numpyconfig.h": b"/* cfg */\n",
    }


def make_tar(
    files: dict[str, bytes] | None = None,
    compression: str = "gz",
    extra: Callable[[tarfile.TarFile], None] | None = None,
) -> bytes:
    """A tar archive (``gz``, ``bz2``, ``xz``, ``zst`` or ``""``) of ``files``."""
    files = default_files() if files is None else files
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        dirs: set[str] = set()
        for name in files:
            parts = name.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tf.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(tf)
    data = raw.getvalue()
    if compression == "gz":
        import gzip

        return gzip.compress(data, mtime=0)
    if compression == "bz2":
        import bz2

        return bz2.compress(data)
    if compression == "xz":
        import lzma

        return lzma.compress(data)
    if compression == "zst":
        try:
            from compression import zstd  # type: ignore[import-not-found]

            return bytes(zstd.compress(data))
        except ImportError:
            import zstandard

            return bytes(zstandard.ZstdCompressor().compress(data))
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def release(version: str, url: str, python: str = "3.13.2", **extra: Any) -> dict[str, Any]:
    return {
        "version": version,
        "url": url,
        "python_version": python,
        "emscripten_version": "4.0.9",
        **extra,
    }


def index(*releases: dict[str, Any]) -> bytes:
    return json.dumps({"releases": {r["version"]: r for r in releases}}).encode()


def big_files(python: str = PY_FULL, version: str = "0.29.4", count: int = 40) -> dict[str, bytes]:
    """A realistic tree plus ``count`` incompressible files, so the download takes
    several chunks and extraction many members (more distinct kill points)."""
    files = default_files(python, version)
    rng = __import__("random").Random(f"{version}-{count}")
    for i in range(count):
        files[f"xbuildenv/site-packages-extras/pkg{i % 5}/data{i}.bin"] = rng.randbytes(12_000)
    return files


def fixture_files(python: str = "3.13") -> dict[str, bytes]:
    """Every file of the real stripped environment for ``python`` (archive paths)."""
    files: dict[str, bytes] = {}
    with tarfile.open(DATA / f"xbuildenv-test-{python}.tar.gz") as tf:
        for member in tf.getmembers():
            if member.isfile():
                fh = tf.extractfile(member)
                assert fh is not None
                files[member.name] = fh.read()
    return files


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def make_wheel(
    name: str,
    version: str,
    files: dict[str, bytes] | None = None,
    requires: tuple[str, ...] = (),
) -> tuple[str, bytes]:
    """A minimal pure-Python wheel: (file name, bytes)."""
    dist = f"{canonicalize_name(name).replace('-', '_')}-{version}"
    pkg = canonicalize_name(name).replace("-", "_")
    content = dict(files or {f"{pkg}/__init__.py": f"__version__ = {version!r}\n".encode()})
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    content[f"{dist}.dist-info/METADATA"] = meta.encode()
    content[f"{dist}.dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    lines = [f"{path},{_record_hash(data)},{len(data)}" for path, data in content.items()]
    lines.append(f"{dist}.dist-info/RECORD,,")
    content[f"{dist}.dist-info/RECORD"] = ("\n".join(lines) + "\n").encode()
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as zf:
        for path, data in content.items():
            zf.writestr(path, data)
    return f"{dist}-py3-none-any.whl", raw.getvalue()


# The stand-in: records each call, and builds the tree a real emsdk would (its shape:
# tests/data/fake_emsdk.py).
FAKE_EMSDK = (DATA / "fake_emsdk.py").read_text()


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_emsdk_repo(folder: Path, tags: tuple[str, ...] = ("4.0.9",)) -> str:
    """A local git repository standing in for emsdk (its ``emsdk`` is FAKE_EMSDK, run by
    this Python), tagged with ``tags`` as emsdk tags its releases; its URL."""
    repo = folder / "emsdk-repo"
    repo.mkdir()
    (repo / "emsdk").write_text(f"#!{sys.executable}\n" + FAKE_EMSDK)
    (repo / "emsdk").chmod(0o755)
    (repo / "emsdk_env.sh").write_text("# sourced by users\n")
    git("init", "-q", cwd=repo)
    git("add", ".", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "emsdk", cwd=repo)
    for tag in tags:
        git("-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a", "-m", tag, tag, cwd=repo)
    return f"file://{repo}"
