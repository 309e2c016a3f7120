"""The outbox: claim messages under a lease, hand them over, record what happened.

A message moves ``queued`` -> (leased) -> ``sending`` -> ``sent`` | ``failed`` | back to
``queued`` for a retry. The two steps before the HTTP call are separate on purpose:

* a **claim** only stamps a lease on queued rows. A worker that dies while holding a claim has
  sent nothing, so once the lease expires the rows are simply claimed again;
* the **hand-over** marks the rows ``sending`` (committed) just before the provider request. A
  worker that dies after this point may or may not have delivered them, so expired ``sending``
  rows are never silently resent: they become ``uncertain`` unless the provider honours an
  idempotency key, in which case resending with the same key is safe.

What happens to a hand-over whose answer was lost (a dropped connection, a killed worker)
depends on what the provider offers, in this order of preference:

* an **idempotency key** (Resend): the rows keep the batch's key and go again as exactly that
  batch, under that key, so the provider delivers each at most once;
* a **lookup** (Postmark's message search): the rows wait as ``uncertain`` with a time in
  ``next_attempt_at``, then the provider is asked which it has; those it has become ``sent``,
  the others are queued again;
* neither: ``uncertain`` with no time, shown in the report until staff resolve them.

On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED`` so several workers share one send without
waiting on each other; on SQLite the single writer lock (``BEGIN IMMEDIATE``) serialises them.
The hot statements are set-based (``UPDATE ... RETURNING``) and the per-row part of recording
results is a plain executemany, because this module's cost is paid per message.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    ScalarSelect,
    Table,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)

from distro.db import reading, writing
from distro.models import Message, MessageStatus, Release, ReleaseStatus, Send, SendStatus
from distro.providers.base import SendResult
from distro.releases import embargo

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
SENDS: Table = Send.__table__  # type: ignore[attr-defined]
RELEASES: Table = Release.__table__  # type: ignore[attr-defined]

IN_FLIGHT = (MessageStatus.QUEUED, MessageStatus.SENDING)
RETRY_BASE = timedelta(seconds=2)
RETRY_CAP = timedelta(minutes=10)


class Recovery(StrEnum):
    """What a provider offers for a hand-over whose answer was lost."""

    IDEMPOTENCY_KEY = "idempotency-key"
    LOOKUP = "lookup"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Claim:
    send_id: int
    message_ids: tuple[int, ...]
    #: Set when these rows are a batch whose answer was lost: send exactly them, as one batch,
    #: under this key.
    batch_key: str | None = None


def _due(now: datetime) -> list[ColumnElement[bool]]:
    m = MESSAGES
    return [
        m.c.status == MessageStatus.QUEUED,
        or_(m.c.lease_expires_at.is_(None), m.c.lease_expires_at < now),
        or_(m.c.next_attempt_at.is_(None), m.c.next_attempt_at <= now),
    ]


def claim_batch(
    engine: Engine, owner: str, limit: int, lease: timedelta, now: datetime
) -> Claim | None:
    """Lease up to ``limit`` due queued messages of the oldest active send that has any.

    A batch waiting to go again under its idempotency key is claimed whole, before new rows.
    """
    with writing(engine) as conn:
        send_ids = conn.scalars(
            select(SENDS.c.id)
            .where(SENDS.c.status == SendStatus.SENDING)
            .order_by(SENDS.c.started_at, SENDS.c.id)
        ).all()
        keyed = _keyed_batches(conn, now)
        for send_id in send_ids:
            claim = None
            if send_id in keyed:
                claim = _claim_keyed(conn, send_id, keyed[send_id], owner, lease, now)
            claim = claim or _claim_new(conn, send_id, owner, limit, lease, now)
            if claim is not None:
                return claim
    return None


def _keyed_batches(conn: Connection, now: datetime) -> dict[int, str]:
    """Send id -> the key of one of its batches due to go again under that key.

    Such rows are few, and this query can only be answered from the partial index on
    ``handover_key``; a query that also named the send would be planned on the claim index and
    scan every queued row of a large send.
    """
    m = MESSAGES
    rows = conn.execute(
        select(m.c.send_id, m.c.handover_key)
        .where(m.c.handover_key.is_not(None), *_due(now))
        .limit(1000)
    ).all()
    return {int(row.send_id): str(row.handover_key) for row in rows}


def _lease(
    conn: Connection,
    where: Sequence[ColumnElement[bool]],
    owner: str,
    expires: datetime,
    limit: int | None = None,
) -> list[int]:
    """Stamp a lease on the rows matching ``where`` (lowest ids first); return their ids."""
    m = MESSAGES
    picked = select(m.c.id).where(*where).order_by(m.c.id).limit(limit)
    return sorted(
        conn.scalars(
            update(m)
            .where(m.c.id.in_(picked.with_for_update(skip_locked=True).scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=expires)
            .returning(m.c.id)
        ).all()
    )


def _claim_new(
    conn: Connection, send_id: int, owner: str, limit: int, lease: timedelta, now: datetime
) -> Claim | None:
    m = MESSAGES
    where = [m.c.send_id == send_id, *_due(now), m.c.handover_key.is_(None)]
    ids = _lease(conn, where, owner, now + lease, limit)
    return Claim(send_id, tuple(ids)) if ids else None


def _claim_keyed(
    conn: Connection, send_id: int, key: str, owner: str, lease: timedelta, now: datetime
) -> Claim | None:
    m = MESSAGES
    # The key alone picks the rows (it names one batch of one send): see _keyed_batches.
    ids = _lease(conn, [*_due(now), m.c.handover_key == key], owner, now + lease)
    whole = conn.scalar(
        select(func.count())
        .select_from(m)
        .where(m.c.handover_key == key, m.c.status == MessageStatus.QUEUED)
    )
    if len(ids) != whole:
        # Part of the batch is leased elsewhere: a partial batch under the key would be refused.
        conn.execute(
            update(m).where(m.c.id.in_(ids)).values(lease_owner=None, lease_expires_at=None)
        )
        return None
    return Claim(send_id, tuple(ids), batch_key=key)


def begin_handover(
    engine: Engine,
    owner: str,
    message_ids: Collection[int],
    lease: timedelta,
    now: datetime,
    *,
    send_id: int | None = None,
    batch_key: str | None = None,
) -> list[int]:
    """Mark the claimed rows still leased to ``owner`` as ``sending``; return their ids.

    Rows whose lease lapsed and went to another worker are left to that worker. With
    ``send_id`` two checks run in the same transaction, the last moment before the provider sees
    anything: the send must still be active (a pause or cancel stops it here), and the embargo
    rule must allow it: if the release's embargo (moved later, perhaps) has not lifted and the
    send carries no notice, the send is held and nothing is handed over. ``batch_key`` is stored
    on the rows so that, if the answer is lost, exactly this batch goes again under it.
    """
    m = MESSAGES
    with writing(engine) as conn:
        if send_id is not None and not _may_hand_over(conn, send_id, now):
            return []
        mine = sorted(
            conn.scalars(
                update(m)
                .where(
                    m.c.id.in_(list(message_ids)),
                    m.c.lease_owner == owner,
                    m.c.status == MessageStatus.QUEUED,
                )
                .values(
                    status=MessageStatus.SENDING,
                    attempts=m.c.attempts + 1,
                    lease_expires_at=now + lease,
                    handover_key=batch_key,
                    updated_at=now,
                )
                .returning(m.c.id)
            ).all()
        )
    return mine


def _may_hand_over(conn: Connection, send_id: int, now: datetime) -> bool:
    row = conn.execute(
        select(RELEASES.c.embargo_at, SENDS.c.embargo_notice, SENDS.c.status)
        .join(SENDS, SENDS.c.release_id == RELEASES.c.id)
        .where(SENDS.c.id == send_id)
        .with_for_update()
    ).one()
    if row.status != SendStatus.SENDING:
        return False
    if not embargo.blocks(row.embargo_at, row.embargo_notice, now):
        return True
    lift = f"{row.embargo_at:%Y-%m-%d %H:%M} UTC"
    conn.execute(
        update(SENDS)
        .where(SENDS.c.id == send_id, SENDS.c.status == SendStatus.SENDING)
        .values(
            status=SendStatus.HELD,
            note=f"held: the release's embargo lifts at {lift} and this send has no notice",
        )
    )
    return False


def release_claim(engine: Engine, owner: str, message_ids: Collection[int]) -> None:
    """Give back claimed rows that were not handed over (a worker stopping cleanly)."""
    with writing(engine) as conn:
        _release(conn, owner, message_ids)


def _release(conn: Connection, owner: str, message_ids: Collection[int]) -> None:
    m = MESSAGES
    conn.execute(
        update(m)
        .where(
            m.c.id.in_(list(message_ids)),
            m.c.lease_owner == owner,
            m.c.status == MessageStatus.QUEUED,
        )
        .values(lease_owner=None, lease_expires_at=None)
    )


def retry_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    base: timedelta = RETRY_BASE,
    cap: timedelta = RETRY_CAP,
) -> timedelta:
    """Exponential backoff with jitter, never shorter than the provider's Retry-After."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1))).total_seconds()
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not security)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


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

    ``recovery`` says what to do with results whose outcome is unknown (see the module doc);
    ``reconcile_after`` is how long a lookup provider gets to index a message before it is
    asked; ``backoff`` is the (base, cap) of retry delays. Returns whether the send finished.
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
            _release(conn, owner, claimed)
        _cancel_requeued(conn, [r.message_id for r in results if not r.accepted], now)
        return send_id is not None and finish_send(conn, send_id, now)


