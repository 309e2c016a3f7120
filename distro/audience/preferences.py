"""Beat preferences: what a journalist chose in the preference centre, and how sends honour it.

The rule, kept small on purpose: a beat a contact opted out of no longer reaches them through
that beat. A send whose segment selects by beats (``beats has "health"``, not under a ``not``)
leaves out every contact who opted out of any beat it names, even one who also matches through
another beat they kept: a release picked out for health readers is a health release. Sends to
static lists are hand-picked by staff and are not filtered (only unsubscribing, which suppresses
the address, stops those). Staff's own record of a contact's beats is left as it is.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Select, Table, delete, select, union

from distro.audience.segment_parser import And, Has, Node, Not, Or, parse
from distro.db import writing
from distro.models import BeatOptOut, ContactBeat, EventType
from distro.models.types import utcnow
from distro.tracking.event import NormalisedEvent, OptOutScope
from distro.tracking.events import store_in

OPT_OUTS: Table = BeatOptOut.__table__  # type: ignore[attr-defined]
BEATS: Table = ContactBeat.__table__  # type: ignore[attr-defined]


def named_beats(expression: str) -> list[str]:
    """The beats a segment selects by: ``beats has`` conditions not negated, lower-cased."""
    found: list[str] = []

    def walk(node: Node, negated: bool) -> None:
        if isinstance(node, Not):
            walk(node.operand, not negated)
        elif isinstance(node, And | Or):
            for operand in node.operands:
                walk(operand, negated)
        elif isinstance(node, Has) and node.field == "beats" and not negated:
            found.append(node.value.lower())

    walk(parse(expression), False)
    return list(dict.fromkeys(found))


def without_opted_out(contact_ids: Select[tuple[int]], expression: str) -> Select[tuple[int]]:
    """``contact_ids`` (a segment's) less the contacts who opted out of a beat it names."""
    beats = named_beats(expression)
    if not beats:
        return contact_ids
    opted_out = select(OPT_OUTS.c.contact_id).where(OPT_OUTS.c.beat.in_(beats))
    return contact_ids.where(contact_ids.selected_columns[0].not_in(opted_out))


@dataclass(frozen=True)
class BeatChoice:
    beat: str
    wanted: bool


def beat_choices(conn: Connection, contact_id: int) -> list[BeatChoice]:
    """The contact's beats, and those they opted out of, alphabetically, with their choice."""
    theirs = union(
        select(BEATS.c.beat).where(BEATS.c.contact_id == contact_id),
        select(OPT_OUTS.c.beat).where(OPT_OUTS.c.contact_id == contact_id),
    ).subquery()
    every = sorted(conn.scalars(select(theirs.c.beat)).all())
    dropped = set(
        conn.scalars(select(OPT_OUTS.c.beat).where(OPT_OUTS.c.contact_id == contact_id)).all()
    )
    return [BeatChoice(beat, beat not in dropped) for beat in every]


def _opt_out_event(
    message_id: int, email: str, dropped: list[str], at: datetime
) -> NormalisedEvent:
    return NormalisedEvent(
        type=EventType.BEAT_OPTED_OUT,
        provider_event_id=f"beat-opt-out:{message_id}:{','.join(dropped)}",
        occurred_at=at,
        recipient=email,
        message_id=message_id,
        signed_link=True,
        description=f"preference centre: no more {', '.join(dropped)}",
        # The scope kept so that code reading the older form never takes it for an unsubscribe.
        scope=OptOutScope.BEATS,
        beats=tuple(dropped),
    )


class SavedChoices(NamedTuple):
    choices: list[BeatChoice]  # as stored now
    dropped: list[str]  # the beats this change opted out of


def save_beat_choices(
    engine: Engine,
    contact_id: int,
    wanted: Collection[str],
    message_id: int | None,
    email: str = "",
) -> SavedChoices:
    """Record that the contact wants only ``wanted`` of their beats (others named are ignored).

    Beats dropped are also stored, in the same transaction, as one ``beat_opted_out`` event on
    the message whose link was used: its own outcome in reports, never an unsubscribe (the
    address is not suppressed).
    """
    with writing(engine) as conn:
        choices = beat_choices(conn, contact_id)
        keep = {beat.lower() for beat in wanted}
        drop = [c.beat for c in choices if c.beat not in keep and c.wanted]
        back = [c.beat for c in choices if c.beat in keep and not c.wanted]
        if back:
            conn.execute(
                delete(OPT_OUTS).where(
                    OPT_OUTS.c.contact_id == contact_id, OPT_OUTS.c.beat.in_(back)
                )
            )
        if drop:
            now = utcnow()
            rows: list[dict[str, Any]] = [
                {
                    "contact_id": contact_id,
                    "beat": beat,
                    "message_id": message_id,
                    "created_at": now,
                }
                for beat in drop
            ]
            conn.execute(OPT_OUTS.insert(), rows)
            if message_id is not None:
                store_in(conn, "distro", [_opt_out_event(message_id, email, drop, now)])
        return SavedChoices(beat_choices(conn, contact_id), drop)
