"""The base layer for file safety: rules every layer above keeps when it touches disk.

* :mod:`.paths`: contained paths, bounded reads of records, chmod that never follows a link;
* :mod:`.files`: atomic writes, removal of folders we own, the atomic exchange of two paths;
* :mod:`.locks`: cross-process file locks that are safe in a shared folder.

It knows nothing of caches, versions or archives; it imports only :mod:`xbuildenv.errors`.
"""
