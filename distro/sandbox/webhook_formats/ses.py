"""Amazon SES event publishing through SNS: the SES event JSON inside a signed SNS Notification.

One notification per event and recipient, except Send: SES reports a message's sending once,
for all its recipients. Open and Click events name no recipient (SES tracks the message, which is
why bulk mail goes one recipient per message). The SNS signature covers the envelope's own fields
(not a delivery time), so it is made once and a retry repeats the same notification, as SNS does.
``SigningCertURL`` points at the sandbox's keys router. SES reports no unsubscribe of its own.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from distro.sandbox.outcomes import Event, Step
from distro.sandbox.store import StoredMessage
from distro.sandbox.webhook_formats.base import (
    FormatContext,
    Post,
    domain_of,
    fixed,
    iso_z,
    to_json,
    uuid_id,
)
from distro.tracking import sns_signatures

CLIENT_IP = "192.0.2.10"  # TEST-NET-1: never a real client
USER_AGENT = "Mozilla/5.0 (distro sandbox)"
REPORTING_MTA = "a8-70.smtp-out.sandbox.invalid"
CONFIGURATION_SET = "distro-sandbox"

Builder = Callable[[Event], tuple[str, str, dict[str, Any]]]


def _feedback_id() -> str:
    return f"{uuid_id()}-000000"


def _send(event: Event) -> tuple[str, str, dict[str, Any]]:
    return "Send", "send", {}


def _delivery(event: Event) -> tuple[str, str, dict[str, Any]]:
    return (
        "Delivery",
        "delivery",
        {
            "timestamp": iso_z(event.at),
            "processingTimeMillis": 120,
            "recipients": [event.recipient],
            "smtpResponse": "250 2.6.0 Message received (distro sandbox)",
            "reportingMTA": REPORTING_MTA,
        },
    )


def _delay(event: Event) -> tuple[str, str, dict[str, Any]]:
    return (
        "DeliveryDelay",
        "deliveryDelay",
        {
            "timestamp": iso_z(event.at),
            "delayType": "TransientCommunicationFailure",
            "expirationTime": iso_z(event.at + timedelta(hours=14)),
            "delayedRecipients": [
                {
                    "emailAddress": event.recipient,
                    "status": "4.4.1",
                    "diagnosticCode": "smtp; 421 4.4.1 Try again later",
                }
            ],
            "reportingMTA": REPORTING_MTA,
        },
    )


def _bounce(kind: str, sub_kind: str, status: str, diagnostic: str) -> Builder:
    def build(event: Event) -> tuple[str, str, dict[str, Any]]:
        return (
            "Bounce",
            "bounce",
            {
                "bounceType": kind,
                "bounceSubType": sub_kind,
                "bouncedRecipients": [
                    {
                        "emailAddress": event.recipient,
                        "action": "failed",
                        "status": status,
                        "diagnosticCode": diagnostic,
                    }
                ],
                "timestamp": iso_z(event.at),
                "feedbackId": _feedback_id(),
                "reportingMTA": f"dsn; {REPORTING_MTA}",
            },
        )

    return build


def _complaint(event: Event) -> tuple[str, str, dict[str, Any]]:
    return (
        "Complaint",
        "complaint",
        {
            "complainedRecipients": [{"emailAddress": event.recipient}],
            "timestamp": iso_z(event.at),
            "feedbackId": _feedback_id(),
            "userAgent": USER_AGENT,
            "complaintFeedbackType": "abuse",
            "arrivalDate": iso_z(event.at),
        },
    )


def _open(event: Event) -> tuple[str, str, dict[str, Any]]:
    detail = {"ipAddress": CLIENT_IP, "timestamp": iso_z(event.at), "userAgent": USER_AGENT}
    return "Open", "open", detail


def _click(event: Event) -> tuple[str, str, dict[str, Any]]:
    return (
        "Click",
        "click",
        {
            "ipAddress": CLIENT_IP,
            "link": event.link,
            "linkTags": {},
            "timestamp": iso_z(event.at),
            "userAgent": USER_AGENT,
        },
    )


BUILDERS: dict[Step, Builder] = {
    Step.SENT: _send,
    Step.DELIVERED: _delivery,
    Step.DEFERRED: _delay,
    Step.HARD_BOUNCE: _bounce("Permanent", "General", "5.1.1", "smtp; 550 5.1.1 user unknown"),
    Step.SOFT_BOUNCE: _bounce("Transient", "MailboxFull", "4.2.2", "smtp; 452 4.2.2 mailbox full"),
    Step.COMPLAINT: _complaint,
    Step.OPEN: _open,
    Step.CLICK: _click,
}


def mail_object(message: StoredMessage, topic_arn: str) -> dict[str, Any]:
    """SES's ``mail``: the original message, its tags as ``{name: [value]}``."""
    arn = topic_arn.split(":")
    region, account = (arn[3], arn[4]) if len(arn) > 4 else ("", "")
    sender_domain = domain_of(email.utils.parseaddr(message.from_)[1])
    tags: dict[str, list[str]] = {
        "ses:configuration-set": [CONFIGURATION_SET],
        "ses:source-ip": [CLIENT_IP],
        "ses:from-domain": [sender_domain],
        "ses:caller-identity": ["distro-sandbox"],
    }
    tags.update({name: [value] for name, value in message.custom_args.items()})
    headers = [
        {"name": "From", "value": message.from_},
        {"name": "To", "value": message.to},
        {"name": "Subject", "value": message.subject},
        *({"name": name, "value": value} for name, value in message.headers),
    ]
    return {
        "timestamp": iso_z(message.received_at),
        "source": message.from_,
        "sourceArn": f"arn:aws:ses:{region}:{account}:identity/{sender_domain}",
        "sendingAccountId": account,
        "messageId": message.message_id,
        "destination": list(message.recipients),
        "headersTruncated": False,
        "headers": headers,
        "commonHeaders": {
            "from": [message.from_],
            "to": [address.strip() for address in message.to.split(",") if address.strip()],
            "messageId": message.message_id,
            "subject": message.subject,
        },
        "tags": tags,
    }


