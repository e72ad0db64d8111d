"""Build a realistic, deterministic cross-build environment archive for the benchmark.

The tree is seeded from the real (stripped) fixture ``tests/data/xbuildenv-test-3.13.tar.gz``
(its ``Makefile.envs``, sysconfigdata, lock file entries, requirements and
``site-packages-extras``) and filled out to the shape of a real Pyodide release:
hundreds of CPython and NumPy headers, Cython ``.pxd`` files, Emscripten patches, a
lock file with a few hundred packages, and large ``.a``/``.so`` files whose bytes are
drawn from a skewed "instruction" vocabulary, so that bzip2 compresses them about as
well (and decompresses them about as fast) as real WebAssembly objects.

Everything comes from ``random.Random(seed)``: the same arguments give the same bytes.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import random
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "data" / "xbuildenv-test-3.13.tar.gz"
FIXTURE_PYTHON = "3.13.2"
GENERATOR_VERSION = 6  # bump when the output changes, to invalidate cached archives
MTIME = 1_700_000_000
# Patch releases Pyodide shipped for each minor (the archive's python-X.Y.Z folder).
FULL_PYTHON = {"3.11": "3.11.3", "3.12": "3.12.7", "3.13": "3.13.2", "3.14": "3.14.0"}

_SYL = (
    "py ob ty pe ar gs lo ng fl oat str byt es di ct li st se tq un ic od ec al "
    "lo c mem buf fer it er gc ref cnt hash cal l mod ule fr am eth re ad int rp "
    "err exc co de run tim ini fin sys imp ort spl it ato mic lock mut ex cod num"
)
SYLLABLES = _SYL.split()
C_TYPES = (
    "PyObject *",
    "int",
    "Py_ssize_t",
    "void",
    "const char *",
    "double",
    "long",
    "size_t",
    "PyTypeObject *",
    "uint32_t",
    "Py_hash_t",
    "char *",
    "void *",
)


@dataclass(frozen=True)
class ArchiveSpec:
    python: str  # "X.Y"
    binary_mb: float  # megabytes of .a/.so payload (the bulk of the archive)
    seed: int = 20240229

    @property
    def full_python(self) -> str:
        return FULL_PYTHON.get(self.python, self.python + ".0")

    def file_name(self) -> str:
        mb = f"{self.binary_mb:g}mb"
        return f"xbuildenv-py{self.python}-{mb}-s{self.seed}-g{GENERATOR_VERSION}.tar.bz2"


def _ident(rng: random.Random, parts: int = 3, sep: str = "") -> str:
    return sep.join(rng.choice(SYLLABLES) for _ in range(parts))


def _camel(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES).capitalize() for _ in range(rng.randint(2, 3)))


def _c_header(rng: random.Random, guard: str, size: int) -> bytes:
    out = [
        f"/* {guard}: generated for the xbuildenv benchmark */",
        f"#ifndef {guard}",
        f"#define {guard}",
        '#include "pyport.h"',
        "",
    ]
    n = 0
    while n < size:
        kind = rng.random()
        if kind < 0.45:
            args = ", ".join(rng.choice(C_TYPES) for _ in range(rng.randint(0, 4))) or "void"
            line = f"PyAPI_FUNC({rng.choice(C_TYPES)}) Py{_camel(rng)}_{_camel(rng)}({args});"
        elif kind < 0.7:
            name = _ident(rng, 3, "_").upper()
            line = f"#define Py_{name}(op) (((Py{_camel(rng)}Object *)(op))->{_ident(rng, 2)})"
        elif kind < 0.85:
            fields = "\n".join(
                f"    {rng.choice(C_TYPES)} {_ident(rng, 2)};" for _ in range(rng.randint(2, 7))
            )
            line = f"typedef struct {{\n{fields}\n}} Py{_camel(rng)}Object;"
        else:
            words = (_ident(rng, rng.randint(1, 3)) for _ in range(rng.randint(5, 14)))
            line = f"/* {' '.join(words)} */"
        out.append(line)
        n += len(line) + 1
    out += ["", f"#endif /* !{guard} */", ""]
    return "\n".join(out).encode()


def _pxd(rng: random.Random, size: int) -> bytes:
    out = [f'cdef extern from "{_ident(rng, 2)}.h":']
    n = 0
    while n < size:
        args = ", ".join(
            f"{rng.choice(('int', 'double', 'float', 'char*', 'int*'))} {_ident(rng, 1)}"
            for _ in range(rng.randint(1, 8))
        )
        line = f"    cdef {rng.choice(('void', 'int', 'double'))} {_ident(rng, 2)}_({args}) nogil"
        out.append(line)
        n += len(line) + 1
    return ("\n".join(out) + "\n").encode()


def _patch(rng: random.Random, size: int) -> bytes:
    path = f"system/lib/{_ident(rng, 2)}/{_ident(rng, 2)}.c"
    out = [
        f"From {rng.getrandbits(160):040x} Mon Sep 17 00:00:00 2001",
        "From: Pyodide developers",
        f"Subject: [PATCH] {_ident(rng, 4, ' ')}",
        "",
        f"--- a/{path}",
        f"+++ b/{path}",
    ]
    n = 0
    while n < size:
        call = f"{_ident(rng, 2)}({_ident(rng, 1)})"
        line = f"{rng.choice(' +-')}  {rng.choice(C_TYPES)} {_ident(rng, 2)} = {call};"
        out.append(line)
        n += len(line) + 1
    return ("\n".join(out) + "\n").encode()


class _Binary:
    """Object-code-like bytes: words from a fixed vocabulary, Zipf-distributed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = [rng.randbytes(rng.choice((2, 3, 4, 4, 4, 6, 8, 12))) for _ in range(3000)]
        weights = [1.0 / (i + 1) ** 1.04 for i in range(len(self.words))]
        total, acc = sum(weights), 0.0
        self.cum = []
        for w in weights:
            acc += w / total
            self.cum.append(acc)

    def chunks(self, size: int) -> Iterator[bytes]:
        header = b"!<arch>\n" + self.rng.randbytes(52)
        yield header
        left = size - len(header)
        while left > 0:
            piece = b"".join(self.rng.choices(self.words, cum_weights=self.cum, k=40_000))
            piece = piece[:left]
            left -= len(piece)
            yield piece


