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
import enum
import threading
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


class Case(enum.Enum):
    ACCEPTED = "every recipient accepted"
    READ_TIMEOUT = "the request arrives, its answer never does"
    ANSWER_DROPPED = "the request arrives, then the connection closes without an answer"
    CONNECT_ERROR = "nothing listens"
    RATE_LIMITED = "429 with Retry-After"
    SERVER_ERROR = "a transient failure at the provider (HTTP 5xx, SMTP 4xx)"
    REFUSED = "a permanent refusal of the request (HTTP 4xx, SMTP 5xx)"
    ONE_REFUSED = "one recipient refused for good, the others accepted"
    ONE_DEFERRED = "one recipient put off until later, the others accepted"
    CONCURRENT = "several callers at once, each batch with its own fate (CALLER_CASES)"


class Fate(enum.Enum):
    """What the provider does with one recipient of an answered request."""

    ACCEPT = "accept"
    REFUSE = "refuse"
    DEFER = "defer"


#: The permanent refusal's reason, which must reach the caller.
REASON = "Sender press@acme.example is not a verified identity"
#: Why the one recipient of ``Case.ONE_REFUSED`` was refused.
RECIPIENT_REASON = "Recipient b@news.example is marked inactive"
#: The one recipient refused or put off in ``ONE_REFUSED`` and ``ONE_DEFERRED``.
SINGLED_OUT = "b@news.example"
#: Concurrent callers whose batches (recipients ``t0-...``, ``t1-...``) the provider does not
#: accept; every other caller's batch is accepted once another request is in flight with it.
CALLER_CASES = {"t0-": Case.ANSWER_DROPPED, "t1-": Case.REFUSED}
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

    def case_for(self, recipients: list[str]) -> Case:
        """What the provider does with a request for ``recipients``."""
        if self.case is Case.CONCURRENT:
            for prefix, case in CALLER_CASES.items():
                if all(r.startswith(prefix) for r in recipients):
                    return case
        return self.case


def fate_of(case: Case, recipient: str) -> Fate:
    """What becomes of ``recipient`` in a request the provider answers in ``case``."""
    if recipient == SINGLED_OUT and case is Case.ONE_REFUSED:
        return Fate.REFUSE
    if recipient == SINGLED_OUT and case is Case.ONE_DEFERRED:
        return Fate.DEFER
    return Fate.ACCEPT


class HttpAnswers:
    """One HTTP API's documented requests and answers; subclasses fill in the shapes
    (``tests/provider_contract_answers.py``).

    By default a request naming a refused recipient is refused whole, and one naming a deferred
    recipient fails with a server error: that is how APIs without per-recipient answers
    (SendGrid, Mailgun, SES with one email a request) turn down one recipient.
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

    def answer(self, request: httpx.Request, fates: dict[str, Fate]) -> Answer:
        """The answer to a request for ``fates``' recipients (in request order)."""
        if Fate.REFUSE in fates.values():
            return self.refusal(RECIPIENT_REASON), {}
        if Fate.DEFER in fates.values():
            return self.server_error(), {}
        return self.success(request, list(fates))

    def alone(self, email_: OutboundEmail) -> OutboundEmail:
        """``email_`` changed so the adapter sends it in a request of its own (a no-op when
        every email goes alone or refusals are per recipient)."""
        return email_


def http_provider(answers: HttpAnswers, edge: Edge) -> Provider:
    """``answers.adapter`` built from its config, with ``edge`` answering at the transport."""

    def handle(request: httpx.Request) -> httpx.Response:
        recipients = answers.recipients(request)
        case = edge.case_for(recipients)
        if case is Case.CONNECT_ERROR:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        edge.arrive(recipients)
        try:
            if case is Case.READ_TIMEOUT:
                raise httpx.ReadTimeout("The read operation timed out", request=request)
            if case is Case.ANSWER_DROPPED:
                message = "Server disconnected without sending a response."
                raise httpx.RemoteProtocolError(message, request=request)
            if case is Case.RATE_LIMITED:
                return answers.rate_limited()
            if case is Case.SERVER_ERROR:
                return answers.server_error()
            if case is Case.REFUSED:
                return answers.refusal(REASON)
            if case is Case.CONCURRENT:
                edge.wait_for_overlap()
            response, ids = answers.answer(request, {r: fate_of(case, r) for r in recipients})
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
    (the HTTP 5xx of the contract), its 5xx final (the HTTP 4xx). Refusals come at RCPT, the
    first moment a relay knows whom a message is for."""

    edge: Edge
    #: How long the relay sits on a message before answering in ``Case.READ_TIMEOUT``; longer
    #: than the client's timeout, and cut short when the relay stops.
    stall_seconds: float = 30.0

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        case = self.edge.case_for([address])
        fate = fate_of(case, address)
        if case is Case.SERVER_ERROR:
            return "451 4.3.0 Temporary local problem, try again later"
        if case is Case.REFUSED:
            return f"550 5.7.1 {REASON}"
        if fate is Fate.REFUSE:
            return f"550 5.1.1 {RECIPIENT_REASON}"
        if fate is Fate.DEFER:
            return "452 4.2.2 Mailbox full, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        (recipient,) = envelope.rcpt_tos
        case = self.edge.case_for([recipient])
        message = email.message_from_bytes(
            envelope.original_content or b"", _class=EmailMessage, policy=email.policy.default
        )
        self.edge.arrive([recipient])
        try:
            if case is Case.READ_TIMEOUT:
                await asyncio.sleep(self.stall_seconds)
            if case is Case.ANSWER_DROPPED:
                assert isinstance(server.transport, asyncio.Transport)
                server.transport.abort()
                return "250 never heard"
            if case is Case.CONCURRENT:
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