CANCELLED_NOTE = "cancelled by staff"


def _cancel_requeued(conn: Connection, message_ids: Sequence[int], now: datetime) -> None:
    """Rows of a send cancelled while they were out (a retry, a lost answer, a lookup that found
    nothing) must not wait as queued for claims that will never come: they end as the cancel
    left the others."""
    if not message_ids:
        return
    m = MESSAGES
    cancelled = select(SENDS.c.id).where(SENDS.c.status == SendStatus.CANCELLED)
    conn.execute(
        update(m)
        .where(
            m.c.id.in_(list(message_ids)),
            m.c.status == MessageStatus.QUEUED,
            m.c.send_id.in_(cancelled.scalar_subquery()),
        )
        .values(status=MessageStatus.FAILED, last_error=CANCELLED_NOTE, updated_at=now)
    )


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


def expire_handovers(engine: Engine, now: datetime, recovery: Mapping[str, Recovery]) -> int:
    """Deal with ``sending`` rows whose worker vanished; return how many were touched.

    ``recovery`` maps each configured provider name to what it offers (see the module doc).
    """
    m = MESSAGES
    expired = and_(
        m.c.send_id.in_(_unfinished_sends()),
        m.c.status == MessageStatus.SENDING,
        m.c.lease_expires_at < now,
    )
    keyed = [name for name, way in recovery.items() if way is Recovery.IDEMPOTENCY_KEY]
    lookup = [name for name, way in recovery.items() if way is Recovery.LOOKUP]
    cleared = {"lease_owner": None, "lease_expires_at": None, "updated_at": now}
    with reading(engine) as conn:
        if not conn.scalar(select(exists().where(expired))):
            return 0  # the usual case, answered without the write lock
    with writing(engine) as conn:
        requeued_ids = conn.scalars(
            update(m)
            .where(expired, m.c.provider.in_(keyed))
            .values(status=MessageStatus.QUEUED, next_attempt_at=None, **cleared)
            .returning(m.c.id)
        ).all()
        _cancel_requeued(conn, requeued_ids, now)
        requeued = len(requeued_ids)
        to_ask = conn.execute(
            update(m)
            .where(expired, m.c.provider.in_(lookup))
            .values(
                status=MessageStatus.UNCERTAIN,
                next_attempt_at=now,
                handover_key=None,
                last_error="the worker stopped during hand-over: asking the provider",
                **cleared,
            )
        ).rowcount
        held = conn.execute(
            update(m)
            .where(expired)
            .values(
                status=MessageStatus.UNCERTAIN,
                next_attempt_at=None,
                handover_key=None,
                last_error="the worker stopped during hand-over: the provider may have it",
                **cleared,
            )
        ).rowcount
    return int(requeued or 0) + int(to_ask or 0) + int(held or 0)


