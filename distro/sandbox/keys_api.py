"""``GET /keys`` and ``GET /keys/sns-cert.pem``: what a receiver needs to verify the webhooks.

SES notifications name their certificate by URL (``SigningCertURL``), so the sandbox must serve
it; ``/keys`` lists the rest (SendGrid's public key, the Mailgun and Resend secrets, the SNS
topic) so distro's configuration can be pointed at a sandbox. It is a test double: the secrets
are served to anyone who asks.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from distro.sandbox.signing_keys import SNS_CERT_PATH
from distro.sandbox.webhooks import WebhookDispatcher


class _HasWebhooks(Protocol):
    @property
    def webhooks(self) -> WebhookDispatcher: ...


def build_keys_router(sandbox: _HasWebhooks) -> APIRouter:
    router = APIRouter()
    keys = sandbox.webhooks.keys

    @router.get("/keys")
    def describe_keys() -> dict[str, Any]:
        """Verification material for every provider format this sandbox posts."""
        return keys.describe()

    @router.get(SNS_CERT_PATH, response_class=PlainTextResponse)
    def sns_certificate() -> PlainTextResponse:
        """The self-signed certificate whose key signs this sandbox's SNS notifications."""
        return PlainTextResponse(keys.sns_certificate_pem, media_type="application/x-pem-file")

    return router
