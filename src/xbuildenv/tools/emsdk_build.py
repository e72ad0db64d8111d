"""Building one Emscripten SDK from emsdk: the pinned clone, install, patches, activate.

pyodide-build clones emsdk's moving default branch, so two machines can install
different SDKs for one Emscripten version. emsdk tags every release with its version:
the tag equal to the version is cloned when it exists (:func:`resolve_pin` asks the
remote with ``git ls-remote``, which costs no clone), and the default branch otherwise,
with one warning. The commit actually cloned is part of the store key.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..checkpoints import checkpoint
from ..errors import EmsdkError, PatchError, ToolError
from .tool_process import run_tool

Lines = Callable[[str], None] | None


@dataclass(frozen=True)
class Pin:
    """What to clone: the tag ``ref`` (None: the default branch) at ``revision``."""

    ref: str | None
    revision: str


def resolve_pin(url: str, version: str, env: dict[str, str]) -> Pin | None:
    """The emsdk commit for ``version`` without cloning; None when the remote cannot be
    asked (offline: the caller looks for a stored SDK of any revision)."""
    tag = f"refs/tags/{version}"
    try:
        ran = subprocess.run(
            ["git", "ls-remote", "--", url, tag, f"{tag}^{{}}", "HEAD"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if ran.returncode != 0:
        return None
    refs: dict[str, str] = {}
    for line in ran.stdout.decode("utf-8", "replace").splitlines():
        sha, _, name = line.partition("\t")
        refs[name.strip()] = sha.strip()
    # An annotated tag lists its own object and the commit (``^{}``): the commit counts.
    if f"{tag}^{{}}" in refs:
        return Pin(version, refs[f"{tag}^{{}}"])
    if tag in refs:
        return Pin(version, refs[tag])
    if "HEAD" in refs:
        return Pin(None, refs["HEAD"])
    return None


def build_sdk(
    folder: Path,
    url: str,
    version: str,
    pin: Pin | None,
    patches: list[Path],
    expected: str | None,
    env: dict[str, str],
    on_line: Lines,
) -> tuple[str, tuple[str, ...]]:
    """Clone, install, patch and activate into ``folder``; return (revision, patches)."""
    branch = ["--branch", pin.ref] if pin is not None and pin.ref else []
    _git(
        ["git", "-c", "advice.detachedHead=false", "clone", "--depth", "1", *branch, "--",
         url, str(folder)],
        env, on_line, f"cannot clone emsdk from {url}",
    )  # fmt: skip
    checkpoint("sdk.cloned")
    revision = _head(folder, env)
    tool = _emsdk_tool(folder)
    _step([tool, "install", "--build=Release", version], folder, env, on_line,
          f"emsdk could not install Emscripten {version}")  # fmt: skip
    checkpoint("sdk.installed")
    applied = apply_patches(patches, folder, version, expected, env, on_line)
    checkpoint("sdk.patched")
    _step([tool, "activate", "--embedded", "--build=Release", version], folder, env, on_line,
          f"emsdk could not activate Emscripten {version}")  # fmt: skip
    checkpoint("sdk.activated")
    return revision, applied


def _head(folder: Path, env: dict[str, str]) -> str:
    ran = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, env=env, capture_output=True,
                         check=False)  # fmt: skip
    revision = ran.stdout.decode("ascii", "replace").strip()
    if ran.returncode != 0 or not revision:
        raise EmsdkError("the cloned emsdk has no commit", "check the emsdk URL")
    return revision


def _emsdk_tool(folder: Path) -> str:
    tool = folder / ("emsdk.bat" if os.name == "nt" else "emsdk")
    if not tool.is_file():
        raise EmsdkError(f"the cloned repository has no {tool.name} script", "check the emsdk URL")
    return str(tool)


def _git(cmd: list[str], env: dict[str, str], on_line: Lines, what: str) -> None:
    ran = run_tool(cmd, env=env, on_line=on_line)
    if ran.code != 0:
        raise ToolError(f"{what}: {ran.error_line('fatal:', 'error:')}", None, ran.tail)


def _step(cmd: list[str], cwd: Path, env: dict[str, str], on_line: Lines, what: str) -> None:
    ran = run_tool(cmd, cwd=cwd, env=env, on_line=on_line)
    if ran.code != 0:
        raise ToolError(
            f"{what} (exit code {ran.code}): {ran.error_line('error:', 'Error:')}",
            "see its output above; nothing was marked installed",
            ran.tail,
        )


def apply_patches(
    patches: list[Path],
    sdk: Path,
    version: str,
    expected: str | None,
    env: dict[str, str],
    on_line: Lines,
) -> tuple[str, ...]:
    """Apply the environment's patches to ``sdk/upstream/emscripten`` in order."""
    if not patches:
        return ()
    tree = sdk / "upstream" / "emscripten"
    if not tree.is_dir():
        raise EmsdkError(f"emsdk install left no {tree}", "the emsdk repository looks broken")
    # GIT_DIR=. keeps git from finding emsdk's own repository above the tree and
    # applying (or silently skipping) the patches relative to that instead.
    patch_env = {**env, "GIT_DIR": "."}
    for patch in patches:
        ran = run_tool(
            ["git", "apply", "--verbose", str(patch)], cwd=tree, env=patch_env, on_line=on_line
        )
        if ran.code != 0:
            made_for = (
                f"; the environment was built with Emscripten {expected}"
                if expected and expected != version
                else ""
            )
            raise PatchError(
                f"patch {patch.name} does not apply to Emscripten {version}{made_for}: "
                f"{ran.error_line('error:')}",
                "install the version the environment names (omit --version)"
                if made_for
                else "the environment's patches do not match this Emscripten",
                ran.tail,
            )
    return tuple(p.name for p in patches)
