"""For which Python and with which configuration: the target interpreter (``target``),
configuration from environment variables and ``pyproject.toml`` (``config``, with
pyodide-build's overridable settings in its order in ``build_settings``), the
pyodide-root that ``PYODIDE_ROOT`` or a Pyodide source tree pins (``pyodide_root``),
and the platform's folders (``dirs``). Which cache root is used is decided above it,
in :mod:`xbuildenv.cache.root`. It imports only the base modules (errors, records).
"""
