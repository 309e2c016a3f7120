"""The parts of a report that come from the messages themselves, counted once and kept.

Who was addressed (recipients and suppressed per outlet, beat, region, provider and domain) is
fixed when a send is expanded, so the first report after that counts it from the messages and
stores it in the rollups. When each message was handed over (``sent`` per minute) is fixed once
nothing is left queued or in flight; until then every report counts it live. The message status
counts it was taken at are kept as ``sent_key``: a later change (a retry, a resolved message)
makes the next report count it again. Counting is one pass over the send's messages in a read
transaction; only the small result is written, so the writer lock is held for milliseconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from distro.db import reading, writing
from distro.models import (
    HANDED_OVER,
    Message,
    MessageStatus,
    ReportRollup,
    ReportSnapshot,
    ReportTimeline,
    SendStatus,
)
from distro.models.types import utcnow
from distro.reports.audience_scan import Scan, scan

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
ROLLUPS: Table = ReportRollup.__table__  # type: ignore[attr-defined]
TIMELINE: Table = ReportTimeline.__table__  # type: ignore[attr-defined]
SNAPSHOTS: Table = ReportSnapshot.__table__  # type: ignore[attr-defined]

_SETTLED_SENDS = frozenset({SendStatus.SENT, SendStatus.CANCELLED})
_KEY_STATUSES = (
    MessageStatus.QUEUED,
    MessageStatus.SENDING,
    MessageStatus.UNCERTAIN,
    MessageStatus.FAILED,
    MessageStatus.SUPPRESSED,
)


def sent_key(status_counts: Mapping[str, int]) -> str:
    """The status counts that decide whether stored per-minute ``sent`` figures still hold."""
    handed = sum(n for status, n in status_counts.items() if status in HANDED_OVER)
    parts = [f"{status}:{status_counts.get(status, 0)}" for status in _KEY_STATUSES]
    return ",".join([*parts, f"handed:{handed}"])


def settled(send_status: str, status_counts: Mapping[str, int]) -> bool:
    """Nothing of the send will be handed over any more (unless staff retry)."""
    waiting = status_counts.get(MessageStatus.QUEUED, 0) + status_counts.get(
        MessageStatus.SENDING, 0
    )
    return send_status in _SETTLED_SENDS and waiting == 0


def prepare(
    engine: Engine, send_id: int, send_status: str, status_counts: Mapping[str, int]
) -> Counter[datetime] | None:
    """Count what is missing or stale; return live per-minute ``sent`` counts when they could
    not be stored (the send is still going out), else None (the stored ones are current)."""
    if not status_counts:
        return None  # not expanded (yet): nothing was addressed or sent
    key = sent_key(status_counts)
    done = settled(send_status, status_counts)
    with reading(engine) as conn:
        snapshot = conn.execute(
            select(SNAPSHOTS.c.audience_at, SNAPSHOTS.c.sent_key).where(
                SNAPSHOTS.c.send_id == send_id
            )
        ).one_or_none()
        need_audience = snapshot is None or snapshot.audience_at is None
        need_sent = not done or snapshot is None or snapshot.sent_key != key
        if not (need_audience or need_sent):
            return None
        counted = scan(conn, send_id, audience=need_audience)
    if need_audience or done:
        with writing(engine) as conn:
            _store(conn, send_id, counted, audience=need_audience, key=key if done else None)
    return None if done else counted.sent


def _store(
    conn: Connection, send_id: int, counted: Scan, *, audience: bool, key: str | None
) -> None:
    values: dict[str, Any] = {"send_id": send_id}
    if audience:
        _store_audience(conn, send_id, counted)
        values["audience_at"] = utcnow()
    if key is not None:
        _store_sent(conn, send_id, counted.sent)
        values["sent_key"] = key
    statement = _insert(conn, SNAPSHOTS).values(**values)
    counted_now = {name: statement.excluded[name] for name in values if name != "send_id"}
    conn.execute(statement.on_conflict_do_update(index_elements=["send_id"], set_=counted_now))


def _store_audience(conn: Connection, send_id: int, counted: Scan) -> None:
    counters = [
        c.name for c in ROLLUPS.columns if c.type.python_type is int and c.name != "send_id"
    ]
    rows = [
        {
            **dict.fromkeys(counters, 0),
            "send_id": send_id,
            "dimension": dimension,
            "value": value,
            "recipients": n,
            "suppressed": counted.suppressed.get((dimension, value), 0),
        }
        for (dimension, value), n in sorted(counted.recipients.items())
    ]
    if not rows:
        return
    statement = _insert(conn, ROLLUPS)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["send_id", "dimension", "value"],
            set_={
                "recipients": statement.excluded.recipients,
                "suppressed": statement.excluded.suppressed,
            },
        ),
        rows,
    )


def _store_sent(conn: Connection, send_id: int, sent: Counter[datetime]) -> None:
    conn.execute(update(TIMELINE).where(TIMELINE.c.send_id == send_id).values(sent=0))
    if not sent:
        return
    counters = [
        c.name for c in TIMELINE.columns if c.type.python_type is int and c.name != "send_id"
    ]
    rows = [
        {**dict.fromkeys(counters, 0), "send_id": send_id, "minute": minute, "sent": n}
        for minute, n in sorted(sent.items())
    ]
    statement = _insert(conn, TIMELINE)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["send_id", "minute"], set_={"sent": statement.excluded.sent}
        ),
        rows,
    )


def _insert(conn: Connection, table: Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
