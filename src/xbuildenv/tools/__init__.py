"""Build tools over an installed environment: ``Makefile.envs`` and its make variables,
the build configuration, host packages, the Emscripten SDK, the shell environment
and the external processes they run. It imports settings, net and cache.
"""
