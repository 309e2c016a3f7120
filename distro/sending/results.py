"""Results: store what the provider answered for each message handed over.

Accepted rows become ``sent``; refused ones are queued again with a backoff while attempts are
left, else ``failed``; rows whose answer was lost are dealt with as the provider's ``Recovery``
allows (``distro.sending.recovery``). Rows of a send cancelled while they were out end as the
cancel left the others (``distro.sending.send_states``). This runs for every message sent, so
the per-row part is a plain executemany.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Connection, Engine, and_, bindparam, select, update

from distro.db import writing
from distro.models import MessageStatus
from distro.providers.base import SendResult
from distro.sending.backoff import RETRY_BASE, RETRY_CAP, retry_delay
from distro.sending.claims import release_leases
from distro.sending.finishing import IN_FLIGHT, finish_send
from distro.sending.recovery import Recovery
from distro.sending.send_states import settle_cancelled_rows
from distro.sending.tables import MESSAGES


def record_results(
    engine: Engine,
    owner: str,
    results: Sequence[SendResult],
    now: datetime,
    *,
    max_attempts: int,
    recovery: Recovery = Recovery.NONE,
    retry_after: float | None = None,
    reconcile_after: timedelta = timedelta(seconds=60),
    backoff: tuple[timedelta, timedelta] = (RETRY_BASE, RETRY_CAP),
    claimed: Collection[int] = (),
    send_id: int | None = None,
) -> bool:
    """Store each message's outcome in one transaction; give back ``claimed`` rows that were
    not handed over; with ``send_id``, mark the send finished if nothing is left.

    ``recovery`` says what to do with results whose outcome is unknown (see
    ``distro.sending.recovery``); ``reconcile_after`` is how long a lookup provider gets to
    index a message before it is asked; ``backoff`` is the (base, cap) of retry delays.
    Returns whether the send finished.
    """
    outcome = _Outcome(max_attempts, recovery, retry_after, reconcile_after, *backoff)
    accepted = [r for r in results if r.accepted]
    unknown = [r for r in results if not r.accepted and r.unknown]
    rejected = [r for r in results if not r.accepted and not r.unknown]
    with writing(engine) as conn:
        if accepted:
            _record_accepted(conn, accepted, now)
        if unknown:
            _record_unknown(conn, owner, unknown, now, outcome)
        if rejected:
            _record_rejected(conn, owner, rejected, now, outcome)
        if claimed:
            release_leases(conn, owner, claimed)
        settle_cancelled_rows(conn, [r.message_id for r in results if not r.accepted], now)
        return send_id is not None and finish_send(conn, send_id, now)


@dataclass(frozen=True, slots=True)
class _Outcome:
    max_attempts: int
    recovery: Recovery
    retry_after: float | None
    reconcile_after: timedelta
    retry_base: timedelta
    retry_cap: timedelta

    def delay(self, attempt: int) -> timedelta:
        return retry_delay(attempt, self.retry_after, base=self.retry_base, cap=self.retry_cap)


def mark_uncertain(engine: Engine, owner: str, message_ids: Collection[int], reason: str) -> None:
    """Hold handed-over messages whose outcome is unknown, for staff to resolve."""
    results = [SendResult(i, False, error=reason, unknown=True) for i in message_ids]
    record_results(engine, owner, results, datetime.now(UTC), max_attempts=1)


def _placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _record_accepted(conn: Connection, accepted: Sequence[SendResult], now: datetime) -> None:
    """One plain executemany rewriting each row once: this runs for every message sent, and
    per-row bind processing in SQLAlchemy would cost more than the update itself."""
    m = MESSAGES
    mark = _placeholder(conn)
    when = _bound(conn, m.c.sent_at, now)
    sent, in_flight = MessageStatus.SENT.value, [s.value for s in IN_FLIGHT]
    # A fast webhook may have moved a row past "sent" already: never move it back.
    sql = (
        f"UPDATE messages SET provider_message_id = {mark}, "  # noqa: S608 - no input in it
        f"status = CASE WHEN status IN ({mark}, {mark}) THEN {mark} ELSE status END, "
        f"last_error = NULL, sent_at = {mark}, handover_key = NULL, lease_owner = NULL, "
        f"lease_expires_at = NULL, updated_at = {mark} WHERE id = {mark}"
    )
    conn.exec_driver_sql(
        sql, [(r.provider_message_id, *in_flight, sent, when, when, r.message_id) for r in accepted]
    )


def _bound(conn: Connection, column: Column[Any], value: object) -> object:
    """``value`` as SQLAlchemy would hand it to the driver for ``column``."""
    process = column.type.bind_processor(conn.dialect)
    return process(value) if process is not None else value


def _record_unknown(
    conn: Connection, owner: str, unknown: Sequence[SendResult], now: datetime, outcome: _Outcome
) -> None:
    m = MESSAGES
    ids = [r.message_id for r in unknown]
    mine = and_(m.c.id.in_(ids), m.c.status == MessageStatus.SENDING, m.c.lease_owner == owner)
    error = unknown[0].error or "the provider's answer was lost"
    if outcome.recovery is Recovery.IDEMPOTENCY_KEY:
        # Same rows, same key, a little later: the provider answers the first request's result.
        values: dict[str, object] = {
            "status": MessageStatus.QUEUED,
            "next_attempt_at": now + outcome.delay(1),
        }
    elif outcome.recovery is Recovery.LOOKUP:
        values = {
            "status": MessageStatus.UNCERTAIN,
            "next_attempt_at": now + outcome.reconcile_after,
            "handover_key": None,
        }
    else:
        values = {"status": MessageStatus.UNCERTAIN, "next_attempt_at": None, "handover_key": None}
    conn.execute(
        update(m)
        .where(mine)
        .values(
            **values,
            last_error=f"outcome unknown: {error}",
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        )
    )


def _record_rejected(
    conn: Connection, owner: str, rejected: Sequence[SendResult], now: datetime, outcome: _Outcome
) -> None:
    m = MESSAGES
    attempts: dict[int, int] = dict(
        conn.execute(
            select(m.c.id, m.c.attempts).where(m.c.id.in_([r.message_id for r in rejected]))
        ).all()
    )
    rows = [_rejection(r, attempts.get(r.message_id, 0), now, outcome) for r in rejected]
    conn.execute(
        update(m)
        .where(
            m.c.id == bindparam("b_id"),
            m.c.status == MessageStatus.SENDING,
            m.c.lease_owner == owner,
        )
        .values(
            status=bindparam("b_status"),
            last_error=bindparam("b_error"),
            next_attempt_at=bindparam("b_next"),
            handover_key=None,
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        ),
        rows,
    )


def _rejection(
    result: SendResult, attempts: int, now: datetime, outcome: _Outcome
) -> dict[str, object]:
    if result.retryable and attempts < outcome.max_attempts:
        return {
            "b_id": result.message_id,
            "b_status": MessageStatus.QUEUED,
            "b_error": result.error,
            "b_next": now + outcome.delay(attempts),
        }
    error = result.error or "refused"
    if result.retryable:
        error = f"gave up after {attempts} attempts: {error}"
    return {
        "b_id": result.message_id,
        "b_status": MessageStatus.FAILED,
        "b_error": error,
        "b_next": None,
    }
