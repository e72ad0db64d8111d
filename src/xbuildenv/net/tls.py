"""Which certificates HTTPS trusts, decided once per process.

1. ``SSL_CERT_FILE`` or else ``REQUESTS_CA_BUNDLE`` names a PEM file: trust exactly the
   CAs in it (as OpenSSL and requests do), e.g. a company's TLS-inspecting proxy CA.
   ``SSL_CERT_FILE`` comes first, as it did before ``REQUESTS_CA_BUNDLE`` was read.
2. Otherwise the operating system's trust store through ``truststore`` (as pip does),
   so a CA an administrator installed into the system store is trusted.
3. Without ``truststore`` (Python < 3.10, or not installed): Python's default
   certificates, as before.

Only imported for ``https://`` URLs: ``truststore`` costs time that plain HTTP, local
files and the read commands should not pay.
"""

from __future__ import annotations

import os
import ssl

CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")  # the first one set wins

_context: ssl.SSLContext | None = None


def source() -> str:
    """Where the trusted certificates come from, in words (for the error message)."""
    for name in CA_VARIABLES:
        if os.environ.get(name):
            return f"{name}={os.environ[name]}"
    try:
        import truststore  # noqa: F401
    except ImportError:
        return "Python's default certificates"
    return "the system trust store"


def context() -> ssl.SSLContext:
    """The context every HTTPS request of this process uses."""
    global _context
    if _context is None:
        _context = _make()
    return _context


def _make() -> ssl.SSLContext:
    for name in CA_VARIABLES:
        path = os.environ.get(name)
        if path:
            from ..errors import ConfigError

            try:
                return ssl.create_default_context(cafile=path)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"{name}={path} cannot be used as a certificate bundle: {exc}",
                    f"point {name} at a PEM file of CA certificates, or unset it",
                ) from None
    try:
        import truststore
    except ImportError:
        return ssl.create_default_context()
    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
