"""Packed SDKs in a remote store and a mirror: a second machine gets the SDK without emsdk.

"Machines" are separate homes (separate caches and SDK stores) sharing one remote
store folder; emsdk is the counted stand-in (tests/data/fake_emsdk.py).
"""

from __future__ import annotations

from pathlib import Path

from helpers.cli import clean_env, install_env, run
from helpers.servers import Server


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def machine(
    server: Server, tmp_path: Path, name: str, repo: str, log: Path, **extra: str
) -> tuple[dict[str, str], Path]:
    home = tmp_path / name
    home.mkdir()
    env = clean_env(home, FAKE_EMSDK_LOG=str(log), XBUILDENV_EMSDK_URL=repo, **extra)
    version_dir = install_env(server, env, home / "root").parent.parent
    return env, version_dir


def emscripten(env: dict[str, str], version_dir: Path) -> str:
    r = run("install-emscripten", "-v", "--path", str(version_dir.parent), env=env)
    assert r.code == 0, r.err
    return r.err


def builds(log: Path) -> int:
    return sum(c.startswith("install ") for c in calls(log))


def test_second_machine_gets_the_sdk_from_the_remote_store(
    server: Server, tmp_path: Path, emsdk_repo: str
) -> None:
    log = tmp_path / "calls.log"
    remote = tmp_path / "remote"
    env_a, a = machine(server, tmp_path, "a", emsdk_repo, log, XBUILDENV_REMOTE_STORE=str(remote))
    out = emscripten(env_a, a)
    assert builds(log) == 1 and "built" in out
    packs = sorted(p.name for p in (remote / "packs").iterdir())
    assert any(p.endswith(".tar.zst") for p in packs) and any(p.endswith(".json") for p in packs)
    assert not list((remote / "pending").glob("*")) if (remote / "pending").exists() else True
    env_b, b = machine(server, tmp_path, "b", emsdk_repo, log, XBUILDENV_REMOTE_STORE=str(remote))
    out = emscripten(env_b, b)
    assert builds(log) == 1, out  # no emsdk on machine B
    assert "from the remote store" in out
    for rel in ("upstream/bin/clang", "upstream/emscripten/src/settings.js"):
        assert (a / "emsdk" / rel).read_bytes() == (b / "emsdk" / rel).read_bytes()
    assert (b / "emsdk/upstream/bin/clang++").readlink() == Path("clang")
    assert str(b / "emsdk") in (b / "emsdk/.emscripten").read_text()
    assert (b / ".emscripten-version").read_text() == "4.0.9"


def test_damaged_or_unsigned_packs_are_not_used(
    server: Server, tmp_path: Path, emsdk_repo: str
) -> None:
    log = tmp_path / "calls.log"
    remote = tmp_path / "remote"
    signed = {"XBUILDENV_REMOTE_STORE": str(remote), "XBUILDENV_REMOTE_STORE_KEY": "s3cret"}
    env_a, a = machine(server, tmp_path, "a", emsdk_repo, log, **signed)
    emscripten(env_a, a)
    assert any(p.suffix == ".sig" for p in (remote / "packs").iterdir())
    # a reader with another key does not trust it and builds here (read-only: no upload)
    other = {
        **signed,
        "XBUILDENV_REMOTE_STORE_KEY": "other",
        "XBUILDENV_REMOTE_STORE_READ_ONLY": "1",
    }
    env_b, b = machine(server, tmp_path, "b", emsdk_repo, log, **other)
    out = emscripten(env_b, b)
    assert "no valid signature" in out and builds(log) == 2
    # the same key: trusted
    env_c, c = machine(server, tmp_path, "c", emsdk_repo, log, **signed)
    assert "from the remote store" in emscripten(env_c, c) and builds(log) == 2
    # a pack whose bytes were changed after signing is refused file by file
    (pack,) = (remote / "packs").glob("*.tar.zst")
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.write_bytes(bytes(data))
    env_d, d = machine(server, tmp_path, "d", emsdk_repo, log, **signed)
    out = emscripten(env_d, d)
    assert "was refused" in out and builds(log) == 3
    assert (d / ".emscripten-version").read_text() == "4.0.9"


def test_air_gapped_machine_uses_the_mirror(
    server: Server, tmp_path: Path, emsdk_repo: str
) -> None:
    log = tmp_path / "calls.log"
    mirror = tmp_path / "mirror"
    env_a, a = machine(server, tmp_path, "a", emsdk_repo, log, XBUILDENV_REMOTE_STORE=str(mirror))
    emscripten(env_a, a)
    # no emsdk reachable at all: the mirror's pack is the only way
    gone = f"file://{tmp_path}/no-emsdk-here"
    env_b, b = machine(server, tmp_path, "b", gone, log, XBUILDENV_MIRROR=str(mirror))
    out = emscripten(env_b, b)
    assert "from the mirror" in out and builds(log) == 1
    assert (b / "emsdk/upstream/bin/clang").read_bytes() == (
        a / "emsdk/upstream/bin/clang"
    ).read_bytes()


def test_mirror_sync_adds_packed_sdks(server: Server, tmp_path: Path, emsdk_repo: str) -> None:
    from helpers.servers import serve_env, serve_index

    log = tmp_path / "calls.log"
    env_a, a = machine(server, tmp_path, "a", emsdk_repo, log)
    emscripten(env_a, a)
    meta = serve_index(server, serve_env(server, "0.29.4"))
    dest = tmp_path / "mirror"
    r = run("mirror", "sync", str(dest), "--metadata", meta, "--emscripten", env=env_a)
    assert r.code == 0, r.err
    assert "packed Emscripten SDK 4.0.9-" in r.err
    r = run("mirror", "sync", str(dest), "--metadata", meta, "--prune", env=env_a)
    assert r.code == 0, r.err
    assert list((dest / "packs").glob("*.tar.zst"))  # --prune keeps packed SDKs
    gone = f"file://{tmp_path}/no-emsdk-here"
    env_b, b = machine(server, tmp_path, "b", gone, log, XBUILDENV_MIRROR=str(dest))
    assert "from the mirror" in emscripten(env_b, b) and builds(log) == 1


def test_read_only_from_pyproject_keeps_an_sdk_build_from_uploading(
    server: Server, tmp_path: Path, emsdk_repo: str
) -> None:
    """The [tool.xbuildenv] keys reach the SDK path as they reach archives: an untrusted
    runner configured read-only in its pyproject.toml builds locally and uploads nothing;
    a value that is not a yes or no is one error line, before anything is built."""
    log = tmp_path / "calls.log"
    remote = tmp_path / "remote"
    remote.mkdir()
    env, version_dir = machine(server, tmp_path, "a", emsdk_repo, log)
    project = tmp_path / "project"
    project.mkdir()
    pyproject = project / "pyproject.toml"
    # the store from the variable, read-only from the pyproject key: one setting each way
    env = {**env, "XBUILDENV_REMOTE_STORE": str(remote)}
    keys = "[tool.xbuildenv]\nremote_store_read_only = "
    pyproject.write_text(keys + '"maybe"\n')
    args = ("install-emscripten", "--path", str(version_dir.parent))
    r = run(*args, env=env, cwd=project)
    assert r.code == 1 and builds(log) == 0
    lines = [line for line in r.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "remote_store_read_only" in lines[0], r.err
    pyproject.write_text(keys + "true\n")
    r = run(*args, env=env, cwd=project)
    assert r.code == 0, r.err
    assert builds(log) == 1
    assert not (remote / "packs").exists() or not list((remote / "packs").iterdir())
