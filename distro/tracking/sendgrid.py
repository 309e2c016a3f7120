"""SendGrid's Event Webhook: a JSON array of up to 1000 events per POST, normalised.

Each event carries our ``custom_args`` spread into it (our message id under ``MESSAGE_ID_KEY``)
and ``sg_message_id``, whose part before the first "." is the request's ``X-Message-Id`` that
distro keeps as every message's provider id. ``sg_event_id`` is unique per event and repeats when
SendGrid retries, so it is the dedup key. An element that cannot be read is skipped (and
reported) rather than failing the array: SendGrid would retry the whole array for 24 hours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from distro.errors import WebhookPayloadError
from distro.models import EventType
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking.event import BounceKind, NormalisedEvent, OptOutScope, Said
from distro.tracking.payloads import Parsed, enhanced_status, epoch, own_id, text

#: Reads one event kind: its normalised type and what SendGrid said of it.
Reader = Callable[[Mapping[str, Any]], tuple[EventType, Said]]


def _plain(kind: EventType) -> Reader:
    return lambda _e: (kind, {})


def _delivery(kind: EventType) -> Reader:
    return lambda e: (kind, {"mta_response": text(e.get("response"))})


def _dropped(e: Mapping[str, Any]) -> tuple[EventType, Said]:
    reason = text(e.get("reason"))
    return EventType.REJECTED, {"reason": reason, "description": reason}


def _bounce(e: Mapping[str, Any]) -> tuple[EventType, Said]:
    kind = text(e.get("type")) or "bounce"
    response = text(e.get("reason"))
    said: Said = {
        # "blocked" is SendGrid's temporary (soft) bounce; "bounce" a permanent one.
        "bounce_kind": BounceKind.SOFT if kind == "blocked" else BounceKind.HARD,
        "reason": text(e.get("bounce_classification")) or kind,
        "description": kind,
        "mta_response": response,
        "smtp_status": text(e.get("status")) or enhanced_status(response),
    }
    return EventType.BOUNCED, said


def _engagement(kind: EventType) -> Reader:
    def read(e: Mapping[str, Any]) -> tuple[EventType, Said]:
        found: Said = {
            "user_agent": text(e.get("useragent")),
            "ip": text(e.get("ip")),
            "click_url": text(e.get("url")) if kind == EventType.CLICKED else "",
        }
        if e.get("sg_machine_open") is True:
            found["machine"] = True
            found["machine_reason"] = "SendGrid sg_machine_open"
        return kind, found

    return read


def _unsubscribe(e: Mapping[str, Any]) -> tuple[EventType, Said]:
    group = text(e.get("asm_group_id"))
    description = f"SendGrid unsubscribe group {group}" if group else "SendGrid unsubscribe"
    return EventType.UNSUBSCRIBED, {"scope": OptOutScope.ALL, "description": description}


def _resubscribe(e: Mapping[str, Any]) -> tuple[EventType, Said]:
    group = text(e.get("asm_group_id"))
    description = f"SendGrid resubscribe group {group}" if group else "SendGrid resubscribe"
    return EventType.RESUBSCRIBED, {"description": description}


READERS: dict[str, Reader] = {
    "processed": _plain(EventType.SENT),
    "dropped": _dropped,
    "delivered": _delivery(EventType.DELIVERED),
    "deferred": _delivery(EventType.DEFERRED),
    "bounce": _bounce,
    "open": _engagement(EventType.OPENED),
    "click": _engagement(EventType.CLICKED),
    "spamreport": lambda _e: (EventType.COMPLAINED, {"description": "SendGrid spam report"}),
    # distro sends with no unsubscribe groups, so a group opt-out is a wish to hear no more.
    "unsubscribe": _unsubscribe,
    "group_unsubscribe": _unsubscribe,
    # Recorded for staff; a re-subscription does not lift a suppression by itself.
    "group_resubscribe": _resubscribe,
}


def parse(payload: Any) -> Parsed:
    """Normalise an Event Webhook body; WebhookPayloadError when it is not an array of events,
    or when none of its elements could be read."""
    if not isinstance(payload, list):
        raise WebhookPayloadError("expected a JSON array of events")
    events: list[NormalisedEvent] = []
    skipped: list[str] = []
    for index, element in enumerate(payload):
        try:
            event = parse_event(element)
        except WebhookPayloadError as exc:
            skipped.append(f"event {index}: {exc}: {text(element)[:500]}")
            continue
        if event is not None:
            events.append(event)
    if skipped and len(skipped) == len(payload):
        raise WebhookPayloadError("no readable event; " + "; ".join(skipped[:3]))
    return Parsed(events, skipped)


def parse_event(element: Any) -> NormalisedEvent | None:
    """One element; None for an event kind with nothing to record."""
    if not isinstance(element, dict):
        raise WebhookPayloadError("not a JSON object")
    name = text(element.get("event"))
    reader = READERS.get(name)
    if reader is None:
        if name:  # a kind SendGrid may add later: nothing we know to record
            return None
        raise WebhookPayloadError("event is missing")
    recipient = text(element.get("email"))
    if not recipient:
        raise WebhookPayloadError("email is missing")
    occurred_at = epoch(element.get("timestamp"), "timestamp")
    sg_message_id = text(element.get("sg_message_id"))
    event_id = text(element.get("sg_event_id")) or (
        f"{name}:{sg_message_id}:{recipient.lower()}:{element.get('timestamp')}"
    )
    kind, said = reader(element)
    return NormalisedEvent(
        type=kind,
        provider_event_id=event_id,
        occurred_at=occurred_at,
        recipient=recipient,
        provider_message_id=sg_message_id.partition(".")[0] or None,
        message_id=own_id(element.get(MESSAGE_ID_KEY)),
        raw=element,
        **said,
    )
