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
from tests.provider_contract_answers import HTTP_ANSWERS
from tests.provider_contract_support import (
    CALLER_CASES,
    REASON,
    RECIPIENT_REASON,
    RETRY_AFTER,
    SINGLED_OUT,
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
    ("resend", Case.ONE_DEFERRED): (
        "Resend's per-email errors (permissive batch validation) are final; anything transient "
        "fails the whole request, which is the SERVER_ERROR case"
    ),
}

#: The SMTP client's timeout when the relay is meant to time out; the relay stalls far longer.
SMTP_READ_TIMEOUT = 1.0
UNSUBSCRIBE = "<https://acme.example/u/tok>, <mailto:unsub@acme.example?subject=tok>"


def contract(*cases: Case) -> pytest.MarkDecorator:
    """Parametrise ("adapter", "case") over every adapter and ``cases``; an adapter a case does
    not apply to is skipped, saying why."""
    return pytest.mark.parametrize(
        ("adapter", "case"),
        [
            pytest.param(
                adapter,
                case,
                id=f"{adapter}-{case.name.lower()}" if len(cases) > 1 else adapter,
                marks=[pytest.mark.skip(reason=f"{adapter}: {NOT_APPLICABLE[adapter, case]}")]
                if (adapter, case) in NOT_APPLICABLE
                else [],
            )
            for case in cases
            for adapter in ADAPTERS
        ],
    )


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


@contract(Case.ACCEPTED)
def test_each_accepted_recipient_gets_its_own_provider_id(
    connect: Connect, adapter: str, case: Case
) -> None:
    contract = connect(adapter, case)
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


@contract(Case.READ_TIMEOUT, Case.ANSWER_DROPPED)
def test_lost_answer_leaves_the_outcome_unknown(connect: Connect, adapter: str, case: Case) -> None:
    """The request arrived and its answer was lost: neither failed nor retried blindly."""
    contract = connect(adapter, case)
    results, retry_after = call(contract.provider, batch(), "batch-1")

    assert outcomes(results) == none_accepted(unknown=True)
    assert retry_after is None
    # Every message did reach the provider, once: why sending it again could duplicate it.
    assert contract.edge.times_reached() == dict.fromkeys(
        ["a@news.example", "b@news.example", "c@news.example"], 1
    )


@contract(Case.CONNECT_ERROR)
def test_connect_error_is_retryable(connect: Connect, adapter: str, case: Case) -> None:
    contract = connect(adapter, case)
    results, retry_after = call(contract.provider, batch(), "batch-1")

    assert outcomes(results) == none_accepted(retryable=True)
    assert all("connect" in (r.error or "") for r in results)
    assert retry_after is None
    assert contract.edge.reached == []


@contract(Case.RATE_LIMITED)
def test_429_is_retryable_after_the_delay_it_asks_for(
    connect: Connect, adapter: str, case: Case
) -> None:
    contract = connect(adapter, case)
    before = time.monotonic()
    results, retry_after = call(contract.provider, batch(), "batch-1")
    after = time.monotonic()

    assert outcomes(results) == none_accepted(retryable=True)
    assert all("429" in (r.error or "") for r in results)
    # The engine waits that long before this batch goes again, and the gate pauses the provider.
    assert retry_after == RETRY_AFTER
    assert before + RETRY_AFTER <= contract.provider.resume_at <= after + RETRY_AFTER
    assert_reached_at_most_once(contract.edge)


@contract(Case.SERVER_ERROR)
def test_server_error_is_retryable(connect: Connect, adapter: str, case: Case) -> None:
    contract = connect(adapter, case)
    results, retry_after = call(contract.provider, batch(), "batch-1")

    assert outcomes(results) == none_accepted(retryable=True)
    assert retry_after is None
    assert contract.provider.resume_at == 0.0  # no pause asked for, none taken
    assert_reached_at_most_once(contract.edge)


@contract(Case.REFUSED)
def test_permanent_refusal_fails_with_the_reason(
    connect: Connect, adapter: str, case: Case
) -> None:
    contract = connect(adapter, case)
    results, retry_after = call(contract.provider, batch(), "batch-1")

    assert outcomes(results) == none_accepted()
    for result in results:
        assert REASON in (result.error or ""), result.error
    assert retry_after is None
    assert_reached_at_most_once(contract.edge)


@contract(Case.ONE_REFUSED, Case.ONE_DEFERRED)
def test_one_recipient_turned_down_has_its_own_result(
    connect: Connect, adapter: str, case: Case
) -> None:
    """Refused for good: failed with the reason; put off: retryable. The others accepted."""
    contract = connect(adapter, case)
    a, b, c = batch()
    assert b.to_email == SINGLED_OUT
    results, retry_after = call(contract.provider, [a, contract.alone(b), c], "batch-1")

    issued = contract.edge.issued
    deferred = case is Case.ONE_DEFERRED
    assert outcomes(results) == [
        (1, True, False, False, issued["a@news.example"]),
        (2, False, deferred, False, None),
        (3, True, False, False, issued["c@news.example"]),
    ]
    if not deferred:
        assert RECIPIENT_REASON in (results[1].error or ""), results[1].error
    assert SINGLED_OUT not in issued
    assert retry_after is None
    reached = contract.edge.times_reached()
    assert (reached["a@news.example"], reached["c@news.example"]) == (1, 1)
    assert_reached_at_most_once(contract.edge)


CALLERS = 6


@contract(Case.CONCURRENT)
def test_concurrent_callers_each_get_their_own_results(
    connect: Connect, adapter: str, case: Case
) -> None:
    """One adapter serves every sender thread: batches in flight together keep their own
    answers, a lost answer or a refusal included (``CALLER_CASES``)."""
    contract = connect(adapter, case)
    batches = [batch(first_id=100 * t, prefix=f"t{t}-") for t in range(CALLERS)]

    def hand_over(emails: list[OutboundEmail]) -> tuple[list[SendResult], float | None]:
        return call(contract.provider, emails, f"batch-{emails[0].message_id}")

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        answers = list(pool.map(hand_over, batches))

    edge = contract.edge
    assert edge.overlapped(), "the callers' requests never were in flight together"
    for emails, (results, retry_after) in zip(batches, answers, strict=True):
        fate = edge.case_for([e.to_email for e in emails])
        ids = [e.message_id for e in emails]
        expected: list[Outcome]
        if fate is Case.ANSWER_DROPPED:
            expected = [(i, False, False, True, None) for i in ids]
        elif fate is Case.REFUSED:
            expected = [(i, False, False, False, None) for i in ids]
            assert all(REASON in (r.error or "") for r in results)
        else:
            expected = [(e.message_id, True, False, False, edge.issued[e.to_email]) for e in emails]
        assert outcomes(results) == expected
        assert retry_after is None
    assert list(CALLER_CASES) == ["t0-", "t1-"]  # callers 0 and 1; the others accepted
    accepted = [e.to_email for emails in batches[2:] for e in emails]
    assert sorted(edge.issued) == sorted(accepted)
    assert all(edge.times_reached()[to] == 1 for to in accepted)
    assert_reached_at_most_once(edge)
    # Every caller's ids are its own (for per-request ids: its own request's).
    ids_by_caller = [{edge.issued[e.to_email] for e in emails} for emails in batches[2:]]
    assert len(set().union(*ids_by_caller)) == sum(len(ids) for ids in ids_by_caller)
