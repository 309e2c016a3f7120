"""Firing a due send: the checks that run at its moment, then one transaction that expands the
audience into one message row per recipient.

Only the process that moves the send from ``scheduled`` to ``sending`` expands it (the row is
locked and its status re-read inside the transaction), so several schedulers racing on the same
send still produce one set of messages. Suppressed addresses get a row too, marked
``suppressed``, and so do contacts who received an advance copy of the release, marked
``left_out`` with the send that reached them (unless the send includes them), and contacts a
beat segment leaves out because they opted out of one of its beats, marked ``opted_out`` with
the beats (``distro.sending.opted_out``), so reports can say who was left out and why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from distro.audience.targeting import audience_contact_ids, send_expression, tagged_contact_ids
from distro.config import Settings
from distro.db import writing
from distro.errors import NotFoundError
from distro.models import (
    Contact,
    ContactBeat,
    MessageStatus,
    SendKind,
    SendStatus,
    Suppression,
    UTCDateTime,
)
from distro.releases import embargo
from distro.sending import advance
from distro.sending.finishing import finish_send
from distro.sending.opted_out import OptedOut, beat_opted_out
from distro.sending.send_states import move_send
from distro.sending.tables import MESSAGES, RELEASES, SENDS

CONTACTS: Table = Contact.__table__  # type: ignore[attr-defined]
SUPPRESSIONS: Table = Suppression.__table__  # type: ignore[attr-defined]
BEATS: Table = ContactBeat.__table__  # type: ignore[attr-defined]


# A left-out message's last_error, followed by the id of the advance copy's send.
LEFT_OUT_REASON = "left out: received the advance copy in send "


class FireOutcome(StrEnum):
    STARTED = "started"
    MISSED = "missed"
    HELD = "held"
    NOT_DUE = "not_due"  # already fired, cancelled, paused ... or not yet due


def fire_send(
    engine: Engine,
    settings: Settings,
    send_id: int,
    now: datetime,
    *,
    ignore_lateness: bool = False,
) -> FireOutcome:
    """Fire a due ``scheduled`` send; ``ignore_lateness`` when staff want it out however late.

    Every worker's scheduler fires the same send at its moment: on SQLite the losers queue for
    the writer's turn and wake the moment the winner has expanded the audience."""
    with writing(engine) as conn:
        send = lock_send(conn, send_id)
        if send is None or send.status != SendStatus.SCHEDULED or send.scheduled_at > now:
            return FireOutcome.NOT_DUE
        return fire_locked(conn, settings, send, now, ignore_lateness=ignore_lateness)


def lock_send(conn: Connection, send_id: int) -> Row[Any] | None:
    """The send's row, locked until the transaction ends (on SQLite the writer lock does it)."""
    return conn.execute(select(SENDS).where(SENDS.c.id == send_id).with_for_update()).one_or_none()


