"""Everything on disk: the layout of a root with every on-disk name, locks, the
machine-wide archive store, sharing of unpacked trees between roots, owner records,
scan and garbage collection, and the small filesystem primitives (atomic writes,
removals) the layers above use. It imports :mod:`xbuildenv.settings` and the base modules.
"""
