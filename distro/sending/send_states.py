"""A send's states and the one way to move between them, messages included.

================  =====================================================================
from              to (by what)
================  =====================================================================
(new)             scheduled (``send schedule``); sent (a test copy, recorded once it went)
scheduled         sending (fired), missed (fired too late), held (embargo guard at fire
                  time), paused, cancelled
sending           sent (nothing left to do), paused, held (embargo guard at hand-over),
                  cancelled
paused            scheduled (resumed before its moment), sending (resumed, or fired),
                  held (resumed under the embargo), cancelled
missed            sending (resumed: fired now), held, cancelled
held              sending (resumed after the lift), cancelled
sent              sending (failed or uncertain rows queued again by staff)
cancelled         nothing: a cancelled send never goes out again
================  =====================================================================

Every write of ``sends.status`` goes through ``move_send``, which checks the move against
``ALLOWED``, writes it as a compare-and-set on the status the caller read (under the send's
row lock, so it cannot interleave with a worker or another staff action), stamps
``finished_at``, and moves the send's messages as the new state needs. Only a cancel changes
messages: queued rows are closed as *failed* with the reason, except a batch waiting to go again
under its idempotency key (its answer was lost, so it may have reached the provider), which
becomes *uncertain*. ``settle_cancelled`` applies the same rule to rows that come back queued
after a cancel (a retry, a lost answer, an expired hand-over, a lookup that found nothing):
nothing that may have reached a provider is ever counted as not sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, select, update

from distro.errors import NotFoundError, ValidationError
from distro.models import MessageStatus, SendKind, SendStatus
from distro.sending.tables import MESSAGES, SENDS

S = SendStatus
ALLOWED: dict[str, frozenset[SendStatus]] = {
    S.SCHEDULED: frozenset({S.SENDING, S.MISSED, S.HELD, S.PAUSED, S.CANCELLED}),
    S.SENDING: frozenset({S.SENT, S.PAUSED, S.HELD, S.CANCELLED}),
    S.PAUSED: frozenset({S.SCHEDULED, S.SENDING, S.HELD, S.CANCELLED}),
    S.MISSED: frozenset({S.SENDING, S.HELD, S.CANCELLED}),
    S.HELD: frozenset({S.SENDING, S.CANCELLED}),
    S.SENT: frozenset({S.SENDING}),
    S.CANCELLED: frozenset(),
}

# How a send comes to each status, for refusals that name the way.
HOW: dict[str, str] = {
    S.SCHEDULED: "`distro send resume {id}` while its moment is ahead",
    S.SENDING: "`distro send resume {id}`; once sent, `distro send retry-failed {id}`",
    S.PAUSED: "`distro send pause {id}`",
    S.SENT: "when nothing of it is left to send",
    S.CANCELLED: "`distro send cancel {id}`",
    S.MISSED: "when its moment passes with no worker running",
    S.HELD: "when the embargo guard stops it",
}

# A send in one of these is over: it carries a finished_at.
FINAL = frozenset({S.SENT, S.CANCELLED})

# The last_error of a row a cancel closed as not sent.
CANCELLED_NOTE = "cancelled by staff"

# What a row closed by a cancel no longer carries: no lease, no retry or lookup time, no key.
FRESH: dict[str, None] = {
    "next_attempt_at": None,
    "lease_owner": None,
    "lease_expires_at": None,
    "handover_key": None,
}


def initial_status(kind: SendKind) -> SendStatus:
    """The status a new send is stored with: a test copy is recorded after it went out."""
    return S.SENT if kind == SendKind.TEST else S.SCHEDULED


@dataclass(frozen=True, slots=True)
class Moved:
    """What one move changed: the send's status before and after, and for a cancel how many
    queued rows were closed as not sent and how many held as uncertain."""

    send_id: int
    was: SendStatus
    status: SendStatus
    not_sent: int = 0
    uncertain: int = 0


def check_move(send_id: int, was: str, to: SendStatus) -> None:
    """Raise ValidationError unless ``ALLOWED`` lets the send go from ``was`` to ``to``; the
    message names what it may become instead and how. Staying put is always allowed."""
    if was == to or to in ALLOWED[was]:
        return
    options = ", ".join(f"{s} ({HOW[s].format(id=send_id)})" for s in sorted(ALLOWED[was]))
    raise ValidationError(
        f"send {send_id} is {was}; it cannot become {to} "
        f"(from {was} it can become: {options or 'nothing'})"
    )


def move_send(
    conn: Connection,
    send_id: int,
    to: SendStatus,
    *,
    now: datetime,
    note: str | None = None,
    was: str | None = None,
    reason: str = CANCELLED_NOTE,
    only_if: Sequence[ColumnElement[bool]] = (),
    **values: Any,
) -> Moved | None:
    """Move the send to ``to`` and its messages with it, in ``conn``'s transaction.

    ``was`` is the status the caller read under the send's row lock; without it the row is
    locked and read here. ``note`` replaces the send's note; ``values`` are other columns to
    set with the move (``started_at``, ``scheduled_at`` ...); ``only_if`` adds conditions to
    the compare-and-set (``finish_send``: nothing left to do). ``reason`` is the last_error of
    the rows a cancel closes. Returns None when the send was no longer ``was`` or ``only_if``
    did not hold, else what moved; a move ``ALLOWED`` does not list raises ValidationError.
    """
    if was is None:
        was = conn.scalar(select(SENDS.c.status).where(SENDS.c.id == send_id).with_for_update())
        if was is None:
            raise NotFoundError(f"no send {send_id}")
    source = SendStatus(was)
    check_move(send_id, source, to)
    stamped = dict(values)
    if note is not None:
        stamped["note"] = note
    if to in FINAL and source != to:
        stamped.setdefault("finished_at", now)
    elif source in FINAL and source != to:
        stamped.setdefault("finished_at", None)  # reopened: it is not over any more
    changed = conn.execute(
        update(SENDS)
        .where(SENDS.c.id == send_id, SENDS.c.status == source, *only_if)
        .values(status=to, **stamped)
    ).rowcount
    if not changed:
        return None
    if to != S.CANCELLED or source == to:
        return Moved(send_id, source, to)
    not_sent, uncertain = settle_cancelled(conn, MESSAGES.c.send_id == send_id, reason, now)
    return Moved(send_id, source, to, not_sent, uncertain)


def settle_cancelled(
    conn: Connection, which: ColumnElement[bool], reason: str, now: datetime
) -> tuple[int, int]:
    """Close the queued rows among ``which`` (rows of cancelled sends): a batch waiting to go
    again under its idempotency key may have reached the provider, so it becomes uncertain for
    staff to resolve; every other queued row becomes failed with ``reason``. Returns (failed,
    uncertain)."""
    m = MESSAGES
    queued = m.c.status == MessageStatus.QUEUED
    uncertain = conn.execute(
        update(m)
        .where(which, queued, m.c.handover_key.is_not(None))
        .values(
            status=MessageStatus.UNCERTAIN,
            last_error=f"{reason} while its answer was lost: the provider may have it",
            **FRESH,
            updated_at=now,
        )
    ).rowcount
    failed = conn.execute(
        update(m)
        .where(which, queued)
        .values(status=MessageStatus.FAILED, last_error=reason, **FRESH, updated_at=now)
    ).rowcount
    return int(failed or 0), int(uncertain or 0)


def settle_cancelled_rows(
    conn: Connection, message_ids: Sequence[int], now: datetime, reason: str = CANCELLED_NOTE
) -> None:
    """``settle_cancelled`` for rows just queued again (a retry, a lost answer, a lookup that
    found nothing, an expired hand-over) whose send was cancelled while they were out: they must
    not wait as queued for claims that will never come."""
    if not message_ids:
        return
    cancelled = select(SENDS.c.id).where(SENDS.c.status == S.CANCELLED).scalar_subquery()
    which = MESSAGES.c.id.in_(list(message_ids)) & MESSAGES.c.send_id.in_(cancelled)
    settle_cancelled(conn, which, reason, now)


def set_note(conn: Connection, send_id: int, note: str) -> None:
    """Replace the send's note alone (its status stays)."""
    conn.execute(update(SENDS).where(SENDS.c.id == send_id).values(note=note))
