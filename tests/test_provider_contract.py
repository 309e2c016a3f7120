"""The contract every provider adapter keeps, one set of cases run against all six.

Each adapter is built from its config as the product builds it and driven only at its network
edge (``tests/provider_contract_support.py``): the five HTTP APIs through ``httpx.MockTransport``
answering in each provider's documented shapes, SMTP against a real aiosmtpd relay on loopback.
Outcomes are read the way the send engine reads them, through
``distro.sending.provider_call.call``, which turns whole-request errors into per-message results
and a Retry-After: whether an adapter raises or answers per message is its own business, what the
engine then does with each message is the contract.

A case an adapter cannot meet by the nature of its protocol is listed in ``NOT_APPLICABLE`` with
the reason, and reported as skipped with it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from aiosmtpd.controller import Controller

from distro.providers import build_provider
from distro.providers.base import OutboundEmail, Provider, SendResult
from distro.sending.provider_call import UNEXPECTED, call
from tests.conftest import make_settings
from tests.factories import outbound_email
from tests.provider_contract_support import (
    HTTP_ANSWERS,
    REASON,
    RECIPIENT_REASON,
    REFUSED_RECIPIENT,
    RETRY_AFTER,
    Case,
    ContractRelay,
    Edge,
    http_provider,
)
from tests.test_provider_smtp import _Controller

ADAPTERS = ("postmark", "sendgrid", "mailgun", "ses", "resend", "smtp")

NOT_APPLICABLE: dict[tuple[str, Case], str] = {
    ("smtp", Case.RATE_LIMITED): (
        "SMTP has no rate-limit reply that carries a delay; a relay's 4xx 'try again later' is "
        "the SERVER_ERROR case"
    ),
}

#: The SMTP client's timeout when the relay is meant to time out; the relay stalls far longer.
SMTP_READ_TIMEOUT = 0.5
UNSUBSCRIBE = "<https://acme.example/u/tok>, <mailto:unsub@acme.example?subject=tok>"


def adapters(case: Case) -> list[pytest.ParameterSet]:
    """Every adapter for ``case``; those it does not apply to are skipped, saying why."""
    return [
        pytest.param(
            adapter,
            id=adapter,
            marks=[pytest.mark.skip(reason=f"{adapter}: {NOT_APPLICABLE[adapter, case]}")]
            if (adapter, case) in NOT_APPLICABLE
            else [],
        )
        for adapter in ADAPTERS
    ]


@dataclass
class Contract:
    """One adapter wired to an edge that plays ``edge.case``."""

    provider: Provider
    edge: Edge
    #: Makes an email go in a request of its own (see ``HttpAnswers.alone``).
    alone: Callable[[OutboundEmail], OutboundEmail]


Connect = Callable[[str, Case], Contract]


def free_port() -> int:
    """A loopback port that was free a moment ago and has no listener."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def smtp_provider(port: int, timeout: float) -> Provider:
    relay = {"type": "smtp", "host": "127.0.0.1", "port": port, "security": "none"}
    settings = make_settings("sqlite://", providers={"smtp": {**relay, "timeout_seconds": timeout}})
    return build_provider(settings, "smtp")


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Adapters and their edges; providers closed and relays stopped at teardown."""
    providers: list[Provider] = []
    controllers: list[Controller] = []

    def make(adapter: str, case: Case) -> Contract:
        edge = Edge(case)
        if adapter != "smtp":
            answers = HTTP_ANSWERS[adapter]
            providers.append(http_provider(answers, edge))
            return Contract(providers[-1], edge, answers.alone)
        if case is Case.CONNECT_ERROR:
            port = free_port()
        else:
            controller = _Controller(ContractRelay(edge), hostname="127.0.0.1", port=0)
            controller.start()
            controllers.append(controller)
            port = controller.port
        timeout = SMTP_READ_TIMEOUT if case is Case.READ_TIMEOUT else 10.0
        providers.append(smtp_provider(port, timeout))
        return Contract(providers[-1], edge, lambda email_: email_)

    yield make
    for provider in providers:
        provider.close()
    for controller in controllers:
        controller.stop()


def batch(first_id: int = 1, prefix: str = "") -> list[OutboundEmail]:
    """Three emails, to a@, b@ and c@news.example (``prefix`` before each local part)."""
    return [
        outbound_email(first_id + i, f"{prefix}{name}@news.example", unsubscribe=UNSUBSCRIBE)
        for i, name in enumerate("abc")
    ]


Outcome = tuple[int, bool, bool, bool, str | None]


def outcomes(results: list[SendResult]) -> list[Outcome]:
    """(message id, accepted, retryable, unknown, provider id) per result, in batch order."""
    for result in results:
        assert UNEXPECTED not in (result.error or ""), result.error
    return [
        (r.message_id, r.accepted, r.retryable, r.unknown, r.provider_message_id) for r in results
    ]


def none_accepted(*, retryable: bool = False, unknown: bool = False) -> list[Outcome]:
    """The outcomes of ``batch()`` when no email of it was accepted, each the same way."""
    return [(message_id, False, retryable, unknown, None) for message_id in (1, 2, 3)]


def assert_reached_at_most_once(edge: Edge) -> None:
    """No message reached the provider twice: the adapter never resent anything on its own."""
    assert [to for to, times in edge.times_reached().items() if times > 1] == []


@pytest.mark.parametrize("adapter", adapters(Case.ACCEPTED))
def test_each_accepted_recipient_gets_its_own_provider_id(connect: Connect, adapter: str) -> None:
    contract = connect(adapter, Case.ACCEPTED)
    results, retry_after = call(contract.provider, batch(), "batch-1")

    issued = contract.edge.issued
    assert outcomes(results) == [
        (1, True, False, False, issued["a@news.example"]),
        (2, True, False, False, issued["b@news.example"]),
        (3, True, False, False, issued["c@news.example"]),
    ]
    assert all(r.error is None for r in results)
    assert retry_after is None
    assert contract.edge.times_reached() == dict.fromkeys(issued, 1)


@pytest.mark.parametrize("adapter", adapters(Case.READ_TIMEOUT))
def test_read_timeout_leaves_the_outcome_unknown(connect: Connect, adapter: str) -> None:
    """The request arrived and its answer was lost: neither failed nor retried blindly."""
    contract = connect(adapter, Case.READ_TIMEOUT)
    results, retry_after = call(contract.provider, batch(), "batch-1")

    assert outcomes(results) == none_accepted(unknown=True)
    assert retry_after is None
    # Every message did reach the provider, once: why sending it again could duplicate it.
    assert contract.edge.times_reached() == dict.fromkeys(
        ["a@news.example", "b@news.example", "c@news.example"], 1
    )


@pytest.mark.parametrize("adapter", adapters(Case.CONNECT_ERROR))
def test_connect_error_is_retryable(connect: Connect, adapter: str) -> None:
    contract = connect(adapter, Case.CONNECT_ERROR)
    results, retry_after = call(contract.provider, batch(), "batch-1")

    assert outcomes(results) == none_accepted(retryable=True)
    assert all("connect" in (r.error or "") for r in results)
    assert retry_after is None
    assert contract.edge.reached == []


@pytest.mark.parametrize("adapter", adapters(Case.RATE_LIMITED))
def test_429_is_retryable_after_the_delay_it_asks_for(connect: Connect, adapter: str) -> None:
    contract = connect(adapter, Case.RATE_LIMITED)
    before = time.monotonic()
    results, retry_after = call(contract.provider, batch(), "batch-1")
    after = time.monotonic()

    assert outcomes(results) == none_accepted(retryable=True)
    assert all("429" in (r.error or "") for r in results)
    # The engine waits that long before this batch goes again, and the gate pauses the provider.
    assert retry_after == RETRY_AFTER
    assert before + RETRY_AFTER <= contract.provider.resume_at <= after + RETRY_AFTER
    assert_reached_at_most_once(contract.edge)


@pytest.mark.parametrize("adapter", adapters(Case.SERVER_ERROR))
def test_server_error_is_retryable(connect: Connect, adapter: str) -> None:
    contract = connect(adapter, Case.SERVER_ERROR)
    results, retry_after = call(contract.provider, batch(), "batch-1")

    assert outcomes(results) == none_accepted(retryable=True)
    assert retry_after is None
    assert contract.provider.resume_at == 0.0  # no pause asked for, none taken
    assert_reached_at_most_once(contract.edge)


@pytest.mark.parametrize("adapter", adapters(Case.REFUSED))
def test_permanent_refusal_fails_with_the_reason(connect: Connect, adapter: str) -> None:
    contract = connect(adapter, Case.REFUSED)
    results, retry_after = call(contract.provider, batch(), "batch-1")

    assert outcomes(results) == none_accepted()
    for result in results:
        assert REASON in (result.error or ""), result.error
    assert retry_after is None
    assert_reached_at_most_once(contract.edge)


@pytest.mark.parametrize("adapter", adapters(Case.ONE_REFUSED))
def test_one_refused_recipient_fails_alone(connect: Connect, adapter: str) -> None:
    contract = connect(adapter, Case.ONE_REFUSED)
    a, b, c = batch()
    assert b.to_email == REFUSED_RECIPIENT
    results, retry_after = call(contract.provider, [a, contract.alone(b), c], "batch-1")

    issued = contract.edge.issued
    assert outcomes(results) == [
        (1, True, False, False, issued["a@news.example"]),
        (2, False, False, False, None),
        (3, True, False, False, issued["c@news.example"]),
    ]
    assert RECIPIENT_REASON in (results[1].error or ""), results[1].error
    assert REFUSED_RECIPIENT not in issued
    assert retry_after is None
    reached = contract.edge.times_reached()
    assert (reached["a@news.example"], reached["c@news.example"]) == (1, 1)
    assert_reached_at_most_once(contract.edge)


CALLERS = 6


@pytest.mark.parametrize("adapter", adapters(Case.CONCURRENT))
def test_concurrent_callers_each_get_their_own_results(connect: Connect, adapter: str) -> None:
    """One adapter serves every sender thread: batches in flight together keep their answers."""
    contract = connect(adapter, Case.CONCURRENT)
    batches = [batch(first_id=100 * t, prefix=f"t{t}-") for t in range(CALLERS)]

    def hand_over(emails: list[OutboundEmail]) -> tuple[list[SendResult], float | None]:
        return call(contract.provider, emails, f"batch-{emails[0].message_id}")

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        answers = list(pool.map(hand_over, batches))

    issued = contract.edge.issued
    assert contract.edge.overlapped(), "the callers' requests never were in flight together"
    for emails, (results, retry_after) in zip(batches, answers, strict=True):
        assert outcomes(results) == [
            (e.message_id, True, False, False, issued[e.to_email]) for e in emails
        ]
        assert retry_after is None
    everyone = [e.to_email for emails in batches for e in emails]
    assert contract.edge.times_reached() == dict.fromkeys(everyone, 1)
    # Each recipient's id is its own (for per-request ids: its own request's).
    assert len(set(issued.values())) >= CALLERS
