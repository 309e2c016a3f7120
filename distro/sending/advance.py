"""Who has a release's advance copy already, so that its later sends leave them out.

A contact *received* an advance copy when a message of an advance-copy send of the same release
reached a provider and did not bounce (sent, deferred, delivered, opened, clicked, complained,
unsubscribed); a message that failed, bounced, was suppressed or whose fate is unknown does not
count. Only advance copies of the release as it is count: those scheduled after it was last
reopened (an earlier version's recipients get the corrected one).

When a send fires, only who *received* one is left out (``received``). A forecast (when
scheduling, and in ``distro send list``) also counts whom an advance copy is still to reach
(``expected``): its messages queued or in flight, and the audience of one not fired yet.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Select, Table, exists, func, or_, select, union

from distro.audience.targeting import audience_contact_ids, send_expression, tagged_contact_ids
from distro.errors import NotFoundError
from distro.models import HANDED_OVER, Message, MessageStatus, Release, Send, SendKind, SendStatus

SENDS: Table = Send.__table__  # type: ignore[attr-defined]
MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
RELEASES: Table = Release.__table__  # type: ignore[attr-defined]

RECEIVED = tuple(HANDED_OVER - {MessageStatus.BOUNCED})
UNDER_WAY = (MessageStatus.QUEUED, MessageStatus.SENDING)
# An advance copy that has not fired yet and still may.
_NOT_FIRED = (SendStatus.SCHEDULED, SendStatus.PAUSED, SendStatus.MISSED, SendStatus.HELD)


def advance_sends(release_id: int) -> Select[tuple[int]]:
    """The ids of the release's advance-copy sends since it was last reopened."""
    s, r = SENDS, RELEASES
    reopened = select(r.c.reopened_at).where(r.c.id == release_id).scalar_subquery()
    return select(s.c.id).where(
        s.c.release_id == release_id,
        s.c.kind == SendKind.ADVANCE_COPY,
        or_(reopened.is_(None), s.c.created_at >= reopened),
    )


def anyone_received(conn: Connection, release_id: int) -> bool:
    """Whether an advance copy of the release reached anyone (so ordinary releases' sends
    expand exactly as they did before there were advance copies)."""
    m = MESSAGES
    reached = exists().where(m.c.send_id.in_(advance_sends(release_id)), m.c.status.in_(RECEIVED))
    return bool(conn.scalar(select(reached)))


def received(release_id: int) -> Select[tuple[int, int]]:
    """(contact id, the first advance-copy send that reached them) for each who received one."""
    m = MESSAGES
    return (
        select(m.c.contact_id, func.min(m.c.send_id).label("via"))
        .where(m.c.send_id.in_(advance_sends(release_id)), m.c.status.in_(RECEIVED))
        .group_by(m.c.contact_id)
    )


def expected(
    conn: Connection, release_id: int, trusted_tag: str, now: datetime
) -> Select[tuple[int]]:
    """The ids of contacts who received an advance copy of the release or are due to."""
    m, s = MESSAGES, SENDS
    parts: list[Select[tuple[int]]] = [
        select(m.c.contact_id).where(
            m.c.send_id.in_(advance_sends(release_id)), m.c.status.in_(RECEIVED + UNDER_WAY)
        )
    ]
    pending = conn.execute(
        select(s.c.list_names, s.c.where_expr, s.c.segment_name).where(
            s.c.id.in_(advance_sends(release_id)),
            s.c.status.in_(_NOT_FIRED),
            s.c.started_at.is_(None),
        )
    ).all()
    trusted = tagged_contact_ids(trusted_tag)
    for lists, where, segment in pending:
        try:
            expression = send_expression(conn, where, segment)
        except NotFoundError:
            continue  # its saved segment is gone: it will be held when due, reaching no one
        audience = audience_contact_ids(lists or [], expression, now)
        parts.append(audience.where(audience.selected_columns[0].in_(trusted)))
    if len(parts) == 1:
        return parts[0]
    combined = union(*parts).subquery()
    return select(combined.c[0])
