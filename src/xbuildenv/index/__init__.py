"""The release index: download it (through :mod:`xbuildenv.net`) and cache it (through
:mod:`xbuildenv.cache`), parse it into releases, and choose among them (compatibility,
ordering, the latest). Decisions are plain functions without I/O.
"""
