"""The outbox: claim messages under a lease, hand them over, record what happened.

A message moves ``queued`` -> (leased) -> ``sending`` -> ``sent`` | ``failed`` | back to
``queued`` for a retry. The two steps before the HTTP call are separate on purpose:

* a **claim** only stamps a lease on queued rows. A worker that dies while holding a claim has
  sent nothing, so once the lease expires the rows are simply claimed again;
* the **hand-over** marks the rows ``sending`` (committed) just before the provider request. A
  worker that dies after this point may or may not have delivered them, so expired ``sending``
  rows are never silently resent: they become ``uncertain`` unless the provider honours an
  idempotency key, in which case resending with the same key is safe.

On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED`` so several workers share one send without
waiting on each other; on SQLite the single writer lock (``BEGIN IMMEDIATE``) serialises them.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Table, bindparam, case, exists, or_, select, update

from distro.models import Message, MessageStatus, Release, ReleaseStatus, Send, SendStatus
from distro.providers.base import SendResult
from distro.releases import embargo

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
SENDS: Table = Send.__table__  # type: ignore[attr-defined]
RELEASES: Table = Release.__table__  # type: ignore[attr-defined]

IN_FLIGHT = (MessageStatus.QUEUED, MessageStatus.SENDING)
RETRY_BASE = timedelta(seconds=2)
RETRY_CAP = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Claim:
    send_id: int
    message_ids: tuple[int, ...]


def claim_batch(
    engine: Engine, owner: str, limit: int, lease: timedelta, now: datetime
) -> Claim | None:
    """Lease up to ``limit`` due queued messages of the oldest active send that has any."""
    m = MESSAGES
    with engine.begin() as conn:
        send_ids = conn.scalars(
            select(SENDS.c.id)
            .where(SENDS.c.status == SendStatus.SENDING)
            .order_by(SENDS.c.started_at, SENDS.c.id)
        ).all()
        for send_id in send_ids:
            ids = conn.scalars(
                select(m.c.id)
                .where(
                    m.c.send_id == send_id,
                    m.c.status == MessageStatus.QUEUED,
                    or_(m.c.lease_expires_at.is_(None), m.c.lease_expires_at < now),
                    or_(m.c.next_attempt_at.is_(None), m.c.next_attempt_at <= now),
                )
                .order_by(m.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if ids:
                conn.execute(
                    update(m)
                    .where(m.c.id.in_(ids))
                    .values(lease_owner=owner, lease_expires_at=now + lease, updated_at=now)
                )
                return Claim(send_id, tuple(ids))
    return None


def begin_handover(
    engine: Engine,
    owner: str,
    message_ids: Collection[int],
    lease: timedelta,
    now: datetime,
    *,
    send_id: int | None = None,
) -> list[int]:
    """Mark the claimed rows still leased to ``owner`` as ``sending``; return their ids.

    Rows whose lease lapsed and went to another worker are left to that worker. With
    ``send_id`` the embargo rule is checked in the same transaction, the last moment before the
    provider sees anything: if the release's embargo (moved later, perhaps) has not lifted and
    the send carries no notice, the send is held and nothing is handed over.
    """
    m = MESSAGES
    with engine.begin() as conn:
        if send_id is not None and _embargo_holds(conn, send_id, now):
            return []
        mine = conn.scalars(
            select(m.c.id)
            .where(
                m.c.id.in_(message_ids),
                m.c.lease_owner == owner,
                m.c.status == MessageStatus.QUEUED,
            )
            .with_for_update()
        ).all()
        if mine:
            conn.execute(
                update(m)
                .where(m.c.id.in_(mine))
                .values(
                    status=MessageStatus.SENDING,
                    attempts=m.c.attempts + 1,
                    lease_expires_at=now + lease,
                    updated_at=now,
                )
            )
    return list(mine)


def _embargo_holds(conn: Connection, send_id: int, now: datetime) -> bool:
    row = conn.execute(
        select(RELEASES.c.embargo_at, SENDS.c.embargo_notice)
        .join(SENDS, SENDS.c.release_id == RELEASES.c.id)
        .where(SENDS.c.id == send_id)
        .with_for_update()
    ).one()
    if not embargo.blocks(row.embargo_at, row.embargo_notice, now):
        return False
    lift = f"{row.embargo_at:%Y-%m-%d %H:%M} UTC"
    conn.execute(
        update(SENDS)
        .where(SENDS.c.id == send_id, SENDS.c.status == SendStatus.SENDING)
        .values(
            status=SendStatus.HELD,
            note=f"held: the release's embargo lifts at {lift} and this send has no notice",
        )
    )
    return True


def release_claim(engine: Engine, owner: str, message_ids: Collection[int]) -> None:
    """Give back claimed rows that were not handed over (a worker stopping cleanly)."""
    m = MESSAGES
    with engine.begin() as conn:
        conn.execute(
            update(m)
            .where(
                m.c.id.in_(message_ids),
                m.c.lease_owner == owner,
                m.c.status == MessageStatus.QUEUED,
            )
            .values(lease_owner=None, lease_expires_at=None)
        )


def retry_delay(attempt: int, retry_after: float | None = None) -> timedelta:
    """Exponential backoff with jitter, never shorter than the provider's Retry-After."""
    ceiling = min(RETRY_CAP, RETRY_BASE * (2 ** max(0, attempt - 1))).total_seconds()
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
    retry_after: float | None = None,
) -> None:
    """Store each message's outcome in one transaction."""
    accepted = [r for r in results if r.accepted]
    rejected = [r for r in results if not r.accepted]
    m = MESSAGES
    with engine.begin() as conn:
        if accepted:
            # A fast webhook may have moved the row past "sent" already: never move it back.
            conn.execute(
                update(m)
                .where(m.c.id == bindparam("b_id"))
                .values(
                    provider_message_id=bindparam("b_pid"),
                    # OR rather than IN: expanding IN parameters do not work with executemany.
                    status=case(
                        (or_(*(m.c.status == s for s in IN_FLIGHT)), MessageStatus.SENT),
                        else_=m.c.status,
                    ),
                    sent_at=now,
                    last_error=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                ),
                [{"b_id": r.message_id, "b_pid": r.provider_message_id} for r in accepted],
            )
        if rejected:
            attempts: dict[int, int] = dict(
                conn.execute(
                    select(m.c.id, m.c.attempts).where(m.c.id.in_([r.message_id for r in rejected]))
                ).all()
            )
            rows = [
                _rejection(r, attempts.get(r.message_id, 0), now, max_attempts, retry_after)
                for r in rejected
            ]
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
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                ),
                rows,
            )


