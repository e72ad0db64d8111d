"""Every exception of the package, with messages for humans.

Every failure the tool expects is an :class:`XBuildEnvError`. Its ``str()`` is one
line that says what went wrong and, where there is one, what to do about it. The CLI
prints that line as ``error: ...`` and exits with :attr:`XBuildEnvError.exit_code`;
library callers can catch the class hierarchy below. The two classes at the end are
not failures but internal signals between threads and retry loops; they never reach
a caller.
"""

from __future__ import annotations

from .redaction import redact

TYPE_CHECKING = False  # typing is not imported at run time: start-up speed
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "ArchiveError",
    "ChecksumError",
    "CommandNotFoundError",
    "ConfigError",
    "DownloadError",
    "EmsdkError",
    "HTTPStatusError",
    "HostPackagesError",
    "IncompatibleError",
    "InvalidVersionNameError",
    "LockTimeoutError",
    "MakefileEnvsError",
    "MetadataError",
    "NotInstalledError",
    "PatchError",
    "PathEscapeError",
    "RootError",
    "ToolError",
    "UnknownKeyError",
    "UsageError",
    "VersionNotFoundError",
    "XBuildEnvError",
]

# Exit code of a Ctrl-C or SIGTERM that rolled the work back (128 + SIGINT, as shells).
INTERRUPTED_EXIT_CODE = 130


class XBuildEnvError(Exception):
    """Base class: an expected failure with a one-line message and an optional hint."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        # Redacted here, once, so no caller can print or store a URL's password.
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.hint = redact(hint) if hint else hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}; {self.hint}"
        return self.message


class UsageError(XBuildEnvError, ValueError):
    """The command line itself was wrong (conflicting or missing options), or an API
    call got arguments that cannot go together (a version and a URL). Also a
    ``ValueError``, as pyodide-build's ``CrossBuildEnvManager`` raised it."""

    exit_code = 2


class InvalidVersionNameError(UsageError):
    """A version name that cannot be a folder of the root; ``reason`` says why
    (``"it holds a path separator"``), for callers that phrase their own message."""

    def __init__(self, message: str, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.reason = reason


class ConfigError(XBuildEnvError):
    """A configuration file or environment variable could not be used."""


class MetadataError(XBuildEnvError):
    """The release index could not be read or is malformed."""


class VersionNotFoundError(XBuildEnvError, ValueError):
    """A version was asked for that the index or the root does not have. Also a
    ``ValueError``, as pyodide-build raised it."""


class IncompatibleError(XBuildEnvError, ValueError):
    """No release (or not the requested one) fits the target Python / pyodide-build.
    Also a ``ValueError``, as pyodide-build raised it."""


class DownloadError(XBuildEnvError):
    """The network failed us: HTTP error, timeout, DNS, refused connection."""


class HTTPStatusError(DownloadError):
    """The server answered with an HTTP status that is neither success nor worth a
    retry (404, 403, 304 to a conditional request...); ``status`` holds it."""

    def __init__(self, message: str, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class ChecksumError(XBuildEnvError):
    """The downloaded bytes do not match the sha256 the index promised."""


class ArchiveError(XBuildEnvError):
    """The archive is corrupt, truncated, unsafe or not a cross-build environment."""


class NotInstalledError(XBuildEnvError, ValueError):
    """An operation needs an installed (or active) environment and there is none.
    Also a ``ValueError``, as pyodide-build raised it."""


class RootError(XBuildEnvError, ValueError):
    """The cache root cannot be used (not writable, a file in the way, ...). Also a
    ``ValueError``, as pyodide-build raised it when it could not create the root."""


class LockTimeoutError(XBuildEnvError):
    """Raised by :mod:`xbuildenv.cache.locks` when another process held a lock for
    longer than we were willing to wait."""


# --- build tools (xbuildenv.tools) --------------------------------------------------
class MakefileEnvsError(XBuildEnvError):
    """Raised when ``pyodide-root/Makefile.envs`` is missing or cannot be read."""


class UnknownKeyError(XBuildEnvError):
    """Raised when ``config get`` is asked for a key that is not reported."""


class HostPackagesError(XBuildEnvError):
    """Raised when the environment has no usable ``requirements.txt``, or a name asked
    for is not pinned there."""


class ToolError(XBuildEnvError):
    """Raised when an external tool (pip, uv, git, emsdk) fails; ``output`` holds the
    end of what it printed."""

    def __init__(self, message: str, hint: str | None = None, output: Sequence[str] = ()) -> None:
        super().__init__(message, hint)
        self.output = [redact(line) for line in output]


class EmsdkError(ToolError):
    """Raised when the Emscripten SDK cannot be installed (git, emsdk or a patch failed)."""


class PatchError(EmsdkError):
    """Raised when one of the environment's Emscripten patches does not apply."""


class CommandNotFoundError(XBuildEnvError):
    """Raised by ``run`` when the program to run does not exist or cannot be started."""

    exit_code = 127  # what shells return for an unknown command


# --- internal signals ------------------------------------------------------------------
class StreamAbortedError(Exception):
    """Raised inside the install pipeline to wake a reader whose producer gave up;
    the producer's own error is what the caller sees."""


class RetryableError(Exception):
    """Raised inside :mod:`xbuildenv.net.fetch` for a failure worth another attempt
    (5xx, 429, reset, timeout); turned into :class:`DownloadError` when retries run out."""


class RefusedError(RetryableError):
    """Raised inside :mod:`xbuildenv.net.fetch` when a connection was refused: worth one
    quick second attempt only (nothing listens on a host that resolved, which is rarely
    over in seconds), then a :class:`DownloadError`."""


class StorageError(XBuildEnvError):
    """A mirror destination or remote store (a folder or an fsspec URL) could not be
    read or written: missing optional extra, refused credentials, unreachable host."""


class MirrorError(XBuildEnvError):
    """``mirror sync`` cannot go on: nothing selected, an origin archive failed its
    sha256 check, an index URL names an unsafe archive path."""


class PathEscapeError(XBuildEnvError):
    """A path computed from an archive, index, Makefile.envs or record would leave its folder."""


class TreeMismatchError(XBuildEnvError):
    """Another root's tree no longer matches its manifest, so it is not linked (the
    install unpacks from the store instead; never shown to users)."""
