"""The sections of the settings (``[database]``, ``[server]``, ``[sending]`` and the rest): what
each key may hold and its default.

Kept apart from the provider tables (``distro.config_providers``) and from the loading
(``distro.config``) so that each file has one job: this one says what a valid section looks like.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ByteSize, ConfigDict, Field, SecretStr, field_validator

from distro.keyfile import weak_key_reason
from distro.urls import WEB_SCHEMES, UrlError, check_url


def http_base(value: str, example: str = "") -> str:
    """An http(s) URL that others are appended to (no trailing slash), or "" for none."""
    if not value:
        return value
    try:
        return check_url(value, WEB_SCHEMES).rstrip("/")
    except UrlError as exc:
        raise ValueError(
            f"must be an http:// or https:// URL{f', {example}' if example else ''}: {exc}"
        ) from None


class Section(BaseModel):
    """A table of the settings: unknown keys are refused (a typo must not pass silently) and
    the values cannot be changed once loaded (every thread reads the same settings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: str = "sqlite:///distro.db"


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = ""
    secret_key: SecretStr = SecretStr("")

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str) -> str:
        # Every link in every email starts with it.
        return http_base(value, "such as https://press.example.org")

    @field_validator("secret_key")
    @classmethod
    def _secret_key_is_strong(cls, value: SecretStr) -> SecretStr:
        # Empty means "generate one into the key file"; anything else must be a real key.
        if (key := value.get_secret_value()) and (reason := weak_key_reason(key)):
            raise ValueError(reason)
        return value

    @property
    def base_url(self) -> str:
        """The base of every link in emails: ``public_url`` or the local listen address."""
        return self.public_url or f"http://{self.host}:{self.port}"


class SendingSettings(Section):
    provider: str = "sandbox"
    from_email: str = "newsroom@distro.example"
    from_name: str = "distro newsroom"
    reply_to: str = ""
    postal_address: str = "distro newsroom, 1 Example Street, Springfield"
    batch_size: int = Field(default=500, ge=1, le=10_000)
    concurrency: int = Field(default=4, ge=1, le=64)
    lease_seconds: int = Field(default=120, ge=5, le=3600)
    max_attempts: int = Field(default=8, ge=1, le=100)
    # How long a provider with a message search gets to index a message whose send answer was
    # lost before distro asks it (then resends only what it does not have).
    reconcile_seconds: float = Field(default=60, ge=0, le=86_400)
    # How long a lost answer's lookup may keep failing (5xx, timeouts) before distro stops
    # asking and leaves the message uncertain for `send resolve`. A refused lookup (4xx)
    # stops at once. At least a minute, the interval between two lookups.
    reconcile_deadline_seconds: float = Field(default=1800, ge=60, le=7 * 86_400)
    # Retryable failures wait base * 2^(attempt-1), jittered, capped (and never less than the
    # provider's Retry-After).
    retry_base_seconds: float = Field(default=2, gt=0, le=3600)
    retry_cap_seconds: float = Field(default=600, gt=0, le=86_400)

    @field_validator("from_email", "reply_to")
    @classmethod
    def _is_email(cls, value: str) -> str:
        if value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError(f"{value!r} is not an email address")
        return value


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SchedulerSettings(Section):
    max_lateness: timedelta = timedelta(minutes=15)
    poll_seconds: float = Field(default=1.0, gt=0, le=60)

    @field_validator("max_lateness", mode="before")
    @classmethod
    def _parse_duration(cls, value: Any) -> Any:
        if isinstance(value, str) and (match := _DURATION.match(value)):
            return timedelta(seconds=int(match[1]) * _DURATION_UNITS[match[2]])
        if isinstance(value, str) and not value.strip().startswith("P"):
            raise ValueError("expected a duration such as '90s', '15m', '2h' or '1d'")
        return value


class TemplateSettings(Section):
    folder: Path | None = None


class EmbargoSettings(Section):
    # Contacts with this tag may receive embargoed advance copies before the lift.
    trusted_tag: str = Field(default="embargo-ok", min_length=1)


class OutgoingWebhookSettings(Section):
    """Delivery of our normalised events to staff-registered URLs (distro.outgoing)."""

    # How often each worker looks for events to deliver.
    interval_seconds: float = Field(default=2.0, gt=0, le=3600)
    # Events per POST at most.
    batch_size: int = Field(default=100, ge=1, le=1000)
    # How long a receiver gets to answer; past it the batch is retried.
    timeout_seconds: float = Field(default=10, gt=0, le=300)
    # A failed batch waits base * 2^(failures-1), jittered, capped, and never less than the
    # receiver's Retry-After (itself honoured up to max_retry_after_seconds).
    retry_base_seconds: float = Field(default=10, gt=0, le=3600)
    retry_cap_seconds: float = Field(default=900, gt=0, le=86_400)
    max_retry_after_seconds: float = Field(default=3600, ge=0, le=86_400)
    # An endpoint is marked failing (and left alone until resumed) once it has failed this many
    # times in a row AND the first of those failures is this old.
    give_up_failures: int = Field(default=20, ge=1, le=10_000)
    give_up_after_seconds: float = Field(default=86_400, ge=0, le=30 * 86_400)
    # PostgreSQL only: events younger than this wait, so an id committed late is not skipped.
    settle_seconds: float = Field(default=5, ge=0, le=600)
    # Delivery log rows older than this are deleted.
    log_retention_days: int = Field(default=30, ge=1, le=3650)
    # Receivers on loopback, private, link-local, multicast or reserved addresses are refused
    # (at `hooks add` and on every delivery) unless this is true.
    allow_private_addresses: bool = False


class SuppressionSettings(Section):
    """When soft bounces put an address on the suppression list (hard ones do at once)."""

    soft_bounce_limit: int = Field(default=3, ge=1, le=1000)
    soft_bounce_window_days: float = Field(default=30, gt=0, le=3650)


class TrackingSettings(Section):
    # Open pixel and click redirect on distro's own links; a send can also switch them off.
    enabled: bool = True
    # An open or click this soon after delivery (or the hand-over, before a delivery report) is
    # a machine's: a privacy proxy fetching images, or a security scanner following links.
    machine_seconds: float = Field(default=10, ge=0, le=3600)


BodySize = Annotated[ByteSize, Field(ge=1, le=1 << 30)]


class LimitsSettings(Section):
    """The largest request body each class of route accepts (bytes, or a size such as "4MiB").

    A larger body is answered 413 as it streams in, before anything reads or authenticates it.
    """

    # POST /webhooks/*: SendGrid batches up to 768 KB of events per POST; the others send one
    # event (SNS at most 256 KB).
    webhook_body: BodySize = ByteSize(4 << 20)
    # The unsubscribe and preference forms (POST /u/*).
    form_body: BodySize = ByteSize(8 << 10)
    # The sandbox's emulated provider APIs (Postmark accepts batches of up to 50 MB).
    sandbox_body: BodySize = ByteSize(50 << 20)
    # Every other route.
    other_body: BodySize = ByteSize(8 << 10)
