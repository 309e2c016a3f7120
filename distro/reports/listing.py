"""``distro sends``: every send with its headline figures, from the whole-send rollup rows (one
row per send, so the list costs the same for sends of ten or a million recipients)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, and_, func, select

from distro.db import reading
from distro.models import Release, ReportRollup, Send
from distro.models.types import utcnow
from distro.reports.model import share
from distro.sending.forecast import expected_recipients
from distro.tracking.refused import refused_counts

SENDS: Table = Send.__table__  # type: ignore[attr-defined]
RELEASES: Table = Release.__table__  # type: ignore[attr-defined]
ROLLUPS: Table = ReportRollup.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SendLine:
    send_id: int
    release_id: int
    release_title: str
    kind: str
    status: str
    provider: str
    scheduled_at: datetime
    started_at: datetime | None
    zone: str
    recipients: int
    delivered: int
    opened_human: int
    clicked_human: int
    bounced: int
    complained: int
    unsubscribed: int
    refused_events: int = 0  # provider events naming its messages, not believed (see reports)
    # Not fired yet: ``recipients`` is whom it would reach now (distro.sending.forecast).
    expected: bool = False

    @property
    def open_rate(self) -> float | None:
        return share(self.opened_human, self.delivered)

    @property
    def click_rate(self) -> float | None:
        return share(self.clicked_human, self.delivered)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["scheduled_at"] = self.scheduled_at.isoformat()
        data["started_at"] = self.started_at.isoformat() if self.started_at else None
        data["open_rate"] = self.open_rate
        data["click_rate"] = self.click_rate
        return data


def list_sends(
    engine: Engine,
    *,
    status: str | None = None,
    limit: int = 50,
    trusted_tag: str = "embargo-ok",
    now: datetime | None = None,
) -> list[SendLine]:
    """Sends newest first (by creation), optionally of one status; a send not fired yet has its
    expected recipients (whom it would reach now), marked ``expected``."""
    s, r, u = SENDS, RELEASES, ROLLUPS
    whole = and_(u.c.send_id == s.c.id, u.c.dimension == "", u.c.value == "")
    figures = [
        func.coalesce(u.c[name], 0).label(name)
        for name in ("delivered", "opened_human", "clicked_human", "bounced", "complained")
    ]
    query = (
        select(
            s.c.id.label("send_id"),
            s.c.release_id,
            r.c.title.label("release_title"),
            s.c.kind,
            s.c.status,
            s.c.provider,
            s.c.scheduled_at,
            s.c.started_at,
            r.c.embargo_tz.label("zone"),
            s.c.recipients,
            *figures,
            func.coalesce(u.c.unsubscribed, 0).label("unsubscribed"),
        )
        .join(r, r.c.id == s.c.release_id)
        .outerjoin(u, whole)
        .order_by(s.c.created_at.desc(), s.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(s.c.status == status)
    with reading(engine) as conn:
        rows = list(conn.execute(query).mappings())
        ids = [row["send_id"] for row in rows]
        refused = refused_counts(conn, ids)
        ahead = expected_recipients(conn, ids, trusted_tag, now or utcnow())
    return [
        SendLine(
            **{**row, "recipients": ahead.get(row["send_id"], row["recipients"])},
            refused_events=refused.get(row["send_id"], 0),
            expected=row["send_id"] in ahead,
        )
        for row in rows
    ]
