"""Amazon SES events (the JSON in an SNS notification's ``Message``), normalised.

Both shapes SES publishes are read: event publishing (``eventType``, from a configuration set)
and the older identity notifications (``notificationType``: Bounce, Complaint, Delivery). One
SES event may name several recipients; each gets its own event, with the SNS ``MessageId`` and
the recipient as its id (SNS repeats the MessageId when it retries). Our message id is the
``distro_message_id`` tag SES echoes in ``mail.tags``; the provider id is ``mail.messageId``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from distro.errors import WebhookPayloadError
from distro.models import EventType
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking.event import BounceKind, NormalisedEvent, OptOutScope, Said
from distro.tracking.payloads import (
    as_object,
    enhanced_status,
    iso,
    optional_object,
    own_id,
    required,
    strings,
    text,
)

#: One recipient's part of an event: (recipient, type, what SES said of it).
Part = tuple[str, EventType, Said]
Reader = Callable[[Mapping[str, Any], Mapping[str, Any], list[str]], list[Part]]

#: Kinds with nothing to record against a message.
IGNORED = frozenset({"AmazonSnsSubscriptionSucceeded"})


#: The plain-text notification SES publishes once when a topic is set as an event destination.
TOPIC_VALIDATION = "Successfully validated SNS topic for Amazon SES event publishing."


def is_topic_validation(message: str) -> bool:
    """True for SES's plain-text "topic validated" notice: acknowledged, nothing to store."""
    return message.strip() == TOPIC_VALIDATION


def parse(ses_event: Any, notification_id: str) -> list[NormalisedEvent]:
    """Normalise one SES event; WebhookPayloadError if it cannot be read."""
    event = as_object(ses_event, "Message")
    name = text(event.get("eventType") or event.get("notificationType"))
    if not name:
        raise WebhookPayloadError("Message has no eventType or notificationType")
    if name in IGNORED:
        return []
    reader = READERS.get(name)
    if reader is None:
        raise WebhookPayloadError(f"unknown SES eventType {name[:100]!r}")
    mail = as_object(event.get("mail"), "Message.mail")
    provider_id = required(mail, "messageId", "mail")
    destination = strings(mail.get("destination"))
    body = optional_object(event.get(_BODY_KEYS.get(name, name[:1].lower() + name[1:])))
    occurred_at = _moment(body, mail)
    message_id = own_id(optional_object(mail.get("tags")).get(MESSAGE_ID_KEY))
    found: list[NormalisedEvent] = []
    for recipient, kind, said in reader(body, mail, destination):
        found.append(
            NormalisedEvent(
                type=kind,
                provider_event_id=f"{notification_id}:{recipient.lower()}",
                occurred_at=occurred_at,
                recipient=recipient,
                provider_message_id=provider_id,
                message_id=message_id,
                raw=event,
                **said,
            )
        )
    return found


# The event's own object is under the type's name in lower camel case, with these exceptions.
_BODY_KEYS = {"Rendering Failure": "failure", "DeliveryDelay": "deliveryDelay"}


def _moment(body: Mapping[str, Any], mail: Mapping[str, Any]) -> datetime:
    if body.get("timestamp"):
        return iso(body.get("timestamp"), "timestamp")
    return iso(mail.get("timestamp"), "mail.timestamp")


def _each(destination: list[str], kind: EventType, said: Said) -> list[Part]:
    if not destination:
        raise WebhookPayloadError("mail.destination is missing")
    return [(recipient, kind, said) for recipient in destination]


