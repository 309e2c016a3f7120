"""A send's audience as it stands now: who it would reach, who is suppressed, who is left out.

``send schedule`` prints it and ``send list`` shows it for sends not fired yet; both count what
expansion (``distro.sending.expand``) would insert if the send fired now, with the same rules:
active contacts of its lists and segment, embargo-trusted ones only for an advance copy,
suppressed addresses recorded as such, and contacts who have (or are due to get) an advance copy
of the release left out unless the send includes them. Contacts a beat segment leaves out
because they opted out of a beat it names are counted apart and listed by address (with the
beats and since when); they are not in the audience.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, Table, and_, case, func, literal, select

from distro.audience.targeting import audience_contact_ids, send_expression
from distro.db import reading
from distro.errors import NotFoundError
from distro.models import Contact, Release, Send, SendKind, SendStatus, Suppression
from distro.sending import advance
from distro.sending.opted_out import OptedOut, addressed, beat_opted_out
from distro.sending.problems import SendProblems, problems_of

CONTACTS: Table = Contact.__table__  # type: ignore[attr-defined]
SUPPRESSIONS: Table = Suppression.__table__  # type: ignore[attr-defined]
SENDS: Table = Send.__table__  # type: ignore[attr-defined]
RELEASES: Table = Release.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class AudienceForecast:
    audience: int  # active contacts the send names now
    suppressed: int  # of them, on the suppression list: recorded, never mailed
    left_out: int  # of them, not suppressed, with an advance copy of the release already
    opted_out: int  # not in the audience: opted out of a beat its segment names
    # The suppressed, by the suppression's reason (unsubscribed, hard_bounce, complaint ...).
    suppressed_by_reason: dict[str, int] = field(default_factory=dict)
    opted_out_contacts: tuple[OptedOut, ...] = ()  # who they are, by address

    @property
    def recipients(self) -> int:
        """Its message rows if it fired now (what ``send list`` and reports call recipients)."""
        return self.audience - self.left_out

    @property
    def to_send(self) -> int:
        return self.audience - self.left_out - self.suppressed

    def as_dict(self) -> dict[str, Any]:
        data = {**asdict(self), "recipients": self.recipients, "to_send": self.to_send}
        data["opted_out_contacts"] = [who.as_dict() for who in self.opted_out_contacts]
        return data


@dataclass(frozen=True, slots=True)
class Target:
    """What a send is addressed to, as stored on it."""

    release_id: int
    lists: Sequence[str]
    expression: str | None  # the inline or saved segment's expression
    advance_copy: bool  # an advance copy: only contacts tagged ``trusted_tag``
    trusted_tag: str  # embargo.trusted_tag
    leave_out_advance: bool  # leave out who has an advance copy of the release

    @property
    def only_tag(self) -> str | None:
        return self.trusted_tag if self.advance_copy else None


def forecast(conn: Connection, target: Target, now: datetime) -> AudienceForecast:
    c, s = CONTACTS, SUPPRESSIONS
    members = audience_contact_ids(target.lists, target.expression, now)
    suppressed = s.c.id.is_not(None)
    if target.leave_out_advance and not target.advance_copy:
        expected = advance.expected(conn, target.release_id, target.trusted_tag, now)
        has_copy = c.c.id.in_(expected)
        left_out: Any = func.sum(case((and_(~suppressed, has_copy), 1), else_=0))
    else:
        left_out = literal(0)
    row = conn.execute(
        select(func.count(), func.sum(case((suppressed, 1), else_=0)), left_out)
        .select_from(c.outerjoin(s, s.c.email == c.c.email))
        .where(*addressed(members, target.only_tag))
    ).one()
    audience = int(row[0] or 0)
    who = beat_opted_out(conn, target.lists, target.expression, members, target.only_tag, now)
    suppressed_count = int(row[1] or 0)
    by_reason: dict[str, int] = {}
    if suppressed_count:
        reasons = conn.execute(
            select(s.c.reason, func.count())
            .select_from(c.join(s, s.c.email == c.c.email))
            .where(*addressed(members, target.only_tag))
            .group_by(s.c.reason)
            .order_by(func.count().desc(), s.c.reason)
        ).all()
        by_reason = {str(reason): int(n) for reason, n in reasons}
    return AudienceForecast(
        audience,
        suppressed_count,
        int(row[2] or 0),
        len(who),
        suppressed_by_reason=by_reason,
        opted_out_contacts=who,
    )


@dataclass(frozen=True, slots=True)
class SendSummary:
    """One line of ``distro send list``: a fired send's recipients as expanded, or the
    forecast of one not fired yet (``expected``)."""

    send_id: int
    release_id: int
    release_title: str
    kind: str
    status: str
    scheduled_at: datetime
    zone: str
    provider: str
    note: str
    recipients: int | None  # None: cannot be worked out now (its saved segment is gone)
    left_out: int
    opted_out: int  # left out by a beat opt-out (see distro.sending.opted_out)
    expected: bool
    forecast: AudienceForecast | None = None
    #: Its failed and uncertain messages and why (see distro.sending.problems).
    problems: SendProblems = field(default_factory=SendProblems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "send_id": self.send_id,
            "release_id": self.release_id,
            "release_title": self.release_title,
            "kind": self.kind,
            "status": self.status,
            "scheduled_at": self.scheduled_at.isoformat(),
            "zone": self.zone,
            "recipients": self.recipients,
            "left_out": self.left_out,
            "opted_out": self.opted_out,
            "expected": self.expected,
            "forecast": self.forecast.as_dict() if self.forecast else None,
            "provider": self.provider,
            "note": self.note,
            **self.problems.as_dict(),
        }


# Sends that have not fired and may still: their audience is a forecast.
_WAITING = (SendStatus.SCHEDULED, SendStatus.PAUSED, SendStatus.MISSED, SendStatus.HELD)


def summarise_sends(engine: Engine, trusted_tag: str, now: datetime) -> list[SendSummary]:
    """Every send, newest first, with the audience it reached or would reach now."""
    s, r = SENDS, RELEASES
    with reading(engine) as conn:
        rows = conn.execute(
            select(s, r.c.title, r.c.embargo_tz)
            .join(r, r.c.id == s.c.release_id)
            .order_by(s.c.id.desc())
        ).all()
        problems = problems_of(conn, [row.id for row in rows if row.started_at is not None])
        return [
            _summary(conn, row, trusted_tag, now, problems.get(row.id, SendProblems()))
            for row in rows
        ]


def _summary(
    conn: Connection, row: Row[Any], trusted_tag: str, now: datetime, problems: SendProblems
) -> SendSummary:
    expected = row.started_at is None and row.status in _WAITING
    ahead: AudienceForecast | None = None
    recipients: int | None = row.recipients
    left_out, opted_out = row.left_out, row.opted_out
    if expected:
        try:
            ahead = forecast(conn, _target(conn, row, trusted_tag), now)
            recipients, left_out, opted_out = ahead.recipients, ahead.left_out, ahead.opted_out
        except NotFoundError:
            recipients = None
    return SendSummary(
        send_id=row.id,
        release_id=row.release_id,
        release_title=row.title,
        kind=row.kind,
        status=row.status,
        scheduled_at=row.scheduled_at,
        zone=(row.embargo_tz if row.at_embargo else row.scheduled_tz) or "UTC",
        provider=row.provider,
        note=row.note,
        recipients=recipients,
        left_out=left_out,
        opted_out=opted_out,
        expected=expected,
        forecast=ahead,
        problems=problems,
    )


def expected_recipients(
    conn: Connection, send_ids: Sequence[int], trusted_tag: str, now: datetime
) -> dict[int, int]:
    """For those of ``send_ids`` not fired yet, whom each would reach if it fired now (its
    forecast recipients); a send whose saved segment is gone is not in the answer."""
    s = SENDS
    rows = conn.execute(
        select(s).where(
            s.c.id.in_(list(send_ids)), s.c.started_at.is_(None), s.c.status.in_(_WAITING)
        )
    ).all()
    expected: dict[int, int] = {}
    for row in rows:
        try:
            expected[row.id] = forecast(conn, _target(conn, row, trusted_tag), now).recipients
        except NotFoundError:
            continue
    return expected


def _target(conn: Connection, row: Row[Any], trusted_tag: str) -> Target:
    return Target(
        row.release_id,
        row.list_names or [],
        send_expression(conn, row.where_expr, row.segment_name),
        advance_copy=row.kind == SendKind.ADVANCE_COPY,
        trusted_tag=trusted_tag,
        leave_out_advance=not row.include_advance_recipients,
    )
