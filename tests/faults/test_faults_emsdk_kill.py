"""install-emscripten killed (SIGKILL) at every checkpoint of build, publish and link.

After each kill: the root has the previous SDK or the new one or none marked installed,
never a half one; every SDK in the store matches its manifest; and a plain re-run
finishes (without emsdk when the kill came after the publish).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import install_env, run
from helpers.servers import Server

from xbuildenv.cache.manifest import file_digest
from xbuildenv.cache.sdk_manifest import is_private, quick_check
from xbuildenv.cache.sdk_store import SdkStore, root_sdk_key


def _run(env: dict[str, str], root: Path, *args: str, spec: str = "") -> int:
    if not spec:  # nothing to stop: helpers.cli.run, in process
        return run(
            "install-emscripten", "-q", "--path", str(root), *args, env=env, timeout=300
        ).code
    extra = {"XBUILDENV_TEST_CHECKPOINTS": spec}
    done = subprocess.run(
        [sys.executable, "-m", "xbuildenv", "install-emscripten", "-q", "--path", str(root),
         *args],
        env={**env, **extra}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.returncode


def _points(log: Path) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    out = []
    for name in log.read_text().splitlines():
        seen[name] = seen.get(name, 0) + 1
        out.append((name, seen[name]))
    return out


def _consistent(home: Path, store: SdkStore, versions: set[str]) -> list[str]:
    problems = []
    for sdk in store.all():
        damage = quick_check(sdk.tree, sdk.manifest)
        if damage:
            problems.append(f"store SDK {sdk.key.name}: {damage}")
    marker = home / ".emscripten-version"
    if not marker.exists():
        return problems
    version = marker.read_text()
    if version not in versions:
        problems.append(f"marker names {version}")
    key = root_sdk_key(home)
    sdk = store.load(key) if key else None
    if sdk is None or sdk.key.version != version:
        return [*problems, f"marked {version} without its store SDK ({key})"]
    emsdk = home / "emsdk"
    for rel, entry in sdk.manifest.files.items():
        path = emsdk / rel
        if not path.is_file():
            problems.append(f"marked installed, {rel} missing")
        elif not is_private(rel) and file_digest(str(path)) != (entry[0], entry[1]):
            problems.append(f"marked installed, {rel} differs")
    return problems


SCENARIOS = ["first build", "second root links", "replace version"]
# The default run: one point in each phase (build, publish, link, swap, marker).
SAMPLE = {"sdk.activated", "sdk.manifest", "sdk.published", "sdk.linked", "sdk.moved-old",
          "sdk.marker"}  # fmt: skip


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_kill_sample(
    server: Server, env: dict[str, str], tmp_path: Path, emsdk_repo: str, scenario: str
) -> None:
    _sweep(server, env, tmp_path, emsdk_repo, scenario, SAMPLE)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_kill_every_point(
    server: Server, env: dict[str, str], tmp_path: Path, emsdk_repo: str, scenario: str
) -> None:
    _sweep(server, env, tmp_path, emsdk_repo, scenario, None)


def _sweep(
    server: Server,
    env: dict[str, str],
    tmp_path: Path,
    emsdk_repo: str,
    scenario: str,
    only: set[str] | None,
) -> None:
    log = tmp_path / "calls.log"
    env = {**env, "FAKE_EMSDK_LOG": str(log), "XBUILDENV_EMSDK_URL": emsdk_repo}
    root = tmp_path / "root"
    home = install_env(server, env, root).parent.parent
    store_path = tmp_path / "store"
    store_path.mkdir()
    env["XBUILDENV_CACHE_DIR"] = str(store_path)
    store = SdkStore(store_path)
    args: tuple[str, ...] = ()
    versions = {"4.0.9"}
    if scenario == "second root links":
        other = install_env(server, env, tmp_path / "other", name="other").parent.parent
        assert _run(env, other.parent) == 0
    if scenario == "replace version":
        assert _run(env, root) == 0
        args, versions = ("--version", "4.0.10"), {"4.0.9", "4.0.10"}
    saved = tmp_path / "saved"
    saved.mkdir()
    for name in (".emscripten-version", ".xbuildenv-sdk.json", "emsdk"):
        if (home / name).exists():
            shutil.move(str(home / name), str(saved / name))
    # The SDKs stored before the sweep stay as they are (a copy would be new inodes,
    # which the quick check rightly takes for replaced files); the rest is reset.
    sdks = store_path / "sdks"
    keep = {p.name for p in sdks.iterdir()} if sdks.is_dir() else set()

    def reset() -> None:
        for name in (".emscripten-version", ".xbuildenv-sdk.json", "emsdk"):
            p = home / name
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
            if (saved / name).is_dir():
                shutil.copytree(saved / name, p, symlinks=True)
            elif (saved / name).exists():
                shutil.copy2(saved / name, p)
        for entry in sdks.iterdir() if sdks.is_dir() else []:
            if entry.name not in keep:
                shutil.rmtree(entry)

    reset()
    dry = tmp_path / "dry.log"
    assert _run(env, root, *args, spec=f"log={dry},name=sdk.") == 0
    points = _points(dry)
    names = {n for n, _ in points}
    if scenario == "second root links":
        assert "sdk.cloned" not in names and "sdk.linked" in names
    else:
        assert {"sdk.cloned", "sdk.published", "sdk.linked", "sdk.marker"} <= names
    assert len(points) >= 6
    failures = []
    for name, nth in points:
        if only is not None and name not in only:
            continue
        reset()
        code = _run(env, root, *args, spec=f"point={name},at={nth}")
        if code != -9:
            failures.append(f"{name}#{nth}: not killed (exit {code})")
            continue
        for problem in _consistent(home, store, versions):
            failures.append(f"{name}#{nth}: {problem}")
        want = "4.0.10" if args else "4.0.9"
        published = any(sdk.key.version == want for sdk in store.all())
        builds_before = log.read_text().count("install --build") if log.exists() else 0
        if _run(env, root, *args) != 0:
            failures.append(f"{name}#{nth}: the re-run failed")
        for problem in _consistent(home, store, versions):
            failures.append(f"{name}#{nth} after re-run: {problem}")
        if (home / ".emscripten-version").read_text() != want:
            failures.append(f"{name}#{nth}: re-run did not install {want}")
        if published and log.read_text().count("install --build") != builds_before:
            failures.append(f"{name}#{nth}: the re-run built again though the SDK was stored")
        leftovers = [p.name for p in (store_path / "sdks").glob(".build-*")]
        leftovers += [p.name for p in home.glob(".emsdk-*")]
        if leftovers:
            failures.append(f"{name}#{nth}: left {leftovers}")
    assert not failures, "\n".join(failures)
