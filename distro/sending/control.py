"""Staff control of a send: pause, resume, cancel, retry failed messages, resolve uncertain ones.

Each action is one transaction that first locks the send's row (``FOR UPDATE`` on PostgreSQL,
the ``BEGIN IMMEDIATE`` writer lock on SQLite) and re-reads its status, so it cannot interleave
with the scheduler firing the send, a hand-over's checks or another staff action.

Workers claim only messages of ``sending`` sends and hand over only while the send is
``sending``, so a pause stops the send at once; batches already handed over finish normally. A
resume never sends anything twice: the rows still ``queued`` are exactly what remains, and every
other row keeps its record. Rows are never deleted: a cancelled send's unsent rows become
``failed`` ("cancelled by staff") so the report still adds up, except a batch waiting to go
again under its idempotency key, which may have reached the provider and so becomes
``uncertain``. A dropped uncertain row becomes ``failed``, counted as not sent.

================  ========================================  ====================================
action            send status before                        after
================  ========================================  ====================================
pause             scheduled, sending                        paused
resume            paused, started                           sending (held if embargoed)
resume            paused, not started, moment ahead         scheduled
resume            paused past its moment, missed, held      fired now (held if embargoed)
cancel            scheduled, sending, paused, missed, held  cancelled; queued rows failed;
                                                            the release settled (see below)
retry-failed      any but cancelled                         failed rows queued; sent->sending
resolve --resend  any but cancelled                         uncertain rows queued; sent->sending
resolve --drop    any                                       uncertain rows failed
================  ========================================  ====================================

Every status change goes through the send state machine (``distro.sending.send_states``), which
also closes a cancelled send's rows; this module adds which staff action applies when.

After a cancel, the release is settled (``distro.releases.settle``): when none of its sends can
go out any more it is approved again (nothing went out) or sent (something may have).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    exists,
    func,
    literal,
    select,
    update,
)

from distro.config import Settings
from distro.db import writing
from distro.errors import DistroError, EmbargoError, NotFoundError, ValidationError
from distro.models import MessageStatus, ReleaseStatus, SendStatus
from distro.releases import embargo
from distro.releases.settle import settle_release
from distro.sending.expand import SUPPRESSIONS, FireOutcome, fire_locked, held_note, lock_send
from distro.sending.finishing import finish_send
from distro.sending.send_states import CANCELLED_NOTE, FRESH, move_send, set_note
from distro.sending.tables import MESSAGES, RELEASES, SENDS

CANCELLED_ERROR = CANCELLED_NOTE
DROPPED_ERROR = "dropped by staff: fate unknown"

PAUSABLE = (SendStatus.SCHEDULED, SendStatus.SENDING)
RESUMABLE = (SendStatus.PAUSED, SendStatus.MISSED, SendStatus.HELD)
UNFINISHED = (*PAUSABLE, *RESUMABLE)


@dataclass(frozen=True, slots=True)
class ControlResult:
    """What one staff action changed: the send's status before and after, the note it wrote on
    the send ("" when it changed nothing), and row counts."""

    send_id: int
    action: str
    was: str
    status: str
    note: str
    counts: dict[str, int] = field(default_factory=dict)
    # retry-failed: the errors the requeued messages had, so the reason is not lost with them.
    previous_errors: dict[str, int] = field(default_factory=dict)
    # cancel: the release's status when this left none of its sends live, else None.
    release_id: int | None = None
    release_status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "send_id": self.send_id,
            "action": self.action,
            "was": self.was,
            "status": self.status,
            "note": self.note,
            "counts": dict(self.counts),
            "previous_errors": dict(self.previous_errors),
            "release_id": self.release_id,
            "release_status": self.release_status,
        }


# --- pause, resume, cancel ---------------------------------------------------------------------


def pause(engine: Engine, send_id: int, now: datetime) -> ControlResult:
    """Stop new claims at once; a scheduled send stops waiting for its moment."""
    with writing(engine) as conn:
        send = _locked(conn, send_id)
        _require(send, PAUSABLE, "paused")
        note = (
            f"paused by staff at {_stamp(now)} (was {send.status}); "
            f"`distro send resume {send_id}` continues it"
        )
        _set_send(conn, send, now, note, SendStatus.PAUSED)
        return _result(conn, send, "pause", SendStatus.PAUSED, note, "queued", "sending")


def resume(engine: Engine, settings: Settings, send_id: int, now: datetime) -> ControlResult:
    """Continue with exactly the recipients not yet sent, or fire a send that never started.

    A send whose moment passed is fired now however late (staff asked for it), but the embargo
    guard still applies: if it blocks, the send is held, that is committed, and EmbargoError
    says why.
    """
    with writing(engine) as conn:
        send = _locked(conn, send_id)
        _require(send, RESUMABLE, "resumed")
        outcome = _resume_locked(conn, settings, send, now)
    if isinstance(outcome, DistroError):
        raise outcome  # after the commit: the held status and its note are kept
    return outcome


def _resume_locked(
    conn: Connection, settings: Settings, send: Row[Any], now: datetime
) -> ControlResult | DistroError:
    embargo_at = _embargo_of(conn, send)
    moment = _moment(send, embargo_at)
    if send.started_at is None and send.status == SendStatus.PAUSED and moment > now:
        return _reschedule(conn, send, moment, now)
    if embargo.blocks(embargo_at, send.embargo_notice, now):
        note = held_note(embargo_at)
        _set_send(conn, send, now, note, SendStatus.HELD)
        return EmbargoError(
            f"send {send.id} is held, not resumed: {note.removeprefix('held: ')}; "
            "resume it after the lift"
        )
    if send.started_at is not None:
        return _continue(conn, send, now)
    if fire_locked(conn, settings, send, now, ignore_lateness=True) == FireOutcome.STARTED:
        return _fired(conn, send, now)
    # The fire-time guard held it for another reason (its saved segment is gone, say).
    return ValidationError(f"send {send.id} is held, not resumed: {_note(conn, send)}")


def cancel(engine: Engine, send_id: int, now: datetime) -> ControlResult:
    """Stop a send for good; its queued rows are marked not sent, every other row is kept.

    Then the release is settled, in a transaction of its own (see ``distro.releases.settle``
    for why not in this one): cancelling its last live send makes it approved (or sent)."""
    with writing(engine) as conn:
        send = _locked(conn, send_id)
        _require(send, UNFINISHED, "cancelled")
        # Queued rows are closed as not sent, but a batch waiting to go again under its
        # idempotency key may have reached the provider: uncertain (see send_states).
        moved = move_send(
            conn, send_id, SendStatus.CANCELLED, now=now, was=send.status, reason=CANCELLED_ERROR
        )
        assert moved is not None  # the row is locked and its status was read under the lock
        not_sent = moved.not_sent
        note = f"cancelled by staff at {_stamp(now)} (was {send.status}): {not_sent} not sent"
        set_note(conn, send_id, note)
        result = _result(conn, send, "cancel", SendStatus.CANCELLED, note, "sending")
        kept = _count(conn, send_id) - not_sent
        result = _with_counts(result, not_sent=not_sent, uncertain=moved.uncertain, kept=kept)
    settled = settle_release(engine, send.release_id, now)
    return replace(result, release_id=send.release_id, release_status=settled)


# --- retry-failed, resolve ---------------------------------------------------------------------


def retry_failed(engine: Engine, send_id: int, now: datetime) -> ControlResult:
    """Queue the send's failed messages again, except to addresses suppressed since.

    Rows staff dropped (``resolve --drop``) stay dropped: their recipient may have the email.
    """
    m = MESSAGES
    with writing(engine) as conn:
        send = _locked(conn, send_id)
        if send.status == SendStatus.CANCELLED:
            raise ValidationError(f"send {send_id} is cancelled: its failed messages stay failed")
        failed = m.c.status == MessageStatus.FAILED
        dropped = failed & func.coalesce(m.c.last_error, "").like(f"{DROPPED_ERROR}%")
        suppressed = failed & ~dropped & _suppressed()
        retryable = failed & ~dropped & ~_suppressed()
        errors = _errors_of(conn, send_id, retryable)
        counts = {
            "skipped_suppressed": _count(conn, send_id, suppressed),
            "skipped_dropped": _count(conn, send_id, dropped),
        }
        requeued = _requeue(conn, send_id, retryable, now)
        note = ""
        if requeued:
            note = f"{requeued} failed messages queued again by staff at {_stamp(now)}"
            _set_send(conn, send, now, note, _reopened(send))
        return ControlResult(
            send_id,
            "retry-failed",
            send.status,
            _status(conn, send_id),
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
        send = _locked(conn, send_id)
        if resend and send.status == SendStatus.CANCELLED:
            raise ValidationError(f"send {send_id} is cancelled: nothing of it is sent any more")
        target = _uncertain_target(conn, send_id, message_id, email)
        named = message_id is not None or email is not None
        waiting = 0 if named else _count(conn, send_id, _awaiting_lookup())
        if resend:
            changed = _requeue(conn, send_id, target, now)
            note = f"{changed} uncertain messages queued again by staff at {_stamp(now)}"
            status = _reopened(send)
        else:
            changed = _drop(conn, send_id, target, now)
            note = f"{changed} uncertain messages dropped by staff at {_stamp(now)}"
            status = SendStatus(send.status)
        if changed:
            _set_send(conn, send, now, note, status)
            finish_send(conn, send_id, now)  # dropping the last open question may finish it
        action, key = ("resend", "requeued") if resend else ("drop", "dropped")
        return ControlResult(
            send_id,
            action,
            send.status,
            _status(conn, send_id),
            note if changed else "",
            {key: changed, "awaiting_lookup": waiting},
        )


# --- helpers -----------------------------------------------------------------------------------


def _locked(conn: Connection, send_id: int) -> Row[Any]:
    send = lock_send(conn, send_id)
    if send is None:
        raise NotFoundError(f"no send {send_id}")
    return send


def _require(send: Row[Any], allowed: tuple[SendStatus, ...], verb: str) -> None:
    if send.status not in allowed:
        states = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
        raise ValidationError(
            f"send {send.id} is {send.status}: only a {states} send can be {verb}"
        )


def _set_send(
    conn: Connection,
    send: Row[Any],
    now: datetime,
    note: str,
    status: SendStatus | None = None,
    **values: Any,
) -> None:
    """Move the locked send (or only change its note) through the send state machine; the
    status it was read with is the compare-and-set's guard."""
    to = SendStatus(status or send.status)
    move_send(conn, send.id, to, now=now, was=send.status, note=note, **values)


