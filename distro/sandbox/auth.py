"""Reading and checking the credentials the emulated APIs accept.

Every comparison is constant-time and runs against every known secret, so response timing does
not reveal which secret, or which prefix of one, a caller got right.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable

from starlette.requests import Request


def secret_matches(candidate: str, secrets: Iterable[str]) -> bool:
    given = candidate.encode()
    matches = [hmac.compare_digest(given, known.encode()) for known in secrets]
    return any(matches)


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(user, password)`` of an ``Authorization: Basic`` header, or None."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None
