"""The pure part of the event summary: folding events into one message's outcome, and what
that outcome adds to its send's rollups.

A message's rollup contribution is a function of its outcome alone (``contribution``), so
adding ``contribution(after) - contribution(before)`` for each message a batch touched keeps
the rollups equal to a recount from scratch, whatever order the events came in. Per-event
figures (opens and clicks per minute and per link, bounces per reason) are added per event.

Events are read in their stored form (the ``detail`` column, keys named in
``distro.tracking.detail``): new events as the store wrote them, older ones as read back by
``distro.tracking.summary.rebuild``, so both fold the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from distro.models import EventType
from distro.tracking.detail import (
    BOUNCE_KIND,
    CLICK_URL,
    DESCRIPTION,
    MACHINE,
    MTA_RESPONSE,
    REASON,
    SMTP_STATUS,
)
from distro.tracking.event import BounceKind

URL_WIDTH = 2000
VALUE_WIDTH = 320
REASON_WIDTH = 300
_ADDRESS = re.compile(r"[^\s<>()\[\];:,\"']+@[^\s<>()\[\];:,\"']+")
_SPACES = re.compile(r"\s+")

# Dimensions a send is broken down by; "" is the whole send.
DIMENSIONS = ("outlet", "beat", "region", "provider", "domain")


@dataclass(frozen=True, slots=True)
class Addressed:
    """What a message's rollup keys are made of: its send and recipient as addressed."""

    send_id: int
    email: str
    provider: str
    outlet: str
    region: str
    beats: tuple[str, ...]

    def rollup_keys(self) -> list[tuple[str, str]]:
        """The rollup rows the message counts in: the whole send and one per dimension value."""
        found = [
            ("", ""),
            ("outlet", self.outlet),
            ("region", self.region),
            ("provider", self.provider),
            ("domain", domain_of(self.email)),
        ]
        found += [("beat", beat) for beat in dict.fromkeys(self.beats)]
        return [(dimension, value[:VALUE_WIDTH]) for dimension, value in found]


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].lower()


@dataclass(slots=True)
class Outcome:
    """Mirror of a ``message_outcomes`` row."""

    delivered_at: datetime | None = None
    deferred_at: datetime | None = None
    bounced_at: datetime | None = None
    bounce_type: str = ""
    opened_at: datetime | None = None
    machine_opened_at: datetime | None = None
    clicked_at: datetime | None = None
    machine_clicked_at: datetime | None = None
    complained_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    beat_opted_out_at: datetime | None = None
    failed_at: datetime | None = None
    opens: int = 0
    machine_opens: int = 0
    clicks: int = 0
    machine_clicks: int = 0
    reason: str = ""
    reason_at: datetime | None = None
    clicked_urls: list[str] = field(default_factory=list)

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in OUTCOME_COLUMNS}

    def copy(self) -> Outcome:
        return Outcome(**{**self.as_row(), "clicked_urls": list(self.clicked_urls)})


OUTCOME_COLUMNS = tuple(f.name for f in fields(Outcome))


# Rollup columns kept by the summary, in the order ``contribution`` gives them.
ROLLUP_COLUMNS = (
    "delivered",
    "deferred",
    "bounced",
    "bounced_hard",
    "bounced_soft",
    "opened",
    "opened_human",
    "opened_machine",
    "opens_human",
    "opens_machine",
    "clicked",
    "clicked_human",
    "clicked_machine",
    "clicks_human",
    "clicks_machine",
    "complained",
    "unsubscribed",
    "beat_opted_out",
)
# Per-minute columns kept by the summary (``sent`` comes from the messages), and per link.
MINUTE_COLUMNS = (
    "delivered",
    "opens_human",
    "opens_machine",
    "clicks_human",
    "clicks_machine",
    "bounces",
)
LINK_COLUMNS = ("clicks_human", "clicks_machine", "clickers")
# Event totals: kept for the whole send only (breakdowns count recipients).
TOTAL_COLUMNS = ("opens_human", "opens_machine", "clicks_human", "clicks_machine")
_TOTALS = frozenset(ROLLUP_COLUMNS.index(name) for name in TOTAL_COLUMNS)
_MINUTE = {name: i for i, name in enumerate(MINUTE_COLUMNS)}
_LINK = {name: i for i, name in enumerate(LINK_COLUMNS)}


