"""Deprecated alias of :mod:`xbuildenv.tools.host_packages`, kept for one release because the
README of 0.1 documented this path. Import from :mod:`xbuildenv` instead."""

from .tools.host_packages import *  # noqa: F403
from .tools.host_packages import __all__ as __all__
