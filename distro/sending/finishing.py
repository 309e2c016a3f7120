"""When a send is over: nothing of it queued, in flight or awaiting a provider lookup.

A send is marked ``sent`` by whichever worker sees it done first (a short claim, an empty claim,
a staff decision on its last open rows), and its release with it: a scheduled release becomes
sent through the release lifecycle (``distro.releases.lifecycle.record_sent``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Engine, exists, or_, select

from distro.db import reading, writing
from distro.models import MessageStatus, SendStatus
from distro.releases.lifecycle import record_sent
from distro.sending.send_states import move_send
from distro.sending.tables import MESSAGES, SENDS

IN_FLIGHT = (MessageStatus.QUEUED, MessageStatus.SENDING)


def unfinished() -> ColumnElement[bool]:
    """Rows that still need work: queued, in flight, or uncertain awaiting a lookup."""
    m = MESSAGES
    return or_(
        m.c.status.in_(IN_FLIGHT),
        (m.c.status == MessageStatus.UNCERTAIN) & m.c.next_attempt_at.is_not(None),
    )


def finish_send(conn: Connection, send_id: int, now: datetime) -> bool:
    """In ``conn``'s transaction: mark the send ``sent`` if nothing is left to do, and its
    release with it. Returns whether it finished."""
    pending = exists().where(MESSAGES.c.send_id == send_id, unfinished())
    moved = move_send(
        conn, send_id, SendStatus.SENT, now=now, was=SendStatus.SENDING, only_if=[~pending]
    )
    if moved is None:
        return False
    release_id = conn.execute(select(SENDS.c.release_id).where(SENDS.c.id == send_id)).scalar_one()
    record_sent(conn, release_id, now)
    return True


def finish_send_if_done(engine: Engine, send_id: int, now: datetime) -> bool:
    """Mark a send ``sent`` once none of its messages is queued, in flight or being reconciled."""
    with writing(engine) as conn:
        return finish_send(conn, send_id, now)


def finish_done_sends(engine: Engine, now: datetime) -> list[int]:
    """Mark every active send with nothing left to do ``sent``; return their ids.

    Senders call this when they find nothing to claim, so a send whose last batch was full
    (and so skipped the check) still finishes; the read runs without the write lock.
    """
    with reading(engine) as conn:
        candidates = conn.scalars(
            select(SENDS.c.id).where(
                SENDS.c.status == SendStatus.SENDING,
                ~exists().where(MESSAGES.c.send_id == SENDS.c.id, unfinished()),
            )
        ).all()
    return [send_id for send_id in candidates if finish_send_if_done(engine, send_id, now)]


def has_pending_work(engine: Engine, now: datetime) -> bool:
    """Whether any send is due, or any message of an active send is queued or in flight."""
    with reading(engine) as conn:
        due = conn.scalar(
            select(
                exists().where(SENDS.c.status == SendStatus.SCHEDULED, SENDS.c.scheduled_at <= now)
            )
        )
        busy = conn.scalar(
            select(
                exists()
                .where(unfinished(), MESSAGES.c.send_id == SENDS.c.id)
                .where(SENDS.c.status == SendStatus.SENDING)
            )
        )
    return bool(due or busy)
