"""The per-recipient table of a report: one row per message, streamed (a send can have a
million), read from messages and their outcomes without touching the events."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine, Table, select

from distro.db import reading
from distro.models import Message, MessageOutcome, MessageStatus, Suppression
from distro.reports.model import RecipientRow

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
OUTCOMES: Table = MessageOutcome.__table__  # type: ignore[attr-defined]
SUPPRESSIONS: Table = Suppression.__table__  # type: ignore[attr-defined]


def iter_recipients(engine: Engine, send_id: int, *, batch: int = 5000) -> Iterator[RecipientRow]:
    """Every recipient of the send in message order: status, times, opens, clicks and why it
    bounced, failed or was suppressed."""
    m, o, s = MESSAGES, OUTCOMES, SUPPRESSIONS
    query = (
        select(
            m.c.email,
            m.c.status,
            m.c.outlet,
            m.c.sent_at,
            m.c.last_error,
            o.c.delivered_at,
            o.c.opened_at,
            o.c.opens,
            o.c.machine_opens,
            o.c.clicks,
            o.c.machine_clicks,
            o.c.reason,
            s.c.reason.label("suppression"),
        )
        .select_from(
            m.outerjoin(o, o.c.message_id == m.c.id).outerjoin(
                s, (s.c.email == m.c.email) & (m.c.status == MessageStatus.SUPPRESSED)
            )
        )
        .where(m.c.send_id == send_id)
        .order_by(m.c.id)
    )
    with reading(engine) as conn:
        rows = conn.execute(query.execution_options(stream_results=True, yield_per=batch))
        for row in rows:
            yield RecipientRow(
                email=row.email,
                status=row.status,
                outlet=row.outlet,
                sent_at=row.sent_at,
                delivered_at=row.delivered_at,
                opened_at=row.opened_at,
                opens_human=row.opens or 0,
                opens_machine=row.machine_opens or 0,
                clicks_human=row.clicks or 0,
                clicks_machine=row.machine_clicks or 0,
                reason=_reason(row.status, row.reason, row.last_error, row.suppression),
            )


def _reason(status: str, outcome: str | None, error: str | None, suppression: str | None) -> str:
    if status == MessageStatus.SUPPRESSED:
        return f"suppressed: {suppression}" if suppression else "suppressed"
    explained = (
        MessageStatus.FAILED,
        MessageStatus.UNCERTAIN,
        MessageStatus.LEFT_OUT,
        MessageStatus.OPTED_OUT,
    )
    return outcome or (error if status in explained else "") or ""
