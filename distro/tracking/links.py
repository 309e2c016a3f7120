"""Signed tokens that name a message, for the links distro puts in emails.

Each purpose (unsubscribe, web copy, open pixel, click redirect, link target) signs with its own
key, derived once from the secret, so a token made for one purpose is refused by every other.
Tokens do not expire: an unsubscribe link must keep working. A token is ``<id>.<HMAC-SHA256, 128
bits>``; the id is not secret, the signature makes it unforgeable.

A tracked link carries two tokens and its target: ``/c/{click token}/{link token}?u={URL}``. The
click token names the message (one per recipient, shared by all their links); the link token
signs the URL together with the send (one per link per send, made once). The redirect checks
both and that the message belongs to that send, so it goes only to a URL that was in that
message, and each recipient costs one signature for all their links however many there are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from enum import StrEnum

from itsdangerous import BadSignature, Signer
from itsdangerous.signer import HMACAlgorithm

SIGNATURE_BYTES = 16  # 128 bits: unforgeable, and short enough to keep links on one line
BLOCK_BYTES = 64  # SHA-256's block size
MAX_ID_DIGITS = 18  # an id fits a signed 64-bit integer


class _TruncatedHMAC(HMACAlgorithm):
    """HMAC-SHA256 cut to 128 bits (itsdangerous compares signatures in constant time)."""

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return super().get_signature(key, value)[:SIGNATURE_BYTES]


class LinkPurpose(StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    WEB_COPY = "web-copy"
    OPEN = "open"  # the open pixel: names the message
    CLICK = "click"  # the click redirect: names the message
    LINK = "link"  # the click redirect's target: signs a URL of a send (see sign_link)


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


def _signature(mac: _PreparedHmac, message: bytes) -> str:
    return base64.urlsafe_b64encode(mac.digest(message)[:SIGNATURE_BYTES]).rstrip(b"=").decode()


class LinkSigner:
    def __init__(self, secret_key: str) -> None:
        keys = {
            purpose: hmac.new(
                secret_key.encode(), f"distro-link-{purpose}".encode(), "sha256"
            ).digest()
            for purpose in LinkPurpose
        }
        # itsdangerous verifies (constant-time, with its error handling); signing, which runs
        # several times per recipient on the send path, uses HMAC states prepared once (see
        # _PreparedHmac) and writes the same token format: <value>.<url-safe base64 signature,
        # unpadded>.
        self._signers = {
            purpose: Signer(key, key_derivation="none", algorithm=_TruncatedHMAC(hashlib.sha256))
            for purpose, key in keys.items()
        }
        self._macs = {purpose: _PreparedHmac(key) for purpose, key in keys.items()}

    def sign(self, purpose: LinkPurpose, message_id: int) -> str:
        value = str(message_id)
        return f"{value}.{_signature(self._macs[purpose], value.encode())}"

    def verify(self, purpose: LinkPurpose, token: str) -> int | None:
        """The message id the token names, or None when it is forged or malformed."""
        try:
            value = self._signers[purpose].unsign(token.encode())
        except (BadSignature, UnicodeEncodeError):
            return None
        return _id(value.decode("ascii", "replace"))

    def sign_link(self, send_id: int, url: str) -> str:
        """The link token that lets the messages of send ``send_id`` redirect to ``url``."""
        value = str(send_id)
        return f"{value}.{_signature(self._macs[LinkPurpose.LINK], _link_message(value, url))}"

    def verify_link(self, token: str, url: str) -> int | None:
        """The send id, when ``token`` was made for ``url`` in that send; else None."""
        value, dot, signature = token.partition(".")
        if not dot or _id(value) is None:
            return None
        try:
            message = _link_message(value, url)
        except UnicodeEncodeError:  # a lone surrogate: no URL we signed
            return None
        expected = _signature(self._macs[LinkPurpose.LINK], message)
        given = signature.encode("utf-8", "replace")
        return int(value) if hmac.compare_digest(expected.encode(), given) else None


def _link_message(send_id: str, url: str) -> bytes:
    return f"{send_id}\n{url}".encode()  # the id is digits: the first newline splits them


def _id(value: str) -> int | None:
    return (
        int(value) if value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS else None
    )
