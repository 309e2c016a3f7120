"""Endpoint secrets: generated once, shown once, stored encrypted.

A signing secret cannot be stored as a hash (distro must sign with it), so it is sealed with
Fernet (AES-128-CBC + HMAC) under a key derived from ``server.secret_key``: a copy of the
database alone does not give the secrets away. The price: after a change of
``server.secret_key`` the old secrets cannot be read, and each endpoint needs
``distro hooks rotate-secret``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

from distro.errors import ConfigError

SECRET_PREFIX = "dwhsec_"  # noqa: S105 (a prefix, not a secret)
_KEY_LABEL = b"distro outgoing webhook secrets v1"


def new_secret() -> str:
    """A fresh endpoint secret: 256 random bits, URL-safe."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _fernet(server_key: str) -> Fernet:
    derived = hmac.new(server_key.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(secret: str, server_key: str) -> str:
    """``secret`` encrypted for storage."""
    return _fernet(server_key).encrypt(secret.encode("utf-8")).decode("ascii")


def unseal(sealed: str, server_key: str, endpoint_id: int | None = None) -> str:
    """The secret back, or a ConfigError saying why it cannot be read."""
    try:
        return _fernet(server_key).decrypt(sealed.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        which = f"webhook {endpoint_id}" if endpoint_id is not None else "a webhook"
        fix = f"distro hooks rotate-secret {endpoint_id}" if endpoint_id else "rotate-secret"
        raise ConfigError(
            f"the signing secret of {which} cannot be decrypted: server.secret_key is not the "
            f"one it was stored with; run `{fix}` and give the receiver the new secret"
        ) from None
