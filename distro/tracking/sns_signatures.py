"""How SNS proves a notification (SES events) came from AWS: RSA over the canonical string-to-sign,
checked with the certificate at an AWS URL; and the sandbox's side, signing with its own key.

Apart from the HMAC and ECDSA schemes of ``distro.tracking.signatures`` because SNS alone brings
certificates, key generation and URL rules; ``distro.tracking.sns`` fetches and caches the
certificates. Like the others, verifiers return False for anything malformed instead of raising.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from distro.tracking.signatures import b64decode_or_none

#: The host pattern AWS SDK message validators accept for ``SigningCertURL``.
SNS_CERT_HOST = re.compile(r"^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$")

_SNS_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SNS_SUBSCRIPTION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_SNS_KEYS_BY_TYPE = {
    "Notification": _SNS_NOTIFICATION_KEYS,
    "SubscriptionConfirmation": _SNS_SUBSCRIPTION_KEYS,
    "UnsubscribeConfirmation": _SNS_SUBSCRIPTION_KEYS,
}
_SNS_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


def sns_string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The ``name\\nvalue\\n`` lines AWS documents for the message's ``Type``.

    Notification: Message, MessageId, Subject (only if present), Timestamp, TopicArn, Type.
    SubscriptionConfirmation / UnsubscribeConfirmation: Message, MessageId, SubscribeURL,
    Timestamp, Token, TopicArn, Type. ValueError for another type or a missing field.
    """
    keys = _SNS_KEYS_BY_TYPE.get(str(message.get("Type")))
    if keys is None:
        raise ValueError(f"unknown SNS message Type {message.get('Type')!r}")
    lines: list[str] = []
    for key in keys:
        if key not in message:
            if key == "Subject":
                continue
            raise ValueError(f"SNS message without {key}")
        value = message[key]
        if not isinstance(value, str):
            raise ValueError(f"SNS {key} is not a string")
        lines.append(f"{key}\n{value}\n")
    return "".join(lines).encode()


def generate_sns_key() -> str:
    """A new 2048-bit RSA private key, PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_sns_private_key(private_key_pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the SNS signing key must be an RSA private key")
    return key


def self_signed_certificate(
    private_key: str | rsa.RSAPrivateKey,
    common_name: str = "sns.sandbox.invalid",
    days: int = 3650,
) -> str:
    """A self-signed certificate PEM for ``private_key`` (the sandbox's stand-in for AWS's)."""
    if isinstance(private_key, str):
        private_key = load_sns_private_key(private_key)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def sign_sns(
    message: Mapping[str, Any], private_key: str | rsa.RSAPrivateKey, version: str = "1"
) -> str:
    """The base64 ``Signature`` of ``message`` (SignatureVersion 1 = SHA1, 2 = SHA256)."""
    algorithm = _SNS_HASHES.get(version)
    if algorithm is None:
        raise ValueError(f"unknown SNS SignatureVersion {version!r}")
    if isinstance(private_key, str):
        private_key = load_sns_private_key(private_key)
    signature = private_key.sign(sns_string_to_sign(message), padding.PKCS1v15(), algorithm())
    return base64.b64encode(signature).decode()


def verify_sns(message: Mapping[str, Any], certificate_pem: str | bytes) -> bool:
    """True if ``message['Signature']`` is the certificate key's over the string-to-sign.

    Fetch the certificate only from a URL ``is_trusted_sns_cert_url`` accepts.
    """
    algorithm = _SNS_HASHES.get(str(message.get("SignatureVersion")))
    encoded = message.get("Signature")
    signature = b64decode_or_none(encoded) if isinstance(encoded, str) else None
    if algorithm is None or not signature:
        return False
    try:
        signed = sns_string_to_sign(message)
        pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
        key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError:
        return False
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        return False
    return True


def is_trusted_sns_cert_url(url: str, trusted: Iterable[str] = ()) -> bool:
    """True for an HTTPS ``.pem`` URL on ``sns.<region>.amazonaws.com``, or one of ``trusted``.

    ``trusted`` holds exact URLs deliberately accepted besides AWS's, such as a sandbox's.
    """
    if url in tuple(trusted):
        return True
    return is_sns_https_url(url) and urlsplit(url).path.endswith(".pem")


def is_sns_https_url(url: str) -> bool:
    """True for an HTTPS URL on ``sns.<region>.amazonaws.com``: no credentials, no port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.username is None
        and port is None
        and parts.hostname is not None
        and parts.netloc.lower() == parts.hostname
        and SNS_CERT_HOST.match(parts.hostname) is not None
    )
