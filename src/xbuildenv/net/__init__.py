"""Getting bytes from a URL or a local path: retries, resume, proxies, timeouts
(``fetch``); one HTTP request with its credentials and redirects that never downgrade
nor carry credentials to another host (``http``); where credentials come from: the
URL, the same host, netrc (``auth``); what a source names and what a remote index may
name (``urls``); which certificates HTTPS trusts (``tls``); and folders, fsspec URLs
or an HTTP server taking PUT as one storage for mirrors and the fleet's store
(``storage``, ``http_storage``). It imports :mod:`xbuildenv.settings` and the
top-level base modules only.
"""
