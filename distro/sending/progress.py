"""How far a send has got, for ``distro send watch``: one grouped count of its messages.

Counts are of message rows by where they stand now: *sent* is every message the provider
accepted (whatever happened after), *delivered* those it says arrived (opened, clicked ... count
as delivered), *failed* those it refused or that ran out of attempts, *uncertain* those whose
fate is unknown after a crash (``send resolve`` decides), and *pending* those still queued or in
a hand-over. Suppressed and left-out rows are never sent and count as settled. A send is over
when its status is final (sent, cancelled) or it waits for someone (paused, missed, held).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, Table, func, select

from distro.db import reading
from distro.errors import NotFoundError
from distro.models import Message, MessageStatus, Send, SendStatus
from distro.models.sending import HANDED_OVER

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
SENDS: Table = Send.__table__  # type: ignore[attr-defined]

DELIVERED = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.OPENED,
        MessageStatus.CLICKED,
        MessageStatus.COMPLAINED,
        MessageStatus.UNSUBSCRIBED,
    }
)
PENDING = frozenset({MessageStatus.QUEUED, MessageStatus.SENDING})
NOT_SENT = frozenset({MessageStatus.SUPPRESSED, MessageStatus.LEFT_OUT, MessageStatus.OPTED_OUT})
# A send in one of these will not move on its own: watching it ends.
STOPPED = frozenset(
    {SendStatus.SENT, SendStatus.CANCELLED, SendStatus.PAUSED, SendStatus.MISSED, SendStatus.HELD}
)


@dataclass(frozen=True, slots=True)
class SendProgress:
    send_id: int
    status: str
    recipients: int  # message rows (0 until the send fires)
    sent: int  # accepted by the provider
    delivered: int  # of the sent, reported delivered
    failed: int
    uncertain: int
    pending: int  # queued or being handed over
    not_sent: int  # suppressed or left out: settled without sending

    @property
    def settled(self) -> int:
        """Messages that reached a sending outcome: the bar's progress."""
        return self.sent + self.failed + self.uncertain + self.not_sent

    @property
    def finished(self) -> bool:
        """Nothing more will happen without someone: its status is final or waiting for staff,
        or it fired and no message is left pending."""
        fired = self.status != SendStatus.SCHEDULED
        return self.status in STOPPED or (fired and self.recipients > 0 and self.pending == 0)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "settled": self.settled, "finished": self.finished}

    def line(self) -> str:
        """One line for a log or a pipe."""
        return (
            f"send {self.send_id} {self.status}: {self.recipients} recipients, "
            f"{self.sent} sent, {self.delivered} delivered, {self.failed} failed, "
            f"{self.uncertain} uncertain, {self.pending} pending"
        )


def send_progress(engine: Engine, send_id: int) -> SendProgress:
    """Where send ``send_id`` stands now; NotFoundError if there is no such send."""
    with reading(engine) as conn:
        status = conn.scalar(select(SENDS.c.status).where(SENDS.c.id == send_id))
        if status is None:
            raise NotFoundError(f"send {send_id} does not exist (see `distro send list`)")
        counts = {
            str(row_status): int(n)
            for row_status, n in conn.execute(
                select(MESSAGES.c.status, func.count())
                .where(MESSAGES.c.send_id == send_id)
                .group_by(MESSAGES.c.status)
            )
        }

    def total(statuses: frozenset[MessageStatus]) -> int:
        return sum(counts.get(s.value, 0) for s in statuses)

    return SendProgress(
        send_id=send_id,
        status=str(status),
        recipients=sum(counts.values()),
        sent=total(HANDED_OVER),
        delivered=total(DELIVERED),
        failed=counts.get(MessageStatus.FAILED.value, 0),
        uncertain=counts.get(MessageStatus.UNCERTAIN.value, 0),
        pending=total(PENDING),
        not_sent=total(NOT_SENT),
    )
