"""Postmark webhook shapes as Postmark documents them (Bounce with each of its bounce types,
Delivery, SpamComplaint, Open, Click, SubscriptionChange both ways), signed with the webhook's
Basic credentials and posted to the live app."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from sqlmodel import Session

from distro.audience.suppression import add_suppression
from distro.models import EventType, MessageStatus, SuppressionReason
from distro.outgoing.endpoints import parse_event_types
from distro.providers.base import MESSAGE_ID_KEY
from distro.reports.build import build_report
from distro.reports.csv_out import write_report
from distro.reports.html import render_report
from distro.reports.recipients import iter_recipients
from distro.tracking import summary
from tests.test_webhooks_support import Live, live_factory, stored_events, suppressions
from tests.webhook_shapes_support import (
    accepted,
    assert_applied,
    keys,
    live,
    message_for,
    outcome,
    post,
)

__all__ = ["keys", "live", "live_factory"]  # fixtures, imported for pytest

PM_ID = "883953f4-6105-42a2-a16a-77a8eac79483"
AT = "2026-11-21T16:33:54.9070259Z"

#: Postmark's bounce types with their TypeCode, and what each becomes: (event type, bounce
#: kind, suppression reason or None, message status; a failure after "sent" leaves it so, as
#: statuses only move forward).
BOUNCES: dict[str, tuple[int, str, str, str | None, str]] = {
    "HardBounce": (1, "bounced", "hard", "hard_bounce", "bounced"),
    "Transient": (2, "deferred", "", None, "deferred"),
    "Unsubscribe": (16, "unsubscribed", "", "unsubscribed", "unsubscribed"),
    "Subscribe": (32, "resubscribed", "", None, "sent"),
    "AutoResponder": (64, "other", "", None, "sent"),
    "AddressChange": (128, "other", "", None, "sent"),
    "DnsError": (256, "bounced", "soft", None, "bounced"),
    "SpamNotification": (512, "bounced", "soft", None, "bounced"),
    "OpenRelayTest": (1024, "other", "", None, "sent"),
    "Unknown": (2048, "bounced", "soft", None, "bounced"),
    "SoftBounce": (4096, "bounced", "soft", None, "bounced"),
    "VirusNotification": (8192, "bounced", "soft", None, "bounced"),
    "ChallengeVerification": (16384, "other", "", None, "sent"),
    "BadEmailAddress": (100000, "bounced", "hard", "hard_bounce", "bounced"),
    "SpamComplaint": (100001, "complained", "", "complaint", "complained"),
    "ManuallyDeactivated": (100002, "bounced", "hard", "hard_bounce", "bounced"),
    "Unconfirmed": (100003, "other", "", None, "sent"),
    "Blocked": (100006, "rejected", "", None, "sent"),
    "SMTPApiError": (100007, "failed", "", None, "sent"),
    "InboundError": (100008, "other", "", None, "sent"),
    "DMARCPolicy": (100009, "rejected", "", None, "sent"),
    "TemplateRenderingFailed": (100010, "failed", "", None, "sent"),
}


def bounce(kind: str, message_id: int | None, email: str | None, **extra: Any) -> dict[str, Any]:
    """A Bounce webhook body as documented ("Bounce webhook data")."""
    found: dict[str, Any] = {
        "RecordType": "Bounce",
        "MessageStream": "broadcast",
        "ID": uuid.uuid4().int >> 72,
        "Type": kind,
        "TypeCode": BOUNCES[kind][0],
        "Name": kind,
        "Tag": "release",
        "MessageID": PM_ID,
        "Metadata": {MESSAGE_ID_KEY: str(message_id)} if message_id else {},
        "ServerID": 23,
        "Description": f"Postmark {kind}",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
        "From": "press@acme.example",
        "BouncedAt": AT,
        "DumpAvailable": True,
        "Inactive": kind == "HardBounce",
        "CanActivate": True,
        "Subject": "News",
        **extra,
    }
    if email is not None:
        found["Email"] = email
    return found


def subscription_change(
    message_id: int | None, email: str, suppress: bool, reason: str | None, origin: str
) -> dict[str, Any]:
    """A SubscriptionChange body as documented ("Subscription change webhook data")."""
    return {
        "RecordType": "SubscriptionChange",
        "MessageID": PM_ID,
        "ServerID": 23,
        "MessageStream": "broadcast",
        "ChangedAt": "2026-11-21T17:17:32Z",
        "Recipient": email,
        "Origin": origin,
        "SuppressSending": suppress,
        "SuppressionReason": reason,
        "Tag": "release",
        "Metadata": {MESSAGE_ID_KEY: str(message_id)} if message_id else {},
    }


@pytest.mark.parametrize("kind", sorted(BOUNCES))
def test_every_documented_bounce_type_is_read_deliberately(
    live: Live, keys: dict[str, str], kind: str
) -> None:
    message = message_for(live, "postmark", PM_ID)
    _code, event_type, bounce_type, suppressed, status = BOUNCES[kind]
    accepted(post(live, keys, "postmark", bounce(kind, message.id, message.email)))
    found = assert_applied(live, message, event_type, bounce_type, suppressed, status)
    assert found.detail["reason"] == kind


def test_an_unsubscribe_record_without_email_or_bounced_at_is_an_unsubscribe(
    live: Live, keys: dict[str, str]
) -> None:
    """Postmark files a recipient's "unsubscribe" reply as a Bounce record of Type Unsubscribe
    that may carry neither Email nor BouncedAt: the MessageID names the one message."""
    message = message_for(live, "postmark", PM_ID)
    body = bounce("Unsubscribe", message.id, None, Details="Unsubscribe request")
    del body["BouncedAt"]
    accepted(post(live, keys, "postmark", body))
    found = outcome(live, message)
    assert found.types == [EventType.UNSUBSCRIBED]
    assert found.message_ids == [message.id]
    assert found.detail["scope"] == "all"
    assert found.status == MessageStatus.UNSUBSCRIBED
    assert found.suppression == (SuppressionReason.UNSUBSCRIBED, stored_events(live.engine)[0].id)
    assert stored_events(live.engine)[0].recipient == message.email


def test_a_record_without_email_is_not_applied_by_our_own_id_alone(
    live: Live, keys: dict[str, str]
) -> None:
    """With no address, only Postmark's own MessageID may name the message: metadata naming
    one of ours (which anyone sending through the account can set) is not believed."""
    message = message_for(live, "postmark", PM_ID)
    body = bounce("Unsubscribe", message.id, None, MessageID="another-postmark-message")
    del body["BouncedAt"]
    accepted(post(live, keys, "postmark", body))
    found = outcome(live, message)
    assert found.message_ids == [None]
    assert found.suppression is None
    assert found.status == MessageStatus.SENT


def test_delivery(live: Live, keys: dict[str, str]) -> None:
    message = message_for(live, "postmark", PM_ID)
    body = {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "broadcast",
        "MessageID": PM_ID,
        "Recipient": message.email,
        "Tag": "release",
        "DeliveredAt": "2026-11-21T16:33:54.9070259Z",
        "Details": "Test delivery webhook details",
        "Metadata": {MESSAGE_ID_KEY: str(message.id)},
    }
    accepted(post(live, keys, "postmark", body))
    found = outcome(live, message)
    assert (found.types, found.status) == ([EventType.DELIVERED], MessageStatus.DELIVERED)


def test_spam_complaint_record(live: Live, keys: dict[str, str]) -> None:
    message = message_for(live, "postmark", PM_ID)
    body = bounce("SpamComplaint", message.id, message.email, RecordType="SpamComplaint")
    accepted(post(live, keys, "postmark", body))
    found = outcome(live, message)
    assert found.types == [EventType.COMPLAINED]
    assert found.suppression is not None
    assert found.suppression[0] == SuppressionReason.COMPLAINT


def test_open_and_click(live: Live, keys: dict[str, str]) -> None:
    message = message_for(live, "postmark", PM_ID)
    common = {
        "MessageStream": "broadcast",
        "Metadata": {MESSAGE_ID_KEY: str(message.id)},
        "Recipient": message.email,
        "MessageID": PM_ID,
        "ReceivedAt": "2026-11-21T16:40:54Z",
        "Tag": "release",
        "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
        "Geo": {"CountryISOCode": "RS", "Country": "Serbia", "IP": "188.2.95.4"},
        "OS": {"Name": "OS X", "Family": "OS X", "Company": "Apple Computer, Inc."},
        "Client": {"Name": "Chrome", "Family": "Chrome", "Company": "Google"},
        "Platform": "WebMail",
    }
    opened = {**common, "RecordType": "Open", "FirstOpen": True, "ReadSeconds": 5}
    clicked = {
        **common,
        "RecordType": "Click",
        "ClickLocation": "HTML",
        "OriginalLink": "https://acme.example/news",
        "ReceivedAt": "2026-11-21T16:41:10Z",
    }
    accepted(post(live, keys, "postmark", opened))
    accepted(post(live, keys, "postmark", clicked))
    found = outcome(live, message)
    assert found.types == [EventType.OPENED, EventType.CLICKED]
    assert found.detail["url"] == "https://acme.example/news"
    assert found.status == MessageStatus.CLICKED


@pytest.mark.parametrize(
    ("reason", "event_type", "suppression"),
    [
        ("HardBounce", EventType.BOUNCED, SuppressionReason.HARD_BOUNCE),
        ("SpamComplaint", EventType.COMPLAINED, SuppressionReason.COMPLAINT),
        ("ManualSuppression", EventType.UNSUBSCRIBED, SuppressionReason.UNSUBSCRIBED),
    ],
)
def test_a_suppressing_subscription_change_is_the_event_its_reason_names(
    live: Live, keys: dict[str, str], reason: str, event_type: str, suppression: str
) -> None:
    message = message_for(live, "postmark", PM_ID)
    body = subscription_change(message.id, message.email, True, reason, "Recipient")
    accepted(post(live, keys, "postmark", body))
    found = outcome(live, message)
    assert found.types == [event_type]
    assert found.suppression == (suppression, stored_events(live.engine)[0].id)
    if event_type == EventType.BOUNCED:
        assert found.detail["bounce_type"] == "hard"


def test_a_reactivation_is_recorded_and_lifts_nothing(live: Live, keys: dict[str, str]) -> None:
    message = message_for(live, "postmark", PM_ID)
    suppress = subscription_change(message.id, message.email, True, "HardBounce", "Recipient")
    accepted(post(live, keys, "postmark", suppress))
    reactivate = subscription_change(message.id, message.email, False, None, "Customer")
    accepted(post(live, keys, "postmark", reactivate))
    found = outcome(live, message)
    assert found.types == [EventType.BOUNCED, EventType.RESUBSCRIBED]
    assert found.message_ids == [message.id, message.id]
    assert found.detail["origin"] == "Customer"
    # Staff decide: the hard-bounce suppression stays, and the message stays bounced.
    assert found.suppression is not None
    assert found.suppression[0] == SuppressionReason.HARD_BOUNCE
    assert found.status == MessageStatus.BOUNCED
    # Posted again (Postmark retries), it is stored once.
    accepted(post(live, keys, "postmark", reactivate), stored=0)


def test_a_reactivation_of_an_address_suppressed_by_hand_keeps_it(
    live: Live, keys: dict[str, str]
) -> None:
    message = message_for(live, "postmark", PM_ID)
    with Session(live.engine) as session:
        add_suppression(session, message.email, SuppressionReason.DO_NOT_CONTACT, source="staff")
        session.commit()
    reactivate = subscription_change(message.id, message.email, False, None, "Admin")
    accepted(post(live, keys, "postmark", reactivate))
    assert suppressions(live.engine)[message.email][0] == SuppressionReason.DO_NOT_CONTACT
    assert outcome(live, message).types == [EventType.RESUBSCRIBED]


def test_reports_and_listings_read_the_new_event_types(live: Live, keys: dict[str, str]) -> None:
    """RESUBSCRIBED and OTHER events count for nothing in a report, and break none of it."""
    message = message_for(live, "postmark", PM_ID)
    assert message.id is not None
    delivered = {
        "RecordType": "Delivery",
        "MessageID": PM_ID,
        "Recipient": message.email,
        "DeliveredAt": AT,
        "Metadata": {MESSAGE_ID_KEY: str(message.id)},
    }
    accepted(post(live, keys, "postmark", delivered))
    accepted(post(live, keys, "postmark", bounce("AutoResponder", message.id, message.email)))
    reactivate = subscription_change(message.id, message.email, False, None, "Customer")
    accepted(post(live, keys, "postmark", reactivate))
    assert outcome(live, message).types == ["delivered", "other", "resubscribed"]
    send_id = message.send_id
    report = build_report(live.engine, send_id)
    assert report.counts.delivered == 1
    assert (report.counts.bounced, report.counts.unsubscribed) == (0, 0)
    assert "<html" in render_report(report, iter_recipients(live.engine, send_id))
    out = io.StringIO()
    write_report(report, out)
    assert "delivered" in out.getvalue()
    with live.engine.begin() as conn:
        assert summary.rebuild(conn, [send_id]) >= 1
    assert build_report(live.engine, send_id).counts == report.counts
    assert parse_event_types("resubscribed,other") == ["resubscribed", "other"]
