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
also closes a cancelled send's rows; this module adds which staff action applies when. Pause,
resume and cancel are here; retry-failed and resolve, which decide the fate of rows, are in
``distro.sending.row_fates`` and named here too; what they share is ``staff_actions``.

After a cancel, the release is settled (``distro.releases.settle``): when none of its sends can
go out any more it is approved again (nothing went out) or sent (something may have).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select

from distro.config import Settings
from distro.db import writing
from distro.errors import DistroError, EmbargoError, ValidationError
from distro.models import MessageStatus, ReleaseStatus, SendStatus
from distro.releases import embargo
from distro.releases.settle import settle_release
from distro.sending.expand import FireOutcome, fire_locked, held_note
from distro.sending.finishing import finish_send
from distro.sending.row_fates import DROPPED_ERROR, resolve, retry_failed
from distro.sending.send_states import CANCELLED_NOTE, move_send, set_note
from distro.sending.staff_actions import (
    ControlResult,
    count,
    counted_result,
    locked_send,
    require,
    set_send,
    stamp,
    status_of,
    update_messages,
    with_counts,
)
from distro.sending.tables import MESSAGES, RELEASES, SENDS

# retry-failed and resolve live in distro.sending.row_fates; named here with the other actions.
__all__ = [
    "CANCELLED_ERROR",
    "DROPPED_ERROR",
    "ControlResult",
    "cancel",
    "pause",
    "resolve",
    "resume",
    "retry_failed",
]

CANCELLED_ERROR = CANCELLED_NOTE

PAUSABLE = (SendStatus.SCHEDULED, SendStatus.SENDING)
RESUMABLE = (SendStatus.PAUSED, SendStatus.MISSED, SendStatus.HELD)
UNFINISHED = (*PAUSABLE, *RESUMABLE)


def pause(engine: Engine, send_id: int, now: datetime) -> ControlResult:
    """Stop new claims at once; a scheduled send stops waiting for its moment."""
    with writing(engine) as conn:
        send = locked_send(conn, send_id)
        require(send, PAUSABLE, "paused")
        note = (
            f"paused by staff at {stamp(now)} (was {send.status}); "
            f"`distro send resume {send_id}` continues it"
        )
        set_send(conn, send, now, note, SendStatus.PAUSED)
        return counted_result(conn, send, "pause", SendStatus.PAUSED, note, "queued", "sending")


def resume(engine: Engine, settings: Settings, send_id: int, now: datetime) -> ControlResult:
    """Continue with exactly the recipients not yet sent, or fire a send that never started.

    A send whose moment passed is fired now however late (staff asked for it), but the embargo
    guard still applies: if it blocks, the send is held, that is committed, and EmbargoError
    says why.
    """
    with writing(engine) as conn:
        send = locked_send(conn, send_id)
        require(send, RESUMABLE, "resumed")
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
        set_send(conn, send, now, note, SendStatus.HELD)
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
        send = locked_send(conn, send_id)
        require(send, UNFINISHED, "cancelled")
        # Queued rows are closed as not sent, but a batch waiting to go again under its
        # idempotency key may have reached the provider: uncertain (see send_states).
        moved = move_send(
            conn, send_id, SendStatus.CANCELLED, now=now, was=send.status, reason=CANCELLED_ERROR
        )
        assert moved is not None  # the row is locked and its status was read under the lock
        not_sent = moved.not_sent
        note = f"cancelled by staff at {stamp(now)} (was {send.status}): {not_sent} not sent"
        set_note(conn, send_id, note)
        result = counted_result(conn, send, "cancel", SendStatus.CANCELLED, note, "sending")
        kept = count(conn, send_id) - not_sent
        result = with_counts(result, not_sent=not_sent, uncertain=moved.uncertain, kept=kept)
    settled = settle_release(engine, send.release_id, now)
    return replace(result, release_id=send.release_id, release_status=settled)


def _note(conn: Connection, send: Row[Any]) -> str:
    return str(conn.scalar(select(SENDS.c.note).where(SENDS.c.id == send.id)))


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
    note = f"resumed by staff: waits for {stamp(moment)}"
    set_send(conn, send, now, note, SendStatus.SCHEDULED, scheduled_at=moment)
    return ControlResult(send.id, "resume", send.status, SendStatus.SCHEDULED, note)


def _continue(conn: Connection, send: Row[Any], now: datetime) -> ControlResult:
    """Back to ``sending`` with the queued rows as they are, their stale leases cleared."""
    cleared = update_messages(
        conn,
        send.id,
        (MESSAGES.c.status == MessageStatus.QUEUED) & MESSAGES.c.lease_owner.is_not(None),
        lease_owner=None,
        lease_expires_at=None,
    )
    note = f"resumed by staff at {stamp(now)} (was {send.status})"
    set_send(conn, send, now, note, SendStatus.SENDING)
    finish_send(conn, send.id, now)  # nothing left to send: it is done
    outcome = counted_result(
        conn, send, "resume", status_of(conn, send.id), note, "queued", "sending"
    )
    return with_counts(outcome, leases_cleared=cleared)


def _fired(conn: Connection, send: Row[Any], now: datetime) -> ControlResult:
    note = f"fired by staff at {stamp(now)} (was {send.status}, due {stamp(send.scheduled_at)})"
    set_note(conn, send.id, note)
    recipients = int(conn.scalar(select(SENDS.c.recipients).where(SENDS.c.id == send.id)) or 0)
    outcome = counted_result(
        conn, send, "resume", status_of(conn, send.id), note, "queued", "suppressed"
    )
    return with_counts(outcome, recipients=recipients)
