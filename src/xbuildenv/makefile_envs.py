"""Deprecated alias of :mod:`xbuildenv.tools.makefile_envs`, kept for one release because the
README of 0.1 documented this path. Import from :mod:`xbuildenv` instead."""

from .tools.makefile_envs import *  # noqa: F403
from .tools.makefile_envs import __all__ as __all__
