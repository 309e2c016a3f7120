"""Webhook bodies of every provider format, shaped as each provider documents them, and the app
that receives them all (no tests here): a complaint naming any recipient, our id and the
provider's id, for the recipient checks; one body of each event kind, which the property tests
mutate; and each body posted as its provider would, authenticated. Built with the helpers of each
provider's webhook tests, so the shapes stay the ones those tests prove are read."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import Engine

from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking import signatures as sig
from distro.tracking import sns_signatures as sns_sig
from tests.test_webhooks import delivery as postmark_delivery
from tests.test_webhooks_mailgun import event_data as mailgun_event_data
from tests.test_webhooks_resend import payload as resend_payload
from tests.test_webhooks_sendgrid import sg_event
from tests.test_webhooks_ses import CERT_URL, TOPIC, AwsEdge, notification
from tests.test_webhooks_ses import mail as ses_mail
from tests.test_webhooks_support import Live, LiveFactory

#: The formats of ``/webhooks/{format}``.
FORMATS = ("postmark", "sendgrid", "mailgun", "ses", "resend")
#: The provider of each format that ``all_formats`` configures.
PROVIDERS = {"postmark": "pm", "sendgrid": "sg", "mailgun": "mg", "ses": "ses", "resend": "rs"}
AT = "2026-11-21T09:00:02.000Z"


def complaint(wire_format: str, recipient: str, message_id: int | None, provider_id: str) -> Any:
    """A spam complaint by ``recipient`` in ``wire_format``, naming our ``message_id`` (None: no
    metadata) and the provider's ``provider_id``: the JSON value the parser reads (for SES the
    SES event inside the SNS notification; for Mailgun the ``event-data``)."""
    if wire_format == "postmark":
        found: dict[str, Any] = {
            "RecordType": "SpamComplaint",
            "ID": uuid.uuid4().int >> 72,
            "Type": "SpamComplaint",
            "TypeCode": 512,
            "MessageID": provider_id,
            "Email": recipient,
            "BouncedAt": AT,
            "Description": "The subscriber explicitly marked this email as spam.",
        }
        if message_id is not None:
            found["Metadata"] = {MESSAGE_ID_KEY: str(message_id)}
        return found
    if wire_format == "sendgrid":
        event = sg_event("spamreport", recipient, message_id)
        return [{**event, "sg_message_id": f"{provider_id}.filterdrecv-1.0"}]
    if wire_format == "mailgun":
        data = mailgun_event_data("complained", recipient, message_id)
        data["message"]["headers"]["message-id"] = provider_id
        return data
    if wire_format == "ses":
        return {
            "eventType": "Complaint",
            "mail": {**ses_mail([recipient], message_id), "messageId": provider_id},
            "complaint": {
                "complainedRecipients": [{"emailAddress": recipient}],
                "timestamp": AT,
                "feedbackId": f"0102-{uuid.uuid4().hex}",
                "complaintFeedbackType": "abuse",
            },
        }
    if wire_format == "resend":
        return json.loads(resend_payload("email.complained", recipient, message_id, provider_id))
    raise ValueError(f"no format {wire_format!r}")


def samples(wire_format: str) -> list[Any]:
    """One body of each event kind the format has (as ``complaint`` says what a body is)."""
    to, our_id, their_id = "jo@news.example", 7, "pid-7"
    if wire_format == "postmark":
        base = {"MessageID": their_id, "Metadata": {MESSAGE_ID_KEY: str(our_id)}}
        return [
            postmark_delivery(our_id, to, their_id),
            {
                **base,
                "RecordType": "Bounce",
                "ID": 4323372036854775807,
                "Type": "HardBounce",
                "Email": to,
                "BouncedAt": AT,
                "Details": "smtp;550 5.1.1 The email account does not exist",
                "Description": "Unknown user.",
            },
            complaint("postmark", to, our_id, their_id),
            {**base, "RecordType": "Open", "Recipient": to, "ReceivedAt": AT, "UserAgent": "M/5"},
            {
                **base,
                "RecordType": "Click",
                "Recipient": to,
                "ReceivedAt": AT,
                "OriginalLink": "https://acme.example/news",
                "Geo": {"IP": "192.0.2.1"},
            },
            {
                **base,
                "RecordType": "SubscriptionChange",
                "Recipient": to,
                "ChangedAt": AT,
                "SuppressSending": True,
                "SuppressionReason": "ManualSuppression",
            },
        ]
    if wire_format == "sendgrid":
        kinds = ("processed", "delivered", "deferred", "open", "click", "unsubscribe")
        events = [sg_event(kind, to, our_id, index) for index, kind in enumerate(kinds)]
        events.append(sg_event("bounce", to, our_id, 9, type="bounce", reason="550 5.1.1 gone"))
        events.append(sg_event("dropped", to, our_id, 10, reason="Bounced Address"))
        return [events, complaint("sendgrid", to, our_id, their_id)]
    if wire_format == "mailgun":
        return [
            mailgun_event_data("delivered", to, our_id),
            mailgun_event_data("opened", to, our_id, ip="203.0.113.9"),
            mailgun_event_data("clicked", to, our_id, url="https://acme.example/news"),
            mailgun_event_data("unsubscribed", to, our_id),
            mailgun_event_data(
                "failed",
                to,
                our_id,
                severity="permanent",
                reason="bounce",
                **{"delivery-status": {"code": 550, "message": "5.1.1 gone"}},
            ),
            mailgun_event_data(
                "failed",
                to,
                our_id,
                severity="temporary",
                reason="generic",
                **{"delivery-status": {"code": 452, "retry-seconds": 600}},
            ),
            complaint("mailgun", to, our_id, their_id),
        ]
    if wire_format == "ses":
        mail = {**ses_mail([to], our_id), "messageId": their_id}
        return [
            {"eventType": "Send", "mail": mail, "send": {}},
            {
                "eventType": "Delivery",
                "mail": mail,
                "delivery": {"timestamp": AT, "recipients": [to], "smtpResponse": "250 OK"},
            },
            {
                "eventType": "Bounce",
                "mail": mail,
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": "General",
                    "bouncedRecipients": [{"emailAddress": to, "status": "5.1.1"}],
                    "timestamp": AT,
                },
            },
            complaint("ses", to, our_id, their_id),
            {"eventType": "Open", "mail": mail, "open": {"timestamp": AT, "userAgent": "M/5"}},
            {
                "eventType": "Click",
                "mail": mail,
                "click": {"timestamp": AT, "link": "https://acme.example/news"},
            },
            {
                "eventType": "DeliveryDelay",
                "mail": mail,
                "deliveryDelay": {
                    "timestamp": AT,
                    "delayType": "MailboxFull",
                    "delayedRecipients": [{"emailAddress": to, "status": "4.2.2"}],
                },
            },
            {"notificationType": "Reject", "mail": mail, "reject": {"reason": "Bad content"}},
        ]
    if wire_format == "resend":
        found = [
            json.loads(resend_payload(kind, to, our_id, their_id))
            for kind in ("email.sent", "email.delivered", "email.opened", "email.clicked")
        ]
        bounce = {"bounce": {"type": "Permanent", "subType": "General", "message": "gone"}}
        found.append(json.loads(resend_payload("email.bounced", to, our_id, their_id, **bounce)))
        found.append(complaint("resend", to, our_id, their_id))
        return found
    raise ValueError(f"no format {wire_format!r}")


def signing_keys() -> dict[str, str]:
    """Keys and secrets made here for every format's provider (SendGrid's and SNS's are slow to
    make: a module's tests share them)."""
    sendgrid_private, sendgrid_public = sig.generate_sendgrid_key()
    return {
        "sendgrid_private": sendgrid_private,
        "sendgrid_public": sendgrid_public,
        "mailgun": "mailgun-signing-key",
        "resend": "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtMTI=",
        "sns": sns_sig.generate_sns_key(),
    }


