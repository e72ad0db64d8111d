"""Mirrors: ``xbuildenv mirror sync`` (above ``install``/``index``, below ``cli``)."""
