"""Getting bytes from a URL or a local path: retries, resume, proxies, timeouts,
redirects that never downgrade (``fetch``); what a source names and what a remote index
may name (``urls``); which certificates HTTPS trusts (``tls``); and folders or fsspec
URLs as one storage for mirrors and the fleet's store (``storage``). It imports
:mod:`xbuildenv.settings` and the top-level base modules only.
"""
