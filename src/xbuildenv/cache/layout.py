"""The on-disk layout, shared with pyodide-build: every name the package writes.

::

    <pyodide-build cache>/
      .pyodide-xbuildenv-<install id>/  a default root (any folder can be a root)
      xbuildenv-store/                  the machine-wide store
        archives/<sha256>               verified archives
        trees/<sha256>/                 their unpacked trees, linked by every root
          xbuildenv/...                   (the archive's files less the private
          .xbuildenv-manifest.json        folders) and their manifest
        trees/.staging-<hex>-<pid>/     a tree being published
        trees/.trash-<hex>-<pid>/       a tree being removed
        tmp/<name>-<pid>.part           downloads in progress
        urls/<sha256 of URL>.json       archives installed with --url
        index/                          cached release indexes
        .locks/<key>.lock               one lock per archive being fetched
    ROOT/
      xbuildenv -> ROOT/<version>     the active version (a symlink)
      <version>/
        .installed                    written last: the install is complete
        .build-python-version         host Python "X.Y" the install was made for
        .archive-sha256               the archive the tree came from (tree sharing)
        .xbuildenv-source             where it came from: a channel (stable, stable-debug,
                                      nightly, nightly-debug) or the URL (pyodide-build #414)
        .emscripten-version           the installed SDK (pyodide-build's marker)
        emsdk/                        the Emscripten SDK (install-emscripten)
        xbuildenv/pyodide-root/...    the archive's contents
      .staging-*/                     installs in progress (ours; pyodide-build ignores
      .trash-*/                       dot-folders), folders being deleted, and old
      .replaced-*/                    versions a forced reinstall is replacing
      .xbuildenv*.lock                lock files (files, not a folder: pyodide-build
                                      lists every folder of a root as a version)
      .xbuildenv-owner.json           the venv owning the root, when it was last used

A version folder only ever appears by one atomic rename of a finished staging folder,
and disappears by one rename into the trash; so a version that looks installed is.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ..checkpoints import checkpoint
from ..errors import InvalidVersionNameError, NotInstalledError, RootError, UsageError
from ..fs.files import exchange, is_pointer, make_pointer, remove_tree, replace_pointer
from ..fs.paths import read_text_bounded, real_dir
from ..fs.platform import windows_name_problem, windows_names, windows_safe
from ..records import Record

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from typing import Any

LINK_NAME = "xbuildenv"
INSTALLED_MARKER = ".installed"
PYTHON_MARKER = ".build-python-version"
STAGING_PREFIX = ".staging-"
TRASH_PREFIX = ".trash-"
REPLACED_PREFIX = ".replaced-"  # an old version moved aside by a forced reinstall
LINK_TMP_PREFIX = ".link-"  # the new active link, before it replaces the old one
# Files of ours in a root (dot-files: pyodide-build lists every folder as a version).
ROOT_LOCK_PREFIX = ".xbuildenv"  # .xbuildenv.lock (the link), .xbuildenv-<version>.lock
OWNER_FILE = ".xbuildenv-owner.json"  # which venv owns the root, when it was last used
# In a version folder: the sha256 of the archive its tree came from (tree sharing).
ARCHIVE_MARKER = ".archive-sha256"
# In a version folder: where it came from, as pyodide-build's PR #414 writes it (the
# channel name, or the URL of a --url install; no newline). A stable and a debug build
# of one version share the folder name, so this tells them apart.
SOURCE_MARKER = ".xbuildenv-source"
# In a version folder: the archive's top folder and the pyodide-root inside it.
ARCHIVE_TOP = "xbuildenv"
PYODIDE_ROOT_DIR = "pyodide-root"
# In a pyodide-root: the PEP 503 index written at install time, and what the archive
# ships: the build variables, the lock file, the patches for the Emscripten SDK.
PACKAGE_INDEX_DIR = "package_index"
MAKEFILE_ENVS = "Makefile.envs"  # also spelled in settings/pyodide_root (a layer below)
LOCK_FILE = "dist/pyodide-lock.json"
EMSDK_PATCHES = "emsdk/patches"
# Beside the pyodide-root, in the archive's top folder: the pinned host packages and
# the files they need that no wheel has.
REQUIREMENTS = "requirements.txt"
SITE_PACKAGES_EXTRAS = "site-packages-extras"
# In a version folder, as pyodide-build lays it out: the Emscripten SDK and its marker.
EMSDK_DIR = "emsdk"
EMSDK_MARKER = ".emscripten-version"
EMSDK_STAGING_PREFIX = ".emsdk-staging-"
EMSDK_TRASH_PREFIX = ".emsdk-trash-"
# In a version folder: which store SDK its emsdk/ was linked from (JSON: key, revision).
EMSDK_KEY_MARKER = ".xbuildenv-sdk.json"
# The machine's SDK store, <store>/sdks/ (cache/sdk_store.py):
#   <key>/emsdk/...         a published SDK, read-only, shared by every root
#   <key>/sdk.json          its manifest (every file's size, sha256, mode; links; dirs)
#   .build-<token>-<pid>/   an SDK being built (or unpacked) and not yet published
#   .trash-<token>/         an SDK being deleted (damaged, replaced, unused)
#   .locks/<name>.lock      one lock per (version, patches, platform)
# and <store>/sdk-users/<key>/<hash>: the emsdk folders of roots that linked <key>.
STORE_SDKS = "sdks"
STORE_SDK_USERS = "sdk-users"
SDK_TREE = "emsdk"
SDK_MANIFEST = "sdk.json"
SDK_BUILD_PREFIX = ".build-"
SDK_TRASH_PREFIX = ".trash-"
SDK_PACKS = "packs"  # in a remote store or mirror: emsdk/<key>-<digest>.tar.zst
# Beside host site-packages while install-packages works on a copy of it.
HOST_STAGING_PREFIX = ".xbuildenv-staging-"
# In a staging folder: the package index being written while the archive arrives.
PACKAGE_INDEX_STAGING = ".package-index"

# Default roots: <pyodide-build cache>/.pyodide-xbuildenv-<install id>.
ROOT_PREFIX = ".pyodide-xbuildenv-"
# A root gc is deleting, renamed away first: <pyodide-build cache>/.gc-*.
GC_PREFIX = ".gc-"
# The machine-wide store, <pyodide-build cache>/xbuildenv-store/, and its folders.
STORE_NAME = "xbuildenv-store"
STORE_ARCHIVES = "archives"  # verified archives, named by their sha256
STORE_TMP = "tmp"  # downloads in progress (<name>-<pid>.part)
STORE_URLS = "urls"  # records of archives installed with --url
STORE_INDEX = "index"  # cached release indexes
STORE_LOCKS = ".locks"  # one lock file per archive being fetched
# Unpacked trees, <store>/trees/<archive sha256>/, published by the first install of
# an archive and linked by every other root on the file system (cache/trees.py).
STORE_TREES = "trees"
# Size and sha256 of every file the archive put in <version>/xbuildenv/, written at
# install time: another root links this tree only after checking it (cache/manifest.py).
MANIFEST = ".xbuildenv-manifest.json"


def pyodide_root_in(version_dir: Path) -> Path:
    """``<version>/xbuildenv/pyodide-root``: where a version folder's pyodide-root is."""
    return version_dir / ARCHIVE_TOP / PYODIDE_ROOT_DIR


