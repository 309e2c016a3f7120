"""Asking lookup providers about messages whose send answer was lost, and knowing when to stop.

A message whose hand-over answer was lost waits as *uncertain* with a time in
``next_attempt_at``; at that time its provider's message search is asked whether it has it
(found: *sent*; not found: queued again). Asking must end, or the send never finishes and
``worker --exit-when-idle`` never exits:

* a lookup the provider **refuses** (a 4xx: the endpoint does not offer the search, or the
  credentials may not use it) will be refused again, so it stops at once;
* a lookup that keeps **failing** (5xx, timeouts) is asked again every ``RECONCILE_RETRY``
  until the message has waited ``[sending] reconcile_deadline_seconds`` since it became
  uncertain (its ``updated_at``, which postponing leaves alone), then it stops.

Stopping leaves the message *uncertain* without a time (``next_attempt_at`` NULL), which is how
every other undecidable message waits for staff (``send resolve --resend|--drop``); the reason
goes in ``last_error``, so ``send list`` and the report can say why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, update

from distro.db import reading, writing
from distro.errors import DistroError, PermanentProviderError
from distro.models import MessageStatus
from distro.providers.base import Provider
from distro.sending import queue
from distro.single_line import single_line

log = logging.getLogger(__name__)

RECONCILE_BATCH = 100
RECONCILE_RETRY = timedelta(minutes=1)
RESOLVE_HINT = "waiting for `distro send resolve`"
MESSAGES = queue.MESSAGES


def stop_reconciling(
    engine: Engine, message_ids: Collection[int], reason: str, now: datetime
) -> int:
    """Leave these uncertain rows for staff, saying why; return how many were stopped."""
    m = MESSAGES
    with writing(engine) as conn:
        stopped = conn.execute(
            update(m)
            .where(
                m.c.id.in_(list(message_ids)),
                m.c.status == MessageStatus.UNCERTAIN,
                m.c.next_attempt_at.is_not(None),
            )
            .values(
                next_attempt_at=None,
                last_error=f"outcome unknown: {reason}; {RESOLVE_HINT}",
                updated_at=now,
            )
        ).rowcount
    return int(stopped or 0)


def _waiting_since(engine: Engine, message_ids: Collection[int]) -> dict[int, datetime]:
    m = MESSAGES
    with reading(engine) as conn:
        rows = conn.execute(
            select(m.c.id, m.c.updated_at).where(m.c.id.in_(list(message_ids)))
        ).all()
    return {int(row.id): row.updated_at for row in rows}


def reconcile(
    engine: Engine,
    provider_of: Callable[[str], Provider],
    recovery: Mapping[str, queue.Recovery],
    now: datetime,
    deadline: timedelta,
) -> int:
    """Ask lookup providers about lost answers; return how many messages were settled (sent,
    queued again, or stopped and left for staff)."""
    settled = 0
    for name, way in recovery.items():
        if way is not queue.Recovery.LOOKUP:
            continue
        ids = queue.due_for_reconciling(engine, name, now, RECONCILE_BATCH)
        if not ids:
            continue
        provider = provider_of(name)
        try:
            found = provider.lookup(ids)
        except PermanentProviderError as exc:
            reason = f"the provider refused the lookup: {single_line(str(exc))[:300]}"
            stopped = stop_reconciling(engine, ids, reason, now)
            log.warning("%s: %d messages left uncertain: %s", name, stopped, reason)
            settled += stopped
            continue
        except DistroError as exc:
            settled += _postpone_or_stop(engine, name, ids, str(exc), now, deadline)
            continue
        if found is None:
            settled += _postpone_or_stop(engine, name, ids, "no lookup offered", now, deadline)
            continue
        sent, requeued = queue.record_reconciled(engine, found, now)
        log.info(
            "%s: reconciled %d messages (%d sent, %d queued again)", name, len(ids), sent, requeued
        )
        settled += sent + requeued
    return settled


def _postpone_or_stop(
    engine: Engine, name: str, ids: list[int], error: str, now: datetime, deadline: timedelta
) -> int:
    """Ask again later, except for messages that have waited past the deadline: stop those."""
    since = _waiting_since(engine, ids)
    overdue = [i for i in ids if (when := since.get(i)) is None or _aware(when) + deadline <= now]
    waiting = [i for i in ids if i not in set(overdue)]
    if waiting:
        log.warning("%s: message lookup failed, asking again later: %s", name, error)
        queue.postpone_reconciling(engine, waiting, now + RECONCILE_RETRY)
    if not overdue:
        return 0
    minutes = int(deadline.total_seconds() // 60)
    reason = (
        f"the lookup kept failing for {minutes} min "
        f"(reconcile_deadline_seconds): {single_line(error)[:300]}"
    )
    stopped = stop_reconciling(engine, overdue, reason, now)
    log.warning("%s: %d messages left uncertain: %s", name, stopped, reason)
    return stopped


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
