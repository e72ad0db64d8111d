"""Exceptions with messages for humans.

Every failure the tool expects is an :class:`XBuildEnvError`. Its ``str()`` is one
line that says what went wrong and, where there is one, what to do about it. The CLI
prints that line as ``error: ...`` and exits with :attr:`XBuildEnvError.exit_code`;
library callers can catch the class hierarchy below.
"""

from __future__ import annotations


class XBuildEnvError(Exception):
    """Base class: an expected failure with a one-line message and an optional hint."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}; {self.hint}"
        return self.message


class UsageError(XBuildEnvError):
    """The command line itself was wrong (conflicting or missing options)."""

    exit_code = 2


class ConfigError(XBuildEnvError):
    """A configuration file or environment variable could not be used."""


class MetadataError(XBuildEnvError):
    """The release index could not be read or is malformed."""


class VersionNotFoundError(XBuildEnvError):
    """A version was asked for that the index or the root does not have."""


class IncompatibleError(XBuildEnvError):
    """No release (or not the requested one) fits the target Python / pyodide-build."""


class DownloadError(XBuildEnvError):
    """The network failed us: HTTP error, timeout, DNS, refused connection."""


class ChecksumError(XBuildEnvError):
    """The downloaded bytes do not match the sha256 the index promised."""


class ArchiveError(XBuildEnvError):
    """The archive is corrupt, truncated, unsafe or not a cross-build environment."""


class NotInstalledError(XBuildEnvError):
    """An operation needs an installed (or active) environment and there is none."""


class RootError(XBuildEnvError):
    """The cache root cannot be used (not writable, a file in the way, ...)."""


class LockTimeout(XBuildEnvError):
    """Another process held a lock for longer than we were willing to wait."""


class Interrupted(XBuildEnvError):
    """The user pressed Ctrl-C or the process got SIGTERM; work was rolled back."""

    exit_code = 130


class PathEscapeError(XBuildEnvError):
    """A path computed from an archive, index, Makefile.envs or record would leave its folder."""


class TreeMismatchError(XBuildEnvError):
    """Another root's tree no longer matches its manifest, so it is not linked (the
    install unpacks from the store instead; never shown to users)."""
