"""Recovery: what becomes of a hand-over whose answer was lost, or whose worker vanished.

Expired ``sending`` rows are never silently resent: they become ``uncertain`` unless the
provider honours an idempotency key, in which case resending with the same key is safe. What
happens to a hand-over whose answer was lost (a dropped connection, a killed worker) depends on
what the provider offers, in this order of preference:

* an **idempotency key** (Resend): the rows keep the batch's key and go again as exactly that
  batch, under that key, so the provider delivers each at most once;
* a **lookup** (Postmark's message search): the rows wait as ``uncertain`` with a time in
  ``next_attempt_at``, then the provider is asked which it has; those it has become ``sent``,
  the others are queued again;
* neither: ``uncertain`` with no time, shown in the report until staff resolve them.

Rows queued again here whose send was cancelled meanwhile end as the cancel left the others
(``distro.sending.send_states.settle_cancelled``): a keyed batch as ``uncertain``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine, ScalarSelect, and_, bindparam, exists, select, update

from distro.db import reading, writing
from distro.models import MessageStatus, SendStatus
from distro.sending.send_states import settle_cancelled_rows
from distro.sending.tables import MESSAGES, SENDS


class Recovery(StrEnum):
    """What a provider offers for a hand-over whose answer was lost."""

    IDEMPOTENCY_KEY = "idempotency-key"
    LOOKUP = "lookup"
    NONE = "none"


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
        settle_cancelled_rows(conn, requeued_ids, now)
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
            settle_cancelled_rows(conn, missing, now)
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
