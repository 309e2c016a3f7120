"""The outbox: leases, hand-over, results, reconciliation, and firing a send exactly once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session

from distro.models import MessageStatus, Send, SendStatus
from distro.models.types import utcnow
from distro.providers.base import SendResult
from distro.sending import queue
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from tests.conftest import make_settings
from tests.factories import add_contacts, add_release, messages_of, suppress

LEASE = timedelta(seconds=60)


def started_send(engine: Engine, recipients: int = 10) -> int:
    """A send fired and expanded into queued messages; returns its id."""
    add_contacts(engine, recipients)
    release = add_release(engine)
    assert release.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    now = utcnow()
    send = schedule_send(
        engine, settings, release_id=release.id, audience=Audience(lists=["press"]), now=now
    )
    assert send.id is not None
    assert fire_send(engine, settings, send.id, now) == FireOutcome.STARTED
    return send.id


def test_claim_leases_at_most_limit_and_others_get_the_rest(engine: Engine) -> None:
    send_id = started_send(engine, 10)
    now = utcnow()
    first = queue.claim_batch(engine, "a", 4, LEASE, now)
    second = queue.claim_batch(engine, "b", 100, LEASE, now)
    assert first is not None
    assert second is not None
    assert first.send_id == second.send_id == send_id
    assert len(first.message_ids) == 4
    assert len(second.message_ids) == 6
    assert not set(first.message_ids) & set(second.message_ids)
    assert queue.claim_batch(engine, "c", 100, LEASE, now) is None


def test_expired_claim_comes_back_and_lost_rows_are_not_handed_over(engine: Engine) -> None:
    started_send(engine, 3)
    now = utcnow()
    first = queue.claim_batch(engine, "dead-worker", 10, LEASE, now)
    assert first is not None
    later = now + LEASE + timedelta(seconds=1)
    retaken = queue.claim_batch(engine, "live-worker", 10, LEASE, later)
    assert retaken is not None
    assert set(retaken.message_ids) == set(first.message_ids)
    # The first worker wakes up: it must not hand over rows now leased to someone else.
    assert queue.begin_handover(engine, "dead-worker", first.message_ids, LEASE, later) == []
    handed = queue.begin_handover(engine, "live-worker", retaken.message_ids, LEASE, later)
    assert sorted(handed) == sorted(first.message_ids)


def test_results_are_recorded_per_message(engine: Engine) -> None:
    send_id = started_send(engine, 3)
    now = utcnow()
    claim = queue.claim_batch(engine, "w", 10, LEASE, now)
    assert claim is not None
    ok, retry, refused = claim.message_ids
    queue.begin_handover(engine, "w", claim.message_ids, LEASE, now)
    queue.record_results(
        engine,
        "w",
        [
            SendResult(ok, True, provider_message_id="pm-1"),
            SendResult(retry, False, error="rate limited", retryable=True),
            SendResult(refused, False, error="inactive recipient"),
        ],
        now,
        max_attempts=3,
        retry_after=30,
    )
    by_id = {m.id: m for m in messages_of(engine, send_id)}
    assert by_id[ok].status == MessageStatus.SENT
    assert by_id[ok].provider_message_id == "pm-1"
    assert by_id[ok].sent_at is not None
    assert by_id[retry].status == MessageStatus.QUEUED
    assert by_id[retry].last_error == "rate limited"
    next_attempt = by_id[retry].next_attempt_at
    assert next_attempt is not None
    assert next_attempt >= now + timedelta(seconds=30)  # Retry-After honoured
    assert by_id[refused].status == MessageStatus.FAILED
    assert by_id[refused].last_error == "inactive recipient"
    # The retry is not claimable before its time, and is afterwards.
    assert queue.claim_batch(engine, "w", 10, LEASE, now + timedelta(seconds=5)) is None
    later = queue.claim_batch(engine, "w", 10, LEASE, now + timedelta(minutes=11))
    assert later is not None
    assert later.message_ids == (retry,)


def test_retryable_failures_give_up_after_max_attempts(engine: Engine) -> None:
    send_id = started_send(engine, 1)
    now = utcnow()
    for attempt in range(1, 3):
        now += timedelta(minutes=15)
        claim = queue.claim_batch(engine, "w", 10, LEASE, now)
        assert claim is not None, f"attempt {attempt} found nothing to claim"
        queue.begin_handover(engine, "w", claim.message_ids, LEASE, now)
        queue.record_results(
            engine,
            "w",
            [SendResult(claim.message_ids[0], False, error="503", retryable=True)],
            now,
            max_attempts=2,
        )
    (message,) = messages_of(engine, send_id)
    assert message.status == MessageStatus.FAILED
    assert message.attempts == 2
    assert message.last_error is not None
    assert message.last_error.startswith("gave up after 2 attempts")


def test_acceptance_never_moves_a_message_back(engine: Engine) -> None:
    send_id = started_send(engine, 1)
    now = utcnow()
    claim = queue.claim_batch(engine, "w", 10, LEASE, now)
    assert claim is not None
    queue.begin_handover(engine, "w", claim.message_ids, LEASE, now)
    # A fast webhook already said "delivered" before the batch answer was recorded.
    with engine.begin() as conn:
        conn.execute(update(queue.MESSAGES).values(status=MessageStatus.DELIVERED))
    queue.record_results(
        engine,
        "w",
        [SendResult(claim.message_ids[0], True, provider_message_id="pm-9")],
        now,
        max_attempts=3,
    )
    (message,) = messages_of(engine, send_id)
    assert message.status == MessageStatus.DELIVERED
    assert message.provider_message_id == "pm-9"


def test_vanished_handover_becomes_uncertain_unless_idempotent(engine: Engine) -> None:
    send_id = started_send(engine, 2)
    now = utcnow()
    claim = queue.claim_batch(engine, "w", 10, LEASE, now)
    assert claim is not None
    queue.begin_handover(engine, "w", claim.message_ids, LEASE, now)
    assert queue.expire_handovers(engine, now, {}) == 0  # lease still running
    with engine.begin() as conn:  # one of the two went through a provider with idempotency
        conn.execute(
            update(queue.MESSAGES)
            .where(queue.MESSAGES.c.id == claim.message_ids[0])
            .values(provider="resend")
        )
    later = now + LEASE + timedelta(seconds=1)
    assert queue.expire_handovers(engine, later, {"resend": queue.Recovery.IDEMPOTENCY_KEY}) == 2
    statuses = {m.id: m.status for m in messages_of(engine, send_id)}
    assert statuses[claim.message_ids[0]] == MessageStatus.QUEUED
    assert statuses[claim.message_ids[1]] == MessageStatus.UNCERTAIN
    # An uncertain message is never claimed again automatically.
    again = queue.claim_batch(engine, "w", 10, LEASE, later)
    assert again is not None
    assert again.message_ids == (claim.message_ids[0],)


def test_send_finishes_when_nothing_is_in_flight(engine: Engine) -> None:
    send_id = started_send(engine, 2)
    now = utcnow()
    assert queue.has_pending_work(engine, now)
    claim = queue.claim_batch(engine, "w", 10, LEASE, now)
    assert claim is not None
    assert not queue.finish_send_if_done(engine, send_id, now)
    queue.begin_handover(engine, "w", claim.message_ids, LEASE, now)
    queue.record_results(
        engine,
        "w",
        [SendResult(i, True, provider_message_id=f"p{i}") for i in claim.message_ids],
        now,
        max_attempts=3,
    )
    assert queue.finish_send_if_done(engine, send_id, now)
    assert not queue.has_pending_work(engine, now)
    with Session(engine) as session:
        send = session.get(Send, send_id)
        assert send is not None
        assert send.status == SendStatus.SENT
        assert send.finished_at == now


def test_fire_expands_once_and_records_suppressed(any_engine: Engine) -> None:
    engine = any_engine
    contacts = add_contacts(engine, 5)
    suppress(engine, contacts[2].email)
    release = add_release(engine)
    assert release.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    now = utcnow()
    send = schedule_send(
        engine, settings, release_id=release.id, audience=Audience(lists=["press"]), now=now
    )
    assert send.id is not None
    outcomes = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(fire_send(engine, settings, send.id, now)))  # type: ignore[arg-type]
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted([FireOutcome.STARTED] + [FireOutcome.NOT_DUE] * 3)
    messages = messages_of(engine, send.id)
    assert len(messages) == 5
    assert [m.email for m in messages if m.status == MessageStatus.SUPPRESSED] == [
        contacts[2].email
    ]


def test_fire_marks_too_late_sends_missed_and_holds_early_embargo(engine: Engine) -> None:
    add_contacts(engine, 2)
    settings = make_settings(
        engine.url.render_as_string(hide_password=False), scheduler={"max_lateness": "10m"}
    )
    release = add_release(engine)
    assert release.id is not None
    now = utcnow()
    send = schedule_send(
        engine, settings, release_id=release.id, audience=Audience(lists=["press"]), now=now
    )
    assert send.id is not None
    assert fire_send(engine, settings, send.id, now + timedelta(minutes=11)) == FireOutcome.MISSED
    # The embargo moved later after scheduling: the fire-time guard holds the send.
    other = schedule_send(
        engine, settings, release_id=release.id, audience=Audience(lists=["press"]), now=now
    )
    assert other.id is not None
    with engine.begin() as conn:
        conn.execute(
            update(queue.MESSAGES.metadata.tables["releases"]).values(
                embargo_at=now + timedelta(hours=1)
            )
        )
    assert fire_send(engine, settings, other.id, now) == FireOutcome.HELD
    with Session(engine) as session:
        missed = session.get(Send, send.id)
        held = session.get(Send, other.id)
        assert missed is not None
        assert held is not None
        assert missed.status == SendStatus.MISSED
        assert "max_lateness" in missed.note
        assert held.status == SendStatus.HELD
    assert messages_of(engine, other.id) == []


@pytest.mark.parametrize("workers", [4])
def test_concurrent_claimers_take_every_message_exactly_once(
    any_engine: Engine, workers: int
) -> None:
    send_id = started_send(any_engine, 300)
    claimed: dict[str, list[int]] = {f"w{i}": [] for i in range(workers)}

    def drain(owner: str) -> None:
        while claim := queue.claim_batch(any_engine, owner, 7, LEASE, utcnow()):
            claimed[owner].extend(claim.message_ids)

    threads = [threading.Thread(target=drain, args=(owner,)) for owner in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [i for ids in claimed.values() for i in ids]
    assert len(everything) == len(set(everything)) == 300
    assert {m.id for m in messages_of(any_engine, send_id)} == set(everything)


def _hand_over(engine: Engine, owner: str, now: datetime, key: str | None = None) -> queue.Claim:
    claim = queue.claim_batch(engine, owner, 100, LEASE, now)
    assert claim is not None
    assert queue.begin_handover(engine, owner, claim.message_ids, LEASE, now, batch_key=key)
    return claim


def test_lost_answer_with_a_key_goes_again_as_the_same_batch(any_engine: Engine) -> None:
    engine = any_engine
    send_id = started_send(engine, 5)
    now = utcnow()
    claim = queue.claim_batch(engine, "w", 3, LEASE, now)
    assert claim is not None
    queue.begin_handover(engine, "w", claim.message_ids, LEASE, now, batch_key="key-1")
    lost = [SendResult(i, False, error="reset", unknown=True) for i in claim.message_ids]
    queue.record_results(
        engine, "w", lost, now, max_attempts=3, recovery=queue.Recovery.IDEMPOTENCY_KEY
    )
    later = now + timedelta(minutes=11)  # past any backoff
    again = queue.claim_batch(engine, "w2", 100, LEASE, later)
    assert again is not None
    # Exactly the lost batch, under its key, before the two never-sent rows.
    assert again.batch_key == "key-1"
    assert again.message_ids == claim.message_ids
    rest = queue.claim_batch(engine, "w3", 100, LEASE, later)
    assert rest is not None
    assert rest.batch_key is None
    assert len(rest.message_ids) == 2
    assert not set(rest.message_ids) & set(claim.message_ids)
    assert {m.status for m in messages_of(engine, send_id)} == {MessageStatus.QUEUED}


def test_lost_answer_without_key_or_lookup_is_held_uncertain(engine: Engine) -> None:
    send_id = started_send(engine, 2)
    now = utcnow()
    claim = _hand_over(engine, "w", now)
    lost = [SendResult(i, False, error="reset", unknown=True) for i in claim.message_ids]
    queue.record_results(engine, "w", lost, now, max_attempts=3)
    messages = messages_of(engine, send_id)
    assert {m.status for m in messages} == {MessageStatus.UNCERTAIN}
    assert all(m.next_attempt_at is None for m in messages)
    assert all("outcome unknown: reset" in (m.last_error or "") for m in messages)
    # Held for staff: the send is not waiting on anything automatic, so it finishes.
    assert not queue.has_pending_work(engine, now + timedelta(hours=1))
    assert queue.finish_done_sends(engine, now) == [send_id]


def test_lookup_settles_lost_answers_found_sent_missing_queued(any_engine: Engine) -> None:
    engine = any_engine
    send_id = started_send(engine, 3)
    now = utcnow()
    claim = _hand_over(engine, "w", now)
    lost = [SendResult(i, False, error="timeout", unknown=True) for i in claim.message_ids]
    wait = timedelta(seconds=30)
    queue.record_results(
        engine,
        "w",
        lost,
        now,
        max_attempts=3,
        recovery=queue.Recovery.LOOKUP,
        reconcile_after=wait,
    )
    # Waiting for the lookup keeps the send open and nothing is due before the wait is over.
    assert queue.finish_done_sends(engine, now) == []
    assert queue.due_for_reconciling(engine, "sandbox", now, 10) == []
    due = queue.due_for_reconciling(engine, "sandbox", now + wait, 10)
    assert due == list(claim.message_ids)
    found = {due[0]: "pm-1", due[1]: None, due[2]: None}
    assert queue.record_reconciled(engine, found, now + wait) == (1, 2)
    statuses = {m.id: (m.status, m.provider_message_id) for m in messages_of(engine, send_id)}
    assert statuses[due[0]] == (MessageStatus.SENT, "pm-1")
    assert statuses[due[1]][0] == statuses[due[2]][0] == MessageStatus.QUEUED
    requeued = queue.claim_batch(engine, "w2", 10, LEASE, now + wait)
    assert requeued is not None
    assert requeued.message_ids == tuple(due[1:])


def test_expired_handovers_follow_what_each_provider_offers(engine: Engine) -> None:
    send_id = started_send(engine, 3)
    now = utcnow()
    claim = _hand_over(engine, "dead", now, key="k-9")
    keyed, looked_up, plain = claim.message_ids
    with engine.begin() as conn:
        for message_id, provider in ((keyed, "resend"), (looked_up, "postmark")):
            conn.execute(
                update(queue.MESSAGES)
                .where(queue.MESSAGES.c.id == message_id)
                .values(provider=provider)
            )
    recovery = {
        "resend": queue.Recovery.IDEMPOTENCY_KEY,
        "postmark": queue.Recovery.LOOKUP,
        "sandbox": queue.Recovery.NONE,
    }
    later = now + LEASE + timedelta(seconds=1)
    assert queue.expire_handovers(engine, later, recovery) == 3
    rows = {m.id: m for m in messages_of(engine, send_id)}
    assert rows[keyed].status == MessageStatus.QUEUED
    assert rows[keyed].handover_key == "k-9"
    assert rows[looked_up].status == MessageStatus.UNCERTAIN
    assert rows[looked_up].next_attempt_at == later
    assert rows[plain].status == MessageStatus.UNCERTAIN
    assert rows[plain].next_attempt_at is None
    assert queue.due_for_reconciling(engine, "postmark", later, 10) == [looked_up]


def test_paused_send_hands_nothing_over(engine: Engine) -> None:
    send_id = started_send(engine, 2)
    now = utcnow()
    claim = queue.claim_batch(engine, "w", 10, LEASE, now)
    assert claim is not None
    with engine.begin() as conn:
        conn.execute(
            update(queue.SENDS).where(queue.SENDS.c.id == send_id).values(status=SendStatus.PAUSED)
        )
    assert queue.begin_handover(engine, "w", claim.message_ids, LEASE, now, send_id=send_id) == []
    assert {m.status for m in messages_of(engine, send_id)} == {MessageStatus.QUEUED}


def test_accepted_results_are_stored_exactly_on_both_databases(any_engine: Engine) -> None:
    engine = any_engine
    send_id = started_send(engine, 3)
    now = utcnow()
    claim = _hand_over(engine, "w", now)
    first, *rest = claim.message_ids
    with engine.begin() as conn:  # a webhook was faster than the hand-over's answer
        conn.execute(
            update(queue.MESSAGES)
            .where(queue.MESSAGES.c.id == first)
            .values(status=MessageStatus.DELIVERED)
        )
    results = [SendResult(i, True, provider_message_id=f"pm-{i}") for i in claim.message_ids]
    queue.record_results(engine, "w", results, now, max_attempts=3)
    rows = {m.id: m for m in messages_of(engine, send_id)}
    assert rows[first].status == MessageStatus.DELIVERED
    assert all(rows[i].status == MessageStatus.SENT for i in rest)
    for message_id, row in rows.items():
        assert row.provider_message_id == f"pm-{message_id}"
        assert row.sent_at == now
        assert row.updated_at == now
        assert row.lease_owner is None
        assert row.lease_expires_at is None