def _status(conn: Connection, send_id: int) -> str:
    return str(conn.scalar(select(SENDS.c.status).where(SENDS.c.id == send_id)))


def _note(conn: Connection, send: Row[Any]) -> str:
    return str(conn.scalar(select(SENDS.c.note).where(SENDS.c.id == send.id)))


def _stamp(now: datetime) -> str:
    return f"{now:%Y-%m-%d %H:%M} UTC"


def _embargo_of(conn: Connection, send: Row[Any]) -> datetime | None:
    """The release's embargo moment; a withdrawn release's sends are never resumed."""
    status, embargo_at = conn.execute(
        select(RELEASES.c.status, RELEASES.c.embargo_at).where(RELEASES.c.id == send.release_id)
    ).one()
    if status == ReleaseStatus.WITHDRAWN:
        raise ValidationError(
            f"release {send.release_id} was withdrawn: cancel the send instead "
            f"(`distro send cancel {send.id}`)"
        )
    lift: datetime | None = embargo_at
    return lift


def _moment(send: Row[Any], embargo_at: datetime | None) -> datetime:
    """A send at the embargo lift follows the lift, even if it moved while the send was paused."""
    if send.at_embargo and embargo_at is not None:
        return embargo_at
    moment: datetime = send.scheduled_at
    return moment


