"""How a release's status follows its sends, decided in one place.

A release is *scheduled* while one of its sends (test copies aside) can still go out: one that is
scheduled, sending, paused, missed or held. When staff cancel a send (``distro send cancel``),
``settle`` then decides what the release is:

* another send of it can still go out: it stays *scheduled*;
* something of it may have reached a provider (a send finished, or a cancelled one had handed
  messages over or lost their answer): *sent*, since journalists may have it as it is;
* nothing went out: *approved* again, its web copy unpublished, so that it can be reopened and
  corrected (``distro release reopen``) or scheduled anew.

A send that *misses* its moment is still live (``distro send resume`` fires it), and so is a held
one: the release stays scheduled and the refusals that mention it say how to resume or cancel it.

Races: ``settle`` runs under the release's workflow lock (``lock_release``), which every
transaction that adds a send or changes the release's status for staff takes first (scheduling,
editing, approving, withdrawing, reopening). Cancelling commits first, holding only the send's
row (the lock a worker firing that send takes), then settles in a transaction of its own: it
never holds a send's row while it waits for the release's, so it cannot deadlock with a worker
that holds the release's row and waits for the send's. Should distro stop in between, the
release is left scheduled with nothing live, and the workflow settles it before it is edited,
approved or reopened, so "scheduled with no live send" always acts as approved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, Table, exists, func, select, update

from distro.db import writing
from distro.models import (
    HANDED_OVER,
    Message,
    MessageStatus,
    Release,
    ReleaseStatus,
    Send,
    SendStatus,
)
from distro.moments import show_moment

SENDS: Table = Send.__table__  # type: ignore[attr-defined]
MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
RELEASES: Table = Release.__table__  # type: ignore[attr-defined]

LIVE = (
    SendStatus.SCHEDULED,
    SendStatus.SENDING,
    SendStatus.PAUSED,
    SendStatus.MISSED,
    SendStatus.HELD,
)
# Message statuses that mean it may have reached a provider.
MAY_HAVE_GONE = (*HANDED_OVER, MessageStatus.SENDING, MessageStatus.UNCERTAIN)
# pg_advisory_xact_lock(namespace, release id): "dist" as an int, so ids of other tables differ.
_LOCK_NAMESPACE = 0x64697374


def lock_release(conn: Connection, release_id: int) -> None:
    """Take the release's workflow lock until the transaction ends.

    On PostgreSQL an advisory lock, not the release's row: workers lock that row while handing
    a batch over and when a send fires or finishes, and must never wait for staff's decisions.
    On SQLite every writing transaction already holds the one write lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_LOCK_NAMESPACE, release_id)))


@dataclass(frozen=True, slots=True)
class LiveSend:
    """A send of the release that can still go out, as refusals describe it."""

    id: int
    status: str
    scheduled_at: datetime
    zone: str  # the zone its moment is shown in

    def describe(self) -> str:
        due = show_moment(self.scheduled_at, self.zone)
        if self.status == SendStatus.SCHEDULED:
            return f"send {self.id} is due {due}"
        if self.status == SendStatus.MISSED:
            return (
                f"send {self.id} missed its moment, {due} "
                f"(`distro send resume {self.id}` sends it now)"
            )
        if self.status == SendStatus.PAUSED:
            return f"send {self.id} is paused (`distro send resume {self.id}` continues it)"
        if self.status == SendStatus.HELD:
            return f"send {self.id} is held (due {due})"
        return f"send {self.id} is {self.status}"


def live_sends(conn: Connection, release_id: int) -> list[LiveSend]:
    s, r = SENDS, RELEASES
    rows = conn.execute(
        select(
            s.c.id, s.c.status, s.c.scheduled_at, s.c.at_embargo, s.c.scheduled_tz, r.c.embargo_tz
        )
        .join(r, r.c.id == s.c.release_id)
        .where(s.c.release_id == release_id, ~s.c.is_test, s.c.status.in_(LIVE))
        .order_by(s.c.scheduled_at, s.c.id)
    ).all()
    return [
        LiveSend(
            row.id,
            row.status,
            row.scheduled_at,
            (row.embargo_tz if row.at_embargo else row.scheduled_tz) or "UTC",
        )
        for row in rows
    ]


def describe(sends: Sequence[LiveSend]) -> str:
    """``send 7 is due ...; send 9 is paused``."""
    return "; ".join(send.describe() for send in sends)


def cancel_commands(sends: Sequence[LiveSend]) -> str:
    """``cancel it with `distro send cancel 7``` (or them, with each command)."""
    commands = " and ".join(f"`distro send cancel {send.id}`" for send in sends)
    return f"cancel {'it' if len(sends) == 1 else 'them'} with {commands}"


def settle_release(engine: Engine, release_id: int, now: datetime) -> str | None:
    """``settle`` in a transaction of its own, under the release's lock."""
    with writing(engine) as conn:
        lock_release(conn, release_id)
        return settle(conn, release_id, now)


def settle(conn: Connection, release_id: int, now: datetime) -> str | None:
    """In ``conn``'s transaction, holding the release's lock: take a scheduled release none of
    whose sends can go out any more to sent or approved (see the module docstring). Returns the
    new status, or None when it stays as it is."""
    status = conn.scalar(select(RELEASES.c.status).where(RELEASES.c.id == release_id))
    if status != ReleaseStatus.SCHEDULED or live_sends(conn, release_id):
        return None
    real_sends = select(SENDS.c.id).where(SENDS.c.release_id == release_id, ~SENDS.c.is_test)
    went_out = conn.scalar(
        select(
            exists().where(SENDS.c.id.in_(real_sends), SENDS.c.status == SendStatus.SENT)
            | exists().where(
                MESSAGES.c.send_id.in_(real_sends), MESSAGES.c.status.in_(MAY_HAVE_GONE)
            )
        )
    )
    values: dict[str, object] = {"updated_at": now}
    if went_out:
        values["status"] = ReleaseStatus.SENT
    else:
        # Fired and cancelled before anything was handed over: nothing is published.
        values.update(status=ReleaseStatus.APPROVED, published_at=None)
    conn.execute(update(RELEASES).where(RELEASES.c.id == release_id).values(**values))
    return str(values["status"])
