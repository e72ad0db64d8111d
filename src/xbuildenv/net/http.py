"""One HTTP(S) request: credentials attached, redirects checked, failures sorted.

What :mod:`.fetch` (retries, resume) and :mod:`.http_storage` (a store over HTTP) build
on. A request carries its host's credentials (:mod:`.auth`) and never follows a
redirect that drops TLS or leaves http(s); a redirect to another host carries that
host's own credentials, never the first one's. Failures become a
:class:`~xbuildenv.errors.DownloadError` (final), :class:`RetryableError` (5xx, 429,
reset, timeout) or :class:`RefusedError`; a 401 names the host and how credentials
are passed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from .._version import __version__
from ..errors import DownloadError, HTTPStatusError, RefusedError, RetryableError

USER_AGENT = f"xbuildenv/{__version__}"

REFUSED_ATTEMPTS = 2  # attempts for a refused connection (documented in the README)
REFUSED_PAUSE = 0.25  # seconds between them


def _urlopen(request: Any, settings: Any) -> Any:
    """Open with the redirect rule of :func:`_opener`; HTTPS verified as :mod:`.tls` says
    (the trust store is loaded only for an https URL)."""
    import urllib.request

    handlers: list[Any] = []
    if request.full_url.startswith("https:"):
        from .tls import context

        handlers.append(urllib.request.HTTPSHandler(context=context()))
    return _opener(*handlers).open(request, timeout=settings.timeout)


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if reason is not None and not isinstance(reason, str):
        exc = reason
    import socket

    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return "timed out"
    name = type(exc).__name__
    if isinstance(exc, socket.gaierror):
        return "the host name could not be resolved"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, ConnectionResetError):
        return "the connection was reset"
    return str(exc) or name


def _request(url: str, headers: dict[str, str], method: str = "GET", data: Any = None) -> Any:
    """A request for ``url`` with its credentials (:mod:`.auth`) as an *unredirected*
    header: urllib copies the others onto a redirect, to whatever host it names, and the
    redirect handler decides afresh (:func:`_opener`)."""
    import urllib.request

    from .auth import authorization, prepare

    clean, creds = prepare(url)
    request = urllib.request.Request(
        clean, data=data, method=method, headers={"User-Agent": USER_AGENT, **headers}
    )
    if creds is not None:
        request.add_unredirected_header("Authorization", authorization(creds))
    request.__dict__["xbuildenv_creds"] = creds  # for the 401 message
    return request


def _refused_auth(url: str, exc: Any, request: Any) -> DownloadError:
    """A 401 (or a 403 after credentials were sent): one line naming the host and the
    ways to pass credentials, never the credentials."""
    from urllib.parse import urlsplit

    from .auth import keeps_auth, prepare, ways_to_authenticate

    final = getattr(exc, "url", None) or request.full_url
    host = urlsplit(final).netloc
    creds = getattr(request, "xbuildenv_creds", None)
    if final != request.full_url:
        url = f"{url} (redirected to {final})"
        if not keeps_auth(request.full_url, final):
            creds = prepare(final)[1]  # what the redirect handler sent there
    if creds is None:
        what = f"{host} asks for credentials (HTTP {exc.code}) for {url}"
    elif exc.code == 403:
        what = (
            f"{host} denies user {creds.user!r} (credentials from {creds.source}) "
            f"access to {url} (HTTP 403)"
        )
        return DownloadError(what, "ask the server's owner for access, or use other credentials")
    else:
        what = (
            f"{host} refused the credentials of user {creds.user!r} from {creds.source} "
            f"(HTTP {exc.code}) for {url}"
        )
    return DownloadError(what, ways_to_authenticate())


def _open(
    url: str, settings: Any, headers: dict[str, str], method: str = "GET", data: Any = None
) -> Any:
    """Open ``url``; translate failures into RetryableError or DownloadError."""
    import http.client
    import socket
    import urllib.error

    request = _request(url, headers, method, data)
    try:
        return _urlopen(request, settings)
    except DownloadError:
        raise
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code >= 500 or exc.code == 429:
            raise RetryableError(f"HTTP {exc.code}") from None
        if exc.code == 401 or (exc.code == 403 and getattr(request, "xbuildenv_creds", None)):
            raise _refused_auth(url, exc, request) from None
        if exc.code == 404 and method != "GET":
            raise FileNotFoundError(url) from None
        hint = "check the version or URL" if exc.code == 404 else "check the URL and access"
        raise HTTPStatusError(
            f"{method} {url} failed: HTTP {exc.code} {exc.reason}", exc.code, hint
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        import ssl

        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLCertVerificationError):
            # Not transient: retrying cannot make an untrusted certificate trusted.
            from .tls import source

            raise DownloadError(
                f"cannot verify the TLS certificate of {url}: {reason.verify_message} "
                f"(trusted: {source()})",
                "install the CA into the system certificate store or set SSL_CERT_FILE",
            ) from None
        text = _describe(exc)
        if isinstance(reason, socket.gaierror):
            raise DownloadError(
                f"cannot reach {url}: {text}",
                "check your network connection and proxy settings (https_proxy)",
            ) from None
        if text == "the connection was refused":
            raise RefusedError(text) from None
        raise RetryableError(text) from None


def _opener(*handlers: Any) -> Any:
    """urllib's default opener (proxies from the environment, the system's CAs), with
    redirects that never downgrade: https -> http is refused, as is any redirect to a
    scheme other than http(s). Credentials stay with their host: the new request
    carries the old ``Authorization`` only where :func:`.auth.keeps_auth` allows, and
    otherwise whatever the new host's own credentials are (netrc), as requests does."""
    import urllib.request

    class NoDowngrade(urllib.request.HTTPRedirectHandler):
        def redirect_request(
            self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
        ) -> Any:
            old, new = urlparse(req.full_url).scheme, urlparse(newurl).scheme
            if new not in ("http", "https") or (old == "https" and new != "https"):
                raise DownloadError(
                    f"{req.full_url} redirects to {newurl}, which is not {old}",
                    "refusing a redirect that drops TLS or leaves http(s); "
                    "ask the server's owner to fix it, or use the final URL if you trust it",
                )
            new_req = super().redirect_request(req, fp, code, msg, headers, newurl)
            if new_req is None:
                return None
            from .auth import authorization, keeps_auth, prepare

            old_auth = req.unredirected_hdrs.get("Authorization")
            if old_auth and keeps_auth(req.full_url, new_req.full_url):
                new_req.add_unredirected_header("Authorization", old_auth)
                new_req.__dict__["xbuildenv_creds"] = req.__dict__.get("xbuildenv_creds")
                return new_req
            clean, creds = prepare(new_req.full_url)
            new_req.full_url = clean
            if creds is not None:
                new_req.add_unredirected_header("Authorization", authorization(creds))
            new_req.__dict__["xbuildenv_creds"] = creds
            return new_req

    return urllib.request.build_opener(NoDowngrade, *handlers)