def version_dir_of(pyodide_root: Path) -> Path | None:
    """The version folder a pyodide-root is in; None for one outside this layout (a
    source tree, a hand-made folder)."""
    parent = pyodide_root.parent
    if pyodide_root.name == PYODIDE_ROOT_DIR and parent.name == ARCHIVE_TOP:
        return parent.parent
    return None


def emsdk_dir_of(pyodide_root: Path) -> Path:
    """Where the Emscripten SDK of an environment lives: ``<version>/emsdk``."""
    return pyodide_root.parent.parent / EMSDK_DIR


def _token() -> str:
    """A short random name part (``uuid`` would cost an import on every command)."""
    return os.urandom(4).hex()


def url_to_version(url: str) -> str:
    """The folder name pyodide-build uses for an archive installed from a URL; without
    the URL's credentials or signature (a folder name is printed and listed).

    Where names must suit Windows, the other characters it refuses (a query's ``?``,
    ``*``, ``|``, ``"``, ``<``, ``>``) become ``_`` too; pyodide-build keeps them and fails
    there. A URL always yields ``scheme_...``: never a device name.
    """
    from ..redaction import redact, strip_userinfo

    url = redact(strip_userinfo(url))
    name = url.replace("://", "_").replace(".", "_").replace("/", "_").replace(":", "_")
    if windows_names():
        name = windows_safe(name)
    return name


# Version names become folder names, and also parts of longer names (staging
# ``.staging-<8 hex>-<pid>-<version>``, lock ``.xbuildenv-<version>.lock``): 200 bytes
# leaves room for those within the usual 255-byte limit of one name.
MAX_VERSION_BYTES = 200


def check_version_name(version: str) -> str:
    """Refuse names that would escape the root, collide with our own folders, forge
    lines in listings, or not fit the file system; called before any lock or path."""
    reason = None
    if not version:
        reason = "it is empty"
    elif "\0" in version:
        reason = "it holds a NUL character"
    elif any(ord(c) < 32 or ord(c) == 127 for c in version):
        reason = "it holds a newline or another control character"
    elif "/" in version or "\\" in version:
        reason = "it holds a path separator"
    elif version.startswith("."):
        reason = "it starts with '.' ('..', or a name reserved for our own folders)"
    elif version == LINK_NAME:
        reason = f"'{LINK_NAME}' is the name of the active-version link"
    elif len(version.encode("utf-8", "surrogateescape")) > MAX_VERSION_BYTES:
        reason = f"it is longer than {MAX_VERSION_BYTES} bytes"
    elif windows_names():
        reason = windows_name_problem(version)
    if reason is not None:
        shown = version if len(version) <= 60 else version[:57] + "..."
        raise InvalidVersionNameError(f"{shown!r} is not a valid version name: {reason}", reason)
    return version


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


_LEFTOVER = re.compile(
    rf"^({re.escape(STAGING_PREFIX)}[0-9a-f]{{8}}-\d+|"
    rf"{re.escape(REPLACED_PREFIX)}[0-9a-f]{{8}}|{re.escape(TRASH_PREFIX)}[0-9a-f]{{8}})-(.+)$"
)


def leftover_version(name: str) -> tuple[str, str] | None:
    """``(prefix, version)`` for a staging/replaced/trash folder name, else None."""
    match = _LEFTOVER.match(name)
    if match is None:
        return None
    head = match.group(1)
    prefix = next(p for p in (STAGING_PREFIX, REPLACED_PREFIX, TRASH_PREFIX) if head.startswith(p))
    return prefix, match.group(2)


def _is_regular(path: Path | str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