def fire_locked(
    conn: Connection,
    settings: Settings,
    send: Row[Any],
    now: datetime,
    *,
    ignore_lateness: bool = False,
) -> FireOutcome:
    """Fire ``send``, whose row the caller locked in ``conn`` after checking its status.

    ``distro send resume`` uses it to fire a missed, held or paused send in the transaction
    that changes its status; only the lateness check can be skipped, never the embargo guard.
    """
    send_id = send.id
    lateness = now - send.scheduled_at
    if not ignore_lateness and lateness > settings.scheduler.max_lateness:
        _set_status(
            conn,
            send,
            SendStatus.MISSED,
            now,
            f"due at {send.scheduled_at:%Y-%m-%d %H:%M:%S} UTC but nothing ran until "
            f"{now:%H:%M:%S} UTC ({_minutes(lateness)} late, more than scheduler.max_lateness)"
            "; `distro send resume` sends it now",
        )
        return FireOutcome.MISSED
    embargo_at = conn.scalar(select(RELEASES.c.embargo_at).where(RELEASES.c.id == send.release_id))
    if embargo.blocks(embargo_at, send.embargo_notice, now):
        # The embargo moved later after this send was scheduled: never send early.
        _set_status(conn, send, SendStatus.HELD, now, held_note(embargo_at))
        return FireOutcome.HELD
    trusted = settings.embargo.trusted_tag if send.embargo_notice else None
    try:
        expression = send_expression(conn, send.where_expr, send.segment_name)
    except NotFoundError as exc:
        _set_status(conn, send, SendStatus.HELD, now, f"held: {exc}")
        return FireOutcome.HELD
    audience = audience_contact_ids(send.list_names, expression, now)
    leave_out = (
        send.kind != SendKind.ADVANCE_COPY
        and not send.include_advance_recipients
        and advance.anyone_received(conn, send.release_id)
    )
    left_out = advance.received(send.release_id) if leave_out else None
    opted_out = beat_opted_out(conn, send.list_names or [], expression, audience, trusted, now)
    counted = expand_audience(
        conn, send_id, audience, send.provider, now, trusted, left_out, opted_out
    )
    move_send(
        conn,
        send_id,
        SendStatus.SENDING,
        now=now,
        was=send.status,
        started_at=now,
        recipients=counted.recipients,
        left_out=counted.left_out,
        opted_out=counted.opted_out,
    )
    conn.execute(  # the web copy's publication starts with the first send that goes out
        update(RELEASES)
        .where(RELEASES.c.id == send.release_id, RELEASES.c.published_at.is_(None))
        .values(published_at=now)
    )
    finish_send(conn, send_id, now)  # an audience of only suppressed contacts is done at once
    return FireOutcome.STARTED


def held_note(embargo_at: datetime | None) -> str:
    lift = f"{embargo_at:%Y-%m-%d %H:%M} UTC" if embargo_at else "later"
    return f"held: the release's embargo lifts at {lift} and this send has no embargo notice"


def _minutes(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60} min {seconds % 60} s"


def _set_status(
    conn: Connection, send: Row[Any], status: SendStatus, now: datetime, note: str
) -> None:
    move_send(conn, send.id, status, now=now, was=send.status, note=note)


class Expanded(NamedTuple):
    recipients: int  # message rows, suppressed ones included
    left_out: int  # rows of contacts with an advance copy (not counted in ``recipients``)
    opted_out: int  # rows of contacts a beat opt-out left out (not in ``recipients`` either)


