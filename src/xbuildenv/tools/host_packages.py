"""Cross-build packages: the pinned host packages a build imports (numpy, scipy, ...).

``install_host_packages`` installs pins from the environment's ``requirements.txt``
into its host site-packages, then lays the environment's ``site-packages-extras``
(WebAssembly headers and static libraries) over them.

How, and why this way:

* pip (or uv) installs into a fresh staging folder next to site-packages, never into
  site-packages itself: a failed or interrupted install leaves site-packages exactly
  as it was, and pip's ``--target`` cannot remove an older version (it would leave
  two ``.dist-info`` folders and a mix of files).
* The staged distributions are then adopted one by one: a distribution already present
  at the same version (PEP 440 comparison, so ``2024.02.02`` equals ``2024.2.2``) is
  kept as it is, with its extras; one present at another version is removed first,
  file by file from its ``RECORD``; then the new files are moved in.
* Every install is constrained to the pins, so a dependency that is itself a
  cross-build package (scipy -> numpy) lands at the pinned version.
* Packages already present at their pin are skipped without running pip at all, so a
  second run is a no-op.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..cache.layout import HOST_STAGING_PREFIX, REQUIREMENTS, SITE_PACKAGES_EXTRAS
from ..errors import HostPackagesError, ToolError, UsageError
from ..fs.files import remove_tree
from ..fs.locks import FileLock
from ..fs.paths import chmod_here
from .tool_process import run_tool

__all__ = ["INSTALLERS", "HostPackagesResult", "install_host_packages", "read_pins"]

INSTALLERS = ("pip", "uv")


@dataclass(frozen=True)
class Dist:
    """One installed distribution: its ``.dist-info`` folder inside a site-packages."""

    name: str
    version: str
    dist_info: Path

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


@dataclass
class HostPackagesResult:
    site_packages: Path
    installed: list[tuple[str, str]] = field(default_factory=list)  # (name, version)
    replaced: list[tuple[str, str, str]] = field(default_factory=list)  # (name, old, new)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # already at the pin
    extras_copied: int = 0  # files of site-packages-extras written


def same_version(installed: str | None, pinned: str) -> bool:
    """PEP 440 equality (installers write normalised versions; pins may not be)."""
    if installed is None:
        return False
    try:
        return Version(installed) == Version(pinned)
    except InvalidVersion:
        return installed == pinned


def read_pins(requirements: Path) -> dict[str, tuple[str, str]]:
    """``requirements.txt`` as {canonical name: (name, version)}; non-pins are ignored."""
    try:
        text = requirements.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HostPackagesError(
            f"{requirements} does not exist",
            "this environment ships no cross-build packages (or is incomplete; reinstall it)",
        ) from None
    pins: dict[str, tuple[str, str]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" not in line or line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        name = name.split("[", 1)[0].strip()
        version = version.strip().lstrip("=")  # tolerate "===" arbitrary equality
        if name and version:
            pins[canonicalize_name(name)] = (name, version)
    return pins


def installed_distributions(site: Path) -> dict[str, Dist]:
    """The distributions in ``site``, by canonical name, from their ``.dist-info`` names."""
    found: dict[str, Dist] = {}
    if not site.is_dir():
        return found
    for entry in sorted(site.glob("*.dist-info")):
        name, _, version = entry.name.removesuffix(".dist-info").rpartition("-")
        if name and version and entry.is_dir():
            dist = Dist(name, version, entry)
            found[dist.key] = dist
    return found


def record_paths(dist: Dist) -> set[str]:
    """The files a distribution owns, relative to its site-packages (from RECORD)."""
    paths = set()
    try:
        lines = (dist.dist_info / "RECORD").read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        rel = line.rsplit(",", 2)[0].strip().strip('"')
        if not rel:
            continue
        # pip --target records paths relative to <home>/lib/python and moves the
        # home's other folders (bin/, ...) next to the packages: map both back.
        norm = os.path.normpath(os.path.join("lib", "python", rel)).replace(os.sep, "/")
        norm = norm.removeprefix("lib/python/")
        if norm.startswith("../") or norm.startswith("/") or norm == "..":
            continue  # points outside the folder: never ours to touch
        paths.add(norm)
    paths.add(dist.dist_info.name)
    return paths


def _top(rel: str) -> str:
    return rel.split("/", 1)[0]


def _prune_empty(path: Path, stop: Path) -> None:
    while path != stop and path.is_dir():
        try:
            path.rmdir()
        except OSError:
            return
        path = path.parent


def remove_distribution(site: Path, dist: Dist, others: Iterable[Dist]) -> None:
    """Delete ``dist`` from ``site``, sparing what other distributions also own."""
    mine = record_paths(dist)
    theirs: set[str] = set()
    for other in others:
        if other.key != dist.key:
            theirs |= record_paths(other)
    their_tops = {_top(p) for p in theirs}
    for top in sorted({_top(p) for p in mine}):
        target = site / top
        if top not in their_tops:
            # Ours alone: the whole tree goes, with its caches and copied extras.
            if target.is_dir() and not target.is_symlink():
                remove_tree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            continue
        for rel in sorted(p for p in mine if _top(p) == top and p not in theirs):
            path = site / rel
            if path.is_file() or path.is_symlink():
                path.unlink()
                _prune_empty(path.parent, site)


def _merge_move(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``; folders are merged, files replace what is there."""
    if src.is_dir() and not src.is_symlink() and dst.is_dir() and not dst.is_symlink():
        for child in src.iterdir():
            _merge_move(child, dst / child.name)
        return
    if dst.is_dir() and not dst.is_symlink():
        remove_tree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


