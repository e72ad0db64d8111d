"""Secrets out of every line the tool prints and every file it writes.

A URL may carry a password (``https://alice:PASSWORD@host/...``) or a signed query
(``?X-Amz-Signature=...``, ``sig=``, ``token=``). Such URLs travel everywhere a URL
travels: into error messages, warnings, ``-v`` details, ``--json`` and records on
disk. Rather than trusting every writer to remember, redaction sits at the
boundaries: :class:`~xbuildenv.errors.XBuildEnvError` redacts its own text, the CLI's
streams redact what is written to them, and the record writers store
:func:`strip_userinfo` URLs. New code is then safe by default.

Two nets, because one can miss:

* structural: every ``scheme://user:password@host`` in a text becomes
  ``scheme://user:****@host``, and the value of every signing query parameter ``****``;
* literal: every password this process has read (from a URL or a netrc file, see
  :func:`remember_secret`) is replaced wherever it appears, even outside a URL (an
  exception that quotes the host part, a percent-decoded copy).

This module is in the base layer (no imports from the package): the exception base
needs it.
"""

from __future__ import annotations

import re

__all__ = [
    "MASK",
    "redact",
    "redact_url",
    "remember_secret",
    "split_userinfo",
    "strip_userinfo",
]

MASK = "****"

# Query parameters whose value is a credential or a signature (compared lower-case):
# AWS/S3 presigned URLs, Azure SAS, Google signed URLs, and the usual token names.
SECRET_PARAMS = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "signature",
        "sig",
        "token",
        "access_token",
        "auth",
        "password",
        "private_token",
        "api_key",
        "apikey",
        "key",
        "secret",
    }
)

# scheme://, then the authority up to the first '/', '?', '#', space or quote; the
# userinfo is everything before its last '@' (as urllib splits it).
_URL_PATTERN = r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<netloc>[^/?#\s\"'<>\\]*)"
_PARAM_PATTERN = r"(?P<sep>[?&])(?P<name>[A-Za-z0-9_.\-]+)=(?P<value>[^&#\s\"'<>]*)"


def _url_re() -> re.Pattern[str]:
    # compiled on first use: every command imports this module (through errors), and
    # the read commands print nothing that needs it
    return re.compile(_URL_PATTERN)


def _param_re() -> re.Pattern[str]:
    return re.compile(_PARAM_PATTERN)


# Passwords read in this process; replaced wherever they appear.
_SECRETS: set[str] = set()
MIN_SECRET = 3  # shorter ones would garble ordinary words; a URL still hides them


def remember_secret(secret: str | None) -> None:
    """Hide ``secret`` (and its percent-encoded and -decoded forms) from now on."""
    if not secret or len(secret) < MIN_SECRET or secret == MASK:
        return
    from urllib.parse import quote, unquote

    for form in (secret, quote(secret, safe=""), unquote(secret)):
        if len(form) >= MIN_SECRET:
            _SECRETS.add(form)


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``(url without userinfo, user, password)``; user and password percent-decoded."""
    match = _url_re().match(url)
    if match is None or "@" not in match.group("netloc"):
        return url, None, None
    from urllib.parse import unquote

    userinfo, _, host = match.group("netloc").rpartition("@")
    user, colon, password = userinfo.partition(":")
    clean = match.group("scheme") + host + url[match.end() :]
    return clean, unquote(user) or None, unquote(password) if colon else None


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@``: the form stored on disk and used as a key."""
    return split_userinfo(url)[0]


def _netloc(match: re.Match[str]) -> str:
    netloc = match.group("netloc")
    if "@" not in netloc:
        return match.group(0)
    userinfo, _, host = netloc.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    # a lone user name may itself be a token (``https://TOKEN@host``): masked too
    shown = f"{user}:{MASK}" if colon else MASK
    return f"{match.group('scheme')}{shown}@{host}"


def _param(match: re.Match[str]) -> str:
    if match.group("name").lower() not in SECRET_PARAMS or not match.group("value"):
        return match.group(0)
    return f"{match.group('sep')}{match.group('name')}={MASK}"


def redact(text: str) -> str:
    """``text`` with every URL password, signing parameter and known secret masked."""
    if not text:
        return text
    if "://" in text:
        text = _url_re().sub(_netloc, text)
    if "=" in text:
        text = _param_re().sub(_param, text)
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_url(url: str) -> str:
    """One URL as it may be shown: ``user:****@host``, signatures masked."""
    return redact(url)
