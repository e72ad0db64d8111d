"""xbuildenv: manage Pyodide cross-build environments.

The public API is these names, imported lazily so that ``import xbuildenv`` (and the
command line's read commands) stay fast:

* :class:`XBuildEnvManager`: install, use, list and remove environments of a root;
  :func:`default_xbuildenv_path`: the root pyodide-build would use.
* :class:`Reporter` (a protocol) and :class:`NullReporter` (a base to subclass): what
  ``XBuildEnvManager.install(reporter=...)`` tells of phases, bytes, waits, warnings.
* Build tools over an installed environment: :func:`load_build_config` (what
  ``xbuildenv config`` reports), :func:`parse_makefile_envs`,
  :func:`install_host_packages`, :func:`install_emscripten`, and :func:`build_env`,
  :func:`render`, :func:`run_in` (what ``env`` prints and ``run`` applies).
* The cache on the whole machine, scan → plan → execute: :func:`scan_cache` reads it
  into a :class:`CacheReport` (roots, owners, stored archives and who uses them, sizes);
  ``report.plan_gc(...)`` or ``report.plan_clean(...)`` gives a :class:`CachePlan`
  (``freed_bytes``, ``to_json()``); ``plan.execute()`` removes and returns a
  :class:`CacheResult`. What ``cache list``, ``gc`` and ``cache clean`` do.
* :class:`XBuildEnvError` and its subclasses in :mod:`xbuildenv.errors`: expected
  failures with one-line messages.
"""

from __future__ import annotations

from ._version import __version__

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time

__all__ = [
    "CachePlan",
    "CacheReport",
    "CacheResult",
    "NullReporter",
    "Reporter",
    "XBuildEnvError",
    "XBuildEnvManager",
    "__version__",
    "build_env",
    "default_xbuildenv_path",
    "install_emscripten",
    "install_host_packages",
    "load_build_config",
    "parse_makefile_envs",
    "render",
    "run_in",
    "scan_cache",
]

if TYPE_CHECKING:
    from typing import Any

    from .cache.cleanup import CachePlan, CacheResult
    from .cache.scan import CacheReport, scan_cache
    from .errors import XBuildEnvError
    from .install.reporter import NullReporter, Reporter
    from .manager import XBuildEnvManager, default_xbuildenv_path
    from .tools.build_config import load_build_config
    from .tools.emsdk import install_emscripten
    from .tools.host_packages import install_host_packages
    from .tools.makefile_envs import parse_makefile_envs
    from .tools.shell_env import build_env, render, run_in

# Public name -> the module that defines it (relative to this package).
_HOMES = {
    "XBuildEnvManager": "manager",
    "default_xbuildenv_path": "manager",
    "XBuildEnvError": "errors",
    "Reporter": "install.reporter",
    "NullReporter": "install.reporter",
    "load_build_config": "tools.build_config",
    "parse_makefile_envs": "tools.makefile_envs",
    "install_host_packages": "tools.host_packages",
    "install_emscripten": "tools.emsdk",
    "build_env": "tools.shell_env",
    "render": "tools.shell_env",
    "run_in": "tools.shell_env",
    "scan_cache": "cache.scan",
    "CacheReport": "cache.scan",
    "CachePlan": "cache.cleanup",
    "CacheResult": "cache.cleanup",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'xbuildenv' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{home}", __name__), name)