def _adopt(staging: Path, site: Path, dist: Dist, skipped: Sequence[Dist]) -> None:
    """Move the files of one staged distribution into site-packages."""
    mine = record_paths(dist)
    shared = {_top(p) for d in skipped for p in record_paths(d)}
    for top in sorted({_top(p) for p in mine}):
        if not (staging / top).exists():
            continue
        if top not in shared:
            _merge_move(staging / top, site / top)
            continue
        for rel in sorted(p for p in mine if _top(p) == top):
            if (staging / rel).exists():
                _merge_move(staging / rel, site / rel)


def copy_extras(extras_root: Path, site: Path) -> int:
    """Lay ``site-packages-extras`` over the installed packages; return files written.

    A folder is copied only when its package is installed (the extras of an absent
    package would make it look half-present); a loose file always is. Files already
    identical are not rewritten, so a repeated run changes nothing.
    """
    if not extras_root.is_dir():
        return 0
    written = 0
    for entry in sorted(extras_root.iterdir()):
        target = site / entry.name
        if entry.is_dir():
            if not target.is_dir():
                continue
            sources = [p for p in sorted(entry.rglob("*")) if p.is_file()]
            pairs = [(p, target / p.relative_to(entry)) for p in sources]
        else:
            pairs = [(entry, target)]
        for src, dst in pairs:
            if dst.is_file() and filecmp.cmp(src, dst, shallow=False):
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            # The source may be a read-only file shared between roots: copy the bytes,
            # not the mode, so a later run can replace the copy again.
            if dst.is_file() or dst.is_symlink():
                dst.unlink()
            shutil.copyfile(src, dst)
            chmod_here(dst, 0o644 | (src.stat().st_mode & 0o111))  # never through a link
            written += 1
    return written


