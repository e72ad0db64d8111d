"""A root on disk: reading which versions it holds and which is active, and the
renames that install, activate and retire them (the names are :mod:`.layout`'s).

A version folder only ever appears by one atomic rename of a finished staging folder,
and disappears by one rename into the trash; so a version that looks installed is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..checkpoints import checkpoint
from ..errors import NotInstalledError, RootError, UsageError
from ..fs.files import exchange, is_pointer, make_pointer, remove_tree, replace_pointer
from ..fs.paths import read_text_bounded, real_dir
from ..records import Record
from .layout import (
    ARCHIVE_MARKER,
    INSTALLED_MARKER,
    LINK_NAME,
    LINK_TMP_PREFIX,
    PYTHON_MARKER,
    REPLACED_PREFIX,
    SOURCE_MARKER,
    STAGING_PREFIX,
    TRASH_PREFIX,
    check_version_name,
    pyodide_root_in,
)

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from typing import Any


def _token() -> str:
    """A short random name part (``uuid`` would cost an import on every command)."""
    return os.urandom(4).hex()


class InstalledVersion(Record):
    __slots__ = ("active", "name", "path", "python", "source")

    def __init__(
        self, name: str, path: Path, python: str | None, active: bool, source: str | None = None
    ) -> None:
        self.name = name
        self.path = path
        self.python = python  # content of .build-python-version, if any
        self.active = active
        self.source = source  # content of .xbuildenv-source; None: not recorded

    @property
    def channel_note(self) -> str:
        """`` (stable-debug)`` after the name in listings: a channel that is not stable
        (a --url or --metadata source is not a channel: the JSON has it)."""
        if self.source not in ("stable-debug", "nightly", "nightly-debug"):
            return ""
        return f" ({self.source})"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.name,
            "active": self.active,
            "python": self.python,
            "path": str(self.path),
            "source": self.source,
        }


class RootLayout(Record):
    __slots__ = ("root",)

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def link(self) -> Path:
        return self.root / LINK_NAME

    def version_dir(self, version: str) -> Path:
        return self.root / check_version_name(version)

    def pyodide_root(self, version: str) -> Path:
        return pyodide_root_in(self.version_dir(version))

    # --- reading -------------------------------------------------------------
    def is_installed(self, version: str) -> bool:
        """A real folder with ``.installed``: a symlink in the root is never a version
        (it would make us write markers and delete host packages wherever it points)."""
        folder = self.version_dir(version)
        return real_dir(folder) and _is_regular(folder / INSTALLED_MARKER)

    def is_foreign_link(self, version: str) -> bool:
        """``ROOT/<version>`` is a symlink (someone else's folder, not an install)."""
        return os.path.islink(self.version_dir(version))

    def source_of(self, version: str) -> str | None:
        """What ``.xbuildenv-source`` of ``version`` says (None: absent or unreadable)."""
        try:
            text = read_text_bounded(self.version_dir(version) / SOURCE_MARKER, 4096)
        except (OSError, ValueError):
            return None
        text = text.strip()
        return text if text and text.isprintable() else None

    def archive_of(self, version: str) -> str | None:
        """The sha256 of the archive ``version`` was unpacked from, when recorded."""
        try:
            text = read_text_bounded(self.version_dir(version) / ARCHIVE_MARKER, 256).strip()
        except (OSError, ValueError):
            return None
        return text.lower() if len(text) == 64 else None

    def write_source(self, folder: Path, source: str) -> None:
        path = folder / SOURCE_MARKER
        if os.path.islink(path):
            path.unlink()  # never write through a planted link
        # A URL is recorded as it may be shown: no password, no signature (a record is
        # read by anyone who can read the cache, and copied into CI caches).
        from ..redaction import redact, strip_userinfo

        path.write_text(redact(strip_userinfo(source)))  # no newline: PR #414's content

    def python_marker(self, version: str) -> str | None:
        try:
            text = read_text_bounded(self.version_dir(version) / PYTHON_MARKER, 256)
        except (OSError, ValueError):
            return None
        return text.strip() or None

    def current_version(self) -> str | None:
        """The active version: the link's target, if it is a complete install in this root."""
        try:
            target = os.readlink(self.link)
        except OSError:
            return None
        name = Path(target).name
        if Path(target).is_absolute() and Path(target).parent != self.root:
            # pyodide-build writes absolute links; accept them when they name this
            # root (possibly through another spelling of its path).
            try:
                if Path(target).resolve().parent != self.root.resolve():
                    return None
            except OSError:
                return None
        try:
            if name.startswith(".") or not self.is_installed(name):
                return None
        except UsageError:
            return None  # a link to a name we would never make is no active version
        return name

    def list_versions(self) -> list[InstalledVersion]:
        """Complete installs only (half-made folders are not versions), in version
        order: the one order the API and every command show (:mod:`.ordering`)."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise RootError(f"cannot read {self.root}: {exc.strerror or exc}") from None
        active = self.current_version()
        found = []
        for entry in entries:
            if entry.name.startswith(".") or entry.name == LINK_NAME:
                continue
            if not entry.is_dir(follow_symlinks=False):
                continue
            if not _is_regular(os.path.join(entry.path, INSTALLED_MARKER)):
                continue
            try:
                check_version_name(entry.name)
            except UsageError:
                continue  # a name we would never make (a newline would forge a line)
            marker = self.python_marker(entry.name)
            is_active = entry.name == active
            source = self.source_of(entry.name)
            found.append(InstalledVersion(entry.name, Path(entry.path), marker, is_active, source))
        from .ordering import installed_version_key  # a regex compile: not for `version`

        return sorted(found, key=lambda v: installed_version_key(v.name))

    # --- writing (callers hold the relevant lock) ----------------------------
    def ensure_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise RootError(f"{self.root} exists and is not a folder", "remove it or pass --path")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RootError(
                f"cannot create {self.root}: {exc.strerror or exc}",
                "pass --path or set PYODIDE_XBUILDENV_PATH to a writable folder",
            ) from None

    def new_staging(self, version: str) -> Path:
        """A fresh private folder on the root's filesystem, so publishing is one rename."""
        path = self.root / f"{STAGING_PREFIX}{_token()}-{os.getpid()}-{version}"
        path.mkdir()
        return path

    def write_python_marker(self, folder: Path, python: str) -> None:
        path = folder / PYTHON_MARKER
        if os.path.islink(path):
            path.unlink()  # never write through a planted link
        (folder / PYTHON_MARKER).write_text(python)

    def publish(self, staging: Path, version: str) -> None:
        """Move a finished staging folder into place, replacing an old one if present."""
        target = self.version_dir(version)
        old = None
        if (target.exists() or target.is_symlink()) and exchange(staging, target):
            # One atomic swap: the link never dangles, not even for an instant; the
            # staging name now holds the old tree (a killed run leaves a plain leftover).
            checkpoint("publish.exchanged")
            remove_tree(staging)
            return
        if target.exists() or target.is_symlink():
            old = self.root / f"{REPLACED_PREFIX}{_token()}-{version}"
            os.rename(target, old)
            checkpoint("publish.aside")
        os.rename(staging, target)
        if old is not None:
            remove_tree(old)

    def activate(self, version: str, *, complete_only: bool = True) -> None:
        """Point the link at ``version`` atomically: a new link renamed over the old one.

        ``complete_only=False`` links any existing version folder, as pyodide-build's
        ``use_version`` does (for :mod:`xbuildenv.compat` only).
        """
        if not (
            self.is_installed(version) or (not complete_only and self.version_dir(version).is_dir())
        ):
            raise NotInstalledError(
                f"version {version} is not installed in {self.root}",
                f"run 'xbuildenv install {version}' first",
            )
        link = self.link
        if link.exists() and not is_pointer(link):
            # A real folder or file where the link belongs: move it aside, never delete.
            aside = self.root / f"{TRASH_PREFIX}{_token()}-{LINK_NAME}"
            os.rename(link, aside)
        tmp = self.root / f"{LINK_TMP_PREFIX}{_token()}"
        # Absolute target, as pyodide-build writes it.
        try:
            make_pointer(self.version_dir(version), tmp)
            checkpoint("activate.new-link")
            replace_pointer(tmp, link)
        except BaseException:  # an error, or Ctrl-C/SIGTERM: leave no stray link
            tmp.unlink(missing_ok=True)
            raise

    def deactivate(self) -> None:
        if is_pointer(self.link):
            self.link.unlink()

    def restore_link(self) -> Path | None:
        """Finish an activation killed between removing the old link and renaming the
        new one in (see :func:`~xbuildenv.fs.files.replace_pointer`): with no link in
        place, the newest temporary link to a complete version becomes the link.
        The caller holds the link lock, so no activation is under way."""
        if os.path.lexists(self.link):
            return None
        found = []
        for path in self.leftovers():
            if not path.name.startswith(LINK_TMP_PREFIX) or not is_pointer(path):
                continue
            try:
                name = Path(os.readlink(path)).name
                when = os.lstat(path).st_mtime_ns
                # realpath: a junction reads back as "\\?\\C:\\..."
                here = os.path.realpath(path) == os.path.realpath(self.version_dir(name))
                if here and self.is_installed(name):
                    found.append((when, path))
            except (OSError, ValueError, UsageError):
                continue
        if not found:
            return None
        newest = max(found)[1]
        os.rename(newest, self.link)
        return newest

    def retire_version(self, version: str) -> Path:
        """Rename a version into the trash (the quick, atomic half of removing it)."""
        trash = self.root / f"{TRASH_PREFIX}{_token()}-{version}"
        os.rename(self.version_dir(version), trash)
        return trash

    def leftovers(self) -> list[Path]:
        """Staging and trash folders and stray temporary links."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        return [
            self.root / n
            for n in names
            if n.startswith((STAGING_PREFIX, TRASH_PREFIX, REPLACED_PREFIX, LINK_TMP_PREFIX))
        ]


def _is_regular(path: Path | str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
