"""Five HTTP providers' documented answers, for the adapter contract (test_provider_contract).

Shapes follow each provider's API reference as the adapters' own tests use them: Postmark's batch
items, Resend's permissive batch, SendGrid's 202 with ``X-Message-Id``, Mailgun's queued id, SES
v2's ``MessageId`` and ``x-amzn-ErrorType``.
"""

from __future__ import annotations

import email.utils
import json
import uuid
from typing import Any

import httpx

from distro.providers.base import OutboundEmail
from tests.provider_contract_support import (
    RECIPIENT_REASON,
    RETRY_AFTER,
    Answer,
    Fate,
    HttpAnswers,
)
from tests.test_provider_mailgun import form_of


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def address_of(value: str) -> str:
    return email.utils.parseaddr(value)[1]


class PostmarkAnswers(HttpAnswers):
    """``POST /email/batch``: 200 with one ``ErrorCode``/``MessageID`` item per message."""

    adapter = "postmark"

    def config(self) -> dict[str, Any]:
        return {"type": "postmark", "server_token": "server-token-123"}

    def recipients(self, request: httpx.Request) -> list[str]:
        return [address_of(m["To"]) for m in json.loads(request.content)]

    def answer(self, request: httpx.Request, fates: dict[str, Fate]) -> Answer:
        ids = {r: new_id("pm") for r, fate in fates.items() if fate is Fate.ACCEPT}
        items = [
            {"To": r, "ErrorCode": 0, "MessageID": ids[r], "Message": "OK"}
            if fate is Fate.ACCEPT
            else {"ErrorCode": 406, "Message": RECIPIENT_REASON}
            if fate is Fate.REFUSE
            else {"ErrorCode": 429, "Message": "Rate limit exceeded, try again later"}
            for r, fate in fates.items()
        ]
        return httpx.Response(200, json=items), ids

    def refusal(self, reason: str) -> httpx.Response:
        return httpx.Response(422, json={"ErrorCode": 400, "Message": reason})

    def rate_limited(self) -> httpx.Response:
        body = {"ErrorCode": 429, "Message": "Rate limit exceeded"}
        return httpx.Response(429, json=body, headers={"Retry-After": str(RETRY_AFTER)})

    def server_error(self) -> httpx.Response:
        return httpx.Response(503, json={"ErrorCode": 0, "Message": "Service unavailable"})


class ResendAnswers(HttpAnswers):
    """``POST /emails/batch`` in permissive mode: ids of the emails created, ``errors`` by index."""

    adapter = "resend"

    def config(self) -> dict[str, Any]:
        return {"type": "resend", "api_key": "re_123456789"}

    def recipients(self, request: httpx.Request) -> list[str]:
        return [address_of(e["to"][0]) for e in json.loads(request.content)]

    def answer(self, request: httpx.Request, fates: dict[str, Fate]) -> Answer:
        # Permissive mode's errors are validation errors, final: nothing is put off.
        assert Fate.DEFER not in fates.values()
        ids = {r: new_id("re") for r, fate in fates.items() if fate is Fate.ACCEPT}
        body = {
            "data": [{"id": ids[r]} for r in fates if r in ids],
            "errors": [
                {"index": i, "message": RECIPIENT_REASON}
                for i, r in enumerate(fates)
                if r not in ids
            ],
        }
        return httpx.Response(200, json=body), ids

    def refusal(self, reason: str) -> httpx.Response:
        body = {"statusCode": 422, "name": "validation_error", "message": reason}
        return httpx.Response(422, json=body)

    def rate_limited(self) -> httpx.Response:
        body = {"statusCode": 429, "name": "rate_limit_exceeded", "message": "Too many requests"}
        return httpx.Response(429, json=body, headers={"retry-after": str(RETRY_AFTER)})

    def server_error(self) -> httpx.Response:
        body = {"statusCode": 500, "name": "internal_server_error", "message": "Unexpected"}
        return httpx.Response(500, json=body)


