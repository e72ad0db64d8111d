"""Where things live and for which Python: the cache root and install id, the target
interpreter, and configuration from environment variables and ``pyproject.toml``.
The bottom layer: it imports only :mod:`xbuildenv.errors` and :mod:`xbuildenv.records`.
"""
