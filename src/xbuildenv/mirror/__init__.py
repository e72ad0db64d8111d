"""Mirrors for air-gapped networks and CI fleets: ``xbuildenv mirror sync`` chooses
releases (``selection``), plans what to fetch, copy or keep (``plan``), moves verified
archives (``transfer``) and writes each index last and atomically (``sync``). It sits
beside ``tools`` above ``install`` and ``index``, and imports only from layers below.
"""