def contribution(outcome: Outcome) -> tuple[int, ...]:
    """What one message adds to each rollup row it counts in, in ``ROLLUP_COLUMNS`` order."""
    o = outcome
    opened_human = o.opened_at is not None
    opened_machine = o.machine_opened_at is not None
    clicked_human = o.clicked_at is not None
    clicked_machine = o.machine_clicked_at is not None
    return (
        o.delivered_at is not None,
        o.deferred_at is not None,
        o.bounce_type != "",
        o.bounce_type == "hard",
        o.bounce_type == "soft",
        opened_human or opened_machine,
        opened_human,
        opened_machine,
        o.opens,
        o.machine_opens,
        clicked_human or clicked_machine,
        clicked_human,
        clicked_machine,
        o.clicks,
        o.machine_clicks,
        o.complained_at is not None,
        o.unsubscribed_at is not None,
        o.beat_opted_out_at is not None,
    )


def _earliest(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None or moment < current else current


def is_machine(detail: Mapping[str, Any]) -> bool:
    return detail.get(MACHINE) is True


def bounce_kind(detail: Mapping[str, Any]) -> str:
    """ "soft" only when the source says so: a bounce of unknown kind is taken as permanent."""
    soft = str(detail.get(BOUNCE_KIND, "")).lower() == BounceKind.SOFT
    return str(BounceKind.SOFT if soft else BounceKind.HARD)


def reason_label(detail: Mapping[str, Any]) -> str:
    """A short reason to group bounces and failures by: the provider's category when it gives
    one, else its description, MTA response or status code, with addresses taken out so that
    the same refusal for different recipients reads the same."""
    for key in (REASON, DESCRIPTION, MTA_RESPONSE, SMTP_STATUS):
        text = str(detail.get(key) or "").strip()
        if text:
            return _SPACES.sub(" ", _ADDRESS.sub("<address>", text))[:REASON_WIDTH]
    return "unspecified"


def _detailed_reason(kind: str, detail: Mapping[str, Any]) -> str:
    label = reason_label(detail)
    response = str(detail.get(MTA_RESPONSE) or "").strip()
    described = f"{label} ({response})" if response and response != label else label
    return f"{kind} bounce: {described}" if kind else described


def apply(outcome: Outcome, kind: str, at: datetime, detail: Mapping[str, Any]) -> None:
    """Fold one event into ``outcome``. First moments take the earliest, so order is free."""
    o = outcome
    if kind == EventType.DELIVERED:
        o.delivered_at = _earliest(o.delivered_at, at)
    elif kind == EventType.DEFERRED:
        o.deferred_at = _earliest(o.deferred_at, at)
    elif kind == EventType.BOUNCED:
        o.bounced_at = _earliest(o.bounced_at, at)
        bounce = bounce_kind(detail)
        _give_reason(o, _detailed_reason(bounce, detail), at)
        o.bounce_type = "hard" if "hard" in (bounce, o.bounce_type) else "soft"
    elif kind == EventType.OPENED:
        if is_machine(detail):
            o.machine_opens += 1
            o.machine_opened_at = _earliest(o.machine_opened_at, at)
        else:
            o.opens += 1
            o.opened_at = _earliest(o.opened_at, at)
    elif kind == EventType.CLICKED:
        if is_machine(detail):
            o.machine_clicks += 1
            o.machine_clicked_at = _earliest(o.machine_clicked_at, at)
        else:
            o.clicks += 1
            o.clicked_at = _earliest(o.clicked_at, at)
            url = link_of(detail)
            if url and url not in o.clicked_urls:
                o.clicked_urls = sorted([*o.clicked_urls, url])
    elif kind == EventType.COMPLAINED:
        o.complained_at = _earliest(o.complained_at, at)
    elif kind == EventType.UNSUBSCRIBED:
        o.unsubscribed_at = _earliest(o.unsubscribed_at, at)
    elif kind == EventType.BEAT_OPTED_OUT:
        o.beat_opted_out_at = _earliest(o.beat_opted_out_at, at)
    elif kind in (EventType.FAILED, EventType.REJECTED):
        o.failed_at = _earliest(o.failed_at, at)
        _give_reason(o, _detailed_reason("", detail), at)


def _severity(reason: str) -> int:
    if not reason:
        return 0
    return 3 if reason.startswith("hard bounce:") else 2 if reason.startswith("soft bounce:") else 1


def _give_reason(o: Outcome, reason: str, at: datetime) -> None:
    """The reason kept is the earliest of the gravest kind (hard bounce, soft bounce, failure),
    ties broken by text: the same whatever order the events arrive in."""
    mine = (-_severity(reason), at, reason)
    if o.reason_at is None or mine < (-_severity(o.reason), o.reason_at, o.reason):
        o.reason, o.reason_at = reason, at


def link_of(detail: Mapping[str, Any]) -> str:
    return str(detail.get(CLICK_URL) or "")[:URL_WIDTH]


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass
class Tally:
    """Increments for a send's rollup tables, gathered over a batch and written at once: lists
    of ints in ``ROLLUP_COLUMNS``, ``MINUTE_COLUMNS`` and ``LINK_COLUMNS`` order."""

    rollups: dict[tuple[int, str, str], list[int]] = field(default_factory=dict)
    timeline: dict[tuple[int, datetime], list[int]] = field(default_factory=dict)
    links: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    bounces: dict[tuple[int, str, str], list[Any]] = field(default_factory=dict)

    def message(self, addressed: Addressed, before: Outcome, after: Outcome) -> None:
        """Add the change of one message's outcome."""
        # Only the columns that moved, as (index, amount): most of the 17 do not.
        change = [
            (i, a - b)
            for i, (a, b) in enumerate(zip(contribution(after), contribution(before), strict=True))
            if a != b
        ]
        send = addressed.send_id
        if change:
            self._add((send, "", ""), change)
            # Breakdowns count recipients only: a repeated open or click changes no flag there,
            # so it touches the whole send's row alone.
            flags = [(i, n) for i, n in change if i not in _TOTALS]
            if flags:
                for key in addressed.rollup_keys()[1:]:
                    self._add((send, *key), flags)
        if before.delivered_at != after.delivered_at:
            if before.delivered_at is not None:
                self._minute(send, before.delivered_at)[_MINUTE["delivered"]] -= 1
            if after.delivered_at is not None:
                self._minute(send, after.delivered_at)[_MINUTE["delivered"]] += 1
        for url in set(after.clicked_urls) - set(before.clicked_urls):
            self._link(send, url)[_LINK["clickers"]] += 1

    def event(self, send: int, kind: str, at: datetime, detail: Mapping[str, Any]) -> None:
        """Add one event's own figures: per minute, per link, per bounce reason."""
        human = not is_machine(detail)
        if kind == EventType.OPENED:
            self._minute(send, at)[_MINUTE["opens_human" if human else "opens_machine"]] += 1
        elif kind == EventType.CLICKED:
            column = "clicks_human" if human else "clicks_machine"
            self._minute(send, at)[_MINUTE[column]] += 1
            url = link_of(detail)
            if url:
                self._link(send, url)[_LINK[column]] += 1
        elif kind == EventType.BOUNCED:
            self._minute(send, at)[_MINUTE["bounces"]] += 1
            key = (send, bounce_kind(detail), reason_label(detail))
            entry = self.bounces.setdefault(key, [0, ""])
            entry[0] += 1
            example = str(detail.get(MTA_RESPONSE) or "")[:1000]
            if example and (not entry[1] or example < entry[1]):
                entry[1] = example  # the smallest: independent of arrival order

    def _add(self, key: tuple[int, str, str], change: list[tuple[int, int]]) -> None:
        row = self.rollups.get(key)
        if row is None:
            row = self.rollups[key] = [0] * len(ROLLUP_COLUMNS)
        for i, n in change:
            row[i] += n

    def _minute(self, send: int, at: datetime) -> list[int]:
        key = (send, minute_of(at))
        row = self.timeline.get(key)
        if row is None:
            row = self.timeline[key] = [0] * len(MINUTE_COLUMNS)
        return row

    def _link(self, send: int, url: str) -> list[int]:
        row = self.links.get((send, url))
        if row is None:
            row = self.links[(send, url)] = [0] * len(LINK_COLUMNS)
        return row


def fold(
    tally: Tally,
    addressed: Addressed,
    before: Outcome,
    events: Iterable[tuple[str, datetime, Mapping[str, Any]]],
) -> Outcome:
    """Fold a message's new events (kind, occurred_at, detail) into a copy of ``before``,
    tallying the change; return the new outcome."""
    after = before.copy()
    for kind, at, detail in sorted(events, key=lambda item: item[1]):
        apply(after, kind, at, detail)
        tally.event(addressed.send_id, kind, at, detail)
    tally.message(addressed, before, after)
    return after
