"""Send reports: Message and Event rows aggregated into counts of distinct recipients."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, case, distinct, func, select
from sqlmodel import Session, col
from sqlmodel import select as select_models

from distro.db import reading
from distro.errors import NotFoundError
from distro.models import Event, EventType, Message, MessageStatus, Release, Send

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
EVENTS: Table = Event.__table__  # type: ignore[attr-defined]

FUNNEL_EVENTS = (
    EventType.DELIVERED,
    EventType.BOUNCED,
    EventType.OPENED,
    EventType.CLICKED,
    EventType.COMPLAINED,
    EventType.UNSUBSCRIBED,
)


@dataclass(frozen=True)
class SendReport:
    send_id: int
    release_id: int
    release_title: str
    status: str
    provider: str
    scheduled_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    note: str
    recipients: int
    suppressed: int
    pending: int
    sent: int
    delivered: int
    bounced: int
    failed: int
    uncertain: int
    opened: int
    clicked: int
    complained: int
    unsubscribed: int

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("scheduled_at", "started_at", "finished_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _count_where(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def build_report(engine: Engine, send_id: int) -> SendReport:
    m, e = MESSAGES, EVENTS
    with reading(engine) as read, Session(bind=read) as session:
        row = session.exec(
            select_models(Send, col(Release.title))
            .join(Release, col(Release.id) == col(Send.release_id))
            .where(Send.id == send_id)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no send {send_id}")
        send, title = row
        conn = session.connection()
        totals = conn.execute(
            select(
                func.count(m.c.id),
                _count_where(m.c.status == MessageStatus.SUPPRESSED),
                _count_where(m.c.status.in_((MessageStatus.QUEUED, MessageStatus.SENDING))),
                func.count(m.c.sent_at),
                _count_where(m.c.status == MessageStatus.FAILED),
                _count_where(m.c.status == MessageStatus.UNCERTAIN),
            ).where(m.c.send_id == send_id)
        ).one()
        by_event: dict[str, int] = dict(
            conn.execute(
                select(e.c.type, func.count(distinct(e.c.message_id)))
                .join(m, m.c.id == e.c.message_id)
                .where(m.c.send_id == send_id, e.c.type.in_(FUNNEL_EVENTS))
                .group_by(e.c.type)
            ).all()
        )
    recipients, suppressed, pending, sent, failed, uncertain = (int(v) for v in totals)
    return SendReport(
        send_id=send_id,
        release_id=send.release_id,
        release_title=title,
        status=send.status,
        provider=send.provider,
        scheduled_at=send.scheduled_at,
        started_at=send.started_at,
        finished_at=send.finished_at,
        note=send.note,
        recipients=recipients,
        suppressed=suppressed,
        pending=pending,
        sent=sent,
        failed=failed,
        uncertain=uncertain,
        **{str(kind): int(by_event.get(kind, 0)) for kind in FUNNEL_EVENTS},
    )
