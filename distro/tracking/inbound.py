"""Which webhook formats distro accepts, and which configured provider sent a request.

A webhook URL names a wire format (``/webhooks/sendgrid``); the credentials or signature on the
request tell which configured provider it came from, so two accounts of one provider stay apart:
Postmark by its Basic credentials, SendGrid by the public key that verifies, Mailgun and Resend by
the secret that does, SES by the SNS topic (and then the signature). Each source authenticates
before it believes anything in the body, then parses. A provider with no webhook secret
configured accepts no webhooks.

Normalising ends here: a provider that saw a click on one of our rewritten links reports our
redirect URL, and each source gives the event the page the journalist went to instead
(``unwrapped``), so reports, suppression and outgoing webhooks never see our redirect.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from distro.config import Settings
from distro.config_providers import (
    MailgunProvider,
    PostmarkProvider,
    ResendProvider,
    SandboxProvider,
    SendgridProvider,
    SesProvider,
)
from distro.errors import ConfigError, WebhookPayloadError
from distro.providers import sandbox_webhook_password
from distro.tracking import mailgun, mailgun_legacy, postmark, resend, sendgrid, ses, signatures
from distro.tracking.event import NormalisedEvent
from distro.tracking.payloads import load_json
from distro.tracking.rewrite import target_of
from distro.tracking.sns import SnsClient, SnsUnavailable, SnsUnverified

log = logging.getLogger(__name__)


class WebhookAuthError(Exception):
    """The request did not prove it came from a configured provider (401, or 403)."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.status = status


class WebhookUnavailable(Exception):
    """An authentic request cannot be acted on right now (SNS's confirmation URL is
    unreachable): answered 503 so the provider retries."""


@dataclass(frozen=True, slots=True)
class Received:
    """What one authenticated request said."""

    provider: str  # the configured provider's name
    events: list[NormalisedEvent]
    skipped: list[str] = field(default_factory=list)  # unreadable elements of a batch
    answer: dict[str, Any] = field(default_factory=dict)  # extra keys for the 2xx answer


class WebhookSource(Protocol):
    #: The answer to an authentic request whose body cannot be read.
    unreadable_status: ClassVar[int]
    #: A ``WWW-Authenticate`` value for 401 answers, if the scheme has one.
    challenge: ClassVar[str | None]

    def receive(self, headers: Mapping[str, str], body: bytes) -> Received:
        """Authenticate, then parse; raises the errors above, or ``WebhookPayloadError`` (answered
        with ``unreadable_status``) for an authentic body that cannot be read."""
        ...


# --- Postmark: HTTP Basic ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostmarkWebhooks:
    """Postmark's format, posted by real Postmark accounts and by distro's sandbox."""

    accounts: tuple[tuple[str, str, str], ...]  # (provider name, username, password)
    base_url: str = ""  # distro's own (server.base_url), whose click redirects are unwrapped
    unreadable_status: ClassVar[int] = 400
    challenge: ClassVar[str | None] = 'Basic realm="distro webhooks"'

    def receive(self, headers: Mapping[str, str], body: bytes) -> Received:
        provider = self.authenticate(headers)
        return Received(provider, unwrapped(postmark.parse(load_json(body)), self.base_url))

    def authenticate(self, headers: Mapping[str, str]) -> str:
        given = postmark.basic_credentials(headers)
        matched = None
        if given is not None:
            for name, username, password in self.accounts:
                # Every account is compared, so timing does not tell which one matched.
                if postmark.credentials_match(given, (username, password)) and matched is None:
                    matched = name
        if matched is None:
            raise WebhookAuthError("HTTP Basic credentials missing or wrong")
        return matched


# --- SendGrid: ECDSA over timestamp + body -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendgridAccount:
    name: str
    public_key: str  # base64 DER, as SendGrid shows it
    max_age: float


@dataclass(frozen=True, slots=True)
class SendgridWebhooks:
    accounts: tuple[SendgridAccount, ...]
    base_url: str = ""
    unreadable_status: ClassVar[int] = 400
    challenge: ClassVar[str | None] = None

    def receive(self, headers: Mapping[str, str], body: bytes) -> Received:
        signature = headers.get(signatures.SENDGRID_SIGNATURE_HEADER.lower(), "")
        timestamp = headers.get(signatures.SENDGRID_TIMESTAMP_HEADER.lower(), "")
        if not signature or not timestamp:
            raise WebhookAuthError("Signed Event Webhook headers missing")
        provider = next(
            (
                account.name
                for account in self.accounts
                if signatures.verify_sendgrid(
                    account.public_key, timestamp, body, signature, max_age=account.max_age
                )
            ),
            None,
        )
        if provider is None:
            raise WebhookAuthError("signature does not verify, or its timestamp is stale")
        events, skipped = sendgrid.parse(load_json(body))
        return Received(provider, unwrapped(events, self.base_url), skipped)


