"""The shapes of a send report: plain frozen dataclasses that every output (table, JSON, CSV,
HTML) reads, so the figures are worked out once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from distro.models import SendKind
from distro.sending.problems import SendProblems


def share(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True, slots=True)
class Counts:
    """Distinct recipients at each step (and opens and clicks in total), for a whole send or
    for one value of a breakdown."""

    recipients: int = 0
    suppressed: int = 0
    delivered: int = 0
    deferred: int = 0
    bounced: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    opened: int = 0
    opened_human: int = 0
    opened_machine: int = 0
    opens_human: int = 0
    opens_machine: int = 0
    clicked: int = 0
    clicked_human: int = 0
    clicked_machine: int = 0
    clicks_human: int = 0
    clicks_machine: int = 0
    complained: int = 0
    unsubscribed: int = 0
    # Dropped a beat in the preference centre: counted apart, not an unsubscribe.
    beat_opted_out: int = 0


COUNT_NAMES = tuple(f.name for f in fields(Counts))


@dataclass(frozen=True, slots=True)
class Rates:
    """Shares between 0 and 1 (None when the base is 0). Open and click rates count human
    opens and clicks only: privacy proxies and link scanners open everything."""

    delivery_rate: float | None
    open_rate: float | None
    click_rate: float | None
    click_to_open_rate: float | None
    bounce_rate: float | None
    complaint_rate: float | None
    unsubscribe_rate: float | None

    @classmethod
    def of(cls, counts: Counts, sent: int) -> Rates:
        return cls(**{name: share(*parts) for name, parts in rate_parts(counts, sent).items()})


def rate_parts(c: Counts, sent: int) -> dict[str, tuple[int, int]]:
    """Each rate of ``Rates`` as (part, whole): what it counts, and what it is a share of."""
    return {
        "delivery_rate": (c.delivered, sent),
        "open_rate": (c.opened_human, c.delivered),
        "click_rate": (c.clicked_human, c.delivered),
        "click_to_open_rate": (c.clicked_human, c.opened_human),
        "bounce_rate": (c.bounced, sent),
        "complaint_rate": (c.complained, c.delivered),
        "unsubscribe_rate": (c.unsubscribed, c.delivered),
    }


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    """One outlet (beat, region, provider, domain) of a send: recipients at each step (event
    totals are kept for the whole send only). Rates are over its mailed recipients
    (recipients less suppressed), since hand-over is not counted per value."""

    value: str
    counts: Counts

    @property
    def rates(self) -> Rates:
        return Rates.of(self.counts, self.counts.recipients - self.counts.suppressed)

    def as_dict(self) -> dict[str, Any]:
        counts = {name: getattr(self.counts, name) for name in BREAKDOWN_COUNTS}
        return {"value": self.value, **counts, **asdict(self.rates)}


# What a breakdown row reports (the event totals are the whole send's only).
BREAKDOWN_COUNTS = tuple(
    name
    for name in COUNT_NAMES
    if name not in ("opens_human", "opens_machine", "clicks_human", "clicks_machine")
)


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    start: datetime
    minutes: int  # the bucket's width: 1 for the first hour, then 60
    sent: int = 0
    delivered: int = 0
    opens_human: int = 0
    opens_machine: int = 0
    clicks_human: int = 0
    clicks_machine: int = 0
    bounces: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "start": self.start.isoformat()}


@dataclass(frozen=True, slots=True)
class Timeline:
    minutes: tuple[TimelinePoint, ...] = ()  # per minute, the first hour after the start
    hours: tuple[TimelinePoint, ...] = ()  # per hour after that

    def as_dict(self) -> dict[str, Any]:
        return {
            "minutes": [p.as_dict() for p in self.minutes],
            "hours": [p.as_dict() for p in self.hours],
        }


@dataclass(frozen=True, slots=True)
class LinkRow:
    url: str
    clicks_human: int
    clicks_machine: int
    clickers: int  # recipients with a human click on it


@dataclass(frozen=True, slots=True)
class BounceReason:
    bounce_type: str
    reason: str
    bounces: int
    example: str


@dataclass(frozen=True, slots=True)
class RecipientRow:
    email: str
    status: str
    outlet: str
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    opens_human: int
    opens_machine: int
    clicks_human: int
    clicks_machine: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("sent_at", "delivered_at", "opened_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


@dataclass(frozen=True)
class SendReport:
    """A send's report. The flat funnel fields are the foundation's JSON contract."""

    send_id: int
    release_id: int
    release_title: str
    kind: str  # a SendKind: advance_copy, at_lift, at_time, test
    status: str
    provider: str
    scheduled_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    note: str
    zone: str  # the zone people see its times in
    recipients: int
    left_out: int  # not among the recipients: they had an advance copy of the release
    # Not among the recipients either: they opted out of a beat the send's segment names.
    left_out_by_opt_out: int
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
    counts: Counts
    rates: Rates
    breakdowns: dict[str, tuple[BreakdownRow, ...]] = field(default_factory=dict)
    timeline: Timeline = Timeline()
    top_links: tuple[LinkRow, ...] = ()
    bounce_reasons: tuple[BounceReason, ...] = ()
    # Provider events that named this send's messages but not their recipients: not applied
    # to them (distro.tracking.matching), so in none of the figures above.
    refused_events: int = 0
    # Why messages failed or wait as uncertain (the most frequent reasons), so a send that ended
    # short says what went wrong.
    not_sent: SendProblems = field(default_factory=SendProblems)

    @property
    def refused_note(self) -> str:
        """What staff read about refused events, in every format that shows prose; "" for none."""
        return refused_note(self.refused_events, self.send_id)

    @property
    def kind_label(self) -> str:
        return SendKind(self.kind).label

    def as_dict(self) -> dict[str, Any]:
        c = self.counts
        data: dict[str, Any] = {
            "send_id": self.send_id,
            "release_id": self.release_id,
            "release_title": self.release_title,
            "kind": self.kind,
            "status": self.status,
            "provider": self.provider,
            "scheduled_at": _iso(self.scheduled_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "note": self.note,
            "zone": self.zone,
            "recipients": self.recipients,
            "left_out": self.left_out,
            "left_out_by_opt_out": self.left_out_by_opt_out,
            "suppressed": self.suppressed,
            "pending": self.pending,
            "sent": self.sent,
            "delivered": self.delivered,
            "deferred": c.deferred,
            "bounced": self.bounced,
            "bounced_hard": c.bounced_hard,
            "bounced_soft": c.bounced_soft,
            "failed": self.failed,
            "uncertain": self.uncertain,
            "opened": self.opened,
            "opened_human": c.opened_human,
            "opened_machine": c.opened_machine,
            "opens": c.opens_human + c.opens_machine,
            "opens_human": c.opens_human,
            "opens_machine": c.opens_machine,
            "clicked": self.clicked,
            "clicked_human": c.clicked_human,
            "clicked_machine": c.clicked_machine,
            "clicks": c.clicks_human + c.clicks_machine,
            "clicks_human": c.clicks_human,
            "clicks_machine": c.clicks_machine,
            "complained": self.complained,
            "unsubscribed": self.unsubscribed,
            "beat_opted_out": c.beat_opted_out,
            "rates": asdict(self.rates),
            "breakdowns": {
                name: [row.as_dict() for row in rows] for name, rows in self.breakdowns.items()
            },
            "timeline": self.timeline.as_dict(),
            "top_links": [asdict(link) for link in self.top_links],
            "bounce_reasons": [asdict(reason) for reason in self.bounce_reasons],
            "refused_events": self.refused_events,
            "not_sent_reasons": [reason.as_dict() for reason in self.not_sent.reasons],
        }
        return data


def refused_note(count: int, send_id: int) -> str:
    """The sentence about ``count`` refused events that named send ``send_id``'s messages; ""
    for none."""
    if not count:
        return ""
    events = "1 provider event" if count == 1 else f"{count:,} provider events"
    verb = "was" if count == 1 else "were"
    return (
        f"{events} named send {send_id}'s messages with another recipient (or none) and {verb} "
        f"not applied; `distro events refused --send {send_id}` lists them."
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