def expand_audience(
    conn: Connection,
    send_id: int,
    audience: Select[tuple[int]],
    provider: str,
    now: datetime,
    trusted_tag: str | None = None,
    left_out: Select[tuple[int, int]] | None = None,
    opted_out: Sequence[OptedOut] = (),
) -> Expanded:
    """Insert one message per audience contact in a single INSERT ... SELECT; return the counts.

    With ``trusted_tag`` (an embargoed advance copy) only contacts carrying that tag are in it.
    ``left_out`` gives (contact id, send id) of contacts who had an advance copy (see
    ``distro.sending.advance.received``): their rows are ``left_out``, naming that send.
    ``opted_out`` (not in ``audience``) get ``opted_out`` rows naming their beats.
    """
    c, s = CONTACTS, SUPPRESSIONS
    joined = c.outerjoin(s, s.c.email == c.c.email)
    status: Any = case((s.c.id.is_(None), MessageStatus.QUEUED), else_=MessageStatus.SUPPRESSED)
    extra_columns: list[str] = []
    extra_values: list[Any] = []
    if left_out is not None:
        had = left_out.subquery()
        joined = joined.outerjoin(had, had.c.contact_id == c.c.id)
        status = case(
            (s.c.id.is_not(None), MessageStatus.SUPPRESSED),
            (had.c.via.is_not(None), MessageStatus.LEFT_OUT),
            else_=MessageStatus.QUEUED,
        )
        reason = literal(LEFT_OUT_REASON, String()) + cast(had.c.via, String())
        extra_columns.append("last_error")
        extra_values.append(case((s.c.id.is_(None) & had.c.via.is_not(None), reason)))
    rows = (
        select(
            literal(send_id),
            c.c.id,
            c.c.email,
            status,
            literal(provider, String()),
            literal(0),
            literal(now, UTCDateTime()),
            literal(now, UTCDateTime()),
            # Who the recipient was as addressed, for reports (see Message.outlet).
            c.c.outlet,
            c.c.region,
            _beats_of(conn, c.c.id),
            *extra_values,
        )
        .select_from(joined)
        .where(and_(c.c.id.in_(audience), c.c.status == "active"))
        .order_by(c.c.id)
    )
    if trusted_tag is not None:
        rows = rows.where(c.c.id.in_(tagged_contact_ids(trusted_tag)))
    conn.execute(
        MESSAGES.insert().from_select(
            [
                "send_id",
                "contact_id",
                "email",
                "status",
                "provider",
                "attempts",
                "queued_at",
                "updated_at",
                "outlet",
                "region",
                "beats",
                *extra_columns,
            ],
            rows,
        )
    )
    _insert_opted_out(conn, send_id, opted_out, provider, now)
    # Counted, not taken from rowcount: SQLAlchemy reports -1 for INSERT ... SELECT on psycopg.
    m = MESSAGES
    is_left_out = case((m.c.status == MessageStatus.LEFT_OUT, 1), else_=0)
    is_opted_out = case((m.c.status == MessageStatus.OPTED_OUT, 1), else_=0)
    total, left, opted = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(is_left_out), 0),
            func.coalesce(func.sum(is_opted_out), 0),
        ).where(m.c.send_id == send_id)
    ).one()
    left, opted = int(left or 0), int(opted or 0)
    return Expanded(int(total or 0) - left - opted, left, opted)


# Contacts read per statement when recording opt-outs: well under every driver's bound limit.
_CHUNK = 500


def _insert_opted_out(
    conn: Connection, send_id: int, opted_out: Sequence[OptedOut], provider: str, now: datetime
) -> None:
    """One never-mailed ``opted_out`` row per contact, with who they were as addressed."""
    c = CONTACTS
    reasons = {who.contact_id: who.reason for who in opted_out}
    ids = list(reasons)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        contacts = conn.execute(
            select(c.c.id, c.c.email, c.c.outlet, c.c.region, _beats_of(conn, c.c.id).label("b"))
            .where(c.c.id.in_(chunk))
            .order_by(c.c.id)
        ).all()
        conn.execute(
            MESSAGES.insert(),
            [
                {
                    "send_id": send_id,
                    "contact_id": row.id,
                    "email": row.email,
                    "status": MessageStatus.OPTED_OUT,
                    "provider": provider,
                    "attempts": 0,
                    "queued_at": now,
                    "updated_at": now,
                    "outlet": row.outlet,
                    "region": row.region,
                    "beats": _as_list(row.b),
                    "last_error": reasons[row.id],
                }
                for row in contacts
            ],
        )


def _as_list(beats: Any) -> list[str] | None:
    """A contact's beats as ``_beats_of`` reads them (JSON text on SQLite), as a list."""
    found = json.loads(beats) if isinstance(beats, str) else beats
    return None if found is None else [str(beat) for beat in found]


def _beats_of(conn: Connection, contact_id: Any) -> Any:
    """The contact's beats as a JSON array, copied onto its message."""
    b = BEATS
    if conn.dialect.name == "postgresql":
        beats = func.json_agg(aggregate_order_by(b.c.beat, b.c.beat))  # NULL for none
    else:  # the primary key (contact_id, beat) hands them over in order; "[]" for none
        beats = func.json_group_array(b.c.beat)
    return select(beats).where(b.c.contact_id == contact_id).scalar_subquery()
