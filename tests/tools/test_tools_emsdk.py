"""``install-emscripten``: a local git repository stands in for emsdk; patches are real."""

from __future__ import annotations

from pathlib import Path

from helpers.cli import install_env, one_error, run
from helpers.servers import Server

GOOD_PATCH = b"""diff --git a/src/settings.js b/src/settings.js
--- a/src/settings.js
+++ b/src/settings.js
@@ -1,3 +1,3 @@
 line1
-line2
+line2 patched by pyodide
 line3
"""

BAD_PATCH = b"""diff --git a/src/settings.js b/src/settings.js
--- a/src/settings.js
+++ b/src/settings.js
@@ -1,3 +1,3 @@
 line1
-no such line
+never applies
 line3
"""

PATCHES = "xbuildenv/pyodide-root/emsdk/patches/"


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_install_patch_activate_and_noop(
    server: Server, env: dict[str, str], tmp_path: Path, emsdk_repo: str
) -> None:
    log = tmp_path / "calls.log"
    env = {**env, "FAKE_EMSDK_LOG": str(log), "XBUILDENV_EMSDK_URL": emsdk_repo}
    root = tmp_path / "root"
    pyroot = install_env(server, env, root, extra={PATCHES + "0001-good.patch": GOOD_PATCH})
    version_dir = pyroot.parent.parent
    r = run("install-emscripten", "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert calls(log) == [
        "install --build=Release 4.0.9",
        "activate --embedded --build=Release 4.0.9",
    ]
    emsdk = version_dir / "emsdk"
    settings = emsdk / "upstream/emscripten/src/settings.js"
    assert settings.read_text() == "line1\nline2 patched by pyodide\nline3\n"
    assert (version_dir / ".emscripten-version").read_text() == "4.0.9"
    assert f"source '{emsdk}/emsdk_env.sh'" in r.out  # quoted: a space in a path is one word
    assert not list(version_dir.glob(".emsdk-*"))
    # the second run is a no-op
    r = run("install-emscripten", "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert "already installed" in r.err
    assert len(calls(log)) == 2
    # env now carries the SDK, and run sees it
    r = run("env", "--shell", "bash", "--path", str(root), env=env)
    assert f"export EMSDK='{emsdk}'" in r.out
    assert f"export EM_CONFIG='{emsdk}/.emscripten'" in r.out
    assert f"export PATH='{emsdk}:{emsdk}/upstream/emscripten:" in r.out
    r = run("run", "--path", str(root), "--", "sh", "-c", 'test "$EMSDK" = "$1"', "sh", str(emsdk),
            env=env)  # fmt: skip
    assert r.code == 0, r.err
    # config reports the same folders
    r = run("config", "get", "emscripten_dir", "--path", str(root), env=env)
    assert r.out.strip() == str(emsdk / "upstream/emscripten")
    # another version replaces it
    r = run("install-emscripten", "--version", "4.0.10", "--path", str(root), env=env)
    assert r.code == 0, r.err
    assert calls(log)[-2:] == [
        "install --build=Release 4.0.10",
        "activate --embedded --build=Release 4.0.10",
    ]
    assert (version_dir / ".emscripten-version").read_text() == "4.0.10"
    assert (emsdk / "upstream/emscripten/emscripten-version.txt").read_text() == "4.0.10\n"


def test_patch_that_does_not_apply(
    server: Server, env: dict[str, str], tmp_path: Path, emsdk_repo: str
) -> None:
    log = tmp_path / "calls.log"
    env = {**env, "FAKE_EMSDK_LOG": str(log)}
    root = tmp_path / "root"
    extra = {PATCHES + "0001-good.patch": GOOD_PATCH, PATCHES + "0002-bad.patch": BAD_PATCH}
    pyroot = install_env(server, env, root, extra=extra)
    version_dir = pyroot.parent.parent
    r = run("install-emscripten", "--emsdk-url", emsdk_repo, "--version", "4.0.8", "--path",
            str(root), env=env)  # fmt: skip
    line = one_error(r)
    assert "patch 0002-bad.patch does not apply to Emscripten 4.0.8" in line
    assert "built with Emscripten 4.0.9" in line
    assert not (version_dir / ".emscripten-version").exists()
    assert not (version_dir / "emsdk").exists()
    assert not list(version_dir.glob(".emsdk-*"))
    assert not any(c.startswith("activate") for c in calls(log))


def test_failure_keeps_the_previous_sdk(
    server: Server, env: dict[str, str], tmp_path: Path, emsdk_repo: str
) -> None:
    log = tmp_path / "calls.log"
    env = {**env, "FAKE_EMSDK_LOG": str(log)}
    root = tmp_path / "root"
    pyroot = install_env(server, env, root)  # no patches at all
    version_dir = pyroot.parent.parent
    (tmp_path / "pyproject.toml").write_text(f'[tool.xbuildenv]\nemsdk_url = "{emsdk_repo}"\n')
    r = run("install-emscripten", "--path", str(root), env=env, cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("install-emscripten", "--version", "9.9.9", "--path", str(root),
            env={**env, "FAKE_EMSDK_FAIL": "1"}, cwd=tmp_path)  # fmt: skip
    line = one_error(r)
    assert "emsdk could not install Emscripten 9.9.9 (exit code 3)" in line
    assert "download failed for 9.9.9" in line
    assert (version_dir / ".emscripten-version").read_text() == "4.0.9"
    assert (
        version_dir / "emsdk/upstream/emscripten/emscripten-version.txt"
    ).read_text() == "4.0.9\n"
    assert not list(version_dir.glob(".emsdk-*"))


def test_bad_url(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "root"
    install_env(server, env, root)
    missing = f"file://{tmp_path}/no-such-repo"
    line = one_error(
        run("install-emscripten", "--emsdk-url", missing, "--path", str(root), env=env)
    )
    assert f"cannot clone emsdk from {missing}" in line
