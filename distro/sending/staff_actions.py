"""What every staff action on a send shares: the send's row locked and re-read, its moves
through the send state machine, and the result each action returns.

``distro.sending.control`` (pause, resume, cancel) and ``distro.sending.row_fates``
(retry-failed, resolve) build on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, func, select, update

from distro.errors import NotFoundError, ValidationError
from distro.models import SendStatus
from distro.sending.expand import lock_send
from distro.sending.send_states import move_send
from distro.sending.tables import MESSAGES, SENDS


@dataclass(frozen=True, slots=True)
class ControlResult:
    """What one staff action changed: the send's status before and after, the note it wrote on
    the send ("" when it changed nothing), and row counts."""

    send_id: int
    action: str
    was: str
    status: str
    note: str
    counts: dict[str, int] = field(default_factory=dict)
    # retry-failed: the errors the requeued messages had, so the reason is not lost with them.
    previous_errors: dict[str, int] = field(default_factory=dict)
    # cancel: the release's status when this left none of its sends live, else None.
    release_id: int | None = None
    release_status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "send_id": self.send_id,
            "action": self.action,
            "was": self.was,
            "status": self.status,
            "note": self.note,
            "counts": dict(self.counts),
            "previous_errors": dict(self.previous_errors),
            "release_id": self.release_id,
            "release_status": self.release_status,
        }


def locked_send(conn: Connection, send_id: int) -> Row[Any]:
    """The send's row, locked until the transaction ends, or NotFoundError."""
    send = lock_send(conn, send_id)
    if send is None:
        raise NotFoundError(f"no send {send_id}")
    return send


def require(send: Row[Any], allowed: tuple[SendStatus, ...], verb: str) -> None:
    """Refuse an action its status does not allow, saying which statuses do."""
    if send.status not in allowed:
        states = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
        raise ValidationError(
            f"send {send.id} is {send.status}: only a {states} send can be {verb}"
        )


def set_send(
    conn: Connection,
    send: Row[Any],
    now: datetime,
    note: str,
    status: SendStatus | None = None,
    **values: Any,
) -> None:
    """Move the locked send (or only change its note) through the send state machine; the
    status it was read with is the compare-and-set's guard."""
    to = SendStatus(status or send.status)
    move_send(conn, send.id, to, now=now, was=send.status, note=note, **values)


def status_of(conn: Connection, send_id: int) -> str:
    """The send's status as this transaction left it (a fire may have held it, say)."""
    return str(conn.scalar(select(SENDS.c.status).where(SENDS.c.id == send_id)))


def stamp(now: datetime) -> str:
    """A moment as the notes on a send show it."""
    return f"{now:%Y-%m-%d %H:%M} UTC"


def update_messages(
    conn: Connection, send_id: int, which: ColumnElement[bool], **values: Any
) -> int:
    """Set ``values`` on the send's rows matching ``which``; return how many changed."""
    result = conn.execute(
        update(MESSAGES).where(MESSAGES.c.send_id == send_id, which).values(**values)
    )
    return int(result.rowcount or 0)


def count(conn: Connection, send_id: int, which: ColumnElement[bool] | None = None) -> int:
    """How many of the send's rows match ``which`` (all of them without it)."""
    query = select(func.count()).select_from(MESSAGES).where(MESSAGES.c.send_id == send_id)
    if which is not None:
        query = query.where(which)
    return int(conn.scalar(query) or 0)


def counted_result(
    conn: Connection, send: Row[Any], action: str, status: str, note: str, *states: str
) -> ControlResult:
    """A result counting the send's messages in each of ``states`` (a count per status)."""
    counts = {s: count(conn, send.id, MESSAGES.c.status == s) for s in states}
    return ControlResult(send.id, action, send.status, status, note, counts)


def with_counts(result: ControlResult, **counts: int) -> ControlResult:
    return replace(result, counts={**result.counts, **counts})
