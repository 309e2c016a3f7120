"""Signed tokens that name a message, for the links distro puts in emails.

Each purpose (unsubscribe, web copy, later open and click) signs with its own key, derived once
from the secret, so a token made for one purpose is refused by every other. Tokens do not
expire: an unsubscribe link must keep working. A token is ``<message id>.<HMAC-SHA256, 128 bits>``;
the id is not secret, the signature makes it unforgeable.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum

from itsdangerous import BadSignature, Signer
from itsdangerous.signer import HMACAlgorithm

SIGNATURE_BYTES = 16  # 128 bits: unforgeable, and short enough to keep links on one line


class _TruncatedHMAC(HMACAlgorithm):
    """HMAC-SHA256 cut to 128 bits (itsdangerous compares signatures in constant time)."""

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return super().get_signature(key, value)[:SIGNATURE_BYTES]


class LinkPurpose(StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    WEB_COPY = "web-copy"


class LinkSigner:
    def __init__(self, secret_key: str) -> None:
        # Built once: signing runs twice per recipient on the send path.
        self._signers = {
            purpose: Signer(
                hmac.new(secret_key.encode(), f"distro-link-{purpose}".encode(), "sha256").digest(),
                key_derivation="none",
                algorithm=_TruncatedHMAC(hashlib.sha256),
            )
            for purpose in LinkPurpose
        }

    def sign(self, purpose: LinkPurpose, message_id: int) -> str:
        return self._signers[purpose].sign(str(message_id).encode()).decode()

    def verify(self, purpose: LinkPurpose, token: str) -> int | None:
        """The message id the token names, or None when it is forged or malformed."""
        try:
            value = self._signers[purpose].unsign(token.encode())
        except (BadSignature, UnicodeEncodeError):
            return None
        return int(value) if value.isdigit() and len(value) < 19 else None
