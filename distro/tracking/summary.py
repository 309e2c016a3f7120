"""Per-message outcome summaries and per-send rollups, kept up to date as events are stored, so
a report over a million messages and millions of events reads a few thousand rows.

The store path calls ``record_outcomes`` in its transaction with every new event that matched a
message. It costs a constant number of statements per batch: the touched messages' outcomes
are read (locked on PostgreSQL, in id order), the events folded in Python
(``distro.tracking.summary_fold``), then outcomes, rollups, minutes, links and bounce reasons
are written with one executemany each (``distro.tracking.summary_sql``). Rollup columns are
incremented (``x = x + excluded.x``), never overwritten, so batches for the same send may
commit in any order.

``rebuild`` recounts sends from their stored events with the same fold, in bulk: for databases
that had events before the summary existed, and for benchmarks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection

from distro.tracking.event import NormalisedEvent
from distro.tracking.summary_fold import Addressed, Outcome, Tally, fold
from distro.tracking.summary_sql import SummarySql

EventFacts = tuple[str, datetime, Mapping[str, Any]]
# The tables the summary fills, and what rebuild clears (outcomes go by their messages).
_PER_SEND = (
    "report_rollups",
    "report_timeline",
    "report_links",
    "report_bounces",
    "report_snapshots",
)


class StoredEvent(NamedTuple):
    event_id: int
    message_id: int
    event: NormalisedEvent
    # The event's ``detail`` column as stored (distro.tracking.detail), which the fold reads, as
    # ``rebuild`` reads it back from the table.
    detail: Mapping[str, Any]


def record_outcomes(conn: Connection, stored: Sequence[StoredEvent]) -> None:
    """Fold newly stored events into their messages' outcomes and their sends' rollups."""
    if not stored:
        return
    by_message: dict[int, list[EventFacts]] = defaultdict(list)
    for item in stored:
        event = item.event
        by_message[item.message_id].append((str(event.type), event.occurred_at, item.detail))
    sql = SummarySql(conn)
    tally = Tally()
    changed = [
        (message_id, fold(tally, addressed, before, by_message[message_id]))
        for message_id, addressed, before in sql.outcomes_for_update(sorted(by_message))
    ]
    sql.write_outcomes(changed)
    sql.write_tally(tally)


def rebuild(conn: Connection, send_ids: Collection[int], *, chunk: int = 5000) -> int:
    """Recount the summaries of ``send_ids`` from their stored events; return the events read.

    The audience snapshot is dropped too (the next report counts it again). Memory stays flat:
    events stream in message order and outcomes are written every ``chunk`` messages.
    """
    sends = sorted(set(send_ids))
    if not sends:
        return 0
    sql = SummarySql(conn)
    _forget(conn, sql, sends)
    tally = Tally()
    pending: list[tuple[int, Outcome]] = []
    read = 0
    for message_id, addressed, facts in _stored_events(conn, sql, sends, chunk):
        read += len(facts)
        pending.append((message_id, fold(tally, addressed, Outcome(), facts)))
        if len(pending) >= chunk:
            sql.write_outcomes(pending)
            pending = []
    sql.write_outcomes(pending)
    sql.write_tally(tally)
    return read


def _stored_events(
    conn: Connection, sql: SummarySql, sends: Sequence[int], chunk: int
) -> Iterator[tuple[int, Addressed, list[EventFacts]]]:
    """The sends' events, one message at a time."""
    query = (
        "SELECT e.message_id, e.type, e.occurred_at, e.detail, "  # noqa: S608
        "m.send_id, m.email, m.provider, m.outlet, m.region, m.beats "
        "FROM events e JOIN messages m ON m.id = e.message_id "
        f"WHERE m.send_id IN ({', '.join([sql.mark] * len(sends))}) ORDER BY e.message_id"
    )
    rows = conn.exec_driver_sql(
        query, tuple(sends), execution_options={"stream_results": True, "yield_per": chunk}
    )
    current: int | None = None
    addressed: Addressed | None = None
    facts: list[EventFacts] = []
    for message_id, kind, occurred_at, detail, *addressing in rows:
        if message_id != current:
            if current is not None and addressed is not None:
                yield current, addressed, facts
            current, facts = message_id, []
            send_id, email, provider, outlet, region, beats = addressing
            addressed = Addressed(
                send_id,
                email,
                provider,
                outlet or "",
                region or "",
                tuple(sql.read_json(beats) or ()),
            )
        moment = sql.read_moment(occurred_at)
        assert moment is not None
        facts.append((kind, moment, sql.read_json(detail) or {}))
    if current is not None and addressed is not None:
        yield current, addressed, facts


def _forget(conn: Connection, sql: SummarySql, sends: Sequence[int]) -> None:
    marks = ", ".join([sql.mark] * len(sends))
    conn.exec_driver_sql(
        "DELETE FROM message_outcomes WHERE message_id IN "  # noqa: S608
        f"(SELECT id FROM messages WHERE send_id IN ({marks}))",
        tuple(sends),
    )
    for table in _PER_SEND:
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE send_id IN ({marks})", tuple(sends))  # noqa: S608
