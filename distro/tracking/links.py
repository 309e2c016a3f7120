"""Signed tokens that name a message, for the links distro puts in emails.

Each purpose (unsubscribe, web copy, later open and click) signs with its own key, derived once
from the secret, so a token made for one purpose is refused by every other. Tokens do not
expire: an unsubscribe link must keep working. A token is ``<message id>.<HMAC-SHA256, 128 bits>``;
the id is not secret, the signature makes it unforgeable.
"""

from __future__ import annotations

import base64
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


class _PreparedHmac:
    """HMAC-SHA256 (RFC 2104) with the key's inner and outer hash states computed once.

    Copying a prepared hash state costs a fraction of ``hmac.digest``, which sets up the key and
    looks the algorithm up again on every call; the output is the same.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) > BLOCK_BYTES:
            key = hashlib.sha256(key).digest()
        padded = key.ljust(BLOCK_BYTES, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


BLOCK_BYTES = 64  # SHA-256's block size


class LinkSigner:
    def __init__(self, secret_key: str) -> None:
        keys = {
            purpose: hmac.new(
                secret_key.encode(), f"distro-link-{purpose}".encode(), "sha256"
            ).digest()
            for purpose in LinkPurpose
        }
        # itsdangerous verifies (constant-time, with its error handling); signing, which runs
        # twice per recipient on the send path, uses HMAC states prepared once (see
        # _PreparedHmac) and writes the same token format: <value>.<url-safe base64 signature,
        # unpadded>.
        self._signers = {
            purpose: Signer(key, key_derivation="none", algorithm=_TruncatedHMAC(hashlib.sha256))
            for purpose, key in keys.items()
        }
        self._macs = {purpose: _PreparedHmac(key) for purpose, key in keys.items()}

    def sign(self, purpose: LinkPurpose, message_id: int) -> str:
        value = str(message_id)
        mac = self._macs[purpose].digest(value.encode())
        signature = base64.urlsafe_b64encode(mac[:SIGNATURE_BYTES]).rstrip(b"=")
        return f"{value}.{signature.decode()}"

    def verify(self, purpose: LinkPurpose, token: str) -> int | None:
        """The message id the token names, or None when it is forged or malformed."""
        try:
            value = self._signers[purpose].unsign(token.encode())
        except (BadSignature, UnicodeEncodeError):
            return None
        return int(value) if value.isdigit() and len(value) < 19 else None
