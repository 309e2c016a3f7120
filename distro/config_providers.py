"""The ``[providers.NAME]`` tables: one model per provider type, told apart by their ``type`` key.

Each provider's adapter (``distro.providers``) and webhook check (``distro.tracking.inbound``)
import its model from here; ``distro.config`` holds them in ``Settings.providers``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator

from distro.config_sections import Section, http_base


class _ProviderBase(Section):
    base_url: str
    # Messages per second handed to this provider by one process; 0 = no limit.
    rate_per_second: float = Field(default=0, ge=0)
    # Requests to this provider in flight at once, per process.
    max_in_flight: int = Field(default=4, ge=1, le=256)
    # How long to wait for an answer; past it the hand-over's outcome is unknown.
    timeout_seconds: float = Field(default=30, gt=0, le=600)

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        return http_base(value)


class PostmarkProvider(_ProviderBase):
    type: Literal["postmark"]
    base_url: str = "https://api.postmarkapp.com"
    server_token: SecretStr
    message_stream: str = "broadcast"
    webhook_username: str = ""
    webhook_password: SecretStr = SecretStr("")


class SendgridProvider(_ProviderBase):
    type: Literal["sendgrid"]
    base_url: str = "https://api.sendgrid.com"
    api_key: SecretStr
    # The Signed Event Webhook's public key (base64 DER); empty: its webhooks are refused.
    webhook_public_key: str = ""
    # How old a signed webhook's timestamp may be (and how far ahead of our clock), seconds.
    webhook_max_age_seconds: float = Field(default=300.0, gt=0, le=86_400)


class MailgunProvider(_ProviderBase):
    type: Literal["mailgun"]
    base_url: str = "https://api.mailgun.net"
    api_key: SecretStr
    domain: str
    webhook_signing_key: SecretStr = SecretStr("")
    # How old a signed webhook's timestamp may be (and how far ahead of our clock), seconds.
    webhook_max_age_seconds: float = Field(default=300.0, gt=0, le=86_400)


class SesProvider(_ProviderBase):
    type: Literal["ses"]
    base_url: str = ""
    region: str = "us-east-1"
    access_key_id: str
    secret_access_key: SecretStr
    configuration_set: str = ""
    # The SNS topic the configuration set publishes to; its notifications name it (TopicArn).
    # Empty: SES webhooks are refused.
    webhook_topic_arn: str = ""
    # SNS retries a notification (same signature, same Timestamp) for up to an hour.
    webhook_max_age_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    # One exact SigningCertURL trusted besides AWS's https://sns.<region>.amazonaws.com/*.pem:
    # only for distro's sandbox (http://HOST:PORT/keys/sns-cert.pem).
    webhook_trusted_cert_url: str = ""


class ResendProvider(_ProviderBase):
    type: Literal["resend"]
    base_url: str = "https://api.resend.com"
    api_key: SecretStr
    webhook_secret: SecretStr = SecretStr("")


class SmtpProvider(_ProviderBase):
    type: Literal["smtp"]
    base_url: str = ""
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    username: str = ""
    password: SecretStr = SecretStr("")
    security: Literal["starttls", "tls", "none"] = "starttls"


class SandboxProvider(_ProviderBase):
    """The built-in ESP emulator; it speaks Postmark's API and posts Postmark webhooks."""

    type: Literal["sandbox"]
    # Empty: the sandbox mounted inside `distro serve`, at {server base URL}/sandbox.
    base_url: str = ""
    server_token: SecretStr = SecretStr("sandbox-server-token")
    webhook_username: str = "sandbox"
    # Empty: derived from server.secret_key, so the default set-up needs no extra secret.
    webhook_password: SecretStr = SecretStr("")


ProviderSettings = Annotated[
    PostmarkProvider
    | SendgridProvider
    | MailgunProvider
    | SesProvider
    | ResendProvider
    | SmtpProvider
    | SandboxProvider,
    Field(discriminator="type"),
]
PROVIDER_TYPES = ("postmark", "sendgrid", "mailgun", "ses", "resend", "smtp", "sandbox")
