"""Deprecated alias of :mod:`xbuildenv.tools.build_config`, kept for one release because the
README of 0.1 documented this path. Import from :mod:`xbuildenv` instead."""

from .tools.build_config import *  # noqa: F403
from .tools.build_config import __all__ as __all__
