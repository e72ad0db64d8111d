"""The PEP 503 package index built from ``dist/pyodide-lock.json`` at install time.

pip (and pyodide venvs) use it to find the wheels of a Pyodide release on the CDN.
Only wheels are indexed; a ``file_name`` that is already a URL is linked as is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

from ..cache.layout import (
    LOCK_FILE,
    PACKAGE_INDEX_DIR,
    PACKAGE_INDEX_IN_VERSION,
    PACKAGE_INDEX_STAGING,
)
from ..errors import ArchiveError
from ..fs.files import remove_tree
from ..fs.paths import contained, read_bounded

CDN_BASE = "https://cdn.jsdelivr.net/pyodide/v{version}/full/"

_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta name="pypi:repository-version" content="1.0">
<title>{title}</title>
</head>
<body>
{body}
</body>
</html>
"""


def _escape(text: str) -> str:
    """``html.escape(text)``: the five characters it replaces, the same way; the
    ``html`` module would bring its table of every named entity into each install."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;").replace("'", "&#x27;")


def _page(title: str, body: str) -> str:
    return _PAGE.format(title=_escape(title), body=body)


LOCK_MEMBER = "xbuildenv/pyodide-root/dist/pyodide-lock.json"
MAX_LOCK_BYTES = 256 << 20  # real lock files are ~1 MB
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$")


def render_pages(lock_bytes: bytes, version: str, where: object) -> dict[str, str]:
    """The index pages for a lock file: ``{package: page}``, plus ``""`` for the top page."""
    try:
        packages = json.loads(lock_bytes).get("packages", {})
    except RecursionError:
        raise ArchiveError(f"{where} is nested too deeply to be a lock file") from None
    except (ValueError, AttributeError) as exc:
        raise ArchiveError(f"{where} is not a valid lock file ({exc})") from None
    if not isinstance(packages, dict):
        raise ArchiveError(f"{where}: 'packages' is not an object")

    cdn = CDN_BASE.format(version=version)
    pages: dict[str, str] = {}
    for name, info in packages.items():
        if not isinstance(info, dict):
            continue
        file_name = str(info.get("file_name", ""))
        if not file_name.endswith(".whl"):
            continue
        # Lock-file names are canonical already (PEP 503): anything else would become
        # a path of its own, or collide with the index's own index.html.
        if not _PACKAGE_NAME.match(name) or name.lower() == "index.html":
            shown = name if len(name) <= 60 else name[:57] + "..."
            raise ArchiveError(
                f"{where} lists a package named {shown!r}, which is not a package name",
                "this archive is damaged or not a Pyodide cross-build environment",
            )
        if urlparse(file_name).scheme:
            href = file_name
        else:
            href = f"{cdn}{file_name}#sha256={info.get('sha256', '')}"
        link = f'<a href="{_escape(href)}">{_escape(name)}</a>'
        pages[name] = _page(f"Links for {name}", f"<h1>Links for {_escape(name)}</h1>\n{link}")
    top = "\n".join(f'<a href="{_escape(n)}/">{_escape(n)}</a>' for n in pages)
    pages[""] = _page("Simple index", top)
    return pages


def write_pages(
    index_dir: str, pages: dict[str, str], cancelled: threading.Event | None = None
) -> None:
    """Write ``pages`` (from :func:`render_pages`) as a PEP 503 tree under ``index_dir``.

    Two threads share the work: creating a file or folder is kernel time (inode
    allocation) that runs on two cores at once. It is usually ~15 us, but on ext4
    without a journal, shortly after many deletions, 0.4-0.7 ms (the kernel scans past
    recently freed inodes); the index has ~600 of them.
    """
    os.makedirs(index_dir, exist_ok=True)
    names = list(pages)
    helper_error: list[BaseException] = []

    def half(part: list[str]) -> None:
        try:
            _write_some(index_dir, pages, part, cancelled)
        except BaseException as exc:  # re-raised below
            helper_error.append(exc)

    helper = threading.Thread(target=half, args=(names[1::2],), name="xbuildenv-index-2")
    helper.start()
    try:
        _write_some(index_dir, pages, names[::2], cancelled)
    finally:
        helper.join()
    if helper_error:
        raise helper_error[0]


def _write_some(
    index_dir: str, pages: dict[str, str], names: list[str], cancelled: threading.Event | None
) -> None:
    # Hundreds of tiny files: plain os calls are several times faster than pathlib's
    # buffered text writes.
    for name in names:
        if cancelled is not None and cancelled.is_set():
            return
        # The shared guard, on top of the name check in render_pages (the folder is
        # ours and fresh: no links to look through).
        pkg_dir = (
            os.fspath(contained(Path(index_dir), name, "a pyodide-lock.json name", links=False))
            if name
            else index_dir
        )
        if name:
            os.makedirs(pkg_dir, exist_ok=True)
        _write(os.path.join(pkg_dir, "index.html"), pages[name])


def build_package_index(pyodide_root: Path, version: str) -> int:
    """Write ``pyodide_root/package_index``; return how many packages it lists.

    A missing lock file is not an error (some development archives ship without one):
    no index is written. A lock file that is not valid JSON is an error, because the
    archive is then damaged.
    """
    lockfile = pyodide_root / LOCK_FILE
    if not lockfile.is_file():
        return 0
    pages = render_pages(lockfile.read_bytes(), version, lockfile)
    write_pages(os.fspath(pyodide_root / PACKAGE_INDEX_DIR), pages)
    return len(pages) - 1


# Size and sha256 of each page, by the name a version folder's manifest gives it.
PageDigests = dict[str, tuple[int, str]]


class IndexBuilder:
    """Builds the package index in a thread while the rest of the tree arrives.

    The lock file comes early in a release archive, and writing the index is hundreds
    of small files, so doing it alongside the download takes it off the install's
    critical path. The pages go to a private folder in the staging folder;
    :meth:`finish` moves them into place, or builds the index the plain way when the
    lock file it saw is not the one the tree ended up with (a later member replaced
    it, or it never came).

    A tree this install publishes in the store takes the index with it
    (:meth:`settle`), so that roots installing the same version link it; a root
    that links such a tree gets its index with it (:meth:`adopt`) and writes none.
    """

    def __init__(self, staging: Path, version: str) -> None:
        self.version = version
        self._out = os.fspath(staging / PACKAGE_INDEX_STAGING)
        self._used: bytes | None = None
        self._digests: PageDigests | None = None
        self._placed = False  # the index is where it belongs already
        self._error: BaseException | None = None
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._done.set()  # nothing running yet

    def saw(self, name: str, path: Path) -> None:
        """Called for each extracted file; starts the build on the lock file."""
        if name != LOCK_MEMBER or self._used is not None:
            return
        try:
            # Bounded, never through a symlink: on the linked route this is another
            # root's file, read before its tree is checked against its manifest.
            self._used = read_bounded(path, MAX_LOCK_BYTES)
        except OSError:
            return  # finish() builds it the plain way
        self._done.clear()
        threading.Thread(target=self._run, name="xbuildenv-index", daemon=True).start()

    def _run(self) -> None:
        try:
            assert self._used is not None
            pages = render_pages(self._used, self.version, "the archive's pyodide-lock.json")
            write_pages(self._out, pages, self._cancel)
            if not self._cancel.is_set():
                self._digests = page_digests(pages)
        except BaseException as exc:  # reported by finish()
            self._error = exc
        finally:
            self._done.set()

    def adopt(self) -> None:
        """The tree about to be linked brings this version's index: write none."""
        self._placed = True

    def settle(self, pyodide_root: Path) -> PageDigests | None:
        """Put the index in place now, before the tree is published in the store, and
        return its pages' digests for the tree's manifest; None when it cannot go with
        the tree (no lock file, one that changed after the thread read it, an error):
        :meth:`finish` then builds it for this root alone."""
        self._done.wait()
        if self._placed or self._used is None or self._error is not None:
            return None
        if self._digests is None or _current_lock(pyodide_root) != self._used:
            return None
        target = pyodide_root / PACKAGE_INDEX_DIR
        remove_tree(target)  # the archive shipped one: ours replaces it
        os.rename(self._out, target)
        self._placed = True
        return self._digests

    def finish(self, pyodide_root: Path) -> None:
        """Wait for the thread and put the index in place."""
        self._done.wait()
        if self._placed:
            return
        current = _current_lock(pyodide_root)
        target = pyodide_root / PACKAGE_INDEX_DIR
        if current is not None:
            remove_tree(target)  # the archive shipped one: ours replaces it
        if self._used is None or current != self._used:
            remove_tree(Path(self._out))
            build_package_index(pyodide_root, self.version)
            return
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        os.rename(self._out, target)

    def restart(self) -> None:
        """Forget the lock file seen so far: the staging folder was emptied and the
        tree comes again by another route (the pages written so far went with it)."""
        self._cancel.set()
        self._done.wait(timeout=30)
        self._cancel = threading.Event()
        self._used = None
        self._digests = None
        self._placed = False
        self._error = None

    def close(self) -> None:
        """Stop the thread (on failure) and wait, so the staging folder can be removed."""
        self._cancel.set()
        self._done.wait(timeout=30)


def page_digests(pages: dict[str, str]) -> PageDigests:
    """The size and sha256 of each page as :func:`write_pages` writes it, by its name
    in a version folder's manifest."""
    top = PACKAGE_INDEX_IN_VERSION
    out: PageDigests = {}
    for name, page in pages.items():
        data = page.encode()
        rel = f"{top}/{name}/index.html" if name else f"{top}/index.html"
        out[rel] = (len(data), hashlib.sha256(data).hexdigest())
    return out


def _current_lock(pyodide_root: Path) -> bytes | None:
    lockfile = pyodide_root / LOCK_FILE
    try:
        return lockfile.read_bytes() if lockfile.is_file() else None
    except OSError:
        return None


def _write(path: str, text: str) -> None:
    # A fresh file, never an existing one: a page of a shared index is a hard link
    # into the store and into other roots, and writing through it would change theirs.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
