"""Amazon SES event shapes as AWS documents them ("Examples of event data that Amazon SES
publishes to Amazon SNS", and the older identity notifications), each in a signed SNS
notification posted to the live app; and the plain-text notice SNS delivers when SES validates
a topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.test_webhooks_ses import SES_ID, envelope, mail
from tests.test_webhooks_support import Live, event_count, live_factory
from tests.webhook_shapes_support import accepted, assert_applied, keys, live, message_for, post

__all__ = ["keys", "live", "live_factory"]  # fixtures, imported for pytest

AT = "2026-11-21T09:00:05.000Z"
#: The plain-text Message of the notification SES publishes when it validates a topic.
TOPIC_VALIDATION = "Successfully validated SNS topic for Amazon SES event publishing."


def recipients(key: str, to: str, **extra: Any) -> dict[str, Any]:
    return {key: [{"emailAddress": to, **extra}]}


def shapes(to: str) -> dict[str, tuple[dict[str, Any], str, str, str | None, str]]:
    """name -> (the event without ``mail``, type, bounce kind, suppression or None, status)."""
    bounce = {
        "feedbackId": "0100017c-abc",
        "timestamp": AT,
        "reportingMTA": "dsn; e226-55.smtp-out.us-east-2.amazonses.com",
    }
    diagnostic = {"action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 no"}
    return {
        "Send": ({"eventType": "Send", "send": {}}, "sent", "", None, "sent"),
        "Delivery": (
            {
                "eventType": "Delivery",
                "delivery": {
                    "timestamp": AT,
                    "processingTimeMillis": 546,
                    "recipients": [to],
                    "smtpResponse": "250 2.6.0 Message received",
                    "reportingMTA": "e226-55.smtp-out.us-east-2.amazonses.com",
                },
            },
            "delivered",
            "",
            None,
            "delivered",
        ),
        "Bounce Permanent": (
            {
                "eventType": "Bounce",
                "bounce": {
                    **bounce,
                    "bounceType": "Permanent",
                    "bounceSubType": "General",
                    **recipients("bouncedRecipients", to, **diagnostic),
                },
            },
            "bounced",
            "hard",
            "hard_bounce",
            "bounced",
        ),
        "Bounce Transient": (
            {
                "eventType": "Bounce",
                "bounce": {
                    **bounce,
                    "bounceType": "Transient",
                    "bounceSubType": "MailboxFull",
                    **recipients("bouncedRecipients", to, status="4.2.2"),
                },
            },
            "bounced",
            "soft",
            None,
            "bounced",
        ),
        "Bounce Undetermined": (
            {
                "eventType": "Bounce",
                "bounce": {
                    **bounce,
                    "bounceType": "Undetermined",
                    "bounceSubType": "Undetermined",
                    **recipients("bouncedRecipients", to),
                },
            },
            "bounced",
            "soft",
            None,
            "bounced",
        ),
        "Complaint": (
            {
                "eventType": "Complaint",
                "complaint": {
                    "feedbackId": "0100017c-def",
                    "complaintSubType": None,
                    "timestamp": AT,
                    "userAgent": "AnyCompany Feedback Loop (V0.01)",
                    "complaintFeedbackType": "abuse",
                    "arrivalDate": AT,
                    **recipients("complainedRecipients", to),
                },
            },
            "complained",
            "",
            "complaint",
            "complained",
        ),
        "Reject": (
            {"eventType": "Reject", "reject": {"reason": "Bad content"}},
            "rejected",
            "",
            None,
            "sent",
        ),
        "Open": (
            {
                "eventType": "Open",
                "open": {"ipAddress": "192.0.2.1", "timestamp": AT, "userAgent": "Mozilla/5.0"},
            },
            "opened",
            "",
            None,
            "opened",
        ),
        "Click": (
            {
                "eventType": "Click",
                "click": {
                    "ipAddress": "192.0.2.1",
                    "link": "https://acme.example/news",
                    "linkTags": {"samplekey0": ["samplevalue0"]},
                    "timestamp": AT,
                    "userAgent": "Mozilla/5.0",
                },
            },
            "clicked",
            "",
            None,
            "clicked",
        ),
        "Rendering Failure": (
            {
                "eventType": "Rendering Failure",
                "failure": {
                    "errorMessage": "Attribute 'attributeName' is not present in the data.",
                    "templateName": "MyTemplate",
                },
            },
            "failed",
            "",
            None,
            "sent",
        ),
        "DeliveryDelay": (
            {
                "eventType": "DeliveryDelay",
                "deliveryDelay": {
                    "timestamp": AT,
                    "delayType": "TransientCommunicationFailure",
                    "expirationTime": "2026-11-21T21:00:00.000Z",
                    **recipients("delayedRecipients", to, status="4.4.1"),
                },
            },
            "deferred",
            "",
            None,
            "deferred",
        ),
        "Subscription": (
            {
                "eventType": "Subscription",
                "subscription": {
                    "contactList": "SystemMonitor-Canary",
                    "timestamp": AT,
                    "source": "UnsubscribeHeader",
                    "newTopicPreferences": {"unsubscribeAll": True, "topicSubscriptionStatus": []},
                    "oldTopicPreferences": {"unsubscribeAll": False},
                },
            },
            "unsubscribed",
            "",
            "unsubscribed",
            "unsubscribed",
        ),
        # The older identity notifications: notificationType instead of eventType.
        "notification Bounce": (
            {
                "notificationType": "Bounce",
                "bounce": {
                    **bounce,
                    "bounceType": "Permanent",
                    "bounceSubType": "Suppressed",
                    **recipients("bouncedRecipients", to, **diagnostic),
                },
            },
            "bounced",
            "hard",
            "hard_bounce",
            "bounced",
        ),
        "notification Complaint": (
            {
                "notificationType": "Complaint",
                "complaint": {
                    "timestamp": AT,
                    "feedbackId": "0100017c-fed",
                    **recipients("complainedRecipients", to),
                },
            },
            "complained",
            "",
            "complaint",
            "complained",
        ),
        "notification Delivery": (
            {
                "notificationType": "Delivery",
                "delivery": {
                    "timestamp": AT,
                    "processingTimeMillis": 2003,
                    "recipients": [to],
                    "smtpResponse": "250 ok",
                },
            },
            "delivered",
            "",
            None,
            "delivered",
        ),
    }


SHAPE_NAMES = list(shapes("x@example.org"))


@pytest.mark.parametrize("shape", SHAPE_NAMES)
def test_every_documented_event(live: Live, keys: dict[str, str], shape: str) -> None:
    message = message_for(live, "ses", SES_ID)
    event, event_type, bounce_type, suppressed, status = shapes(message.email)[shape]
    accepted(post(live, keys, "ses", {**event, "mail": mail([message.email], message.id)}))
    assert_applied(live, message, event_type, bounce_type, suppressed, status)


def sns_post(live: Live, message: dict[str, Any]) -> Any:
    return live.post("ses", json.dumps(message).encode(), {"Content-Type": "text/plain"})


def test_the_topic_validation_notice_is_acknowledged(live: Live, keys: dict[str, str]) -> None:
    """SES publishes this plain text (not JSON) once, when a topic becomes a destination."""
    answer = sns_post(live, envelope("Notification", keys["sns"], message=TOPIC_VALIDATION))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 0, "stored": 0, "acknowledged": "topic validation"}
    assert event_count(live.engine) == 0


def test_the_topic_validation_notice_is_verified_first(live: Live, keys: dict[str, str]) -> None:
    forged = envelope("Notification", keys["sns"], message=TOPIC_VALIDATION)
    forged["Message"] = TOPIC_VALIDATION + " "  # no longer what was signed
    assert sns_post(live, forged).status_code == 401
    other = envelope("Notification", keys["sns"], message="Some other plain text")
    assert sns_post(live, other).status_code == 400


def test_the_subscription_succeeded_notice_is_acknowledged(
    live: Live, keys: dict[str, str]
) -> None:
    notice = {"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "You have ..."}
    accepted(post(live, keys, "ses", notice), stored=0)
    assert event_count(live.engine) == 0
