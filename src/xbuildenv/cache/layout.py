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

Here are the names and pure functions of names and paths; reading and changing a root
on disk is :mod:`.root_layout` (:class:`~.root_layout.RootLayout`).
"""

from __future__ import annotations

import re

from ..errors import InvalidVersionNameError
from ..fs.platform import windows_name_problem, windows_names, windows_safe

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from pathlib import Path

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
SDK_PACKS = "packs"  # in a remote store or mirror: packs/<key>-<digest16>.tar.zst (+ .json, .sig)
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


# The same folders as a version folder's manifest names them: the package index, and
# the host packages builds install (both written in each root, never by the archive).
PACKAGE_INDEX_IN_VERSION = f"{ARCHIVE_TOP}/{PYODIDE_ROOT_DIR}/{PACKAGE_INDEX_DIR}"
HOST_PACKAGES_IN_VERSION = f"{ARCHIVE_TOP}/{PYODIDE_ROOT_DIR}/packages/.artifacts"


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


# The names of staging, replaced and trash folders, compiled on first use: every
# command reads this module, only install and tidy look for leftovers.
_LEFTOVER = (
    rf"^({re.escape(STAGING_PREFIX)}[0-9a-f]{{8}}-\d+|"
    rf"{re.escape(REPLACED_PREFIX)}[0-9a-f]{{8}}|{re.escape(TRASH_PREFIX)}[0-9a-f]{{8}})-(.+)$"
)


def leftover_version(name: str) -> tuple[str, str] | None:
    """``(prefix, version)`` for a staging/replaced/trash folder name, else None."""
    match = re.match(_LEFTOVER, name)
    if match is None:
        return None
    head = match.group(1)
    prefix = next(p for p in (STAGING_PREFIX, REPLACED_PREFIX, TRASH_PREFIX) if head.startswith(p))
    return prefix, match.group(2)
