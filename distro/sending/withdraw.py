"""Withdrawing a release: the release becomes withdrawn and every send of it that is not over
is cancelled, through the same move as ``distro send cancel``.

That includes a send going out at that moment. Cancelling it stops it at the next hand-over (a
worker hands over only while the send is ``sending``, checked under the send's row lock); a
batch already handed over finishes and its answers are recorded as usual, so a recipient the
provider accepted counts as sent. Queued rows are closed as not sent, except a batch waiting to
go again under its idempotency key, which may have reached the provider and so becomes
*uncertain*; rows that come back queued later (a retry, a lost answer) end the same way (see
``distro.sending.send_states``). Nothing that may have reached a provider is lost track of.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from distro.models import ReleaseStatus, SendStatus
from distro.releases import lifecycle
from distro.releases.settle import LIVE
from distro.releases.views import ReleaseView
from distro.releases.workflow import locked
from distro.sending.send_states import move_send
from distro.sending.tables import SENDS

WITHDRAWN_NOTE = "cancelled: the release was withdrawn"


@dataclass(frozen=True)
class WithdrawOutcome:
    release: ReleaseView
    cancelled_sends: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.release.as_dict(), "cancelled_sends": self.cancelled_sends}


def withdraw_release(engine: Engine, release_id: int, now: datetime) -> WithdrawOutcome:
    """Withdraw the release and cancel its sends that are not over (scheduled, sending, paused,
    missed or held), in one transaction under the release's workflow lock."""
    with locked(engine, release_id, now) as (session, release):
        conn = session.connection()
        # The sends' rows first, then the release's (written at the commit): the order in which
        # a worker firing, handing over or finishing one of them takes the two, so the two
        # transactions wait for each other instead of deadlocking.
        live = conn.execute(
            select(SENDS.c.id, SENDS.c.status)
            .where(SENDS.c.release_id == release_id, SENDS.c.status.in_(LIVE))
            .order_by(SENDS.c.id)
            .with_for_update()
        ).all()
        lifecycle.move(release, ReleaseStatus.WITHDRAWN)
        session.add(release)
        cancelled = [
            row.id
            for row in live
            if move_send(
                conn,
                row.id,
                SendStatus.CANCELLED,
                now=now,
                was=row.status,
                note=WITHDRAWN_NOTE,
                reason=WITHDRAWN_NOTE,
            )
        ]
    return WithdrawOutcome(ReleaseView.of(release), cancelled)
