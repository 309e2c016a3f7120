"""Claims: lease queued messages to a worker, then mark them handed over just before the call.

A message moves ``queued`` -> (leased) -> ``sending`` -> ``sent`` | ``failed`` | back to
``queued`` for a retry (``distro.sending.results`` records that part). The two steps before the
HTTP call are separate on purpose:

* a **claim** only stamps a lease on queued rows. A worker that dies while holding a claim has
  sent nothing, so once the lease expires the rows are simply claimed again;
* the **hand-over** marks the rows ``sending`` (committed) just before the provider request. A
  worker that dies after this point may or may not have delivered them, so expired ``sending``
  rows are never silently resent (``distro.sending.recovery``).

On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED`` so several workers share one send without
waiting on each other; on SQLite the single writer lock (``BEGIN IMMEDIATE``) serialises them.
The hot statements are set-based (``UPDATE ... RETURNING``), because their cost is paid per
message.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Engine, func, or_, select, update

from distro.db import writing
from distro.models import MessageStatus, SendStatus
from distro.releases import embargo
from distro.sending.send_states import move_send
from distro.sending.tables import MESSAGES, RELEASES, SENDS


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
    """Whether the send may hand over now; holds it when the embargo forbids it.

    The send's row is locked first, then the release's (an embargo being moved waits, or is
    seen): the order in which withdrawing a release and finishing a send take the two, so none
    of them can deadlock with a hand-over."""
    send = conn.execute(
        select(SENDS.c.status, SENDS.c.embargo_notice, SENDS.c.release_id)
        .where(SENDS.c.id == send_id)
        .with_for_update()
    ).one()
    if send.status != SendStatus.SENDING:
        return False
    embargo_at = conn.scalar(
        select(RELEASES.c.embargo_at).where(RELEASES.c.id == send.release_id).with_for_update()
    )
    if not embargo.blocks(embargo_at, send.embargo_notice, now):
        return True
    lift = f"{embargo_at:%Y-%m-%d %H:%M} UTC"
    move_send(
        conn,
        send_id,
        SendStatus.HELD,
        now=now,
        was=SendStatus.SENDING,
        note=f"held: the release's embargo lifts at {lift} and this send has no notice",
    )
    return False


def release_claim(engine: Engine, owner: str, message_ids: Collection[int]) -> None:
    """Give back claimed rows that were not handed over (a worker stopping cleanly)."""
    with writing(engine) as conn:
        release_leases(conn, owner, message_ids)


def release_leases(conn: Connection, owner: str, message_ids: Collection[int]) -> None:
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
