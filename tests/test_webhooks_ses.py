"""SES events through SNS into the live app: notifications shaped as AWS documents them, signed
with an RSA key made here (SignatureVersion 1 and 2) whose self-signed certificate is served at
an amazonaws.com URL by a mock transport (the only mock: the network edge to AWS)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from distro.models import MessageStatus
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking import sns_signatures as sns_sig
from distro.tracking.detail import stored_detail
from distro.tracking.ses import parse
from tests.test_webhooks_support import (
    Live,
    LiveFactory,
    event_count,
    handed_over,
    live_factory,
    statuses,
    stored_events,
    suppressions,
)

__all__ = ["live_factory"]  # the fixture, imported for pytest

TOPIC = "arn:aws:sns:eu-west-1:123456789012:distro-events"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
SUBSCRIBE_URL = (
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
    f"&TopicArn={TOPIC}&Token=2336412f37fb687f5d51e6e2425f004aed5f2e6bd2a8b7e2"
)
SES_ID = "0102018f3c1c9d8e-5b7d0a1e-0c1a-4c1e-9d3b-6a9b1f0e2d3c-000000"


@pytest.fixture(scope="module")
def rsa_key() -> str:
    return sns_sig.generate_sns_key()


class AwsEdge:
    """What AWS answers at the URLs distro may fetch; records every request."""

    def __init__(self, certificate: str) -> None:
        self.certificate = certificate
        self.requests: list[str] = []
        self.failing = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        if self.failing:
            return httpx.Response(500)
        if url == CERT_URL:
            return httpx.Response(200, text=self.certificate)
        if url.startswith("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"):
            return httpx.Response(200, text="<ConfirmSubscriptionResponse/>")
        return httpx.Response(404)


@pytest.fixture
def aws(rsa_key: str) -> AwsEdge:
    return AwsEdge(sns_sig.self_signed_certificate(rsa_key, "sns.amazonaws.com"))


SES_PROVIDERS = {
    "ses": {
        "type": "ses",
        "region": "eu-west-1",
        "access_key_id": "AKIATEST",
        "secret_access_key": "secret",
        "webhook_topic_arn": TOPIC,
    }
}


@pytest.fixture
def live(engine: Engine, live_factory: LiveFactory, aws: AwsEdge) -> Live:
    return live_factory(engine, transport=httpx.MockTransport(aws), providers=SES_PROVIDERS)


def mail(destination: list[str], message_id: int | None) -> dict[str, Any]:
    tags: dict[str, list[str]] = {"ses:configuration-set": ["distro"]}
    if message_id is not None:
        tags[MESSAGE_ID_KEY] = [str(message_id)]
    return {
        "timestamp": "2026-11-21T09:00:00.000Z",
        "source": "press@acme.example",
        "sendingAccountId": "123456789012",
        "messageId": SES_ID,
        "destination": destination,
        "headersTruncated": False,
        "commonHeaders": {"from": ["press@acme.example"], "to": destination, "subject": "News"},
        "tags": tags,
    }


def envelope(
    kind: str,
    key: str,
    *,
    message: str = "",
    version: str = "1",
    cert_url: str = CERT_URL,
    topic: str = TOPIC,
    at: datetime | None = None,
    **extra: str,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "Type": kind,
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic,
        "Message": message,
        "Timestamp": (at or datetime.now(UTC))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "SignatureVersion": version,
        **extra,
    }
    found["Signature"] = sns_sig.sign_sns(found, key, version)
    found["SigningCertURL"] = cert_url
    found["UnsubscribeURL"] = (
        f"https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC}:1"
    )
    return found


def notification(key: str, ses_event: dict[str, Any], **options: Any) -> dict[str, Any]:
    return envelope("Notification", key, message=json.dumps(ses_event), **options)


def post(live: Live, message: dict[str, Any]) -> httpx.Response:
    # What SNS sends: JSON, labelled text/plain.
    return live.post(
        "ses",
        json.dumps(message).encode(),
        {
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": str(message["Type"]),
            "x-amz-sns-topic-arn": str(message["TopicArn"]),
        },
    )


def test_notifications_are_verified_parsed_and_stored(
    live: Live, rsa_key: str, aws: AwsEdge
) -> None:
    ana, ben, cy = handed_over(
        live.engine,
        live.settings,
        "ses",
        ["ana@news.example", "ben@news.example", "cy@news.example"],
        [SES_ID, f"{SES_ID}-b", f"{SES_ID}-c"],
    )
    delivery = {
        "eventType": "Delivery",
        "mail": mail([ana.email], ana.id),
        "delivery": {
            "timestamp": "2026-11-21T09:00:01.500Z",
            "processingTimeMillis": 1500,
            "recipients": [ana.email],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
    }
    click = {
        "eventType": "Click",
        "mail": mail([ana.email], ana.id),
        "click": {
            "ipAddress": "192.0.2.1",
            "link": "https://acme.example/news",
            "linkTags": {},
            "timestamp": "2026-11-21T09:05:00.000Z",
            "userAgent": "Mozilla/5.0",
        },
    }
    assert post(live, notification(rsa_key, delivery)).json() == {"received": 1, "stored": 1}
    assert post(live, notification(rsa_key, click, version="2")).status_code == 200
    # One bounce naming two recipients (of a message without our tag): one event each.
    bounce = {
        "eventType": "Bounce",
        "mail": {**mail([ben.email, cy.email], None), "messageId": f"{SES_ID}-b"},
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": ben.email,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                },
                {"emailAddress": cy.email, "action": "failed", "status": "5.1.1"},
            ],
            "timestamp": "2026-11-21T09:00:02.000Z",
            "feedbackId": "0102-feedback",
        },
    }
    assert post(live, notification(rsa_key, bounce)).json() == {"received": 2, "stored": 2}
    rows = stored_events(live.engine)
    assert [r.type for r in rows] == ["delivered", "clicked", "bounced", "bounced"]
    # The SES id is ben's message, which did not go to cy: cy's bounce is kept, not applied.
    assert [r.message_id for r in rows] == [ana.id, ana.id, ben.id, None]
    assert (rows[3].recipient, rows[3].claimed_message_id) == (cy.email, ben.id)
    assert rows[0].detail["mta_response"] == "250 2.6.0 Message received"
    assert rows[1].detail["url"] == "https://acme.example/news"
    assert rows[2].detail["bounce_type"] == "hard"
    assert rows[2].detail["mta_response"] == "smtp; 550 5.1.1 user unknown"
    assert rows[2].detail["raw"]["bounce"]["feedbackId"] == "0102-feedback"
    assert statuses(live.engine, [ana, ben, cy]) == [
        MessageStatus.CLICKED,
        MessageStatus.BOUNCED,
        MessageStatus.SENT,
    ]
    assert set(suppressions(live.engine)) == {ben.email}  # a refused event suppresses nobody
    assert aws.requests == [CERT_URL]  # fetched once, then cached


def test_subscription_is_confirmed_only_when_signed_and_on_an_sns_host(
    live: Live, rsa_key: str, aws: AwsEdge
) -> None:
    message = "You have chosen to subscribe to the topic. To confirm, visit the SubscribeURL."
    forged_url = envelope(
        "SubscriptionConfirmation",
        rsa_key,
        message=message,
        Token="2336412f37",
        SubscribeURL="https://evil.example/?Action=ConfirmSubscription",
    )
    assert post(live, forged_url).status_code == 403
    good = envelope(
        "SubscriptionConfirmation",
        rsa_key,
        message=message,
        Token="2336412f37",
        SubscribeURL=SUBSCRIBE_URL,
    )
    tampered = {**good, "SubscribeURL": SUBSCRIBE_URL + "&x=1"}
    assert post(live, tampered).status_code == 401
    answer = post(live, good)
    assert answer.status_code == 200
    assert answer.json()["confirmed"].startswith("https://sns.eu-west-1.amazonaws.com/")
    assert [url for url in aws.requests if url != CERT_URL] == [SUBSCRIBE_URL]
    goodbye = envelope(
        "UnsubscribeConfirmation",
        rsa_key,
        message="You have unsubscribed.",
        Token="2336412f37",
        SubscribeURL=SUBSCRIBE_URL,
    )
    assert post(live, goodbye).json()["acknowledged"] == "UnsubscribeConfirmation"
    assert [url for url in aws.requests if url != CERT_URL] == [SUBSCRIBE_URL]  # not visited again
    assert event_count(live.engine) == 0


def test_forged_stale_and_foreign_messages_are_refused(
    live: Live, rsa_key: str, aws: AwsEdge
) -> None:
    ses_event = {
        "eventType": "Complaint",
        "mail": mail(["ana@news.example"], None),
        "complaint": {
            "complainedRecipients": [{"emailAddress": "ana@news.example"}],
            "timestamp": "2026-11-21T09:00:00.000Z",
            "feedbackId": "f-1",
            "complaintFeedbackType": "abuse",
        },
    }
    other_key = sns_sig.generate_sns_key()
    good = notification(rsa_key, ses_event)
    cases: dict[str, tuple[dict[str, Any], int]] = {
        "signed by another key": (notification(other_key, ses_event), 401),
        "tampered message": (
            {**good, "Message": good["Message"].replace("abuse", "other")},
            401,
        ),
        "certificate off AWS": (
            notification(rsa_key, ses_event, cert_url="https://evil.example/cert.pem"),
            401,
        ),
        "certificate over http": (
            notification(rsa_key, ses_event, cert_url=CERT_URL.replace("https", "http")),
            401,
        ),
        "lookalike host": (
            notification(
                rsa_key,
                ses_event,
                cert_url="https://sns.eu-west-1.amazonaws.com.evil.example/x.pem",
            ),
            401,
        ),
        "another topic": (
            notification(rsa_key, ses_event, topic="arn:aws:sns:eu-west-1:999999999999:x"),
            403,
        ),
        "stale": (
            notification(rsa_key, ses_event, at=datetime.now(UTC) - timedelta(hours=2)),
            401,
        ),
        "unknown version": (notification(rsa_key, ses_event) | {"SignatureVersion": "3"}, 401),
    }
    for name, (message, status) in cases.items():
        assert post(live, message).status_code == status, name
    assert event_count(live.engine) == 0
    assert set(aws.requests) <= {CERT_URL}  # nothing fetched from anywhere else


def test_a_retried_notification_is_stored_once(live: Live, rsa_key: str) -> None:
    ses_event = {"eventType": "Send", "mail": mail(["ana@news.example"], 77), "send": {}}
    message = notification(rsa_key, ses_event)
    assert post(live, message).json() == {"received": 1, "stored": 1}
    assert post(live, message).json() == {"received": 1, "stored": 0}


def test_unreachable_certificate_is_403_and_unreadable_message_400(
    live: Live, rsa_key: str, aws: AwsEdge
) -> None:
    assert post(live, envelope("Notification", rsa_key, message="{not json")).status_code == 400
    weird = {"eventType": "Teleport", "mail": mail(["a@x.example"], None)}
    assert post(live, notification(rsa_key, weird)).status_code == 400
    assert live.post("ses", b"[1, 2]", {}).status_code == 400
    ses_event = {"eventType": "Send", "mail": mail(["ana@news.example"], 77), "send": {}}
    rotated = CERT_URL.replace(".pem", "-rotated.pem")
    aws.failing = True  # refused, not deferred: see test_webhooks_sns_fetching
    assert post(live, notification(rsa_key, ses_event, cert_url=rotated)).status_code == 403
    assert event_count(live.engine) == 0


Check = Callable[[Any], None]


@pytest.mark.parametrize(
    ("ses_event", "expected"),
    [
        ({"eventType": "Send", "send": {}}, [("sent", {})]),
        (
            {"eventType": "Reject", "reject": {"reason": "Bad content"}},
            [("rejected", {"reason": "Bad content"})],
        ),
        (
            {
                "eventType": "Bounce",
                "bounce": {
                    "bounceType": "Transient",
                    "bounceSubType": "MailboxFull",
                    "bouncedRecipients": [{"emailAddress": "a@x.example", "status": "4.2.2"}],
                    "timestamp": "2026-11-21T10:00:00Z",
                },
            },
            [("bounced", {"bounce_type": "soft", "reason": "MailboxFull", "status": "4.2.2"})],
        ),
        (
            {
                "eventType": "Bounce",
                "bounce": {
                    "bounceType": "Undetermined",
                    "bounceSubType": "Undetermined",
                    "bouncedRecipients": [{"emailAddress": "a@x.example"}],
                },
            },
            [("bounced", {"bounce_type": "soft"})],
        ),
        (
            {
                "eventType": "Open",
                "open": {
                    "ipAddress": "192.0.2.1",
                    "userAgent": "UA",
                    "timestamp": "2026-11-21T10:00:00Z",
                },
            },
            [("opened", {"ip": "192.0.2.1", "user_agent": "UA"})],
        ),
        (
            {
                "eventType": "DeliveryDelay",
                "deliveryDelay": {
                    "delayType": "MailboxFull",
                    "delayedRecipients": [
                        {
                            "emailAddress": "a@x.example",
                            "status": "4.2.2",
                            "diagnosticCode": "smtp; 452 4.2.2 full",
                        }
                    ],
                    "timestamp": "2026-11-21T10:00:00Z",
                },
            },
            [("deferred", {"reason": "MailboxFull", "mta_response": "smtp; 452 4.2.2 full"})],
        ),
        (
            {
                "eventType": "Rendering Failure",
                "failure": {"errorMessage": "no var", "templateName": "t"},
            },
            [("failed", {"description": "no var"})],
        ),
        (
            {
                "eventType": "Subscription",
                "subscription": {
                    "contactList": "press",
                    "timestamp": "2026-11-21T10:00:00Z",
                    "source": "UnsubscribeHeader",
                    "newTopicPreferences": {"unsubscribeAll": True},
                },
            },
            [("unsubscribed", {"scope": "all"})],
        ),
        (
            {
                "eventType": "Subscription",
                "subscription": {"newTopicPreferences": {"unsubscribeAll": False}},
            },
            [],
        ),
        (
            {
                "notificationType": "Complaint",
                "complaint": {"complainedRecipients": [{"emailAddress": "a@x.example"}]},
            },
            [("complained", {})],
        ),
    ],
)
def test_parse_reads_every_ses_event_type(
    ses_event: dict[str, Any], expected: list[tuple[str, dict[str, Any]]]
) -> None:
    events = parse({"mail": mail(["a@x.example"], 12), **ses_event}, "sns-1")
    assert [str(e.type) for e in events] == [kind for kind, _ in expected]
    for event, (_, detail) in zip(events, expected, strict=True):
        assert detail.items() <= stored_detail(event).items()  # the stored form
        assert event.provider_event_id == "sns-1:a@x.example"
        assert event.provider_message_id == SES_ID
        assert event.recipient == "a@x.example"
        assert event.occurred_at.tzinfo is not None
    assert parse({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"}, "x") == []
