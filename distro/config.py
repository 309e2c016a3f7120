"""Settings: built-in defaults, overlaid by a TOML file, overlaid by DISTRO_* variables.

The file is the first of: ``--config PATH``, ``$DISTRO_CONFIG``, ``./config.toml``; with none of
them distro runs on the embedded defaults (a SQLite file in the working directory and the
built-in sandbox provider). A single key is overridden from the environment with its dotted path
in upper case, sections joined by a double underscore: ``DISTRO_DATABASE__URL``,
``DISTRO_PROVIDERS__POSTMARK__SERVER_TOKEN``. That keeps secrets out of the file.

Nothing here runs at import time; ``load_settings`` does all the reading.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from distro.config_errors import describe_errors
from distro.errors import ConfigError
from distro.keyfile import key_from_file, weak_key_reason
from distro.urls import WEB_SCHEMES, UrlError, check_url

ENV_PREFIX = "DISTRO_"
ENV_SEPARATOR = "__"
DEFAULT_CONFIG_FILE = "config.toml"
SECRET_FILE = ".distro-secret"  # noqa: S105 (a file name, not a secret)


def _http_base(value: str, example: str = "") -> str:
    """An http(s) URL that others are appended to (no trailing slash), or "" for none."""
    if not value:
        return value
    try:
        return check_url(value, WEB_SCHEMES).rstrip("/")
    except UrlError as exc:
        raise ValueError(
            f"must be an http:// or https:// URL{f', {example}' if example else ''}: {exc}"
        ) from None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str = "sqlite:///distro.db"


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = ""
    secret_key: SecretStr = SecretStr("")

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str) -> str:
        # Every link in every email starts with it.
        return _http_base(value, "such as https://press.example.org")

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


class SendingSettings(_Section):
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


class SchedulerSettings(_Section):
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


class TemplateSettings(_Section):
    folder: Path | None = None


class EmbargoSettings(_Section):
    # Contacts with this tag may receive embargoed advance copies before the lift.
    trusted_tag: str = Field(default="embargo-ok", min_length=1)


class OutgoingWebhookSettings(_Section):
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


class SuppressionSettings(_Section):
    """When soft bounces put an address on the suppression list (hard ones do at once)."""

    soft_bounce_limit: int = Field(default=3, ge=1, le=1000)
    soft_bounce_window_days: float = Field(default=30, gt=0, le=3650)


class TrackingSettings(_Section):
    # Open pixel and click redirect on distro's own links; a send can also switch them off.
    enabled: bool = True
    # An open or click this soon after delivery (or the hand-over, before a delivery report) is
    # a machine's: a privacy proxy fetching images, or a security scanner following links.
    machine_seconds: float = Field(default=10, ge=0, le=3600)


BodySize = Annotated[ByteSize, Field(ge=1, le=1 << 30)]


class LimitsSettings(_Section):
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


class _ProviderBase(_Section):
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
        return _http_base(value)


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


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    sending: SendingSettings = SendingSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    templates: TemplateSettings = TemplateSettings()
    embargo: EmbargoSettings = EmbargoSettings()
    tracking: TrackingSettings = TrackingSettings()
    outgoing_webhooks: OutgoingWebhookSettings = OutgoingWebhookSettings()
    suppression: SuppressionSettings = SuppressionSettings()
    limits: LimitsSettings = LimitsSettings()
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    # Where the settings came from, for messages; not a config key.
    source: str = Field(default="built-in defaults", exclude=True)

    @model_validator(mode="after")
    def _default_provider_exists(self) -> Settings:
        if self.sending.provider not in self.providers:
            known = ", ".join(sorted(self.providers)) or "none"
            # The check spans two sections, so its error has no location: ctx["key"] names it.
            raise PydanticCustomError(
                "unknown_provider",
                "{provider} is not a [providers.NAME] table (configured: {known})",
                {
                    "provider": repr(self.sending.provider),
                    "known": known,
                    "key": "sending.provider",
                },
            )
        return self

    def provider(self, name: str | None = None) -> ProviderSettings:
        """The provider called ``name``, or the default one."""
        key = name or self.sending.provider
        try:
            return self.providers[key]
        except KeyError:
            known = ", ".join(sorted(self.providers))
            raise ConfigError(f"unknown provider {key!r} (configured: {known})") from None


BUILT_IN: dict[str, Any] = {"providers": {"sandbox": {"type": "sandbox"}}}


def config_path(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The config file to read, following the documented lookup order; None means defaults."""
    if explicit:
        return _existing(Path(explicit), "--config")
    environ = os.environ if environ is None else environ
    if env_path := environ.get(f"{ENV_PREFIX}CONFIG"):
        return _existing(Path(env_path), "DISTRO_CONFIG")
    local = Path(DEFAULT_CONFIG_FILE)
    return local if local.is_file() else None


def _existing(path: Path, named_by: str) -> Path:
    if not path.is_file():
        raise ConfigError(f"config file {path} (named by {named_by}) does not exist")
    return path


def load_settings(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read, merge and validate the settings; raise ConfigError naming the bad key."""
    environ = os.environ if environ is None else environ
    path = config_path(explicit, environ)
    data = _deep_merge({}, BUILT_IN)
    if path is not None:
        data = _deep_merge(data, _read_toml(path))
    env_keys = _apply_env(data, environ)
    source = str(path) if path else "built-in defaults"
    try:
        return Settings.model_validate({**data, "source": source})
    except pydantic.ValidationError as exc:
        raise ConfigError(describe_errors(exc, source, env_keys, PROVIDER_TYPES)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``top`` over ``base``, sections merged and copied (never shared with either)."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping):
            current = merged.get(key)
            merged[key] = _deep_merge(current if isinstance(current, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Overlay DISTRO_A__B=value as data[a][b]; return {dotted key: variable name}."""
    applied: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or ENV_SEPARATOR not in name:
            continue
        path = name[len(ENV_PREFIX) :].lower().split(ENV_SEPARATOR)
        if not all(path):
            raise ConfigError(f"environment variable {name}: empty key part")
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: {part} is not a section")
            node = child
        node[path[-1]] = value
        applied[".".join(path)] = name
    return applied


def secret_key(settings: Settings) -> str:
    """The signing key: from config/env, else one generated once into ``SECRET_FILE``.

    A generated key suits a single-host set-up; several hosts must share a configured key. A
    configured key's strength was checked when the settings were validated; the file's is
    checked as it is read (see ``distro.keyfile``).
    """
    configured = settings.server.secret_key.get_secret_value()
    return configured or key_from_file(Path(SECRET_FILE))
