"""Staff decisions on a send's rows: queue failed ones again (``send retry-failed``), and settle
uncertain ones (``send resolve``: resend them, or drop them as not sent).

A finished send with rows queued again goes back to ``sending`` so workers take them; dropping
the last open question may finish it. Rows staff dropped stay dropped on a retry: their
recipient may have the email.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, exists, func, literal, select

from distro.db import writing
from distro.errors import NotFoundError, ValidationError
from distro.models import MessageStatus, SendStatus
from distro.sending.expand import SUPPRESSIONS
from distro.sending.finishing import finish_send
from distro.sending.send_states import FRESH
from distro.sending.staff_actions import (
    ControlResult,
    count,
    locked_send,
    set_send,
    stamp,
    status_of,
    update_messages,
)
from distro.sending.tables import MESSAGES

DROPPED_ERROR = "dropped by staff: fate unknown"


def retry_failed(engine: Engine, send_id: int, now: datetime) -> ControlResult:
    """Queue the send's failed messages again, except to addresses suppressed since.

    Rows staff dropped (``resolve --drop``) stay dropped: their recipient may have the email.
    """
    m = MESSAGES
    with writing(engine) as conn:
        send = locked_send(conn, send_id)
        if send.status == SendStatus.CANCELLED:
            raise ValidationError(f"send {send_id} is cancelled: its failed messages stay failed")
        failed = m.c.status == MessageStatus.FAILED
        dropped = failed & func.coalesce(m.c.last_error, "").like(f"{DROPPED_ERROR}%")
        suppressed = failed & ~dropped & _suppressed()
        retryable = failed & ~dropped & ~_suppressed()
        errors = _errors_of(conn, send_id, retryable)
        counts = {
            "skipped_suppressed": count(conn, send_id, suppressed),
            "skipped_dropped": count(conn, send_id, dropped),
        }
        requeued = _requeue(conn, send_id, retryable, now)
        note = ""
        if requeued:
            note = f"{requeued} failed messages queued again by staff at {stamp(now)}"
            set_send(conn, send, now, note, _reopened(send))
        return ControlResult(
            send_id,
            "retry-failed",
            send.status,
            status_of(conn, send_id),
            note,
            {"requeued": requeued, **counts},
            errors,
        )


def resolve(
    engine: Engine,
    send_id: int,
    now: datetime,
    *,
    resend: bool,
    message_id: int | None = None,
    email: str | None = None,
) -> ControlResult:
    """Decide the fate of uncertain messages: queue them again or drop them as not sent.

    ``resend`` accepts that a recipient may get the email twice; that is staff's call, never
    made automatically. ``message_id`` or ``email`` narrows it to one message.
    """
    if message_id is not None and email is not None:
        raise ValidationError("give --message or --email, not both")
    with writing(engine) as conn:
        send = locked_send(conn, send_id)
        if resend and send.status == SendStatus.CANCELLED:
            raise ValidationError(f"send {send_id} is cancelled: nothing of it is sent any more")
        target = _uncertain_target(conn, send_id, message_id, email)
        named = message_id is not None or email is not None
        waiting = 0 if named else count(conn, send_id, _awaiting_lookup())
        if resend:
            changed = _requeue(conn, send_id, target, now)
            note = f"{changed} uncertain messages queued again by staff at {stamp(now)}"
            status = _reopened(send)
        else:
            changed = _drop(conn, send_id, target, now)
            note = f"{changed} uncertain messages dropped by staff at {stamp(now)}"
            status = SendStatus(send.status)
        if changed:
            set_send(conn, send, now, note, status)
            finish_send(conn, send_id, now)  # dropping the last open question may finish it
        action, key = ("resend", "requeued") if resend else ("drop", "dropped")
        return ControlResult(
            send_id,
            action,
            send.status,
            status_of(conn, send_id),
            note if changed else "",
            {key: changed, "awaiting_lookup": waiting},
        )


def _reopened(send: Row[Any]) -> SendStatus:
    """A finished send with rows queued again goes back to ``sending`` so workers take them."""
    return SendStatus.SENDING if send.status == SendStatus.SENT else SendStatus(send.status)


def _suppressed() -> ColumnElement[bool]:
    return exists().where(SUPPRESSIONS.c.email == MESSAGES.c.email)


def _uncertain_target(
    conn: Connection, send_id: int, message_id: int | None, email: str | None
) -> ColumnElement[bool]:
    """The uncertain rows to resolve; a named row must exist in the send and be uncertain.

    Unnamed, rows a provider lookup will settle soon are left to it (see distro.sending.recovery).
    """
    m = MESSAGES
    uncertain = m.c.status == MessageStatus.UNCERTAIN
    if message_id is None and email is None:
        return uncertain & ~_awaiting_lookup()
    if message_id is not None:
        chosen, name = m.c.id == message_id, f"message {message_id}"
    else:
        chosen, name = m.c.email == _address(email), f"message to {_address(email)}"
    status = conn.scalar(select(m.c.status).where(m.c.send_id == send_id, chosen).limit(1))
    if status is None:
        raise NotFoundError(f"send {send_id} has no {name}")
    if status != MessageStatus.UNCERTAIN:
        raise ValidationError(f"send {send_id}: {name} is {status}, not uncertain")
    return uncertain & chosen


def _awaiting_lookup() -> ColumnElement[bool]:
    m = MESSAGES
    return (m.c.status == MessageStatus.UNCERTAIN) & m.c.next_attempt_at.is_not(None)


def _address(email: str | None) -> str:
    return (email or "").strip().lower()


def _requeue(conn: Connection, send_id: int, which: ColumnElement[bool], now: datetime) -> int:
    """Queue rows again with a fresh set of attempts, claimable at once."""
    return update_messages(
        conn,
        send_id,
        which,
        status=MessageStatus.QUEUED,
        attempts=0,
        last_error=None,
        **FRESH,
        updated_at=now,
    )


def _drop(conn: Connection, send_id: int, which: ColumnElement[bool], now: datetime) -> int:
    """Close rows as not sent, keeping why their fate was unknown after the staff marker."""
    reason = func.coalesce(MESSAGES.c.last_error, "no detail")
    return update_messages(
        conn,
        send_id,
        which,
        status=MessageStatus.FAILED,
        last_error=literal(f"{DROPPED_ERROR} (") + reason + literal(")"),
        **FRESH,
        updated_at=now,
    )


def _errors_of(conn: Connection, send_id: int, which: ColumnElement[bool]) -> dict[str, int]:
    rows = conn.execute(
        select(func.coalesce(MESSAGES.c.last_error, ""), func.count())
        .where(MESSAGES.c.send_id == send_id, which)
        .group_by(MESSAGES.c.last_error)
    ).all()
    return {str(error): int(count) for error, count in rows}
