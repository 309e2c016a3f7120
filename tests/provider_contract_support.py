"""The provider side of the adapter contract (tests/test_provider_contract.py).

A ``Case`` names one thing the far end of the wire can do. Each adapter's harness turns it into
that provider's own documented answer: for the five HTTP APIs a ``httpx.MockTransport`` handler
(the network edge, nothing inside the adapter is replaced), for SMTP an aiosmtpd relay on
loopback. Either way an ``Edge`` records what reached the provider and the ids it gave, so the
tests can tell a caller's results from another's and see that nothing was sent twice.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import enum
import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from distro.providers import build_provider
from distro.providers.base import OutboundEmail, Provider
from tests.conftest import make_settings
from tests.test_provider_mailgun import form_of


class Case(enum.Enum):
    ACCEPTED = "every recipient accepted"
    READ_TIMEOUT = "the request arrives, its answer never does"
    CONNECT_ERROR = "nothing listens"
    RATE_LIMITED = "429 with Retry-After"
    SERVER_ERROR = "a transient failure at the provider (HTTP 5xx, SMTP 4xx)"
    REFUSED = "a permanent refusal of the request (HTTP 4xx, SMTP 5xx)"
    ONE_REFUSED = "one recipient refused, the others accepted"
    CONCURRENT = "several callers at once"


#: The permanent refusal's reason, which must reach the caller.
REASON = "Sender press@acme.example is not a verified identity"
#: Why the one refused recipient of ``Case.ONE_REFUSED`` was refused.
RECIPIENT_REASON = "Recipient b@news.example is marked inactive"
REFUSED_RECIPIENT = "b@news.example"
RETRY_AFTER = 7
#: How long a concurrent request waits for a second one to be in flight before answering.
OVERLAP_DEADLINE = 5.0

#: A provider's response, and the provider id it gave each recipient it accepted.
Answer = tuple[httpx.Response, dict[str, str]]


@dataclass
class Edge:
    """What reached the provider in one test, from however many threads."""

    case: Case
    reached: list[str] = field(default_factory=list)
    issued: dict[str, str] = field(default_factory=dict)
    in_flight: int = 0
    peak: int = 0
    #: Set once a wait for overlap ran out, so a serialised adapter fails fast, not per request.
    gave_up: bool = False
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def arrive(self, recipients: list[str]) -> None:
        with self._lock:
            self.reached.extend(recipients)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._lock.notify_all()

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def issue(self, ids: dict[str, str]) -> None:
        with self._lock:
            self.issued.update(ids)

    def overlapped(self) -> bool:
        return self.peak >= 2

    def wait_for_overlap(self) -> None:
        """Hold a request until another is in flight too (or the deadline passes): the
        provider's callers really do overlap, and a lock inside the adapter would show."""
        with self._lock:
            if not self.gave_up:
                self.gave_up = not self._lock.wait_for(self.overlapped, timeout=OVERLAP_DEADLINE)

    def times_reached(self) -> Counter[str]:
        return Counter(self.reached)


