"""Credentials from the URL and from netrc, on real loopback requests; what a redirect
carries; a 401 as one line without the secret; the redaction rules themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.auth import AuthServer, basic, write_netrc

from xbuildenv.errors import DownloadError, StorageError, XBuildEnvError
from xbuildenv.net import auth
from xbuildenv.net.fetch import Download, FetchSettings, fetch_bytes
from xbuildenv.net.http import head
from xbuildenv.net.storage import open_storage
from xbuildenv.redaction import redact, split_userinfo, strip_userinfo

SECRET = "s3cr3t-Pa55"
FAST = FetchSettings(retries=1, timeout=5, backoff=0.01)


@pytest.fixture(autouse=True)
def fresh_auth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No netrc of the machine's, and no credentials lent between tests."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NETRC", raising=False)
    auth._by_host.clear()
    auth._netrc_cache.clear()
    yield
    auth._by_host.clear()
    auth._netrc_cache.clear()


@pytest.fixture
def private() -> Iterator[AuthServer]:
    s = AuthServer("alice", SECRET)
    s.add("/index.json", b'{"releases": {}}')
    s.add("/a.tar.gz", b"x" * 300_000)
    yield s
    s.close()


@pytest.fixture
def recorder() -> Iterator[AuthServer]:
    s = AuthServer()  # open: records what arrives
    s.add("/landed", b"here")
    yield s
    s.close()


def test_credentials_in_the_url_are_sent_as_basic_auth(private: AuthServer) -> None:
    url = private.url("/index.json", userinfo=f"alice:{SECRET}")
    assert fetch_bytes(url, FAST).body == b'{"releases": {}}'
    (seen,) = private.seen_at("/index.json")
    assert seen.authorization == basic("alice", SECRET)


def test_percent_encoded_credentials_are_decoded(tmp_path: Path) -> None:
    server = AuthServer("bob@corp", "p@ss:w/rd")
    server.add("/i", b"ok")
    try:
        url = server.url("/i", userinfo="bob%40corp:p%40ss%3Aw%2Frd")
        assert fetch_bytes(url, FAST).body == b"ok"
    finally:
        server.close()


def test_a_download_streams_with_the_credentials(private: AuthServer) -> None:
    url = private.url("/a.tar.gz", userinfo=f"alice:{SECRET}")
    assert sum(len(c) for c in Download(url, FAST).chunks()) == 300_000


def test_netrc_named_by_NETRC_gives_the_credentials(
    private: AuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETRC", str(write_netrc(tmp_path / "rc", ("127.0.0.1", "alice", SECRET))))
    assert fetch_bytes(private.url("/index.json"), FAST).body
    assert private.seen_at("/index.json")[0].authorization == basic("alice", SECRET)


def test_home_netrc_is_read_and_the_url_wins_over_it(private: AuthServer, tmp_path: Path) -> None:
    write_netrc(tmp_path / ".netrc", ("127.0.0.1", "alice", "wrong-one"))
    url = private.url("/index.json", userinfo=f"alice:{SECRET}")
    assert fetch_bytes(url, FAST).body
    with pytest.raises(DownloadError) as caught:
        auth._by_host.clear()  # nothing lent: ~/.netrc alone, with its wrong password
        fetch_bytes(private.url("/index.json"), FAST)
    assert "netrc file" in caught.value.message and "wrong-one" not in str(caught.value)


def test_netrc_default_entry_and_other_machines(
    private: AuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc = tmp_path / "rc"
    rc.write_text(
        f"machine example.org login x password y\ndefault login alice password {SECRET}\n"
    )
    monkeypatch.setenv("NETRC", str(rc))
    assert fetch_bytes(private.url("/index.json"), FAST).body


def test_a_netrc_that_cannot_be_parsed_is_named_in_the_401(
    private: AuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc = tmp_path / "rc"
    rc.write_text(f"machine 127.0.0.1 login alice\n  password {SECRET} bogus\n")
    monkeypatch.setenv("NETRC", str(rc))
    with pytest.raises(DownloadError) as caught:
        fetch_bytes(private.url("/index.json"), FAST)
    assert f"{rc} (it could not be parsed (line " in str(caught.value)
    assert SECRET not in str(caught.value) and "bogus" not in str(caught.value)


def test_credentials_lent_to_other_urls_of_the_same_host(private: AuthServer) -> None:
    fetch_bytes(private.url("/index.json", userinfo=f"alice:{SECRET}"), FAST)
    # the index named an absolute archive URL on the same host: no userinfo of its own
    assert sum(len(c) for c in Download(private.url("/a.tar.gz"), FAST).chunks()) == 300_000


def test_401_is_one_line_naming_the_host_and_the_ways(private: AuthServer) -> None:
    with pytest.raises(DownloadError) as caught:
        fetch_bytes(private.url("/index.json"), FAST)
    text = str(caught.value)
    assert f"127.0.0.1:{private.port} asks for credentials (HTTP 401)" in text
    assert "USER:PASSWORD@" in text and "netrc" in text and "\n" not in text
    assert len(private.seen_at("/index.json")) == 1  # never retried


def test_wrong_password_names_the_user_and_source_not_the_password(private: AuthServer) -> None:
    with pytest.raises(DownloadError) as caught:
        fetch_bytes(private.url("/index.json", userinfo="alice:not-the-one"), FAST)
    text = str(caught.value)
    assert "refused the credentials of user 'alice' from the URL" in text
    assert "not-the-one" not in text and "alice:****@" in text


def test_403_with_credentials_names_the_user_not_the_password(private: AuthServer) -> None:
    private.forbidden.add("/index.json")
    with pytest.raises(DownloadError) as caught:
        fetch_bytes(private.url("/index.json", userinfo=f"alice:{SECRET}"), FAST)
    text = str(caught.value)
    assert "denies user 'alice' (credentials from the URL) access to" in text
    assert "(HTTP 403)" in text and SECRET not in text


def test_redirect_to_another_port_drops_authorization(
    private: AuthServer, recorder: AuthServer
) -> None:
    private.redirect("/moved", recorder.url("/landed"))
    assert fetch_bytes(private.url("/moved", userinfo=f"alice:{SECRET}"), FAST).body == b"here"
    assert private.seen_at("/moved")[0].authorization == basic("alice", SECRET)
    (landed,) = recorder.seen_at("/landed")
    assert landed.authorization is None
    assert SECRET not in repr(landed.headers)


def test_redirect_to_another_host_gets_that_hosts_own_netrc_entry(
    private: AuthServer, recorder: AuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETRC", str(write_netrc(tmp_path / "rc", ("localhost", "carol", "c-pw"))))
    private.redirect("/moved", recorder.url("/landed", host="localhost"))
    fetch_bytes(private.url("/moved", userinfo=f"alice:{SECRET}"), FAST)
    assert recorder.seen_at("/landed")[0].authorization == basic("carol", "c-pw")


def test_401_after_a_redirect_names_the_host_that_refused(
    private: AuthServer, recorder: AuthServer
) -> None:
    recorder.redirect("/moved", private.url("/index.json"))
    with pytest.raises(DownloadError) as caught:
        fetch_bytes(recorder.url("/moved"), FAST)
    text = str(caught.value)
    assert f"127.0.0.1:{private.port} asks for credentials (HTTP 401)" in text
    assert f"(redirected to {private.url('/index.json')})" in text


def test_redirect_on_the_same_host_and_port_keeps_authorization(private: AuthServer) -> None:
    private.redirect("/old.json", private.url("/index.json"))
    fetch_bytes(private.url("/old.json", userinfo=f"alice:{SECRET}"), FAST)
    assert private.seen_at("/index.json")[0].authorization == basic("alice", SECRET)


def test_keeps_auth_rule() -> None:
    assert auth.keeps_auth("http://h/a", "https://h/b")  # an upgrade on default ports
    assert auth.keeps_auth("https://h:8443/a", "https://H:8443/b")
    assert not auth.keeps_auth("https://h/a", "http://h/b")
    assert not auth.keeps_auth("https://h/a", "https://h:8443/b")
    assert not auth.keeps_auth("https://h/a", "https://evil/b")


def test_http_store_reads_and_writes_with_credentials(private: AuthServer, tmp_path: Path) -> None:
    store = open_storage(private.url("/store", userinfo=f"alice:{SECRET}"), http=True)
    local = tmp_path / "blob"
    local.write_bytes(b"b" * 5000)
    store.put_file(local, "archives/abc")
    store.put_bytes("pending/abc", b"{}")
    assert store.size("archives/abc") == 5000
    assert store.read_bytes("archives/abc") == b"b" * 5000
    assert store.size("archives/none") is None and store.read_bytes("archives/none") is None
    store.delete("pending/abc")
    store.delete("pending/abc")  # gone already: fine
    assert "/store/pending/abc" not in private.files
    assert all(s.authorization == basic("alice", SECRET) for s in private.seen)


def test_http_store_refusal_is_a_storage_error_without_the_secret(private: AuthServer) -> None:
    store = open_storage(private.url("/store", userinfo="alice:bad-pw-123"), http=True)
    with pytest.raises(StorageError) as caught:
        store.put_bytes("pending/x", b"{}")
    assert "bad-pw-123" not in str(caught.value) and "refused the credentials" in str(caught.value)
    assert head(private.url("/index.json", userinfo=f"alice:{SECRET}")) is not None


# --- redaction ---------------------------------------------------------------------
def test_redact_masks_passwords_tokens_and_signatures() -> None:
    text = (
        "GET http://alice:pw1x@h:9/i.json failed; origin https://TOKENabc@git.example/x "
        "and s3 https://b.s3/k?X-Amz-Credential=AKIA&X-Amz-Signature=deadbeef&x=1 "
        'json ["http://u:p2y@a/x","https://v:p3z@b/y"] sas ?sv=1&sig=abcd&token=t0k'
    )
    shown = redact(text)
    for secret in ("pw1x", "TOKENabc", "AKIA", "deadbeef", "p2y", "p3z", "abcd", "t0k"):
        assert secret not in shown, secret
    assert "http://alice:****@h:9/i.json" in shown and "https://****@git.example/x" in shown
    assert "&x=1" in shown and "?sv=1" in shown


def test_known_secrets_are_masked_outside_urls(private: AuthServer) -> None:
    fetch_bytes(private.url("/index.json", userinfo=f"alice:{SECRET}"), FAST)
    assert redact(f"the server said {SECRET}!") == "the server said ****!"
    assert SECRET not in str(XBuildEnvError(f"boom {SECRET}", f"hint {SECRET}"))


def test_split_and_strip_userinfo() -> None:
    assert split_userinfo("https://a%40b:c%3Ad@h:1/p?q") == ("https://h:1/p?q", "a@b", "c:d")
    assert split_userinfo("https://tok@h/p") == ("https://h/p", "tok", None)
    assert strip_userinfo("/local/path@x") == "/local/path@x"
    assert repr(auth.Credentials("u", SECRET, "x")).count(SECRET) == 0
