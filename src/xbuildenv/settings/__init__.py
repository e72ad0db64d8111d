"""Where things live and for which Python: the cache root and install id, the target
interpreter, configuration from environment variables and ``pyproject.toml`` (with
pyodide-build's overridable settings in its order), and the pyodide-root that
``PYODIDE_ROOT`` or a Pyodide source tree pins.
The bottom layer: it imports only :mod:`xbuildenv.errors` and :mod:`xbuildenv.records`.
"""
