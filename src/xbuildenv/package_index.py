"""The PEP 503 package index built from ``dist/pyodide-lock.json`` at install time.

pip (and pyodide venvs) use it to find the wheels of a Pyodide release on the CDN.
Only wheels are indexed; a ``file_name`` that is already a URL is linked as is.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from urllib.parse import urlparse

from .errors import ArchiveError

CDN_BASE = "https://cdn.jsdelivr.net/pyodide/v{version}/full/"
INDEX_DIR = "package_index"

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


def _page(title: str, body: str) -> str:
    return _PAGE.format(title=html.escape(title), body=body)


def build_package_index(pyodide_root: Path, version: str) -> int:
    """Write ``pyodide_root/package_index``; return how many packages it lists.

    A missing lock file is not an error (some development archives ship without one):
    no index is written. A lock file that is not valid JSON is an error, because the
    archive is then damaged.
    """
    lockfile = pyodide_root / "dist" / "pyodide-lock.json"
    if not lockfile.is_file():
        return 0
    try:
        packages = json.loads(lockfile.read_bytes()).get("packages", {})
    except (ValueError, AttributeError) as exc:
        raise ArchiveError(f"{lockfile} is not a valid lock file ({exc})") from None
    if not isinstance(packages, dict):
        raise ArchiveError(f"{lockfile}: 'packages' is not an object")

    cdn = CDN_BASE.format(version=version)
    pages: dict[str, str] = {}
    for name, info in packages.items():
        if not isinstance(info, dict):
            continue
        file_name = str(info.get("file_name", ""))
        if not file_name.endswith(".whl"):
            continue
        # Lock-file names are canonical already; refuse anything that is not a plain name.
        if "/" in name or name in ("", ".", ".."):
            continue
        if urlparse(file_name).scheme:
            href = file_name
        else:
            href = f"{cdn}{file_name}#sha256={info.get('sha256', '')}"
        link = f'<a href="{html.escape(href)}">{html.escape(name)}</a>'
        pages[name] = _page(f"Links for {name}", f"<h1>Links for {html.escape(name)}</h1>\n{link}")

    # Hundreds of tiny files: plain os calls are several times faster than pathlib's
    # buffered text writes, which matters on every install.
    index_dir = os.fspath(pyodide_root / INDEX_DIR)
    os.makedirs(index_dir, exist_ok=True)
    for name, page in pages.items():
        pkg_dir = os.path.join(index_dir, name)
        os.makedirs(pkg_dir, exist_ok=True)
        _write(os.path.join(pkg_dir, "index.html"), page)
    top = "\n".join(f'<a href="{html.escape(n)}/">{html.escape(n)}</a>' for n in pages)
    _write(os.path.join(index_dir, "index.html"), _page("Simple index", top))
    return len(pages)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