def _rejection(
    result: SendResult,
    attempts: int,
    now: datetime,
    max_attempts: int,
    retry_after: float | None,
) -> dict[str, object]:
    if result.retryable and attempts < max_attempts:
        return {
            "b_id": result.message_id,
            "b_status": MessageStatus.QUEUED,
            "b_error": result.error,
            "b_next": now + retry_delay(attempts, retry_after),
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


def mark_uncertain(engine: Engine, owner: str, message_ids: Iterable[int], reason: str) -> None:
    """Hold messages whose hand-over outcome is unknown, for staff to resolve."""
    m = MESSAGES
    with engine.begin() as conn:
        conn.execute(
            update(m)
            .where(
                m.c.id.in_(list(message_ids)),
                m.c.status == MessageStatus.SENDING,
                m.c.lease_owner == owner,
            )
            .values(
                status=MessageStatus.UNCERTAIN,
                last_error=reason,
                lease_owner=None,
                lease_expires_at=None,
            )
        )


def expire_handovers(engine: Engine, now: datetime, idempotent_providers: Collection[str]) -> int:
    """Deal with ``sending`` rows whose worker vanished; return how many were touched.

    With an idempotency key the provider will not deliver twice, so the rows are queued again;
    otherwise they are marked ``uncertain`` and surfaced, never resent blindly.
    """
    m = MESSAGES
    expired = (m.c.status == MessageStatus.SENDING) & (m.c.lease_expires_at < now)
    with engine.begin() as conn:
        requeued = conn.execute(
            update(m)
            .where(expired, m.c.provider.in_(list(idempotent_providers)))
            .values(status=MessageStatus.QUEUED, lease_owner=None, lease_expires_at=None)
        ).rowcount
        held = conn.execute(
            update(m)
            .where(expired)
            .values(
                status=MessageStatus.UNCERTAIN,
                last_error="the worker stopped during hand-over: the provider may have it",
                lease_owner=None,
                lease_expires_at=None,
            )
        ).rowcount
    return int(requeued or 0) + int(held or 0)


def finish_send_if_done(engine: Engine, send_id: int, now: datetime) -> bool:
    """Mark a send ``sent`` once none of its messages is queued or being handed over."""
    with engine.begin() as conn:
        return _finish(conn, send_id, now)


def _finish(conn: Connection, send_id: int, now: datetime) -> bool:
    m = MESSAGES
    pending = exists().where(m.c.send_id == send_id, m.c.status.in_(IN_FLIGHT))
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
    with engine.connect() as conn:
        due = conn.scalar(
            select(
                exists().where(SENDS.c.status == SendStatus.SCHEDULED, SENDS.c.scheduled_at <= now)
            )
        )
        busy = conn.scalar(
            select(
                exists()
                .where(m.c.status.in_(IN_FLIGHT), m.c.send_id == SENDS.c.id)
                .where(SENDS.c.status == SendStatus.SENDING)
            )
        )
    return bool(due or busy)
