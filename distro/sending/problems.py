"""Why a send's messages failed or wait as uncertain: counts per reason, for ``send list`` and
the report, so that a stalled or partly failed send says what went wrong without a log.

Reasons are the messages' ``last_error`` as stored (a per-recipient refusal names its address,
so those stay apart); only the most frequent few per status are kept.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from distro.models import Message, MessageStatus

MESSAGES = Message.__table__  # type: ignore[attr-defined]

#: Reasons kept per send and status, most frequent first.
TOP_REASONS = 5
NO_REASON = "no reason recorded"


@dataclass(frozen=True, slots=True)
class Reason:
    status: str
    reason: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "count": self.count}


@dataclass(frozen=True, slots=True)
class SendProblems:
    failed: int = 0
    uncertain: int = 0
    reasons: tuple[Reason, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "failed": self.failed,
            "uncertain": self.uncertain,
            "reasons": [reason.as_dict() for reason in self.reasons],
        }

    def lines(self) -> list[str]:
        """One line per status with its count, then its reasons indented."""
        out: list[str] = []
        for status, total in (("failed", self.failed), ("uncertain", self.uncertain)):
            if not total:
                continue
            out.append(f"{total} {status}:")
            shown = [r for r in self.reasons if r.status == status]
            out += [f"  {r.count}: {r.reason}" for r in shown]
            rest = total - sum(r.count for r in shown)
            if rest > 0:
                out.append(f"  {rest}: other reasons")
        return out


def problems_of(conn: Connection, send_ids: Collection[int]) -> dict[int, SendProblems]:
    """Send id -> its failed and uncertain messages, counted per reason (sends without any
    are left out)."""
    if not send_ids:
        return {}
    m = MESSAGES
    rows = conn.execute(
        select(m.c.send_id, m.c.status, m.c.last_error, func.count())
        .where(
            m.c.send_id.in_(list(send_ids)),
            m.c.status.in_([MessageStatus.FAILED, MessageStatus.UNCERTAIN]),
        )
        .group_by(m.c.send_id, m.c.status, m.c.last_error)
    ).all()
    grouped: dict[int, list[Reason]] = {}
    for send_id, status, error, count in rows:
        grouped.setdefault(int(send_id), []).append(
            Reason(str(status), error or NO_REASON, int(count))
        )
    found: dict[int, SendProblems] = {}
    for send_id, reasons in grouped.items():
        totals = {
            s: sum(r.count for r in reasons if r.status == s) for s in ("failed", "uncertain")
        }
        kept: list[Reason] = []
        for status in ("failed", "uncertain"):
            mine = sorted(
                (r for r in reasons if r.status == status), key=lambda r: (-r.count, r.reason)
            )
            kept += mine[:TOP_REASONS]
        found[send_id] = SendProblems(totals["failed"], totals["uncertain"], tuple(kept))
    return found
