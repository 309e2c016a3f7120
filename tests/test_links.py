"""Link tokens: the fast signer writes exactly what itsdangerous verifies; each purpose its own key,
and link tokens bind a URL to a send."""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distro.tracking.links import LinkPurpose, LinkSigner, _PreparedHmac


@given(st.integers(min_value=0, max_value=10**18 - 1), st.sampled_from(list(LinkPurpose)))
def test_tokens_verify_for_their_purpose_only(message_id: int, purpose: LinkPurpose) -> None:
    signer = LinkSigner("a-secret-key-for-the-links-test-0123456789")
    token = signer.sign(purpose, message_id)
    assert signer.verify(purpose, token) == message_id
    for other in LinkPurpose:
        if other is not purpose:
            assert signer.verify(other, token) is None
    value, _, signature = token.partition(".")
    # Change the first signature character (the last one also carries base64 padding bits).
    forged = f"{value}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    assert signer.verify(purpose, forged) is None
    assert signer.verify(purpose, f"{message_id + 1}.{signature}") is None


@given(st.binary(max_size=200), st.binary(max_size=300))
def test_prepared_hmac_is_hmac_sha256(key: bytes, message: bytes) -> None:
    assert _PreparedHmac(key).digest(message) == hmac.digest(key, message, "sha256")


SECRET = "a-secret-key-for-the-links-test-0123456789"
URLS = st.text(min_size=1, max_size=200).map(lambda tail: f"https://example.org/{tail}")


@given(st.integers(min_value=0, max_value=10**18 - 1), URLS, URLS)
def test_link_tokens_sign_the_url_with_the_send(send_id: int, url: str, other: str) -> None:
    signer = LinkSigner(SECRET)
    token = signer.sign_link(send_id, url)
    assert signer.verify_link(token, url) == send_id
    if other != url:
        assert signer.verify_link(token, other) is None  # another URL: no redirect
    value, _, signature = token.partition(".")
    assert signer.verify_link(f"{send_id + 1}.{signature}", url) is None  # another send
    assert signer.verify_link(f"{value}.{signature[:-1]}", url) is None
    assert LinkSigner("another-secret-" + "y" * 20).verify_link(token, url) is None
    for purpose in LinkPurpose:  # a link token is no message token of any purpose
        assert signer.verify(purpose, token) is None


def test_click_and_open_tokens_are_not_interchangeable() -> None:
    signer = LinkSigner(SECRET)
    click, opened = signer.sign(LinkPurpose.CLICK, 42), signer.sign(LinkPurpose.OPEN, 42)
    assert signer.verify(LinkPurpose.CLICK, click) == 42
    assert signer.verify(LinkPurpose.OPEN, opened) == 42
    assert click != opened
    assert signer.verify(LinkPurpose.OPEN, click) is None
    assert signer.verify(LinkPurpose.CLICK, opened) is None
    url = "https://example.org/a"
    assert signer.verify_link(click, url) is None  # a message token is no link token
    assert signer.verify_link(signer.sign(LinkPurpose.LINK, 42), url) is None


@pytest.mark.parametrize(
    "token", ["", ".", "42", "42.", ".abc", "-1.abc", "4 2.abc", "٤٢.abc", "1" * 19 + ".abc"]
)
def test_malformed_link_tokens_are_refused(token: str) -> None:
    assert LinkSigner(SECRET).verify_link(token, "https://example.org/") is None
