"""The Emscripten SDK of an environment: ``<version>/emsdk``, as pyodide-build lays it out.

``install_emscripten`` clones emsdk, installs the Emscripten version the environment
was built with, applies the environment's patches (``pyodide-root/emsdk/patches``)
to ``upstream/emscripten`` and activates it. The version is recorded in
``<version>/.emscripten-version`` (pyodide-build's marker, so each tool sees the other's
install).

Nothing half-done is ever marked installed:

1. clone, ``emsdk install`` and patching happen in a private staging folder (the slow
   and failure-prone part); a failure deletes it and leaves any previous SDK and its
   marker untouched;
2. the marker is removed, the old SDK renamed away, the staged one renamed into place;
3. ``emsdk activate --embedded`` runs in the final place (it writes the SDK's own
   config file), and only then is the marker written, atomically.

A crash between 2 and 3 leaves an SDK without a marker: not installed, and the next
run starts over.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..cache.layout import (
    EMSDK_MARKER,
    EMSDK_PATCHES,
    EMSDK_STAGING_PREFIX,
    EMSDK_TRASH_PREFIX,
)
from ..errors import EmsdkError, PatchError, ToolError, UsageError
from ..fs.files import remove_tree
from ..fs.locks import FileLock
from ..fs.paths import read_text_bounded
from ..settings.config import ProjectConfig, setting
from .build_config import emsdk_dir_for
from .tool_process import run_tool

__all__ = [
    "EmsdkResult",
    "activation_hint",
    "emsdk_url",
    "install_emscripten",
    "installed_emscripten",
]

DEFAULT_EMSDK_URL = "https://github.com/emscripten-core/emsdk.git"
ENV_EMSDK_URL = "XBUILDENV_EMSDK_URL"
KEY_EMSDK_URL = "emsdk_url"  # in [tool.xbuildenv]


@dataclass(frozen=True)
class EmsdkResult:
    emsdk_dir: Path
    version: str
    action: Literal["installed", "already installed"]
    patches: tuple[str, ...] = ()


def emsdk_url(project: ProjectConfig | None = None, override: str | None = None) -> str:
    """The git URL to clone: ``override``, $XBUILDENV_EMSDK_URL, pyproject, or upstream."""
    if override:
        return override
    return setting(project or ProjectConfig(), ENV_EMSDK_URL, KEY_EMSDK_URL) or DEFAULT_EMSDK_URL


def installed_emscripten(pyodide_root: Path) -> str | None:
    """The Emscripten version installed for this environment, if a complete install exists."""
    emsdk = emsdk_dir_for(pyodide_root)
    try:
        version = read_text_bounded(emsdk.parent / EMSDK_MARKER, 256).strip()
    except (OSError, ValueError):
        return None
    if not version or not (emsdk / "upstream" / "emscripten").is_dir():
        return None
    return version


def activation_hint(emsdk: Path, shell: str = "bash") -> str:
    """The line a user types to put this SDK on their PATH (quoted: macOS and Windows
    cache folders may hold spaces)."""
    from .shell_env import quote  # shell_env imports this module

    if shell == "fish":
        return f"source {quote(str(emsdk / 'emsdk_env.fish'), shell)}"
    if shell == "powershell":
        return f"& {quote(str(emsdk / 'emsdk_env.ps1'), shell)}"
    if shell == "cmd":
        return f"call {quote(str(emsdk / 'emsdk_env.bat'), shell)}"
    return f"source {quote(str(emsdk / 'emsdk_env.sh'), shell)}"


def install_emscripten(
    pyodide_root: Path,
    version: str,
    *,
    url: str = DEFAULT_EMSDK_URL,
    force: bool = False,
    environ: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    expected_version: str | None = None,
) -> EmsdkResult:
    """Install Emscripten ``version`` into ``<version dir>/emsdk`` (see the module doc).

    ``expected_version`` is the version the environment was built with; it only
    serves to explain a patch failure. ``environ`` is the environment the tools run
    with (default: ours).
    """
    if not version:
        raise UsageError(
            "no Emscripten version given and Makefile.envs names none", "pass --version"
        )
    if version.startswith("-") or any(c.isspace() or ord(c) < 32 for c in version):
        # It goes on emsdk's command line: it must not read as an option.
        raise UsageError(f"{version[:60]!r} is not an Emscripten version", "pass --version X.Y.Z")
    if shutil.which("git") is None:
        raise EmsdkError("git is needed to install the Emscripten SDK but was not found on PATH")
    emsdk = emsdk_dir_for(pyodide_root)
    home = emsdk.parent
    env = dict(os.environ if environ is None else environ)
    with FileLock(home / ".emsdk.lock"):
        if not force and installed_emscripten(pyodide_root) == version:
            return EmsdkResult(emsdk, version, "already installed")
        for leftover in [
            *home.glob(EMSDK_STAGING_PREFIX + "*"),
            *home.glob(EMSDK_TRASH_PREFIX + "*"),
        ]:
            remove_tree(leftover)  # from a killed run; the lock says nobody uses them
        staging = home / f"{EMSDK_STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
        try:
            _git(
                ["git", "clone", "--depth", "1", url, str(staging)],
                env,
                on_line,
                f"cannot clone emsdk from {url}",
            )
            tool = _emsdk_tool(staging)
            _step(
                [tool, "install", "--build=Release", version],
                staging,
                env,
                on_line,
                f"emsdk could not install Emscripten {version}",
            )
            patches = _apply_patches(pyodide_root, staging, version, expected_version, env, on_line)
            (home / EMSDK_MARKER).unlink(missing_ok=True)
            if emsdk.exists() or emsdk.is_symlink():
                trash = home / f"{EMSDK_TRASH_PREFIX}{uuid.uuid4().hex[:8]}"
                os.rename(emsdk, trash)
                remove_tree(trash)
            os.rename(staging, emsdk)
        finally:
            if staging.exists():
                remove_tree(staging)
        _step(
            [_emsdk_tool(emsdk), "activate", "--embedded", "--build=Release", version],
            emsdk,
            env,
            on_line,
            f"emsdk could not activate Emscripten {version}",
        )
        tmp = home / f"{EMSDK_MARKER}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(version, encoding="utf-8")
        os.replace(tmp, home / EMSDK_MARKER)
    return EmsdkResult(emsdk, version, "installed", patches)


def _emsdk_tool(folder: Path) -> str:
    tool = folder / ("emsdk.bat" if os.name == "nt" else "emsdk")
    if not tool.is_file():
        raise EmsdkError(f"the cloned repository has no {tool.name} script", "check the emsdk URL")
    return str(tool)


def _git(
    cmd: list[str], env: dict[str, str], on_line: Callable[[str], None] | None, what: str
) -> None:
    ran = run_tool(cmd, env=env, on_line=on_line)
    if ran.code != 0:
        raise ToolError(f"{what}: {ran.error_line('fatal:', 'error:')}", None, ran.tail)


def _step(
    cmd: list[str], cwd: Path, env: dict[str, str], on_line: Callable[[str], None] | None, what: str
) -> None:
    ran = run_tool(cmd, cwd=cwd, env=env, on_line=on_line)
    if ran.code != 0:
        raise ToolError(
            f"{what} (exit code {ran.code}): {ran.error_line('error:', 'Error:')}",
            "see its output above; nothing was marked installed",
            ran.tail,
        )


def _apply_patches(
    pyodide_root: Path,
    sdk: Path,
    version: str,
    expected: str | None,
    env: dict[str, str],
    on_line: Callable[[str], None] | None,
) -> tuple[str, ...]:
    patches = sorted((pyodide_root / EMSDK_PATCHES).glob("*.patch"))
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
