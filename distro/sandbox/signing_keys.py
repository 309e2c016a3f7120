"""The keys and secrets one sandbox signs its webhooks with, created on first use.

Key generation takes tens of milliseconds (RSA), so nothing is made at import or start-up: a
sandbox that never posts SendGrid or SES webhooks never generates their keys. A lock makes sure
two webhook threads asking at once get the same key.
"""

from __future__ import annotations

import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from distro.sandbox.options import WebhookOptions
from distro.tracking import signatures, sns_signatures

#: Where the keys router serves the SNS certificate, under the sandbox's public base URL.
SNS_CERT_PATH = "/keys/sns-cert.pem"


class SandboxKeys:
    """SendGrid's ECDSA key, the SNS RSA key and certificate, and the shared secrets."""

    def __init__(self, options: WebhookOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._sendgrid: ec.EllipticCurvePrivateKey | None = None
        self._sns: tuple[rsa.RSAPrivateKey, str] | None = None

    @property
    def sendgrid_private_key(self) -> ec.EllipticCurvePrivateKey:
        with self._lock:
            if self._sendgrid is None:
                pem = self.options.sendgrid_private_key_pem or signatures.generate_sendgrid_key()[0]
                self._sendgrid = signatures.load_sendgrid_private_key(pem)
            return self._sendgrid

    @property
    def sendgrid_public_key(self) -> str:
        """As SendGrid shows it: base64 DER, for distro's SendGrid verification key setting."""
        return signatures.sendgrid_public_key(self.sendgrid_private_key)

    def _sns_pair(self) -> tuple[rsa.RSAPrivateKey, str]:
        with self._lock:
            if self._sns is None:
                pem = self.options.sns_private_key_pem or sns_signatures.generate_sns_key()
                key = sns_signatures.load_sns_private_key(pem)
                self._sns = key, sns_signatures.self_signed_certificate(key)
            return self._sns

    @property
    def sns_private_key(self) -> rsa.RSAPrivateKey:
        return self._sns_pair()[0]

    @property
    def sns_certificate_pem(self) -> str:
        return self._sns_pair()[1]

    @property
    def sns_cert_url(self) -> str:
        """``SigningCertURL``: the keys router's certificate, at the sandbox's public URL."""
        return self.options.public_base_url.rstrip("/") + SNS_CERT_PATH

    def describe(self) -> dict[str, Any]:
        """What a receiver needs to verify this sandbox's webhooks (all of it, secrets too)."""
        return {
            "sendgrid": {"public_key": self.sendgrid_public_key},
            "mailgun": {"signing_key": self.options.mailgun_signing_key},
            "resend": {"secret": self.options.resend_secret},
            "ses": {
                "topic_arn": self.options.sns_topic_arn,
                "signing_cert_url": self.sns_cert_url,
                "signature_version": self.options.sns_signature_version,
            },
        }
