"""The Emscripten SDK of an environment: ``<version>/emsdk``, as pyodide-build lays it out.

``install_emscripten`` gives the environment the Emscripten version it was built with,
patched with the environment's patches (``pyodide-root/emsdk/patches``) and activated.
The version is recorded in ``<version>/.emscripten-version`` (pyodide-build's marker,
so each tool sees the other's install).

An SDK is about 1.5 GB, so it is built once per machine: into the SDK store
(cache/sdk_store.py), keyed by version, emsdk revision, patch set and platform, and
every root that needs the same key links it from there (cache/sdk_link.py) without
cloning emsdk or running it. The first root builds it (tools/emsdk_obtain.py,
tools/emsdk_build.py) in a private folder of the store and publishes it by one
rename; a second root asking at the same time waits on the store's lock for that key
and then links.

Nothing half-done is ever marked installed:

1. the build happens in the store's private build folder and is published with its
   manifest by one rename; a failure or kill leaves no key (the next run removes the
   debris);
2. the root's copy is linked into a private staging folder of the version folder;
3. the marker is removed, the old SDK renamed away, the staged one renamed into place,
   and only then is the marker written, atomically.

A crash between 3's steps leaves an SDK without a marker: not installed, and the next
run starts over.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..cache.layout import (
    EMSDK_KEY_MARKER,
    EMSDK_MARKER,
    EMSDK_PATCHES,
    EMSDK_STAGING_PREFIX,
    EMSDK_TRASH_PREFIX,
)
from ..cache.sdk_link import link_sdk
from ..cache.sdk_store import SdkStore, root_sdk_key
from ..cache.treelink import LinkMode
from ..checkpoints import checkpoint
from ..errors import EmsdkError, UsageError
from ..fs.files import remove_tree, write_atomic
from ..fs.locks import FileLock
from ..fs.paths import read_text_bounded
from ..settings.config import ProjectConfig, setting
from .build_config import emsdk_dir_for
from .emsdk_obtain import SdkSource, Source, obtained, wanted

__all__ = [
    "EmsdkResult",
    "SdkSource",
    "Source",
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
    key: str | None = None  # the store key the root's SDK was linked from
    revision: str | None = None  # the emsdk commit that installed it
    source: Source | None = None  # where this run got the SDK from

    def to_json(self) -> dict[str, object]:
        return {"emsdk_dir": str(self.emsdk_dir), "version": self.version,
                "action": self.action, "patches": list(self.patches), "key": self.key,
                "emsdk_revision": self.revision, "source": self.source}  # fmt: skip


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
    warn: Callable[[str], None] | None = None,
    store: SdkStore | None = None,
    sources: Sequence[SdkSource] = (),
    link_mode: LinkMode = "hardlink",
) -> EmsdkResult:
    """Install Emscripten ``version`` into ``<version dir>/emsdk`` (see the module doc).

    ``expected_version`` is the version the environment was built with; it only
    serves to explain a patch failure. ``environ`` is the environment the tools run
    with (default: ours). ``warn`` gets one line per warning (no ``warning:`` prefix).
    ``force`` puts the SDK in place again even if this root has it (cibuildwheel always
    passes it); the stored SDK is still used when it passes its check (``cache clean
    --emscripten`` makes the next install build afresh).
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
    store = store or SdkStore()
    with FileLock(home / ".emsdk.lock"):
        if not force and installed_emscripten(pyodide_root) == version:
            key = root_sdk_key(home)
            return EmsdkResult(emsdk, version, "already installed", key=key,
                               revision=_marker_revision(home))  # fmt: skip
        for leftover in [
            *home.glob(EMSDK_STAGING_PREFIX + "*"),
            *home.glob(EMSDK_TRASH_PREFIX + "*"),
        ]:
            remove_tree(leftover)  # from a killed run; the lock says nobody uses them
        want = wanted(version, pyodide_root / EMSDK_PATCHES, url, env, warn)
        with obtained(store, want, env=env, sources=sources, warn=warn, on_line=on_line,
                      expected_version=expected_version) as (sdk, source):  # fmt: skip
            staging = home / f"{EMSDK_STAGING_PREFIX}{os.urandom(4).hex()}"
            try:
                link_sdk(sdk, staging, emsdk, link_mode)
                _swap(home, emsdk, staging)
            finally:
                if staging.exists():
                    remove_tree(staging)
            store.register_user(sdk.key, emsdk)
        write_atomic(home / EMSDK_KEY_MARKER, json.dumps(sdk.key.to_json()).encode())
        checkpoint("sdk.key-marker")
        write_atomic(home / EMSDK_MARKER, version.encode())
        checkpoint("sdk.marker")
    names = tuple(p.name for p in want.patches)
    return EmsdkResult(emsdk, version, "installed", names, sdk.key.name, sdk.key.revision, source)


def _swap(home: Path, emsdk: Path, staging: Path) -> None:
    (home / EMSDK_MARKER).unlink(missing_ok=True)
    (home / EMSDK_KEY_MARKER).unlink(missing_ok=True)
    checkpoint("sdk.unmarked")
    if emsdk.exists() or emsdk.is_symlink():
        trash = home / f"{EMSDK_TRASH_PREFIX}{os.urandom(4).hex()}"
        os.rename(emsdk, trash)
        checkpoint("sdk.moved-old")
        remove_tree(trash)
    os.rename(staging, emsdk)
    checkpoint("sdk.swapped")


def _marker_revision(home: Path) -> str | None:
    try:
        data = json.loads(read_text_bounded(home / EMSDK_KEY_MARKER, 4096))
        return str(data["emsdk_revision"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
