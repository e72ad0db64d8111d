"""The base layer for file safety: rules every layer above keeps when it touches disk.

* :mod:`.paths`: contained paths, bounded reads of records, chmod that never follows a link;
* :mod:`.files`: atomic writes, removal of folders we own, the atomic exchange of two paths;
* :mod:`.locks`: cross-process file locks that are safe in a shared folder;
* :mod:`.clone`: copy-on-write clones of files (Linux ``FICLONE``, macOS ``clonefile``);
* :mod:`.platform`: which platform fast paths may run, and ``XBUILDENV_PORTABLE``, the
  switch that turns them off so the portable ways macOS and Windows take run anywhere.

It knows nothing of caches, versions or archives; it imports only :mod:`xbuildenv.errors`
and :mod:`xbuildenv.checkpoints`.
"""
