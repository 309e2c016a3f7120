"""Building a send's report from the summary tables, never from the events themselves.

What it reads, for a send of a million messages and millions of events: the message status
counts (one index-only GROUP BY on ``ix_messages_claim``), the send's rollup rows (one per
outlet, beat, region, provider and domain), its minutes, links and bounce reasons; and, once per
send, the audience counted from its messages (``distro.reports.audience``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Table, func, select

from distro.db import reading
from distro.errors import NotFoundError
from distro.models import (
    HANDED_OVER,
    Message,
    MessageStatus,
    Release,
    ReportBounce,
    ReportLink,
    ReportRollup,
    ReportSnapshot,
    ReportTimeline,
    Send,
    SendStatus,
)
from distro.reports import audience
from distro.reports.model import (
    COUNT_NAMES,
    BounceReason,
    BreakdownRow,
    Counts,
    LinkRow,
    Rates,
    SendReport,
    Timeline,
    TimelinePoint,
)
from distro.sending.problems import SendProblems, problems_of
from distro.tracking.refused import refused_counts
from distro.tracking.summary_fold import DIMENSIONS, minute_of

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
SENDS: Table = Send.__table__  # type: ignore[attr-defined]
RELEASES: Table = Release.__table__  # type: ignore[attr-defined]
ROLLUPS: Table = ReportRollup.__table__  # type: ignore[attr-defined]
TIMELINE: Table = ReportTimeline.__table__  # type: ignore[attr-defined]
SNAPSHOTS: Table = ReportSnapshot.__table__  # type: ignore[attr-defined]
LINKS: Table = ReportLink.__table__  # type: ignore[attr-defined]
BOUNCES: Table = ReportBounce.__table__  # type: ignore[attr-defined]

TOP = 100  # links and bounce reasons kept, most frequent first
MAX_HOURS = 24 * 90  # later events count in the last hour shown
_TIMELINE_COLUMNS = (
    "sent",
    "delivered",
    "opens_human",
    "opens_machine",
    "clicks_human",
    "clicks_machine",
    "bounces",
)


def build_report(engine: Engine, send_id: int, *, zone: str | None = None) -> SendReport:
    """The report of send ``send_id``; times are shown in ``zone`` (default: the release's)."""
    with reading(engine) as conn:
        head = conn.execute(
            select(SENDS, RELEASES.c.title, RELEASES.c.embargo_tz)
            .join(RELEASES, RELEASES.c.id == SENDS.c.release_id)
            .where(SENDS.c.id == send_id)
        ).one_or_none()
        if head is None:
            raise NotFoundError(f"no send {send_id} (see `distro sends`)")
        statuses = status_counts(conn, send_id)
    live_sent = audience.prepare(engine, send_id, head.status, statuses)
    with reading(engine) as conn:
        whole, breakdowns = _rollups(conn, send_id)
        timeline = _timeline(conn, send_id, head.started_at, live_sent)
        links = _links(conn, send_id)
        reasons = _bounce_reasons(conn, send_id)
        refused = refused_counts(conn, [send_id]).get(send_id, 0)
        not_sent = problems_of(conn, [send_id]).get(send_id, SendProblems())
    # Left out (they had the advance copy, or opted out of a beat the segment names) is not
    # among the recipients: nothing was addressed to them.
    left_out = statuses.get(MessageStatus.LEFT_OUT, 0)
    opted_out = statuses.get(MessageStatus.OPTED_OUT, 0)
    recipients = sum(statuses.values()) - left_out - opted_out
    suppressed = statuses.get(MessageStatus.SUPPRESSED, 0)
    sent = sum(n for status, n in statuses.items() if status in HANDED_OVER)
    counts = Counts(
        **{
            **{name: getattr(whole, name) for name in COUNT_NAMES},
            "recipients": recipients,
            "suppressed": suppressed,
        }
    )
    return SendReport(
        send_id=send_id,
        release_id=head.release_id,
        release_title=head.title,
        kind=head.kind,
        status=head.status,
        provider=head.provider,
        scheduled_at=head.scheduled_at,
        started_at=head.started_at,
        finished_at=head.finished_at,
        note=head.note,
        zone=zone or head.embargo_tz or "UTC",
        recipients=recipients,
        left_out=left_out,
        left_out_by_opt_out=opted_out,
        suppressed=suppressed,
        pending=statuses.get(MessageStatus.QUEUED, 0) + statuses.get(MessageStatus.SENDING, 0),
        sent=sent,
        delivered=counts.delivered,
        bounced=counts.bounced,
        failed=statuses.get(MessageStatus.FAILED, 0),
        uncertain=statuses.get(MessageStatus.UNCERTAIN, 0),
        opened=counts.opened,
        clicked=counts.clicked,
        complained=counts.complained,
        unsubscribed=counts.unsubscribed,
        counts=counts,
        rates=Rates.of(counts, sent),
        breakdowns=breakdowns,
        timeline=timeline,
        top_links=links,
        bounce_reasons=reasons,
        refused_events=refused,
        not_sent=not_sent,
    )


def prepare_report(engine: Engine, send_id: int) -> None:
    """Count what a send's first report would count from its messages (its audience per
    dimension; its hand-overs per minute once settled), so that report is fast too. For a
    worker to call after a send fires or finishes; reports do it themselves when it was not."""
    with reading(engine) as conn:
        status = conn.scalar(select(SENDS.c.status).where(SENDS.c.id == send_id))
        if status is None:
            raise NotFoundError(f"no send {send_id} (see `distro sends`)")
        statuses = status_counts(conn, send_id)
    audience.prepare(engine, send_id, status, statuses)


def sends_to_prepare(engine: Engine, limit: int = 5) -> list[int]:
    """Finished or cancelled sends whose stored counts were never taken, oldest first: the
    worker's housekeeping prepares them (``prepare_report``), so nobody waits for the first
    report of a large send."""
    done = (SendStatus.SENT, SendStatus.CANCELLED)
    prepared = select(SNAPSHOTS.c.send_id).where(
        SNAPSHOTS.c.audience_at.is_not(None), SNAPSHOTS.c.sent_key.is_not(None)
    )
    with reading(engine) as conn:
        return list(
            conn.scalars(
                select(SENDS.c.id)
                .where(SENDS.c.status.in_(done), SENDS.c.id.not_in(prepared.scalar_subquery()))
                .order_by(SENDS.c.id)
                .limit(limit)
            )
        )


def status_counts(conn: Connection, send_id: int) -> dict[str, int]:
    """Messages per status: read from the (send_id, status, id) index alone."""
    m = MESSAGES
    query = select(m.c.status, func.count()).where(m.c.send_id == send_id).group_by(m.c.status)
    return {str(status): int(n) for status, n in conn.execute(query)}


def _rollups(conn: Connection, send_id: int) -> tuple[Counts, dict[str, tuple[BreakdownRow, ...]]]:
    """The whole send's counts, and each breakdown's rows by recipients, most first."""
    r = ROLLUPS
    query = select(r.c.dimension, r.c.value, *(r.c[name] for name in COUNT_NAMES)).where(
        r.c.send_id == send_id
    )
    whole = Counts()
    found: dict[str, list[BreakdownRow]] = {name: [] for name in DIMENSIONS}
    for dimension, value, *counts in conn.execute(query):
        if dimension == "":
            whole = Counts(*counts)
        elif dimension in found:
            found[dimension].append(BreakdownRow(value, Counts(*counts)))
    breakdowns = {
        name: tuple(sorted(items, key=lambda r: (-r.counts.recipients, r.value)))
        for name, items in found.items()
    }
    return whole, breakdowns


def _timeline(
    conn: Connection,
    send_id: int,
    started_at: datetime | None,
    live_sent: Mapping[datetime, int] | None,
) -> Timeline:
    """Per minute for the first hour after the send started, then per hour."""
    if started_at is None:
        return Timeline()
    t = TIMELINE
    columns = [t.c[name] for name in _TIMELINE_COLUMNS]
    rows = conn.execute(select(t.c.minute, *columns).where(t.c.send_id == send_id))
    per_minute: dict[datetime, Counter[str]] = {}
    for minute, *values in rows:
        per_minute[minute] = Counter(dict(zip(_TIMELINE_COLUMNS, values, strict=True)))
    if live_sent is not None:
        for counter in per_minute.values():
            counter["sent"] = 0
        for minute, n in live_sent.items():
            per_minute.setdefault(minute, Counter())["sent"] = n
    origin = minute_of(started_at)
    first_hour: dict[int, Counter[str]] = {}
    later: dict[int, Counter[str]] = {}
    for minute, counter in per_minute.items():
        offset = max(0, int((minute - origin).total_seconds() // 60))
        if offset < 60:
            first_hour.setdefault(offset, Counter()).update(counter)
        else:
            hour = min((offset - 60) // 60, MAX_HOURS - 1)
            later.setdefault(hour, Counter()).update(counter)
    return Timeline(
        minutes=_points(first_hour, origin, 1),
        hours=_points(later, origin + timedelta(minutes=60), 60),
    )


def _points(
    buckets: dict[int, Counter[str]], origin: datetime, width: int
) -> tuple[TimelinePoint, ...]:
    if not any(any(c.values()) for c in buckets.values()):
        return ()
    last = max(i for i, c in buckets.items() if any(c.values()))
    return tuple(
        TimelinePoint(
            start=origin + timedelta(minutes=i * width),
            minutes=width,
            **{name: int(buckets.get(i, Counter())[name]) for name in _TIMELINE_COLUMNS},
        )
        for i in range(last + 1)
    )


def _links(conn: Connection, send_id: int) -> tuple[LinkRow, ...]:
    k = LINKS
    query = (
        select(k.c.url, k.c.clicks_human, k.c.clicks_machine, k.c.clickers)
        .where(k.c.send_id == send_id)
        .order_by(k.c.clicks_human.desc(), k.c.clicks_machine.desc(), k.c.url)
        .limit(TOP)
    )
    return tuple(LinkRow(*row) for row in conn.execute(query))


def _bounce_reasons(conn: Connection, send_id: int) -> tuple[BounceReason, ...]:
    b = BOUNCES
    query = (
        select(b.c.bounce_type, b.c.reason, b.c.bounces, b.c.example)
        .where(b.c.send_id == send_id)
        .order_by(b.c.bounces.desc(), b.c.bounce_type, b.c.reason)
        .limit(TOP)
    )
    return tuple(BounceReason(*row) for row in conn.execute(query))