def _unfinished_sends() -> ScalarSelect[int]:
    """Sends whose rows may still be in flight or awaiting a lookup. Naming them lets the
    message queries below use the (send, status) index instead of scanning every message."""
    busy = (SendStatus.SENDING, SendStatus.PAUSED, SendStatus.HELD, SendStatus.CANCELLED)
    return select(SENDS.c.id).where(SENDS.c.status.in_(busy)).scalar_subquery()


def due_for_reconciling(engine: Engine, provider: str, now: datetime, limit: int) -> list[int]:
    """Uncertain rows of ``provider`` whose time to ask the provider has come."""
    m = MESSAGES
    with reading(engine) as conn:
        return list(
            conn.scalars(
                select(m.c.id)
                .where(
                    m.c.send_id.in_(_unfinished_sends()),
                    m.c.status == MessageStatus.UNCERTAIN,
                    m.c.provider == provider,
                    m.c.next_attempt_at <= now,
                )
                .order_by(m.c.id)
                .limit(limit)
            ).all()
        )


def record_reconciled(
    engine: Engine, found: Mapping[int, str | None], now: datetime
) -> tuple[int, int]:
    """Apply a lookup: found rows become ``sent``, missing ones are queued again.

    Returns (sent, requeued). Only rows still uncertain and awaiting a lookup are touched, so a
    staff decision taken meanwhile wins.
    """
    m = MESSAGES
    waiting = (m.c.status == MessageStatus.UNCERTAIN) & m.c.next_attempt_at.is_not(None)
    have = {i: pid for i, pid in found.items() if pid}
    missing = [i for i, pid in found.items() if not pid]
    with writing(engine) as conn:
        sent = 0
        if have:
            sent = conn.execute(
                update(m)
                .where(m.c.id == bindparam("b_id"), waiting)
                .values(
                    status=MessageStatus.SENT,
                    provider_message_id=bindparam("b_pid"),
                    sent_at=now,
                    next_attempt_at=None,
                    last_error=None,
                    updated_at=now,
                ),
                [{"b_id": i, "b_pid": pid} for i, pid in have.items()],
            ).rowcount
        requeued = 0
        if missing:
            requeued = conn.execute(
                update(m)
                .where(m.c.id.in_(missing), waiting)
                .values(
                    status=MessageStatus.QUEUED,
                    next_attempt_at=None,
                    last_error="the provider never got it: queued again",
                    updated_at=now,
                )
            ).rowcount
            _cancel_requeued(conn, missing, now)
    return int(sent or 0), int(requeued or 0)


