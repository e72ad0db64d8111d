"""Credentials for HTTP(S) requests, found as pip, uv and requests find them.

For a request to ``scheme://host:port/...``, the first of:

1. the URL's own userinfo (``https://USER:PASSWORD@host/...``, percent-encoded);
2. credentials another URL to the same host and port carried earlier in this process
   (an index given with a password lends it to the archives it names on its host);
3. the ``machine HOST`` entry (else the ``default`` entry) of the netrc file: the file
   ``NETRC`` names, else ``~/.netrc`` (``~/_netrc`` on Windows when that is absent).

What is found is sent as HTTP Basic ``Authorization`` to that host only (see
:func:`keeps_auth` for redirects). Every password read here is registered with
:func:`xbuildenv.redaction.remember_secret`, so it is masked wherever it would appear.
Object stores (``s3://``...) never come here: fsspec keeps its own credential chain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..redaction import MASK, remember_secret, split_userinfo

__all__ = [
    "ENV_NETRC",
    "Credentials",
    "authorization",
    "keeps_auth",
    "lend",
    "netrc_path",
    "prepare",
]

ENV_NETRC = "NETRC"  # as curl, requests, pip and uv read it

_by_host: dict[tuple[str, int], Credentials] = {}
_netrc_cache: dict[str, object] = {}
_netrc_broken: dict[str, str] = {}  # path -> why it was not read (no token of it: a secret)


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    source: str  # "the URL", "an earlier URL to this host", "netrc file PATH"

    def __repr__(self) -> str:  # never the password, whoever prints the object
        return f"Credentials(user={self.user!r}, password={MASK!r}, source={self.source!r})"


def _host_key(url: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def netrc_path() -> Path | None:
    """The netrc file to read: ``NETRC``, else the home folder's, when it exists."""
    named = os.environ.get(ENV_NETRC)
    if named:
        return Path(named).expanduser()
    home = Path.home()
    for name in (".netrc", "_netrc") if os.name == "nt" else (".netrc",):
        if (home / name).is_file():
            return home / name
    return None


def _from_netrc(host: str) -> Credentials | None:
    path = netrc_path()
    if path is None:
        return None
    key = str(path)
    if key not in _netrc_cache:
        import netrc

        try:
            # An explicit path: like requests, no ownership check (that is the file's
            # owner's business); a file we cannot parse is as if absent, and a 401
            # says so.
            _netrc_cache[key] = netrc.netrc(key)
        except netrc.NetrcParseError as exc:
            _netrc_cache[key] = None
            _netrc_broken[key] = f"it could not be parsed (line {exc.lineno})"
        except (OSError, UnicodeDecodeError) as exc:
            _netrc_cache[key] = None
            _netrc_broken[key] = f"it could not be read ({getattr(exc, 'strerror', None) or exc})"
    parsed = _netrc_cache[key]
    if parsed is None:
        return None
    import netrc

    assert isinstance(parsed, netrc.netrc)
    for machine in parsed.hosts.values():
        remember_secret(machine[2])
    entry = parsed.authenticators(host)
    if entry is None:
        return None
    login, account, password = entry
    if not password:
        return None
    return Credentials(login or account or "", password, f"netrc file {path}")


def prepare(url: str) -> tuple[str, Credentials | None]:
    """The URL to request (no userinfo: urllib would take it for the host) and the
    credentials to send with it."""
    clean, user, password = split_userinfo(url)
    key = _host_key(clean)
    if user is not None or password is not None:
        remember_secret(password)
        creds = Credentials(user or "", password or "", "the URL")
        if key is not None:
            _by_host.setdefault(key, Credentials(creds.user, creds.password, "an earlier URL"))
        return clean, creds
    if key is None:
        return clean, None
    if key in _by_host:
        return clean, _by_host[key]
    return clean, _from_netrc(key[0])


def lend(url: str) -> None:
    """Let ``url``'s credentials serve other URLs of its host in this process: an index
    read from our cache still lends them to the archives it names there."""
    prepare(url)


def authorization(creds: Credentials) -> str:
    """The value of the ``Authorization`` header for HTTP Basic."""
    import base64

    raw = f"{creds.user}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def keeps_auth(old: str, new: str) -> bool:
    """Whether a redirect from ``old`` to ``new`` may carry the ``Authorization`` header.

    As requests decides: only to the same host, and the same scheme and port, except
    that ``http`` to ``https`` on the default ports is an upgrade and keeps it.
    """
    a, b = urlsplit(old), urlsplit(new)
    if (a.hostname or "").lower() != (b.hostname or "").lower():
        return False
    try:
        a_port, b_port = a.port, b.port
    except ValueError:
        return False
    if (
        a.scheme == "http"
        and b.scheme == "https"
        and a_port in (80, None)
        and b_port in (443, None)
    ):
        return True
    defaults = {"http": 80, "https": 443}
    return a.scheme == b.scheme and (a_port or defaults.get(a.scheme)) == (
        b_port or defaults.get(b.scheme)
    )


def ways_to_authenticate() -> str:
    """The hint of a 401: how credentials can be passed (never what was sent)."""
    where = os.environ.get(ENV_NETRC) or "~/.netrc"
    path = netrc_path()
    broken = _netrc_broken.get(str(path)) if path is not None else None
    if broken:
        where = f"{where} ({broken})"
    return (
        # no scheme before USER:PASSWORD@: redaction would mask the example itself
        "pass credentials in the URL (USER:PASSWORD@ before the host, percent-encoded) "
        f"or in a 'machine HOST login USER password PASSWORD' line of {where} "
        f"(the {ENV_NETRC} variable names another file)"
    )
