"""Link tokens: the fast signer writes exactly what itsdangerous verifies."""

from __future__ import annotations

import hmac

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
