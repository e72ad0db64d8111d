"""The SDK store: one emsdk run per machine, every other root links; nothing shared leaks.

A real local git repository stands in for emsdk (tests/data/fake_emsdk.py: a few
hundred files with symlinks, executables and a prebuilt Emscripten cache) and counts
its calls; the roots are real roots installed with the real CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers.cli import install_env, run
from helpers.servers import Server

PATCH = b"""diff --git a/src/settings.js b/src/settings.js
--- a/src/settings.js
+++ b/src/settings.js
@@ -1,3 +1,3 @@
 line1
-line2
+line2 patched by pyodide
 line3
"""
PATCHES = "xbuildenv/pyodide-root/emsdk/patches/"


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def setup(
    server: Server, env: dict[str, str], tmp_path: Path, repo: str, roots: int = 2
) -> tuple[dict[str, str], Path, list[Path]]:
    log = tmp_path / "calls.log"
    env = {**env, "FAKE_EMSDK_LOG": str(log), "XBUILDENV_EMSDK_URL": repo}
    homes = []
    for i in range(roots):
        pyroot = install_env(
            server, env, tmp_path / f"root{i}", extra={PATCHES + "0001-good.patch": PATCH}
        )
        homes.append(pyroot.parent.parent)
    return env, log, homes


def emscripten(env: dict[str, str], home: Path, *args: str) -> str:
    r = run("install-emscripten", "-v", "--path", str(home.parent), *args, env=env)
    assert r.code == 0, r.err
    return r.err


def store_sdks(home: Path) -> list[Path]:
    sdks = home / ".cache/pyodide-build/xbuildenv-store/sdks"
    return sorted(p for p in sdks.iterdir() if not p.name.startswith(".")) if sdks.is_dir() else []


def tree(folder: Path) -> dict[str, tuple[str, bytes | str]]:
    out: dict[str, tuple[str, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = str(p.relative_to(folder))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_file():
                out[rel] = ("file", p.read_bytes())
    return out


def test_second_root_links_without_emsdk(
    server: Server, env: dict[str, str], tmp_path: Path, home: Path, emsdk_repo: str
) -> None:
    env, log, (a, b) = setup(server, env, tmp_path, emsdk_repo)
    out = emscripten(env, a)
    assert calls(log) == [
        "install --build=Release 4.0.9",
        "activate --embedded --build=Release 4.0.9",
    ]
    assert "built" in out
    (sdk,) = store_sdks(home)
    revision = subprocess.run(
        ["git", "rev-parse", "4.0.9^{}"],
        cwd=emsdk_repo[7:],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert sdk.name.startswith(f"4.0.9-{revision[:12]}-")
    assert f"emsdk revision {revision}" in out
    assert "warning:" not in out  # the tag exists: pinned, no warning

    out = emscripten(env, b)
    assert len(calls(log)) == 2, out  # no emsdk run for the second root
    assert "linked from the SDK store" in out
    ea, eb = a / "emsdk", b / "emsdk"
    assert (b / ".emscripten-version").read_text() == "4.0.9"
    assert (eb / "upstream/emscripten/src/settings.js").read_text().endswith("pyodide\nline3\n")
    # shared: the big files are one inode; symlinks and modes as built
    clang_a, clang_b = ea / "upstream/bin/clang", eb / "upstream/bin/clang"
    assert clang_a.stat().st_ino == clang_b.stat().st_ino
    assert os.readlink(eb / "upstream/bin/clang++") == "clang"
    assert os.access(clang_b, os.X_OK)
    # private: what builds write in place in the Emscripten cache, and the config
    for rel in ("upstream/emscripten/cache/sanity.txt", ".emscripten"):
        assert (ea / rel).stat().st_ino != (eb / rel).stat().st_ino
    assert str(eb) in (eb / ".emscripten").read_text()
    assert str(ea) not in (eb / ".emscripten").read_text()
    # a build in root A writes its cache and config (in place, as emcc does) and adds files
    before_b = tree(eb)
    before_store = tree(sdk / "emsdk")
    with open(ea / "upstream/emscripten/cache/sanity.txt", "r+b") as fh:
        fh.write(b"REWRITTEN")
    # a library rebuilt as emscripten does it: the old archive deleted, a new one written
    # (an in-place write into a shared library is the quick check's to catch: see below)
    lib = next((ea / "upstream/emscripten/cache/sysroot/lib").rglob("*.a"))
    lib.unlink()
    lib.write_bytes(b"rebuilt")
    with open(ea / ".emscripten", "a") as fh:
        fh.write("CACHE = '/elsewhere'\n")
    (ea / "upstream/emscripten/cache/ports").mkdir()
    (ea / "upstream/emscripten/cache/ports/zlib.zip").write_bytes(b"zip")
    assert tree(eb) == before_b
    assert tree(sdk / "emsdk") == before_store
    # a third root still links (the store is intact), again without emsdk
    env3, _, (c,) = setup(server, env, tmp_path / "more", emsdk_repo, roots=1)
    emscripten({**env3, "FAKE_EMSDK_LOG": str(log)}, c)
    assert len(calls(log)) == 2


def test_untagged_version_warns_once_and_damaged_store_is_rebuilt(
    server: Server, env: dict[str, str], tmp_path: Path, home: Path, emsdk_repo: str
) -> None:
    env, log, (a, b) = setup(server, env, tmp_path, emsdk_repo)
    out = emscripten(env, a, "--version", "4.0.10")
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "no tag 4.0.10" in warnings[0], out
    (sdk,) = store_sdks(home)
    # damage the store: one byte of a shared file, in place, keeping size and mtime
    victim = sdk / "emsdk/upstream/emscripten/system/lib/d2/s0/f2.c"
    info = victim.stat()
    victim.chmod(0o644)
    with open(victim, "r+b") as fh:
        fh.write(b"X")
    os.utime(victim, ns=(info.st_atime_ns, info.st_mtime_ns))
    replaced = sdk / "emsdk/upstream/bin/lld"
    data = replaced.read_bytes()
    replaced.unlink()
    replaced.write_bytes(data)  # same bytes, same size, new file: not what was published
    out = emscripten(env, b, "--version", "4.0.10")
    assert "is damaged" in out and "upstream/bin/lld was replaced" in out, out
    assert calls(log).count("install --build=Release 4.0.10") == 2  # rebuilt
    (sdk,) = store_sdks(home)
    assert (sdk / "emsdk/upstream/bin/lld").stat().st_ino == (
        b / "emsdk/upstream/bin/lld"
    ).stat().st_ino
    # root A's own copy was never touched by the damage above only through the store
    assert (a / ".emscripten-version").read_text() == "4.0.10"


def test_extra_or_missing_file_is_found(
    server: Server, env: dict[str, str], tmp_path: Path, home: Path, emsdk_repo: str
) -> None:
    env, log, (a, b) = setup(server, env, tmp_path, emsdk_repo, roots=2)
    emscripten(env, a)
    (sdk,) = store_sdks(home)
    (sdk / "emsdk/upstream/bin/evil").write_text("#!/bin/sh\n")
    out = emscripten(env, b)
    assert "upstream/bin/evil was added" in out
    assert not (b / "emsdk/upstream/bin/evil").exists()
    assert calls(log).count("install --build=Release 4.0.9") == 2
    (sdk,) = store_sdks(home)
    next((sdk / "emsdk/upstream/emscripten/system").rglob("*.c")).unlink()
    env3, _, (c,) = setup(server, env, tmp_path / "more", emsdk_repo, roots=1)
    out = emscripten({**env3, "FAKE_EMSDK_LOG": str(log)}, c)
    assert "files are missing" in out
    assert calls(log).count("install --build=Release 4.0.9") == 3


def test_four_roots_at_once_run_emsdk_once(
    server: Server, env: dict[str, str], tmp_path: Path, home: Path, emsdk_repo: str
) -> None:
    env, log, homes = setup(server, env, tmp_path, emsdk_repo, roots=4)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "xbuildenv", "install-emscripten", "--path", str(h.parent)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for h in homes
    ]
    results = [(p.wait(timeout=300), p.communicate()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    assert calls(log).count("install --build=Release 4.0.9") == 1
    assert len(store_sdks(home)) == 1
    for h in homes:
        assert (h / ".emscripten-version").read_text() == "4.0.9"
        assert json.loads((h / ".xbuildenv-sdk.json").read_text())["version"] == "4.0.9"
    inodes = {(h / "emsdk/upstream/bin/clang").stat().st_ino for h in homes}
    assert len(inodes) == 1


def _as_a_build_in(emsdk: Path, scratch: Path) -> None:
    """What emcc and embuilder do to a root's SDK (emscripten's tools/cache.py, shared.py,
    system_libs.py, ports: the list in cache/sdk_manifest.py): each write in place, and
    a library rebuild. Run as whoever runs the tests: as root, modes stop nothing."""
    cache = emsdk / "upstream/emscripten/cache"
    # the cache lock: filelock opens it O_RDWR | O_CREAT | O_TRUNC
    fd = os.open(cache / "cache.lock", os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    # sanity.txt: open("w") after a config change
    with open(cache / "sanity.txt", "w") as fh:
        fh.write("4.0.9|/another/llvm\n")
    # the headers installed again over the old ones (shutil.copy), version.h, the stamp
    fresh = scratch / "fresh.h"
    fresh.write_bytes(b"/* installed again */\n")
    header = next((cache / "sysroot/include").rglob("h*.h"))
    shutil.copy(fresh, header)
    with open(cache / "sysroot/include/emscripten/version.h", "w") as fh:
        fh.write("#define __EMSCRIPTEN_MAJOR__ 5\n")
    with open(cache / "sysroot_install.stamp", "w") as fh:
        fh.write("y")
    # a one-object library copied over the old one (create_lib: shutil.copyfile)
    shutil.copyfile(fresh, cache / "sysroot/lib/wasm32-emscripten/crt1.o")
    # a library rebuilt (create_lib_emar): the old archive deleted, then `emar cr`
    lib = next((cache / "sysroot/lib").rglob("lib*.a"))
    lib.unlink()
    lib.write_bytes(b"!<arch>\nrebuilt\n")
    # ninja files appended to in the build folder
    (cache / "build").mkdir(exist_ok=True)
    with open(cache / "build/build.ninja", "a") as fh:
        fh.write("subninja libc/build.ninja\n")
    # the config emsdk activate wrote, rewritten in place
    with open(emsdk / ".emscripten", "r+") as fh:
        fh.write("#")


def test_every_write_emscripten_makes_in_one_root_leaves_the_other_and_the_store_alone(
    server: Server, env: dict[str, str], tmp_path: Path, home: Path, emsdk_repo: str
) -> None:
    """The prebuilt libraries are shared (emscripten only deletes and creates them);
    every file it writes in place is each root's own, so root B and the store stay
    byte for byte as they were, and a third root still links without emsdk."""
    env, log, (a, b) = setup(server, env, tmp_path, emsdk_repo)
    emscripten(env, a)
    emscripten(env, b)
    (sdk,) = store_sdks(home)
    ea, eb = a / "emsdk", b / "emsdk"
    libs = sorted((eb / "upstream/emscripten/cache/sysroot/lib").rglob("lib*.a"))
    assert libs and all(
        p.stat().st_ino == (sdk / "emsdk" / p.relative_to(eb)).stat().st_ino for p in libs
    )  # shared with the store: no private copy of the prebuilt libraries
    before_b = tree(eb)
    before_store = tree(sdk / "emsdk")
    _as_a_build_in(ea, tmp_path)
    assert tree(ea) != before_b  # the writes did land, in root A
    assert tree(eb) == before_b
    assert tree(sdk / "emsdk") == before_store
    env3, _, (c,) = setup(server, env, tmp_path / "more", emsdk_repo, roots=1)
    emscripten({**env3, "FAKE_EMSDK_LOG": str(log)}, c)
    assert len(calls(log)) == 2  # the store passed its check: linked, no emsdk run
    assert tree(c / "emsdk").keys() == before_b.keys()
