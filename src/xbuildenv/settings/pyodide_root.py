"""Which pyodide-root a reading command uses when it is pinned from outside.

pyodide-build decides this before it looks at any cache root
(``build_env.init_environment``): ``PYODIDE_ROOT`` in the environment names the
pyodide-root to use as is, and inside a Pyodide source tree (a pyproject.toml with a
``[tool._pyodide]`` table, found upwards from the working directory) that tree is the
pyodide-root. cibuildwheel relies on the first: it installs an environment under
``--path P``, sets ``PYODIDE_ROOT`` to it, then asks ``config get emscripten_dir``.
Only when neither applies does the active version of the cache root count.

An explicit ``--path`` on our command line still wins: it names a root, and the user
asked for that root's active version.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError
from ..records import Record
from .config import ProjectConfig

ENV_PYODIDE_ROOT = "PYODIDE_ROOT"
# The one on-disk name spelled outside cache/layout.py: settings sits below cache.
MAKEFILE_ENVS = "Makefile.envs"


class PinnedRoot(Record):
    """A pyodide-root chosen by ``PYODIDE_ROOT`` or by a Pyodide source tree."""

    __slots__ = ("path", "source")

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.source = source  # "PYODIDE_ROOT" or the source tree's pyproject.toml


def pinned_pyodide_root(project: ProjectConfig) -> PinnedRoot | None:
    """``PYODIDE_ROOT`` (checked) or the source tree's root, or None when neither is set.

    An empty ``PYODIDE_ROOT`` counts as unset. One that does not name a folder holding
    ``Makefile.envs`` is a :class:`ConfigError` naming the variable: silently falling
    back to another environment would build against the wrong one.
    """
    raw = os.environ.get(ENV_PYODIDE_ROOT, "")
    if raw.strip():
        path = Path(raw).expanduser().absolute()
        if not path.is_dir():
            raise ConfigError(
                f"{ENV_PYODIDE_ROOT}={raw} does not exist",
                f"point {ENV_PYODIDE_ROOT} at an environment's pyodide-root folder or unset it",
            )
        if not (path / MAKEFILE_ENVS).is_file():
            raise ConfigError(
                f"{ENV_PYODIDE_ROOT}={raw} holds no {MAKEFILE_ENVS}, so it is not a pyodide-root",
                f"point {ENV_PYODIDE_ROOT} at an environment's pyodide-root folder or unset it",
            )
        return PinnedRoot(path, ENV_PYODIDE_ROOT)
    if project.source_tree and project.path is not None:
        return PinnedRoot(project.path.parent, f"[tool._pyodide] in {project.path}")
    return None
