"""Generators for the reference pages of the docs site (never hand-copied).

:mod:`.reference` renders the CLI reference from the argparse parsers, the settings
reference from the settings registry and the error reference from ``xbuildenv.errors``;
:mod:`.hooks` is the MkDocs hook that puts them into the pages at build time, and
:mod:`.examples` extracts the command examples the tests run.
"""