def _lock(rng: random.Random, fixture_lock: dict[str, Any], full_python: str, n: int) -> bytes:
    tag = "cp" + "".join(full_python.split(".")[:2])
    packages = dict(fixture_lock.get("packages", {}))
    names = [f"{_ident(rng, rng.randint(2, 3))}-{i}" for i in range(n)]
    for i, name in enumerate(names):
        version = f"{rng.randint(0, 30)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
        wheel = (
            f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
            if rng.random() < 0.6
            else f"{name.replace('-', '_')}-{version}-{tag}-{tag}-pyemscripten_2025_0_wasm32.whl"
        )
        packages[name] = {
            "depends": sorted(rng.sample(names[:i], min(i, rng.randint(0, 4)))),
            "file_name": wheel,
            "imports": [name.split("-")[0]],
            "install_dir": "site",
            "name": name,
            "package_type": "package",
            "sha256": f"{rng.getrandbits(256):064x}",
            "unvendored_tests": rng.random() < 0.1,
            "version": version,
        }
    info = dict(fixture_lock.get("info", {}), python=full_python)
    return json.dumps({"info": info, "packages": packages}, indent=2, sort_keys=True).encode()


def _fixture_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with tarfile.open(FIXTURE) as tf:
        for m in tf:
            if m.isfile():
                f = tf.extractfile(m)
                assert f is not None
                files[m.name] = f.read()
    return files