def head(url: str, settings: Any | None = None) -> dict[str, str] | None:
    """The headers of ``url`` (lower-case names) from one HEAD request, with its
    credentials; None when it does not exist (404). Not retried: a probe."""
    settings = settings or _settings()
    try:
        with _open(url, settings, {}, "HEAD") as resp:
            return {k.lower(): v for k, v in resp.headers.items()}
    except FileNotFoundError:
        return None
    except RetryableError as exc:
        raise DownloadError(f"HEAD {url} failed: {exc}", "check the URL and the network") from None


def send(
    url: str, method: str, data: Any = None, size: int | None = None, settings: Any | None = None
) -> None:
    """One PUT or DELETE with ``url``'s credentials (a WebDAV-style store: nginx
    ``dav_methods``, Artifactory, Nexus raw); ``data`` is bytes or a binary file of
    ``size`` bytes. A DELETE of what is not there is not an error."""
    settings = settings or _settings()
    headers = {}
    if data is not None:
        length = len(data) if isinstance(data, bytes) else size
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
    try:
        _open(url, settings, headers, method, data).close()
    except FileNotFoundError:
        if method != "DELETE":
            raise DownloadError(f"{method} {url} failed: HTTP 404", "check the URL") from None
    except RetryableError as exc:
        raise DownloadError(
            f"{method} {url} failed: {exc}", "check the URL and the network"
        ) from None


def _settings() -> Any:
    from .fetch import FetchSettings

    return FetchSettings.from_env()