def _listed(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    entries = body.get(key)
    if not isinstance(entries, list) or not entries:
        raise WebhookPayloadError(f"{key} is missing")
    return [entry for entry in entries if isinstance(entry, dict) and entry.get("emailAddress")]


def _send(body: Mapping[str, Any], mail: Mapping[str, Any], dest: list[str]) -> list[Part]:
    return _each(dest, EventType.SENT, {})


def _delivery(body: Mapping[str, Any], mail: Mapping[str, Any], dest: list[str]) -> list[Part]:
    recipients = strings(body.get("recipients")) or dest
    response = text(body.get("smtpResponse"))
    return _each(recipients, EventType.DELIVERED, {"mta_response": response})


def _bounce(body: Mapping[str, Any], mail: Mapping[str, Any], dest: list[str]) -> list[Part]:
    kind = text(body.get("bounceType"))
    sub_kind = text(body.get("bounceSubType"))
    parts: list[Part] = []
    for entry in _listed(body, "bouncedRecipients"):
        response = text(entry.get("diagnosticCode"))
        said: Said = {
            # Permanent is a hard bounce; Transient and Undetermined may yet succeed.
            "bounce_kind": BounceKind.HARD if kind == "Permanent" else BounceKind.SOFT,
            "reason": sub_kind or kind,
            "description": f"{kind} bounce ({sub_kind})" if sub_kind else f"{kind} bounce",
            "mta_response": response,
            "smtp_status": text(entry.get("status")) or enhanced_status(response),
        }
        parts.append((text(entry["emailAddress"]), EventType.BOUNCED, said))
    return parts


def _complaint(body: Mapping[str, Any], mail: Mapping[str, Any], dest: list[str]) -> list[Part]:
    feedback = text(body.get("complaintFeedbackType")) or text(body.get("complaintSubType"))
    said: Said = {"description": feedback or "SES complaint"}
    return [
        (text(entry["emailAddress"]), EventType.COMPLAINED, said)
        for entry in _listed(body, "complainedRecipients")
    ]


def _reject(body: Mapping[str, Any], mail: Mapping[str, Any], dest: list[str]) -> list[Part]:
    reason = text(body.get("reason"))
    return _each(dest, EventType.REJECTED, {"reason": reason, "description": reason})


def _engagement(kind: EventType) -> Reader:
    def read(body: Mapping[str, Any], mail: Mapping[str, Any], dest: list[str]) -> list[Part]:
        said: Said = {
            "user_agent": text(body.get("userAgent")),
            "ip": text(body.get("ipAddress")),
            "click_url": text(body.get("link")) if kind == EventType.CLICKED else "",
        }
        return _each(dest, kind, said)

    return read


def _delay(body: Mapping[str, Any], mail: Mapping[str, Any], dest: list[str]) -> list[Part]:
    parts: list[Part] = []
    for entry in _listed(body, "delayedRecipients"):
        response = text(entry.get("diagnosticCode"))
        said: Said = {
            "reason": text(body.get("delayType")),
            "mta_response": response,
            "smtp_status": text(entry.get("status")) or enhanced_status(response),
        }
        parts.append((text(entry["emailAddress"]), EventType.DEFERRED, said))
    return parts


def _rendering_failure(
    body: Mapping[str, Any], mail: Mapping[str, Any], dest: list[str]
) -> list[Part]:
    said: Said = {"reason": "rendering failure", "description": text(body.get("errorMessage"))}
    return _each(dest, EventType.FAILED, said)


def _subscription(body: Mapping[str, Any], mail: Mapping[str, Any], dest: list[str]) -> list[Part]:
    """An opt-out through SES list management: only "unsubscribe from all" is one for distro
    (SES topics are not distro's beats)."""
    preferences = optional_object(body.get("newTopicPreferences"))
    if preferences.get("unsubscribeAll") is not True:
        return []
    said: Said = {"scope": OptOutScope.ALL, "description": "SES list unsubscribe"}
    return _each(dest, EventType.UNSUBSCRIBED, said)


READERS: dict[str, Reader] = {
    "Send": _send,
    "Delivery": _delivery,
    "Bounce": _bounce,
    "Complaint": _complaint,
    "Reject": _reject,
    "Open": _engagement(EventType.OPENED),
    "Click": _engagement(EventType.CLICKED),
    "DeliveryDelay": _delay,
    "Rendering Failure": _rendering_failure,
    "Subscription": _subscription,
}