# --- Mailgun: HMAC of timestamp + token, inside the body ---------------------------------------


@dataclass(frozen=True, slots=True)
class MailgunWebhooks:
    accounts: tuple[tuple[str, str, float], ...]  # (provider name, signing key, max age)
    base_url: str = ""
    # 406 is how Mailgun is told to stop retrying: a body we cannot read never will be.
    unreadable_status: ClassVar[int] = 406
    challenge: ClassVar[str | None] = None

    def receive(self, headers: Mapping[str, str], body: bytes) -> Received:
        content_type = headers.get("content-type", "")
        if mailgun_legacy.is_form(content_type):  # a legacy webhook: the same signature, as fields
            fields = mailgun_legacy.read_form(content_type, body)
            provider = self.authenticate(mailgun_legacy.signature_fields, fields)
            return Received(provider, unwrapped(mailgun_legacy.parse(fields), self.base_url))
        payload = load_json(body)
        provider = self.authenticate(mailgun.signature_fields, payload)
        return Received(provider, unwrapped(mailgun.parse(payload), self.base_url))

    def authenticate(self, fields_of: Callable[[Any], tuple[str, str, str]], body: Any) -> str:
        """The account whose signing key verifies the body's (timestamp, token, signature)."""
        try:
            timestamp, token, signature = fields_of(body)
        except WebhookPayloadError as exc:  # no signature to check: not proven, not unreadable
            raise WebhookAuthError(str(exc)) from None
        provider = None
        for name, key, max_age in self.accounts:
            verified = signatures.verify_mailgun(key, timestamp, token, signature, max_age=max_age)
            if verified and provider is None:
                provider = name
        if provider is None:
            raise WebhookAuthError("signature does not verify, or its timestamp is stale")
        return provider


# --- Resend: Svix ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResendWebhooks:
    accounts: tuple[tuple[str, str], ...]  # (provider name, whsec_ secret)
    base_url: str = ""
    unreadable_status: ClassVar[int] = 400
    challenge: ClassVar[str | None] = None

    def receive(self, headers: Mapping[str, str], body: bytes) -> Received:
        delivery_id = headers.get(signatures.SVIX_ID_HEADER, "")
        timestamp = headers.get(signatures.SVIX_TIMESTAMP_HEADER, "")
        signature = headers.get(signatures.SVIX_SIGNATURE_HEADER, "")
        if not (delivery_id and timestamp and signature):
            raise WebhookAuthError("Svix headers missing")
        provider = None
        for name, secret in self.accounts:
            verified = signatures.verify_svix(secret, delivery_id, timestamp, signature, body)
            if verified and provider is None:
                provider = name
        if provider is None:
            raise WebhookAuthError("signature does not verify, or its timestamp is stale")
        events = resend.parse(load_json(body), delivery_id)
        return Received(provider, unwrapped(events, self.base_url))


# --- SES: SNS messages -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SesAccount:
    name: str
    topic_arn: str
    max_age: float
    trusted_cert_url: str = ""


