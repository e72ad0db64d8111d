"""xbuildenv: manage Pyodide cross-build environments.

The public API is small and imported lazily, so ``import xbuildenv`` (and the
command line's read commands) stay fast:

* :class:`XBuildEnvManager`: install, use, list and remove environments of a root.
* :func:`default_xbuildenv_path`: the root pyodide-build would use.
* :class:`XBuildEnvError` and subclasses: expected failures with one-line messages.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time

__version__ = "0.1.0"

__all__ = ["XBuildEnvError", "XBuildEnvManager", "__version__", "default_xbuildenv_path"]

if TYPE_CHECKING:
    from typing import Any

    from .errors import XBuildEnvError
    from .manager import XBuildEnvManager, default_xbuildenv_path


def __getattr__(name: str) -> Any:
    if name in ("XBuildEnvManager", "default_xbuildenv_path"):
        from . import manager

        return getattr(manager, name)
    if name == "XBuildEnvError":
        from .errors import XBuildEnvError

        return XBuildEnvError
    raise AttributeError(f"module 'xbuildenv' has no attribute {name!r}")
