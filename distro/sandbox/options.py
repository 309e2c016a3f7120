"""How one sandbox behaves: which credentials its APIs accept, what faults it injects, and
where and how it posts delivery webhooks. Plain frozen dataclasses, filled from config or flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: The provider APIs the sandbox speaks; also the ``api`` of every stored message.
APIS = ("postmark", "sendgrid", "mailgun", "ses", "resend")


@dataclass(frozen=True)
class FaultOptions:
    """Injected API failures; every rate is a share of sending requests, from 0 to 1."""

    rate_429: float = 0.0  # refused with 429 and a Retry-After header
    retry_after_seconds: int = 1
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_slow: float = 0.0  # answered after ``slow_seconds`` (a client timeout if it is shorter)
    slow_seconds: float = 5.0
    rate_drop_before: float = 0.0  # connection dropped before anything is accepted
    rate_drop_after: float = 0.0  # messages accepted and stored, then the connection dropped
    seed: int | None = None  # for repeatable fault sequences


@dataclass(frozen=True)
class WebhookOptions:
    """Where the sandbox reports what happened, in each provider's own format and auth."""

    #: API name (see APIS) -> URL that receives that provider's webhooks; missing = none posted.
    urls: Mapping[str, str] = field(default_factory=dict)
    attempts: int = 5  # retries with exponential backoff on non-2xx / connection errors
    basic_username: str = ""  # Postmark: HTTP Basic credentials on every POST
    basic_password: str = ""
    sendgrid_private_key_pem: str = ""  # ECDSA P-256; "" = a fresh key for this sandbox
    mailgun_signing_key: str = "sandbox-mailgun-signing-key"
    # The sandbox's Svix secret: fixed and public, like its other defaults; it guards nothing.
    resend_secret: str = "whsec_c2FuZGJveC1yZXNlbmQtc2VjcmV0LWtleQ=="  # noqa: S105
    sns_topic_arn: str = "arn:aws:sns:us-east-1:000000000000:distro-sandbox"
    sns_private_key_pem: str = ""  # RSA; "" = a fresh key for this sandbox
    sns_signature_version: str = "1"  # SNS SignatureVersion: "1" = SHA1 (AWS default), "2" = SHA256
    #: The URL this sandbox app is reachable at (with any mount prefix, no trailing slash);
    #: SES notifications' SigningCertURL points below it, at /keys/sns-cert.pem.
    public_base_url: str = ""
    #: Outcome name -> share of recipients given it when no address pattern decides.
    outcome_rates: Mapping[str, float] = field(default_factory=dict)
    seed: int | None = None


@dataclass(frozen=True)
class SandboxOptions:
    """Everything one sandbox needs."""

    #: Accepted secrets: Postmark server tokens, SendGrid and Resend bearer keys, Mailgun
    #: Basic-auth passwords (user ``api``).
    server_tokens: frozenset[str]
    #: SES: access key id -> secret access key, for checking SigV4 signatures.
    ses_credentials: Mapping[str, str] = field(default_factory=dict)
    webhooks: WebhookOptions = WebhookOptions()
    faults: FaultOptions = FaultOptions()
    #: Keep only this many newest messages (counts still cover all); None keeps everything.
    max_stored: int | None = None
    #: The largest request body accepted (Postmark takes batches of up to 50 MB).
    max_body_bytes: int = 50 << 20
    #: The address the sandbox is served on; beyond loopback it is refused unless
    #: ``expose_beyond_loopback`` (``--expose-sandbox``) says so (see ``distro.sandbox.exposure``).
    listen_host: str = "127.0.0.1"
    expose_beyond_loopback: bool = False
