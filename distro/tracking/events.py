"""Storing normalised events: deduplicated, matched to their message, moving it forward only.

Every source (provider webhooks, our own links) reduces what it heard to ``NormalisedEvent``
(``distro.tracking.event``) and calls ``store_events``; its typed fields are written into the
``detail`` column by ``distro.tracking.detail``. A batch (SendGrid posts up to 1000 events) is
stored in one transaction with a constant number of statements, whatever its size: messages are
matched with ``IN`` queries, events go in as one multi-row ``INSERT ... ON CONFLICT DO NOTHING
RETURNING`` (a provider retrying a webhook repeats its event id, which the unique (provider,
provider_event_id) constraint absorbs), statuses move with one ``UPDATE`` per target status, and
suppressions are added together (``distro.tracking.suppressing``). Only events that are new
change anything.

An event is applied only to a message whose recipient it reports (``distro.tracking.matching``);
one naming a message of ours with another recipient is stored without a message, with the
message it claimed and why (``claimed_message_id``, ``claimed_send_id``, ``unmatched_reason``),
and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, select, update

from distro.config_sections import SuppressionSettings
from distro.db import writing
from distro.models import Event, EventType, Message, MessageStatus
from distro.models.types import utcnow
from distro.tracking import summary
from distro.tracking.detail import stored_detail
from distro.tracking.event import NormalisedEvent
from distro.tracking.matching import Found, Match, Refused, chunks, match_all
from distro.tracking.suppressing import stored_address, suppress

EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]

log = logging.getLogger(__name__)

#: Events per INSERT statement (twelve values each).
INSERT_ROWS = 1000
# Column widths (see distro.models.tracking.Event): longer values would fail on PostgreSQL,
# and a failed store is answered 5xx, which the provider would retry forever.
_ID_WIDTH = 300
_RECIPIENT_WIDTH = 320
_REASON_WIDTH = 300


# A message's status is the furthest thing that happened to it; events never move it back.
STATUS_RANK: dict[str, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.UNCERTAIN: 1,
    MessageStatus.SENT: 2,
    MessageStatus.FAILED: 2,
    MessageStatus.DEFERRED: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.OPENED: 5,
    MessageStatus.CLICKED: 6,
    MessageStatus.BOUNCED: 7,
    MessageStatus.UNSUBSCRIBED: 8,
    MessageStatus.COMPLAINED: 9,
}

EVENT_STATUS: dict[EventType, MessageStatus] = {
    EventType.SENT: MessageStatus.SENT,
    EventType.REJECTED: MessageStatus.FAILED,
    EventType.FAILED: MessageStatus.FAILED,
    EventType.DEFERRED: MessageStatus.DEFERRED,
    EventType.DELIVERED: MessageStatus.DELIVERED,
    EventType.OPENED: MessageStatus.OPENED,
    EventType.CLICKED: MessageStatus.CLICKED,
    EventType.BOUNCED: MessageStatus.BOUNCED,
    EventType.COMPLAINED: MessageStatus.COMPLAINED,
    EventType.UNSUBSCRIBED: MessageStatus.UNSUBSCRIBED,
}

DEFAULT_RULES = SuppressionSettings()


def store_events(
    engine: Engine,
    provider: str,
    events: Sequence[NormalisedEvent],
    *,
    rules: SuppressionSettings = DEFAULT_RULES,
) -> int:
    """Store a batch in one transaction; return how many were new (not repeats)."""
    if not events:
        return 0
    with writing(engine) as conn:
        return len(store_in(conn, provider, events, rules))


def store_in(
    conn: Connection,
    provider: str,
    events: Sequence[NormalisedEvent],
    rules: SuppressionSettings = DEFAULT_RULES,
) -> list[tuple[int, NormalisedEvent, Found]]:
    """Store ``events`` inside the caller's transaction; return the new ones with their row id
    and matched message, or why the message they named was not theirs (repeats of stored
    events, and of each other, are left out)."""
    unique = _unique(events)
    matches = match_all(conn, provider, unique)
    now = utcnow()
    details = [stored_detail(event) for event in unique]
    rows = _rows(conn, provider, unique, details, matches, now)
    inserted = _insert_events(conn, rows)
    new: list[tuple[int, NormalisedEvent, Found]] = []
    stored: list[summary.StoredEvent] = []
    for row, event, detail, match in zip(rows, unique, details, matches, strict=True):
        event_id = inserted.get(row[_KEY])
        if event_id is None:
            continue
        new.append((event_id, event, match))
        if isinstance(match, Match):
            stored.append(summary.StoredEvent(event_id, match.id, event, detail))
    if not new:
        return []
    _warn_refused(provider, new)
    _advance(conn, new, now)
    suppress(conn, provider, new, rules, now)
    if stored:
        summary.record_outcomes(conn, stored)
    return new


def _unique(events: Sequence[NormalisedEvent]) -> list[NormalisedEvent]:
    """The first of each event id (as stored), in order."""
    seen: set[str] = set()
    unique: list[NormalisedEvent] = []
    for event in events:
        key = _fit_id(event.provider_event_id)
        if key not in seen:
            seen.add(key)
            unique.append(event)
    return unique


def _warn_refused(provider: str, new: list[tuple[int, NormalisedEvent, Found]]) -> None:
    """One log line per batch with refused events (a forged batch could hold a thousand)."""
    refused = [(event, found) for _id, event, found in new if isinstance(found, Refused)]
    if refused:
        event, found = refused[0]
        log.warning(
            "%d %s event(s) not applied to the messages they named; the first, %s for %s, %s",
            len(refused),
            provider,
            event.provider_event_id[:_ID_WIDTH],
            stored_address(event.recipient)[:_RECIPIENT_WIDTH] or "no recipient",
            found.reason,
        )


# --- rows --------------------------------------------------------------------------------------


def _rows(
    conn: Connection,
    provider: str,
    events: Sequence[NormalisedEvent],
    details: Sequence[dict[str, Any]],
    matches: Sequence[Found],
    now: datetime,
) -> list[tuple[Any, ...]]:
    """Each event as the values of ``_COLUMNS``, bound the way the column types bind them."""
    stamp = EVENTS.c.occurred_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    bind: Any = stamp or (lambda value: value)
    received_at = bind(now)
    moments: dict[datetime, Any] = {}  # a batch's events share few distinct moments
    rows = []
    for event, detail, match in zip(events, details, matches, strict=True):
        occurred_at = moments.get(event.occurred_at)
        if occurred_at is None:
            if event.occurred_at.tzinfo is None:
                raise ValueError(f"event {event.provider_event_id}: occurred_at has no time zone")
            occurred_at = moments[event.occurred_at] = bind(event.occurred_at)
        matched = match if isinstance(match, Match) else None
        refused = match if isinstance(match, Refused) else None
        rows.append(
            (
                matched.id if matched else None,
                provider,
                _fit_id(event.provider_event_id),
                _clean(event.provider_message_id or "")[:_ID_WIDTH] or None,
                str(event.type),
                (matched.email if matched else stored_address(event.recipient))[:_RECIPIENT_WIDTH],
                occurred_at,
                received_at,
                _json(detail),
                refused.claimed.id if refused else None,
                refused.claimed.send_id if refused else None,
                refused.reason[:_REASON_WIDTH] if refused else None,
            )
        )
    return rows


_COLUMNS = (
    "message_id, provider, provider_event_id, provider_message_id, type, recipient, "
    "occurred_at, received_at, detail, claimed_message_id, claimed_send_id, unmatched_reason"
)
_KEY = 2  # provider_event_id's place in a row


def _insert_events(conn: Connection, rows: list[tuple[Any, ...]]) -> dict[str, int]:
    """Insert the rows as they are listed (so event ids follow the provider's order), skipping
    event ids already stored; return {provider_event_id: id} of the new ones.

    One multi-row statement per thousand rows, written out here: going through SQLAlchemy's
    per-value type processing costs more than the database does for a SendGrid batch.
    """
    postgres = conn.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    row = "(" + ", ".join([mark] * 8 + [f"{mark}::json" if postgres else mark] + [mark] * 3) + ")"
    inserted: dict[str, int] = {}
    for chunk in chunks(rows, INSERT_ROWS):
        values = ", ".join([row] * len(chunk))  # placeholders only: every value is bound
        sql = (
            f"INSERT INTO {EVENTS.name} ({_COLUMNS}) VALUES {values} "  # noqa: S608
            "ON CONFLICT (provider, provider_event_id) DO NOTHING RETURNING id, provider_event_id"
        )
        params = tuple(value for values in chunk for value in values)
        for event_id, key in conn.exec_driver_sql(sql, params):
            inserted[key] = event_id
    return inserted


def _json(detail: dict[str, Any]) -> str:
    try:
        return orjson.dumps(detail).decode()
    except TypeError:  # what orjson refuses (integers past 64 bits) the standard library writes
        return json.dumps(detail)


def _fit_id(value: str) -> str:
    """An event id that fits its column: long ones (a click's URL in it) become a digest."""
    value = _clean(value)
    if len(value) <= _ID_WIDTH:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def _clean(value: str) -> str:
    return value.replace("\x00", "") if "\x00" in value else value  # PostgreSQL refuses NUL


# --- status ------------------------------------------------------------------------------------


def _advance(
    conn: Connection, new: list[tuple[int, NormalisedEvent, Found]], now: datetime
) -> None:
    """Move each message to the furthest status its new events reach, never back."""
    target: dict[int, MessageStatus] = {}
    for _event_id, event, match in new:
        status = EVENT_STATUS.get(event.type)
        if not isinstance(match, Match) or status is None:
            continue
        current = target.get(match.id)
        if current is None or STATUS_RANK[status] > STATUS_RANK[current]:
            target[match.id] = status
    if not target:
        return
    if conn.dialect.name == "postgresql":
        # Row locks in id order, so two batches touching the same messages cannot deadlock.
        # NO KEY UPDATE (what the UPDATE below takes anyway), not UPDATE: inserting events takes
        # KEY SHARE locks on their messages through the foreign key, which UPDATE would wait for
        # across batches in the opposite order.
        ids = sorted(target)
        for chunk in chunks(ids):
            conn.execute(
                select(MESSAGES.c.id)
                .where(MESSAGES.c.id.in_(chunk))
                .order_by(MESSAGES.c.id)
                .with_for_update(key_share=True)
            )
    groups: dict[MessageStatus, list[int]] = defaultdict(list)
    for message_id, status in target.items():
        groups[status].append(message_id)
    for status, message_ids in groups.items():
        lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
        for chunk in chunks(sorted(message_ids)):
            conn.execute(
                update(MESSAGES)
                .where(MESSAGES.c.id.in_(chunk), MESSAGES.c.status.in_(lower))
                .values(status=status, updated_at=now)
            )
