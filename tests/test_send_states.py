"""The send state machine: one table of moves, refusals that name the way, and the cancel rule
for rows that come back queued after the send was cancelled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from distro.errors import ValidationError
from distro.models import MessageStatus, SendKind, SendStatus
from distro.models.types import utcnow
from distro.providers.base import SendResult
from distro.sending import control, queue
from distro.sending.send_states import ALLOWED, HOW, check_move, initial_status, move_send
from tests.factories import messages_of
from tests.test_send_control import LEASE, OWNER, started_send


def test_every_status_has_its_moves_and_a_way_to_reach_it() -> None:
    assert set(ALLOWED) == set(SendStatus) == set(HOW)
    assert ALLOWED[SendStatus.CANCELLED] == frozenset()
    assert initial_status(SendKind.AT_TIME) == SendStatus.SCHEDULED
    assert initial_status(SendKind.TEST) == SendStatus.SENT


def test_a_refused_move_names_what_the_send_can_become_and_how() -> None:
    check_move(7, SendStatus.HELD, SendStatus.HELD)  # staying put (a new note) is allowed
    with pytest.raises(ValidationError) as refused:
        check_move(7, SendStatus.SENT, SendStatus.PAUSED)
    assert str(refused.value) == (
        "send 7 is sent; it cannot become paused (from sent it can become: sending "
        "(`distro send resume 7`; once sent, `distro send retry-failed 7`))"
    )
    with pytest.raises(ValidationError, match="from cancelled it can become: nothing"):
        check_move(7, SendStatus.CANCELLED, SendStatus.SENDING)


def test_move_send_refuses_and_writes_nothing(engine: Engine) -> None:
    now = utcnow()
    send_id = started_send(engine, 2, now)
    control.cancel(engine, send_id, now)
    with engine.begin() as conn, pytest.raises(ValidationError, match="cannot become sending"):
        move_send(conn, send_id, SendStatus.SENDING, now=now)
    # A compare-and-set on a status the send no longer has moves nothing.
    with engine.begin() as conn:
        assert move_send(conn, send_id, SendStatus.PAUSED, now=now, was="sending") is None


def test_a_batch_whose_answer_is_lost_after_a_cancel_stays_uncertain(any_engine: Engine) -> None:
    """Before, the keyed batch came back queued, was taken for never sent and marked failed,
    though the provider may have delivered it."""
    engine, now = any_engine, utcnow()
    send_id = started_send(engine, 3, now)
    claim = queue.claim_batch(engine, OWNER, 3, LEASE, now)
    assert claim is not None
    handed = queue.begin_handover(
        engine, OWNER, claim.message_ids, LEASE, now, send_id=send_id, batch_key="key-1"
    )
    assert sorted(handed) == sorted(claim.message_ids)
    assert control.cancel(engine, send_id, now).counts["sending"] == 3
    lost = [SendResult(i, False, error="answer lost", unknown=True) for i in handed]
    queue.record_results(
        engine, OWNER, lost, now, max_attempts=3, recovery=queue.Recovery.IDEMPOTENCY_KEY
    )
    messages = messages_of(engine, send_id)
    assert {m.status for m in messages} == {MessageStatus.UNCERTAIN}
    assert all("the provider may have it" in (m.last_error or "") for m in messages)
    # And the same for hand-overs whose worker vanished (their lease expired).
    send_id = started_send(engine, 2, now)
    claim = queue.claim_batch(engine, OWNER, 2, LEASE, now)
    assert claim is not None
    queue.begin_handover(engine, OWNER, claim.message_ids, LEASE, now, batch_key="key-2")
    control.cancel(engine, send_id, now)
    later = now + LEASE + timedelta(seconds=1)
    keyed = {"sandbox": queue.Recovery.IDEMPOTENCY_KEY}
    assert queue.expire_handovers(engine, later, keyed) == 2
    assert {m.status for m in messages_of(engine, send_id)} == {MessageStatus.UNCERTAIN}
