"""How each email provider proves a webhook came from it: signing and verifying, as pure functions.

The sandbox signs with these and distro's webhook endpoints verify with them, so both sides share
one reading of the providers' documents. Verifiers return False for anything malformed instead of
raising: an unauthenticated request is answered the same way whatever is wrong with it. Secret
comparisons go through ``hmac.compare_digest``; public-key checks are the library's.
SNS's scheme (RSA, certificates, AWS URLs) is in ``distro.tracking.sns_signatures``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
SVIX_ID_HEADER = "svix-id"
SVIX_TIMESTAMP_HEADER = "svix-timestamp"
SVIX_SIGNATURE_HEADER = "svix-signature"
#: Svix's own replay window, both ways, in seconds.
SVIX_TOLERANCE = 5 * 60

_SVIX_PREFIX = "whsec_"


def b64decode_or_none(value: str) -> bytes | None:
    """Strict base64, or None for anything malformed: a verifier then answers False, never
    raises (``distro.tracking.sns_signatures`` shares it)."""
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _parse_time(value: str | int | float) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fresh(timestamp: float, now: float | None, max_age: float | None, max_ahead: float) -> bool:
    """Within ``max_age`` seconds in the past and ``max_ahead`` in the future (None: no limit)."""
    if max_age is None:
        return True
    age = (time.time() if now is None else now) - timestamp
    return -max_ahead <= age <= max_age


# --- SendGrid: ECDSA P-256 / SHA-256 over timestamp + body -----------------------------------


def generate_sendgrid_key() -> tuple[str, str]:
    """A new key pair: (private key PEM, public key as SendGrid shows it: base64 DER SPKI)."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, sendgrid_public_key(private_key)


def load_sendgrid_private_key(private_key_pem: str) -> ec.EllipticCurvePrivateKey:
    """Parse a P-256 private key PEM; ValueError for anything else."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the SendGrid signing key must be an ECDSA P-256 private key")
    return key


def sendgrid_public_key(private_key: str | ec.EllipticCurvePrivateKey) -> str:
    """The public half in SendGrid's format (base64 of the DER SubjectPublicKeyInfo)."""
    if isinstance(private_key, str):
        private_key = load_sendgrid_private_key(private_key)
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sign_sendgrid(
    private_key: str | ec.EllipticCurvePrivateKey, timestamp: str, body: bytes
) -> str:
    """The ``X-Twilio-Email-Event-Webhook-Signature`` value: base64 DER ECDSA signature."""
    if isinstance(private_key, str):
        private_key = load_sendgrid_private_key(private_key)
    signature = private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


def verify_sendgrid(
    public_key: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    max_age: float | None = None,
    now: float | None = None,
) -> bool:
    """True if ``signature`` is the account key's over ``timestamp + body``.

    SendGrid documents no replay window, so ``max_age`` (seconds, also the allowed clock skew
    ahead) is off unless given.
    """
    stamp = _parse_time(timestamp)
    der_key = b64decode_or_none(public_key)
    der_signature = b64decode_or_none(signature)
    if stamp is None or der_key is None or not der_signature:
        return False
    if not _fresh(stamp, now, max_age, max_ahead=max_age or 0.0):
        return False
    try:
        key = serialization.load_der_public_key(der_key)
    except ValueError:
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(der_signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# --- Mailgun: hex HMAC-SHA256 of timestamp + token --------------------------------------------


def sign_mailgun(signing_key: str, timestamp: str, token: str) -> str:
    """The hex ``signature`` Mailgun puts next to ``timestamp`` and ``token`` in the body."""
    return hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def mailgun_signature(signing_key: str, now: float | None = None) -> dict[str, str]:
    """A complete ``signature`` object with a fresh 50-character token."""
    timestamp = str(int(time.time() if now is None else now))
    token = secrets.token_hex(25)
    return {
        "timestamp": timestamp,
        "token": token,
        "signature": sign_mailgun(signing_key, timestamp, token),
    }


def verify_mailgun(
    signing_key: str,
    timestamp: str,
    token: str,
    signature: str,
    *,
    max_age: float | None = None,
    now: float | None = None,
) -> bool:
    """True if ``signature`` matches; ``max_age`` (seconds, both ways) rejects replays too."""
    stamp = _parse_time(timestamp)
    if stamp is None or not token or not signing_key:
        return False
    if not _fresh(stamp, now, max_age, max_ahead=max_age or 0.0):
        return False
    expected = sign_mailgun(signing_key, timestamp, token)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


# --- Svix (Resend): base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" ----------------------------


def _svix_key(secret: str) -> bytes | None:
    encoded = secret.removeprefix(_SVIX_PREFIX)
    key = b64decode_or_none(encoded)
    return key or None


def sign_svix(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """One ``svix-signature`` entry, ``v1,<base64>``; ValueError for a malformed secret."""
    key = _svix_key(secret)
    if key is None:
        raise ValueError("a Svix secret is 'whsec_' followed by base64")
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def svix_headers(
    secret: str, message_id: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    """The three headers of one Svix delivery, signed at ``now``."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        SVIX_ID_HEADER: message_id,
        SVIX_TIMESTAMP_HEADER: timestamp,
        SVIX_SIGNATURE_HEADER: sign_svix(secret, message_id, timestamp, body),
    }


def verify_svix(
    secret: str,
    message_id: str,
    timestamp: str,
    signature_header: str,
    body: bytes,
    *,
    tolerance: float = SVIX_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True if any ``v1,`` entry of the space-separated header matches, within ``tolerance``."""
    stamp = _parse_time(timestamp)
    key = _svix_key(secret)
    if stamp is None or key is None or not message_id or not timestamp.strip().isdigit():
        return False
    if not _fresh(stamp, now, tolerance, max_ahead=tolerance):
        return False
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = hmac.new(key, signed, hashlib.sha256).digest()
    matched = False
    for entry in signature_header.split():
        version, _, encoded = entry.partition(",")
        given = b64decode_or_none(encoded) if version == "v1" else None
        # Every entry is compared, so the time taken does not say which one matched.
        if given is not None and hmac.compare_digest(expected, given):
            matched = True
    return matched


# --- Postmark: HTTP Basic credentials ---------------------------------------------------------


def check_basic_auth(authorization: str, accepted: Iterable[tuple[str, str]]) -> bool:
    """True if the ``Authorization`` header carries one of the (user, password) pairs.

    Every pair is compared in full, so timing does not reveal which part was wrong.
    """
    scheme, _, encoded = authorization.strip().partition(" ")
    decoded = b64decode_or_none(encoded) if scheme.lower() == "basic" else None
    if decoded is None:
        return False
    user, sep, password = decoded.partition(b":")
    if not sep:
        return False
    matched = False
    for expected_user, expected_password in accepted:
        if not expected_password:
            continue
        user_ok = hmac.compare_digest(user, expected_user.encode())
        password_ok = hmac.compare_digest(password, expected_password.encode())
        matched |= user_ok & password_ok
    return matched