class HttpAnswers:
    """One HTTP API's documented requests and answers; subclasses fill in the shapes.

    By default a request naming the refused recipient is refused whole, which is how APIs
    without per-recipient answers (SendGrid, Mailgun, SES with one email a request) refuse one.
    """

    adapter = ""

    def config(self) -> dict[str, Any]:
        """The ``[providers.NAME]`` table, so the adapter is built as configured."""
        raise NotImplementedError

    def recipients(self, request: httpx.Request) -> list[str]:
        raise NotImplementedError

    def success(self, request: httpx.Request, recipients: list[str]) -> Answer:
        """The answer accepting every recipient: a response and the id each one got."""
        raise NotImplementedError

    def refusal(self, reason: str) -> httpx.Response:
        raise NotImplementedError

    def rate_limited(self) -> httpx.Response:
        raise NotImplementedError

    def server_error(self) -> httpx.Response:
        raise NotImplementedError

    def answer(self, request: httpx.Request, recipients: list[str], refused: str) -> Answer:
        """Accept every recipient but ``refused`` (none when empty)."""
        if refused in recipients:
            return self.refusal(RECIPIENT_REASON), {}
        return self.success(request, recipients)

    def alone(self, email_: OutboundEmail) -> OutboundEmail:
        """``email_`` changed so the adapter sends it in a request of its own (a no-op when
        every email goes alone or refusals are per recipient)."""
        return email_


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

    def answer(self, request: httpx.Request, recipients: list[str], refused: str) -> Answer:
        ids = {r: new_id("pm") for r in recipients if r != refused}
        items = [
            {"To": r, "ErrorCode": 0, "MessageID": ids[r], "Message": "OK"}
            if r in ids
            else {"ErrorCode": 406, "Message": RECIPIENT_REASON}
            for r in recipients
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

    def answer(self, request: httpx.Request, recipients: list[str], refused: str) -> Answer:
        ids = {r: new_id("re") for r in recipients if r != refused}
        body = {
            "data": [{"id": ids[r]} for r in recipients if r in ids],
            "errors": [
                {"index": i, "message": RECIPIENT_REASON}
                for i, r in enumerate(recipients)
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


def http_provider(answers: HttpAnswers, edge: Edge) -> Provider:
    """``answers.adapter`` built from its config, with ``edge`` answering at the transport."""

    def handle(request: httpx.Request) -> httpx.Response:
        recipients = answers.recipients(request)
        if edge.case is Case.CONNECT_ERROR:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        edge.arrive(recipients)
        try:
            if edge.case is Case.READ_TIMEOUT:
                raise httpx.ReadTimeout("The read operation timed out", request=request)
            if edge.case is Case.RATE_LIMITED:
                return answers.rate_limited()
            if edge.case is Case.SERVER_ERROR:
                return answers.server_error()
            if edge.case is Case.REFUSED:
                return answers.refusal(REASON)
            if edge.case is Case.CONCURRENT:
                edge.wait_for_overlap()
            refused = REFUSED_RECIPIENT if edge.case is Case.ONE_REFUSED else ""
            response, ids = answers.answer(request, recipients, refused)
            edge.issue(ids)
            return response
        finally:
            edge.leave()

    settings = make_settings("sqlite://", providers={answers.adapter: answers.config()})
    transport = httpx.MockTransport(handle)
    return build_provider(settings, answers.adapter, transport=transport)


@dataclass
class ContractRelay:
    """An aiosmtpd handler answering as a relay does in each case: SMTP's 4xx is "try later"
    (the HTTP 5xx of the contract), its 5xx final (the HTTP 4xx)."""

    edge: Edge
    #: How long the relay sits on a message before answering in ``Case.READ_TIMEOUT``; longer
    #: than the client's timeout, and cut short when the relay stops.
    stall_seconds: float = 30.0

    async def handle_MAIL(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.edge.case is Case.SERVER_ERROR:
            return "451 4.3.0 Temporary local problem, try again later"
        if self.edge.case is Case.REFUSED:
            return f"550 5.7.1 {REASON}"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.edge.case is Case.ONE_REFUSED and address == REFUSED_RECIPIENT:
            return f"550 5.1.1 {RECIPIENT_REASON}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        (recipient,) = envelope.rcpt_tos
        message = email.message_from_bytes(
            envelope.original_content or b"", _class=EmailMessage, policy=email.policy.default
        )
        self.edge.arrive([recipient])
        try:
            if self.edge.case is Case.READ_TIMEOUT:
                await asyncio.sleep(self.stall_seconds)
            if self.edge.case is Case.CONCURRENT:
                await self._overlap()
            self.edge.issue({recipient: str(message["Message-ID"])})
        finally:
            self.edge.leave()
        return "250 Message accepted for delivery"

    async def _overlap(self) -> None:
        """``Edge.wait_for_overlap`` without blocking the relay's event loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + OVERLAP_DEADLINE
        while not (self.edge.overlapped() or self.edge.gave_up):
            if loop.time() >= deadline:
                self.edge.gave_up = True
            await asyncio.sleep(0.01)