def find_uv() -> str | None:
    """The uv executable: the ``uv`` Python package's, else the one on PATH."""
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found, unused-ignore]

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def installer_command(installer: str, python: str) -> list[str]:
    if installer == "pip":
        return [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    if installer == "uv":
        uv = find_uv()
        if uv is None:
            raise UsageError(
                "--installer uv was asked for but uv is not installed",
                "install uv (pip install uv) or use --installer pip",
            )
        return [uv, "pip", "install", "--python", python]
    raise UsageError(f"unknown installer {installer!r}; choose one of: {', '.join(INSTALLERS)}")


def install_host_packages(
    pyodide_root: Path,
    site_packages: Path,
    names: Sequence[str] = (),
    *,
    python: str | None = None,
    installer: str = "pip",
    installer_args: Sequence[str] = (),
    force: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> HostPackagesResult:
    """Install cross-build packages of the environment at ``pyodide_root``.

    ``site_packages`` is the host site-packages (``BuildConfig.host_site_packages``);
    ``names`` selects pins from requirements.txt (all when empty); ``python`` is the
    host interpreter the packages are for (default: this one); ``installer_args`` go
    to pip/uv as they are (``--index-url``, ``--find-links``, ...); ``force``
    reinstalls the selected packages even at their pin; ``on_line`` gets the
    installer's output.
    """
    xbuildenv_dir = pyodide_root.parent
    requirements = xbuildenv_dir / REQUIREMENTS
    pins = read_pins(requirements)
    wanted = _select(pins, names)
    result = HostPackagesResult(site_packages)
    site_packages.mkdir(parents=True, exist_ok=True)
    lock = FileLock(site_packages.parent / ".xbuildenv-host-packages.lock")
    with lock:
        for leftover in site_packages.parent.glob(HOST_STAGING_PREFIX + "*"):
            remove_tree(leftover)  # from a killed run; we hold the lock, so not in use
        current = installed_distributions(site_packages)
        todo = {}
        for key, (name, version) in wanted.items():
            have = current.get(key)
            if not force and have is not None and same_version(have.version, version):
                result.skipped.append((name, have.version))
            else:
                todo[key] = (name, version)
        if todo:
            _install(
                todo,
                current,
                site_packages,
                requirements,
                result,
                python or sys.executable,
                installer,
                installer_args,
                on_line,
            )
            result.extras_copied = copy_extras(xbuildenv_dir / SITE_PACKAGES_EXTRAS, site_packages)
    return result


def _select(pins: dict[str, tuple[str, str]], names: Sequence[str]) -> dict[str, tuple[str, str]]:
    if not names:
        return dict(pins)
    wanted: dict[str, tuple[str, str]] = {}
    for name in names:
        key = canonicalize_name(name)
        if key not in pins:
            known = ", ".join(n for n, _ in pins.values()) or "none"
            raise HostPackagesError(
                f"{name} is not a cross-build package of this environment",
                f"its pins are: {known}",
            )
        wanted[key] = pins[key]
    return wanted


def _install(
    todo: dict[str, tuple[str, str]],
    current: dict[str, Dist],
    site: Path,
    requirements: Path,
    result: HostPackagesResult,
    python: str,
    installer: str,
    installer_args: Sequence[str],
    on_line: Callable[[str], None] | None,
) -> None:
    specs = [f"{name}=={version}" for name, version in todo.values()]
    staging = site.parent / f"{HOST_STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        cmd = [
            *installer_command(installer, python),
            "--target",
            str(staging),
            "--constraint",
            str(requirements),
            *installer_args,
            *specs,
        ]
        ran = run_tool(cmd, on_line=on_line)
        if ran.code != 0:
            reason = ran.error_line("ERROR:", "error:", first=True)
            raise ToolError(
                f"{installer} could not install {' '.join(specs)}: {reason}",
                "see the installer's output above",
                ran.tail,
            )
        staged = installed_distributions(staging)
        adopt = [
            d
            for d in staged.values()
            if d.key in todo
            or not same_version(current[d.key].version if d.key in current else None, d.version)
        ]
        keep = [d for d in staged.values() if d not in adopt]
        for dist in adopt:
            old = current.get(dist.key)
            if old is not None:
                remove_distribution(site, old, current.values())
                result.replaced.append((dist.name, old.version, dist.version))
            else:
                result.installed.append((dist.name, dist.version))
            _adopt(staging, site, dist, keep)
        for dist in keep:
            result.skipped.append((dist.name, dist.version))
    finally:
        remove_tree(staging)
