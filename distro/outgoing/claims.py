"""Endpoint state in the database: claiming the next batch under a lease, recording the answer.

A claim leases one endpoint to one worker (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; the single
writer lock, taken through ``distro.db.writing``, on SQLite), so two workers never post to the
same endpoint at once, and pins the batch (``batch_last_id``): until the receiver accepts it, the
same events go again under the same delivery id. A worker that dies holding a lease leaves the
endpoint to whichever worker sees the lease expire. The cursor moves only on a 2xx, so delivery
is at least once, in event-id order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, delete, or_, select, update

from distro.config_sections import OutgoingWebhookSettings
from distro.db import reading, writing
from distro.models import OutgoingDelivery
from distro.outgoing.batches import ENDPOINTS, horizon, matching_events
from distro.outgoing.post import Attempt
from distro.sending.backoff import retry_delay as backoff

log = logging.getLogger(__name__)

DELIVERIES: Table = OutgoingDelivery.__table__  # type: ignore[attr-defined]
# Endpoints looked at per claim; the rest wait for the next one.
CANDIDATES = 20


@dataclass(frozen=True, slots=True)
class Batch:
    endpoint_id: int
    url: str
    secret_sealed: str
    events: list[dict[str, Any]]
    #: The cursor once the receiver accepts this batch.
    upto: int

    @property
    def first_id(self) -> int:
        return int(self.events[0]["id"])

    @property
    def last_id(self) -> int:
        return int(self.events[-1]["id"])


def lease_for(config: OutgoingWebhookSettings) -> timedelta:
    """Long enough for one POST to finish, however slow."""
    return timedelta(seconds=max(60.0, 4 * config.timeout_seconds))


def _settle(config: OutgoingWebhookSettings) -> timedelta:
    return timedelta(seconds=config.settle_seconds)


def _due(now: datetime, upper: int) -> list[ColumnElement[bool]]:
    h = ENDPOINTS
    return [
        h.c.active.is_(True),
        h.c.gave_up_at.is_(None),
        or_(h.c.next_attempt_at.is_(None), h.c.next_attempt_at <= now),
        or_(h.c.lease_expires_at.is_(None), h.c.lease_expires_at < now),
        or_(h.c.cursor_event_id < upper, h.c.batch_last_id.is_not(None)),
    ]


def has_work(engine: Engine, config: OutgoingWebhookSettings, now: datetime) -> bool:
    """Whether any endpoint may have events to deliver; a read that takes no write lock."""
    with reading(engine) as conn:
        upper = horizon(conn, now, _settle(config))
        return conn.scalar(select(ENDPOINTS.c.id).where(*_due(now, upper)).limit(1)) is not None


def claim_batch(
    engine: Engine, owner: str, config: OutgoingWebhookSettings, now: datetime
) -> Batch | None:
    """Lease the due endpoint tried least recently that has events, and pin its next batch.

    Endpoints whose filters match none of the new events just have their cursor moved on.
    """
    h = ENDPOINTS
    with writing(engine) as conn:
        upper = horizon(conn, now, _settle(config))
        candidates = conn.execute(
            select(h)
            .where(*_due(now, upper))
            .order_by(h.c.last_attempt_at.asc().nulls_first(), h.c.id)
            .limit(CANDIDATES)
            .with_for_update(skip_locked=True)
        ).all()
        for endpoint in candidates:
            pinned: int | None = endpoint.batch_last_id
            # A pinned batch goes again exactly; a new one is at most batch_size events.
            end = upper if pinned is None else pinned
            limit = config.batch_size if pinned is None else None
            events = matching_events(conn, endpoint, end, limit)
            if not events:
                _skip_to(conn, endpoint, max(endpoint.cursor_event_id, end))
                continue
            full = limit is not None and len(events) >= limit
            # A short batch holds every match up to ``end``: accepting it moves the cursor there.
            upto = int(events[-1]["id"]) if full else end
            leased = conn.execute(
                update(h)
                .where(h.c.id == endpoint.id, or_(*_lease_free(now)))
                .values(
                    lease_owner=owner, lease_expires_at=now + lease_for(config), batch_last_id=upto
                )
            ).rowcount
            if leased:
                return Batch(endpoint.id, endpoint.url, endpoint.secret_sealed, events, upto)
    return None


def _lease_free(now: datetime) -> list[ColumnElement[bool]]:
    return [ENDPOINTS.c.lease_expires_at.is_(None), ENDPOINTS.c.lease_expires_at < now]


def _skip_to(conn: Connection, endpoint: Any, cursor: int) -> None:
    conn.execute(
        update(ENDPOINTS)
        .where(ENDPOINTS.c.id == endpoint.id)
        .values(cursor_event_id=cursor, batch_last_id=None)
    )


def retry_delay(
    failures: int, retry_after: float | None, config: OutgoingWebhookSettings
) -> timedelta:
    """Exponential backoff with jitter, never shorter than the receiver's Retry-After
    (itself honoured up to ``max_retry_after_seconds``)."""
    return backoff(
        failures,
        None if retry_after is None else min(retry_after, config.max_retry_after_seconds),
        base=timedelta(seconds=config.retry_base_seconds),
        cap=timedelta(seconds=config.retry_cap_seconds),
    )


def record_attempt(
    engine: Engine,
    owner: str,
    batch: Batch,
    attempt: Attempt,
    config: OutgoingWebhookSettings,
    now: datetime,
) -> None:
    """Log the attempt; on success move the cursor, on failure schedule the retry (or give up)."""
    h = ENDPOINTS
    with writing(engine) as conn:
        endpoint = conn.execute(
            select(h).where(h.c.id == batch.endpoint_id).with_for_update()
        ).one_or_none()
        if endpoint is None:
            log.info("webhook %d was removed during a delivery", batch.endpoint_id)
            return
        _log(conn, batch.endpoint_id, "events", attempt, now, batch)
        held = endpoint.lease_owner == owner
        release = {"lease_owner": None, "lease_expires_at": None} if held else {}
        if attempt.ok:
            values: dict[str, Any] = {
                "cursor_event_id": max(endpoint.cursor_event_id, batch.upto),
                "consecutive_failures": 0,
                "failing_since": None,
                "gave_up_at": None,
                "next_attempt_at": None,
                "last_error": None,
                "last_success_at": now,
                "last_attempt_at": now,
            }
            if endpoint.batch_last_id == batch.upto:
                values["batch_last_id"] = None
        elif held:
            values = _failure(endpoint, attempt, config, now)
        else:
            log.warning("webhook %d: lease lost during a failed delivery", batch.endpoint_id)
            return
        conn.execute(update(h).where(h.c.id == batch.endpoint_id).values(**values, **release))


def _failure(
    endpoint: Any, attempt: Attempt, config: OutgoingWebhookSettings, now: datetime
) -> dict[str, Any]:
    failures = endpoint.consecutive_failures + 1
    since = endpoint.failing_since or now
    give_up = failures >= config.give_up_failures and now - since >= timedelta(
        seconds=config.give_up_after_seconds
    )
    return {
        "consecutive_failures": failures,
        "failing_since": since,
        "last_error": attempt.error,
        "last_attempt_at": now,
        "next_attempt_at": now + retry_delay(failures, attempt.retry_after, config),
        "gave_up_at": now if give_up else None,
    }


def record_ping(engine: Engine, endpoint_id: int, attempt: Attempt, now: datetime) -> None:
    """A test ping is logged but changes nothing else."""
    with writing(engine) as conn:
        _log(conn, endpoint_id, "ping", attempt, now, None)


def _log(
    conn: Connection,
    endpoint_id: int,
    kind: str,
    attempt: Attempt,
    now: datetime,
    batch: Batch | None,
) -> None:
    conn.execute(
        DELIVERIES.insert().values(
            endpoint_id=endpoint_id,
            kind=kind,
            attempted_at=now,
            first_event_id=batch.first_id if batch else None,
            last_event_id=batch.last_id if batch else None,
            event_count=len(batch.events) if batch else 0,
            ok=attempt.ok,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
        )
    )


def prune_log(engine: Engine, before: datetime) -> int:
    """Delete delivery log rows older than ``before``; return how many."""
    with writing(engine) as conn:
        return int(
            conn.execute(delete(DELIVERIES).where(DELIVERIES.c.attempted_at < before)).rowcount
        )
