"""The ``xbuildenv`` command: parsing and printing only. Each command module turns
arguments into a call of the library (:mod:`xbuildenv.manager` and the layers below)
and the result into text or JSON. Nothing below imports this package.
"""