def _reschedule(conn: Connection, send: Row[Any], moment: datetime, now: datetime) -> ControlResult:
    note = f"resumed by staff: waits for {_stamp(moment)}"
    _set_send(conn, send, now, note, SendStatus.SCHEDULED, scheduled_at=moment)
    return ControlResult(send.id, "resume", send.status, SendStatus.SCHEDULED, note)


def _continue(conn: Connection, send: Row[Any], now: datetime) -> ControlResult:
    """Back to ``sending`` with the queued rows as they are, their stale leases cleared."""
    cleared = _update_messages(
        conn,
        send.id,
        (MESSAGES.c.status == MessageStatus.QUEUED) & MESSAGES.c.lease_owner.is_not(None),
        lease_owner=None,
        lease_expires_at=None,
    )
    note = f"resumed by staff at {_stamp(now)} (was {send.status})"
    _set_send(conn, send, now, note, SendStatus.SENDING)
    finish_send(conn, send.id, now)  # nothing left to send: it is done
    result = _result(conn, send, "resume", _status(conn, send.id), note, "queued", "sending")
    return _with_counts(result, leases_cleared=cleared)


def _fired(conn: Connection, send: Row[Any], now: datetime) -> ControlResult:
    note = f"fired by staff at {_stamp(now)} (was {send.status}, due {_stamp(send.scheduled_at)})"
    set_note(conn, send.id, note)
    recipients = int(conn.scalar(select(SENDS.c.recipients).where(SENDS.c.id == send.id)) or 0)
    result = _result(conn, send, "resume", _status(conn, send.id), note, "queued", "suppressed")
    return _with_counts(result, recipients=recipients)