def notification(ses_event: dict[str, Any], event: Event, context: FormatContext) -> dict[str, Any]:
    """The signed SNS envelope around one SES event."""
    options, keys = context.options, context.keys
    envelope: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": uuid_id(),
        "TopicArn": options.sns_topic_arn,
        "Message": json.dumps(ses_event, ensure_ascii=False, separators=(",", ":")),
        "Timestamp": iso_z(event.at),
        "SignatureVersion": options.sns_signature_version,
    }
    envelope["Signature"] = sns_signatures.sign_sns(
        envelope, keys.sns_private_key, options.sns_signature_version
    )
    envelope["SigningCertURL"] = keys.sns_cert_url
    envelope["UnsubscribeURL"] = (
        f"{options.public_base_url.rstrip('/')}/?Action=Unsubscribe"
        f"&SubscriptionArn={options.sns_topic_arn}:{uuid_id()}"
    )
    return envelope


def posts(message: StoredMessage, events: Sequence[Event], context: FormatContext) -> list[Post]:
    """One signed SNS notification per event SES reports."""
    mail = mail_object(message, context.options.sns_topic_arn)
    found: list[Post] = []
    sent = False
    for event in events:
        builder = BUILDERS.get(event.step)
        if builder is None or (event.step is Step.SENT and sent):
            continue
        sent = sent or event.step is Step.SENT
        event_type, key, detail = builder(event)
        envelope = notification(
            {"eventType": event_type, "mail": mail, key: detail}, event, context
        )
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",  # what SNS sends, JSON notwithstanding
            "x-amz-sns-message-type": "Notification",
            "x-amz-sns-message-id": envelope["MessageId"],
            "x-amz-sns-topic-arn": context.options.sns_topic_arn,
            "User-Agent": "Amazon Simple Notification Service Agent",
        }
        label = f"ses {event_type} {message.message_id}"
        found.append(Post(label, fixed(to_json(envelope), headers)))
    return found
