"""Deprecated alias of :mod:`xbuildenv.tools.emsdk`, kept for one release because the
README of 0.1 documented this path. Import from :mod:`xbuildenv` instead."""

from .tools.emsdk import *  # noqa: F403
from .tools.emsdk import __all__ as __all__