def postpone_reconciling(engine: Engine, message_ids: Collection[int], until: datetime) -> None:
    """The lookup failed: ask again later."""
    m = MESSAGES
    with writing(engine) as conn:
        conn.execute(
            update(m)
            .where(m.c.id.in_(list(message_ids)), m.c.status == MessageStatus.UNCERTAIN)
            .where(m.c.next_attempt_at.is_not(None))
            .values(next_attempt_at=until)
        )


def finish_send_if_done(engine: Engine, send_id: int, now: datetime) -> bool:
    """Mark a send ``sent`` once none of its messages is queued, in flight or being reconciled."""
    with writing(engine) as conn:
        return finish_send(conn, send_id, now)


def finish_done_sends(engine: Engine, now: datetime) -> list[int]:
    """Mark every active send with nothing left to do ``sent``; return their ids.

    Senders call this when they find nothing to claim, so a send whose last batch was full
    (and so skipped the check) still finishes; the read runs without the write lock.
    """
    m = MESSAGES
    with reading(engine) as conn:
        candidates = conn.scalars(
            select(SENDS.c.id).where(
                SENDS.c.status == SendStatus.SENDING,
                ~exists().where(m.c.send_id == SENDS.c.id, _unfinished()),
            )
        ).all()
    return [send_id for send_id in candidates if finish_send_if_done(engine, send_id, now)]


def _unfinished() -> ColumnElement[bool]:
    """Rows that still need work: queued, in flight, or uncertain awaiting a lookup."""
    m = MESSAGES
    return or_(
        m.c.status.in_(IN_FLIGHT),
        (m.c.status == MessageStatus.UNCERTAIN) & m.c.next_attempt_at.is_not(None),
    )


def finish_send(conn: Connection, send_id: int, now: datetime) -> bool:
    """In ``conn``'s transaction: mark the send ``sent`` if nothing is left to do."""
    m = MESSAGES
    pending = exists().where(m.c.send_id == send_id, _unfinished())
    done = conn.execute(
        update(SENDS)
        .where(SENDS.c.id == send_id, SENDS.c.status == SendStatus.SENDING, ~pending)
        .values(status=SendStatus.SENT, finished_at=now)
    ).rowcount
    if done:
        release_of_send = select(SENDS.c.release_id).where(SENDS.c.id == send_id).scalar_subquery()
        conn.execute(
            update(RELEASES)
            .where(RELEASES.c.id == release_of_send, RELEASES.c.status == ReleaseStatus.SCHEDULED)
            .values(status=ReleaseStatus.SENT, updated_at=now)
        )
    return bool(done)


def has_pending_work(engine: Engine, now: datetime) -> bool:
    """Whether any send is due, or any message of an active send is queued or in flight."""
    m = MESSAGES
    with reading(engine) as conn:
        due = conn.scalar(
            select(
                exists().where(SENDS.c.status == SendStatus.SCHEDULED, SENDS.c.scheduled_at <= now)
            )
        )
        busy = conn.scalar(
            select(
                exists()
                .where(_unfinished(), m.c.send_id == SENDS.c.id)
                .where(SENDS.c.status == SendStatus.SENDING)
            )
        )
    return bool(due or busy)
