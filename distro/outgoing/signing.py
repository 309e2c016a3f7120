"""How outgoing webhooks are signed, and how a receiver checks them.

Every POST carries two headers::

    X-Distro-Timestamp: 1763800000
    X-Distro-Signature: v1=<hex HMAC-SHA256 of b"{timestamp}." + raw body, keyed with the secret>

The key is the endpoint's secret (printed once by ``distro hooks add``) as UTF-8 bytes. The
timestamp is signed with the body so a captured request cannot be replayed later; receivers
reject timestamps outside a tolerance. Several ``v1=`` entries may appear, comma separated, so a
secret could be rolled without a gap; one valid entry suffices.

This module uses only the standard library: a Python receiver may copy ``verify_signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Distro-Timestamp"
SIGNATURE_HEADER = "X-Distro-Signature"
DELIVERY_HEADER = "X-Distro-Delivery"
SCHEME = "v1"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``{timestamp}.{body}`` keyed with ``secret``."""
    signed = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Distro-Signature`` value for one request."""
    return f"{SCHEME}={signature(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    tolerance: float = 300,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (X-Distro-Signature) signs ``body`` at ``timestamp``
    (X-Distro-Timestamp) with ``secret``, and the timestamp is within ``tolerance`` seconds of
    ``now`` (default: the current time). Pass the body exactly as received, before parsing."""
    if not timestamp.isdigit():
        return False
    moment = time.time() if now is None else now
    if abs(moment - int(timestamp)) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    for part in header.split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == SCHEME and hmac.compare_digest(value.strip(), expected):
            return True
    return False