@dataclass(frozen=True, slots=True)
class SesWebhooks:
    accounts: tuple[SesAccount, ...]
    sns: SnsClient = field(default_factory=SnsClient)
    base_url: str = ""
    unreadable_status: ClassVar[int] = 400
    challenge: ClassVar[str | None] = None

    def receive(self, headers: Mapping[str, str], body: bytes) -> Received:
        message = load_json(body)
        if not isinstance(message, dict):
            raise WebhookPayloadError("expected an SNS message (a JSON object)")
        topic = message.get("TopicArn")
        account = next((a for a in self.accounts if a.topic_arn == topic), None)
        if account is None:
            raise WebhookAuthError(f"TopicArn {str(topic)[:200]!r} is not configured", 403)
        trusted = (account.trusted_cert_url,) if account.trusted_cert_url else ()
        try:
            self.sns.verify(message, trusted_cert_urls=trusted, max_age=account.max_age)
        except SnsUnverified as exc:
            raise WebhookAuthError(str(exc), exc.status) from None
        kind = message["Type"]
        if kind == "SubscriptionConfirmation":
            return self._confirm(account, message)
        if kind == "UnsubscribeConfirmation":
            log.warning("SNS topic %s unsubscribed %s's endpoint", topic, account.name)
            return Received(account.name, [], answer={"acknowledged": kind})
        text = str(message.get("Message", ""))
        if ses.is_topic_validation(text):
            log.info("SES validated SNS topic %s for %s", topic, account.name)
            return Received(account.name, [], answer={"acknowledged": "topic validation"})
        events = ses.parse(load_json(text.encode()), _id(message))
        return Received(account.name, unwrapped(events, self.base_url))

    def _confirm(self, account: SesAccount, message: Mapping[str, Any]) -> Received:
        try:
            url = self.sns.confirm_subscription(message)
        except SnsUnverified as exc:
            raise WebhookAuthError(str(exc), exc.status) from None
        except SnsUnavailable as exc:
            raise WebhookUnavailable(str(exc)) from None
        log.info("confirmed SNS subscription of %s to %s", account.name, account.topic_arn)
        return Received(account.name, [], answer={"confirmed": url.split("?", 1)[0]})


def unwrapped(events: list[NormalisedEvent], base_url: str) -> list[NormalisedEvent]:
    """The events with each click on one of our redirect links (``base_url``/c/...) naming the
    page it leads to (``distro.tracking.rewrite.target_of``); other events as they are."""
    found = []
    for event in events:
        target = target_of(event.click_url, base_url)
        found.append(event if target == event.click_url else event._replace(click_url=target))
    return found


def _id(message: Mapping[str, Any]) -> str:
    value = message.get("MessageId")
    if not isinstance(value, str) or not value:
        raise WebhookPayloadError("SNS MessageId is missing")
    return value


# --- assembling --------------------------------------------------------------------------------


def webhook_sources(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> dict[str, WebhookSource]:
    """Every wire format, each knowing the configured accounts that may post it.

    ``transport`` carries the SNS certificate and subscription requests (tests mock it).
    ConfigError for a SendGrid public key that is not one.
    """
    postmarks: list[tuple[str, str, str]] = []
    sendgrids: list[SendgridAccount] = []
    mailguns: list[tuple[str, str, float]] = []
    resends: list[tuple[str, str]] = []
    sess: list[SesAccount] = []
    for name, config in settings.providers.items():
        if isinstance(config, PostmarkProvider):
            password = config.webhook_password.get_secret_value()
            postmarks.append((name, config.webhook_username, password))
        elif isinstance(config, SandboxProvider):
            password = sandbox_webhook_password(settings, config)
            postmarks.append((name, config.webhook_username, password))
        elif isinstance(config, SendgridProvider) and config.webhook_public_key:
            _check_public_key(name, config.webhook_public_key)
            sendgrids.append(
                SendgridAccount(name, config.webhook_public_key, config.webhook_max_age_seconds)
            )
        elif isinstance(config, MailgunProvider) and config.webhook_signing_key.get_secret_value():
            key = config.webhook_signing_key.get_secret_value()
            mailguns.append((name, key, config.webhook_max_age_seconds))
        elif isinstance(config, ResendProvider) and config.webhook_secret.get_secret_value():
            resends.append((name, config.webhook_secret.get_secret_value()))
        elif isinstance(config, SesProvider) and config.webhook_topic_arn:
            sess.append(
                SesAccount(
                    name,
                    config.webhook_topic_arn,
                    config.webhook_max_age_seconds,
                    config.webhook_trusted_cert_url,
                )
            )
    base_url = settings.server.base_url
    return {
        "postmark": PostmarkWebhooks(tuple(postmarks), base_url),
        "sendgrid": SendgridWebhooks(tuple(sendgrids), base_url),
        "mailgun": MailgunWebhooks(tuple(mailguns), base_url),
        "ses": SesWebhooks(tuple(sess), SnsClient(transport), base_url),
        "resend": ResendWebhooks(tuple(resends), base_url),
    }


def _check_public_key(name: str, value: str) -> None:
    try:
        key = serialization.load_der_public_key(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ConfigError(
            f"providers.{name}.webhook_public_key: not SendGrid's verification key "
            "(base64 of a DER ECDSA public key)"
        )
