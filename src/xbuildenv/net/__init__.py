"""Getting bytes from a URL or a local path: retries, resume, proxies, timeouts and
certificates. It imports :mod:`xbuildenv.settings` and the top-level base modules only.
"""
