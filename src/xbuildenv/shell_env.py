"""Deprecated alias of :mod:`xbuildenv.tools.shell_env`, kept for one release because the
README of 0.1 documented this path. Import from :mod:`xbuildenv` instead."""

from .tools.shell_env import *  # noqa: F403
from .tools.shell_env import __all__ as __all__