def _reopened(send: Row[Any]) -> SendStatus:
    """A finished send with rows queued again goes back to ``sending`` so workers take them."""
    return SendStatus.SENDING if send.status == SendStatus.SENT else SendStatus(send.status)


def _suppressed() -> ColumnElement[bool]:
    return exists().where(SUPPRESSIONS.c.email == MESSAGES.c.email)


def _uncertain_target(
    conn: Connection, send_id: int, message_id: int | None, email: str | None
) -> ColumnElement[bool]:
    """The uncertain rows to resolve; a named row must exist in the send and be uncertain.

    Unnamed, rows a provider lookup will settle soon are left to it (see distro.sending.queue).
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
    return _update_messages(
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
    return _update_messages(
        conn,
        send_id,
        which,
        status=MessageStatus.FAILED,
        last_error=literal(f"{DROPPED_ERROR} (") + reason + literal(")"),
        **FRESH,
        updated_at=now,
    )


def _update_messages(
    conn: Connection, send_id: int, which: ColumnElement[bool], **values: Any
) -> int:
    result = conn.execute(
        update(MESSAGES).where(MESSAGES.c.send_id == send_id, which).values(**values)
    )
    return int(result.rowcount or 0)


def _count(conn: Connection, send_id: int, which: ColumnElement[bool] | None = None) -> int:
    query = select(func.count()).select_from(MESSAGES).where(MESSAGES.c.send_id == send_id)
    if which is not None:
        query = query.where(which)
    return int(conn.scalar(query) or 0)


def _errors_of(conn: Connection, send_id: int, which: ColumnElement[bool]) -> dict[str, int]:
    rows = conn.execute(
        select(func.coalesce(MESSAGES.c.last_error, ""), func.count())
        .where(MESSAGES.c.send_id == send_id, which)
        .group_by(MESSAGES.c.last_error)
    ).all()
    return {str(error): int(count) for error, count in rows}


def _result(
    conn: Connection, send: Row[Any], action: str, status: str, note: str, *states: str
) -> ControlResult:
    """A result counting the send's messages in each of ``states`` (a count per status)."""
    counts = {s: _count(conn, send.id, MESSAGES.c.status == s) for s in states}
    return ControlResult(send.id, action, send.status, status, note, counts)


def _with_counts(result: ControlResult, **counts: int) -> ControlResult:
    return replace(result, counts={**result.counts, **counts})