def _tree(spec: ArchiveSpec) -> Iterator[tuple[str, bytes | int]]:
    """(path, content) for small files, (path, size) for binary ones, under xbuildenv/."""
    rng = random.Random(spec.seed)
    full, short = spec.full_python, spec.python
    nodot = short.replace(".", "")
    old_short = FIXTURE_PYTHON.rsplit(".", 1)[0]

    def retarget(data: bytes) -> bytes:
        text = data.decode()
        text = text.replace(FIXTURE_PYTHON, full).replace(f"python{old_short}", f"python{short}")
        return text.replace(f"cpython-{old_short.replace('.', '')}", f"cpython-{nodot}").encode()

    cp = f"xbuildenv/pyodide-root/cpython/installs/python-{full}"
    fixture = _fixture_files()
    for name, data in sorted(fixture.items()):
        name = name.replace(f"python-{FIXTURE_PYTHON}", f"python-{full}")
        if name.endswith("pyodide-lock.json"):
            yield name, _lock(rng, json.loads(data), full, 300)
        elif name.endswith((".py", "Makefile.envs")):
            yield name, retarget(data)
        else:
            yield name, data
    inc = f"{cp}/include/python{short}"
    for sub, count in (("", 130), ("/cpython", 90), ("/internal", 200), ("/internal/mimalloc", 20)):
        for i in range(count):
            base = f"{_ident(rng, 2)}{i}"
            yield (
                f"{inc}{sub}/{base}.h",
                _c_header(rng, f"Py_{base.upper()}_H", int(rng.lognormvariate(8.6, 0.8))),
            )
    np_inc = "xbuildenv/site-packages-extras/numpy/_core/include/numpy"
    for i in range(90):
        yield (
            f"{np_inc}/{_ident(rng, 2)}_{i}.h",
            _c_header(rng, f"NPY_{i}_H", int(rng.lognormvariate(8.8, 0.7))),
        )
    for pkg in ("scipy/linalg", "scipy/special", "scipy/optimize", "numpy/random", "pandas/_libs"):
        for i in range(30):
            yield (
                f"xbuildenv/site-packages-extras/{pkg}/{_ident(rng, 2)}_{i}.pxd",
                _pxd(rng, int(rng.lognormvariate(8.0, 0.9))),
            )
    for i in range(45):
        yield (
            f"xbuildenv/pyodide-root/emsdk/patches/{i:04d}-{_ident(rng, 3, '-')}.patch",
            _patch(rng, int(rng.lognormvariate(8.2, 0.9))),
        )
    for i in range(300):
        rel = f"{cp}/lib/python{short}/{_ident(rng, 1)}/{_ident(rng, 2)}_{i}.py"
        body = "\n".join(
            f"def {_ident(rng, 2)}_{j}({_ident(rng, 1)}, {_ident(rng, 1)}=None):\n"
            f"    return {_ident(rng, 2)}({_ident(rng, 1)}) + {j}"
            for j in range(int(rng.lognormvariate(3.0, 0.8)))
        )
        yield rel, (body + "\n").encode()
    # The bulk: static libraries and extension modules.
    total = int(spec.binary_mb * 1_000_000)
    libs = [
        f"{cp}/lib/libpython{short}.a",
        f"{cp}/lib/libmpdec.a",
        f"{cp}/lib/libexpat.a",
        f"{cp}/lib/libhacl.a",
        "xbuildenv/pyodide-root/dist/libffi.a",
    ]
    libs += [
        f"{cp}/lib/python{short}/lib-dynload/_{_ident(rng, 2)}.cpython-{nodot}-wasm32-emscripten.so"
        for _ in range(28)
    ]
    libs += [
        f"xbuildenv/site-packages-extras/{p}/lib/lib{_ident(rng, 2)}.a"
        for p in ("numpy/_core", "scipy/linalg", "scipy/special", "openblas", "pandas/_libs")
        for _ in range(2)
    ]
    weights = [rng.paretovariate(1.2) for _ in libs]
    weights[0] *= 6  # libpythonX.Y.a dominates, as in the real thing
    scale = total / sum(weights)
    for path, w in zip(libs, weights, strict=True):
        yield path, max(4096, int(w * scale))


def _add(
    tf: tarfile.TarFile, name: str, size: int, data: Iterator[bytes] | bytes, dirs: set[str]
) -> None:
    parts = name.split("/")
    for i in range(1, len(parts)):
        d = "/".join(parts[:i])
        if d not in dirs:
            dirs.add(d)
            info = tarfile.TarInfo(d + "/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tf.addfile(info)
    info = tarfile.TarInfo(name)
    info.size, info.mtime = size, MTIME
    info.mode = 0o755 if name.endswith(".so") else 0o644
    info.uname = info.gname = "root"
    if isinstance(data, bytes):
        tf.addfile(info, io.BytesIO(data))
    else:
        tf.addfile(info, _IterReader(data))


class _IterReader(io.RawIOBase):
    def __init__(self, it: Iterator[bytes]) -> None:
        self.it, self.buf = it, b""

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        if n is None:
            n = -1
        while n < 0 or len(self.buf) < n:
            try:
                self.buf += next(self.it)
            except StopIteration:
                break
        if n < 0:
            n = len(self.buf)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


@dataclass(frozen=True)
class BuiltArchive:
    path: Path
    sha256: str
    size: int
    unpacked: int
    entries: int
    python: str
    full_python: str


def build(spec: ArchiveSpec, out_dir: Path) -> BuiltArchive:
    """Build (or reuse from ``out_dir``) the archive for ``spec``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / spec.file_name()
    meta_path = path.with_suffix(".json")
    if path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        return BuiltArchive(
            path,
            meta["sha256"],
            meta["size"],
            meta["unpacked"],
            meta["entries"],
            spec.python,
            spec.full_python,
        )
    binary = _Binary(random.Random(spec.seed + 1))
    dirs: set[str] = set()
    unpacked = 0
    tmp = path.with_suffix(".part")
    with (
        bz2.open(tmp, "wb", compresslevel=9) as raw,
        tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as tf,
    ):
        files = 0
        for name, content in _tree(spec):
            files += 1
            if isinstance(content, int):
                _add(tf, name, content, binary.chunks(content), dirs)
                unpacked += content
            else:
                _add(tf, name, len(content), content, dirs)
                unpacked += len(content)
        entries = len(dirs) + files
    digest = hashlib.sha256()
    with tmp.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    size = tmp.stat().st_size
    tmp.rename(path)
    meta = {"sha256": digest.hexdigest(), "size": size, "unpacked": unpacked, "entries": entries}
    meta_path.write_text(json.dumps(meta, indent=2))
    return BuiltArchive(
        path, meta["sha256"], size, unpacked, entries, spec.python, spec.full_python
    )
