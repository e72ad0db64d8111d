"""A stand-in for emsdk's ``emsdk`` script, of the shape of a real SDK.

Copied as ``emsdk`` into a local git repository (tests/tools_helpers.py and
bench/emsdk_store.py). It appends each call to ``$FAKE_EMSDK_LOG`` (so tests count
emsdk runs) and, for ``install V``, writes into the current folder (the clone) what a
real ``emsdk install`` leaves: ``upstream/bin`` with a large ``clang`` and symlinks to
it (``clang++ -> clang``), executables, ``node``, ``upstream/emscripten`` with sources,
and a prebuilt Emscripten cache (``upstream/emscripten/cache/sysroot`` with libraries
and headers, ``sanity.txt``, ``cache.lock``, ``sysroot_install.stamp``, ``crt1.o``).
``activate`` writes ``.emscripten`` naming the SDK's absolute folder, as emsdk does.

Size: ``$FAKE_EMSDK_FILES`` files (default 300) and ``$FAKE_EMSDK_MB`` MB (default 3).
``$FAKE_EMSDK_FAIL`` makes ``install`` fail like a failed download.
"""

import hashlib
import os
import random
import sys


def _blob(seed: str, size: int) -> bytes:
    # Half random, half text-like: compresses about 2:1, as binaries and sources do.
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    # In pieces: randbytes takes at most 2**31 bits at once (a 1.5 GB stand-in's clang)
    step = 1 << 26
    half = b"".join(rng.randbytes(min(step, size // 2 - i)) for i in range(0, size // 2, step))
    return (half + b"int f(void) { return 0; }\n" * (size // 52 + 1))[:size]


def _write(path: str, data: bytes, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)


def install(version: str) -> None:
    files = int(os.environ.get("FAKE_EMSDK_FILES", "300"))
    total = int(float(os.environ.get("FAKE_EMSDK_MB", "3")) * (1 << 20))
    big = total // 2  # clang: half of the bytes, as in a real SDK's upstream/bin
    _write("upstream/bin/clang", b"\x7fELF" + _blob("clang" + version, big), 0o755)
    for name in ("clang++", "clang-cl", "wasm32-clang"):
        os.symlink("clang", f"upstream/bin/{name}")
    _write("upstream/bin/lld", b"\x7fELF" + _blob("lld", 4096), 0o755)
    os.symlink("lld", "upstream/bin/wasm-ld")
    _write("upstream/.emsdk_version", f"releases-{version}-64bit".encode())
    _write("node/22.16.0_64bit/bin/node", b"#!/bin/sh\n", 0o755)
    em = "upstream/emscripten"
    _write(f"{em}/src/settings.js", b"line1\nline2\nline3\n")
    _write(f"{em}/emscripten-version.txt", f"{version}\n".encode())
    _write(f"{em}/emcc", b'#!/bin/sh\nexec python3 "$0.py" "$@"\n', 0o755)
    _write(f"{em}/cache/sanity.txt", f"{version}|/fake/llvm\n".encode())
    # What emcc and embuilder rewrite in place in a real cache (see cache/sdk_manifest.py)
    _write(f"{em}/cache/cache.lock", b"")
    _write(f"{em}/cache/sysroot_install.stamp", b"x")
    _write(f"{em}/cache/sysroot/include/emscripten/version.h", b"#define __EMSCRIPTEN_MAJOR__ 4\n")
    _write(f"{em}/cache/sysroot/lib/wasm32-emscripten/crt1.o", _blob("crt1" + version, 2048))
    rest = max(files - 16, 1)
    per = max((total - big) // rest, 1)
    for i in range(rest):
        size = per + i % 97
        if i % 16 == 0:  # an eighth of the files, small: the prebuilt cache
            path = f"{em}/cache/sysroot/lib/wasm32-emscripten/d{i % 7}/lib{i}.a"
            size //= 4
        elif i % 16 == 1:
            path = f"{em}/cache/sysroot/include/d{i % 11}/h{i}.h"
            size //= 8
        else:
            path = f"{em}/system/lib/d{i % 40}/s{i // 400}/f{i}.c"
        _write(path, _blob(f"{version}:{i}", size))


def main() -> int:
    log = os.environ.get("FAKE_EMSDK_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(" ".join(sys.argv[1:]) + "\n")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "install":
        if os.environ.get("FAKE_EMSDK_FAIL"):
            print(f"error: download failed for {sys.argv[3]}")
            return 3
        install(sys.argv[3])
    elif command == "activate":
        here = os.getcwd()
        _write(".emscripten", f"EMSDK_PATH = '{here}'\nLLVM_ROOT = '{here}/upstream/bin'\n"
               .encode())  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