def all_formats(engine: Engine, live_factory: LiveFactory, keys: dict[str, str]) -> Live:
    """The app with one provider of every webhook format; SNS certificates from a mock AWS."""
    aws = AwsEdge(sns_sig.self_signed_certificate(keys["sns"], "sns.amazonaws.com"))
    return live_factory(
        engine,
        transport=httpx.MockTransport(aws),
        providers={
            "pm": {
                "type": "postmark",
                "server_token": "t",
                "webhook_username": "hooks",
                "webhook_password": "hooks-password",
            },
            "sg": {
                "type": "sendgrid",
                "api_key": "k",
                "webhook_public_key": keys["sendgrid_public"],
            },
            "mg": {
                "type": "mailgun",
                "api_key": "k",
                "domain": "mg.acme.example",
                "webhook_signing_key": keys["mailgun"],
            },
            "ses": {
                "type": "ses",
                "region": "eu-west-1",
                "access_key_id": "AKIATEST",
                "secret_access_key": "secret",
                "webhook_topic_arn": TOPIC,
                "webhook_trusted_cert_url": CERT_URL,
            },
            "rs": {"type": "resend", "api_key": "k", "webhook_secret": keys["resend"]},
        },
    )


def post_authenticated(live: Live, keys: dict[str, str], wire_format: str, value: Any) -> Any:
    """``value`` posted as ``wire_format``'s provider would post it, correctly authenticated."""
    if wire_format == "postmark":
        body = json.dumps(value).encode()
        basic = base64.b64encode(b"hooks:hooks-password").decode()
        return live.post("postmark", body, {"Authorization": f"Basic {basic}"})
    if wire_format == "sendgrid":
        body = json.dumps(value).encode()
        timestamp = str(int(time.time()))
        return live.post(
            "sendgrid",
            body,
            {
                sig.SENDGRID_SIGNATURE_HEADER: sig.sign_sendgrid(
                    keys["sendgrid_private"], timestamp, body
                ),
                sig.SENDGRID_TIMESTAMP_HEADER: timestamp,
            },
        )
    if wire_format == "mailgun":
        signature = sig.mailgun_signature(keys["mailgun"])
        body = json.dumps({"signature": signature, "event-data": value}).encode()
        return live.post("mailgun", body, {"Content-Type": "application/json"})
    if wire_format == "ses":
        message = notification(keys["sns"], value)
        return live.post("ses", json.dumps(message).encode(), {"Content-Type": "text/plain"})
    body = json.dumps(value).encode()
    return live.post(
        "resend", body, sig.svix_headers(keys["resend"], f"msg_{uuid.uuid4().hex}", body)
    )


#: What each route answers an authentic body it cannot read.
UNREADABLE = {"postmark": 400, "sendgrid": 400, "mailgun": 406, "ses": 400, "resend": 400}