class SendgridAnswers(HttpAnswers):
    """``POST /v3/mail/send``: 202 and ``X-Message-Id`` for the request, or ``errors``."""

    adapter = "sendgrid"

    def config(self) -> dict[str, Any]:
        return {"type": "sendgrid", "api_key": "SG.test-key"}

    def recipients(self, request: httpx.Request) -> list[str]:
        body = json.loads(request.content)
        return [to["email"] for p in body["personalizations"] for to in p["to"]]

    def success(self, request: httpx.Request, recipients: list[str]) -> Answer:
        provider_id = new_id("sg")
        response = httpx.Response(202, headers={"X-Message-Id": provider_id})
        return response, dict.fromkeys(recipients, provider_id)

    def refusal(self, reason: str) -> httpx.Response:
        errors = [{"message": reason, "field": "from.email", "help": None}]
        return httpx.Response(400, json={"errors": errors})

    def rate_limited(self) -> httpx.Response:
        headers = {"Retry-After": str(RETRY_AFTER), "X-RateLimit-Remaining": "0"}
        return httpx.Response(429, json={"errors": [{"message": "too many"}]}, headers=headers)

    def server_error(self) -> httpx.Response:
        return httpx.Response(503, json={"errors": [{"message": "Service Unavailable"}]})

    def alone(self, email_: OutboundEmail) -> OutboundEmail:
        # One request shares its category: another tag is another request.
        return email_._replace(tag="alone")


class MailgunAnswers(HttpAnswers):
    """``POST /v3/{domain}/messages`` (form): ``{"id": "<...>", "message"}`` for the call."""

    adapter = "mailgun"
    domain = "mg.acme.example"

    def config(self) -> dict[str, Any]:
        return {"type": "mailgun", "api_key": "key-3ax6xnjp", "domain": self.domain}

    def recipients(self, request: httpx.Request) -> list[str]:
        return [address_of(value) for name, value in form_of(request) if name == "to"]

    def success(self, request: httpx.Request, recipients: list[str]) -> Answer:
        provider_id = f"{new_id('mg')}@{self.domain}"
        body = {"id": f"<{provider_id}>", "message": "Queued. Thank you."}
        return httpx.Response(200, json=body), dict.fromkeys(recipients, provider_id)

    def refusal(self, reason: str) -> httpx.Response:
        return httpx.Response(400, json={"message": reason})

    def rate_limited(self) -> httpx.Response:
        body = {"message": "Too many requests"}
        return httpx.Response(429, json=body, headers={"Retry-After": str(RETRY_AFTER)})

    def server_error(self) -> httpx.Response:
        return httpx.Response(503, text="Service Unavailable")

    def alone(self, email_: OutboundEmail) -> OutboundEmail:
        # One call shares its o:tag: another tag is another call.
        return email_._replace(tag="alone")


class SesAnswers(HttpAnswers):
    """SES v2 SendEmail, one email a request: ``MessageId``, or ``x-amzn-ErrorType``."""

    adapter = "ses"

    def config(self) -> dict[str, Any]:
        return {
            "type": "ses",
            "region": "eu-west-1",
            "access_key_id": "AKIDEXAMPLE",
            "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        }

    def recipients(self, request: httpx.Request) -> list[str]:
        return list(json.loads(request.content)["Destination"]["ToAddresses"])

    def success(self, request: httpx.Request, recipients: list[str]) -> Answer:
        (recipient,) = recipients
        provider_id = new_id("ses")
        return httpx.Response(200, json={"MessageId": provider_id}), {recipient: provider_id}

    def refusal(self, reason: str) -> httpx.Response:
        return self._error(400, "MessageRejected", reason)

    def rate_limited(self) -> httpx.Response:
        response = self._error(429, "TooManyRequestsException", "Maximum sending rate exceeded")
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    def server_error(self) -> httpx.Response:
        return self._error(500, "InternalFailure", "The request processing has failed")

    @staticmethod
    def _error(status: int, kind: str, message: str) -> httpx.Response:
        return httpx.Response(status, headers={"x-amzn-ErrorType": kind}, json={"message": message})


HTTP_ANSWERS: dict[str, HttpAnswers] = {
    a.adapter: a
    for a in (PostmarkAnswers(), SendgridAnswers(), MailgunAnswers(), SesAnswers(), ResendAnswers())
}
