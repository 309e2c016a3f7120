"""Beat preferences: what a journalist chose in the preference centre, and how sends honour it.

The rule, kept small on purpose: a beat a contact opted out of no longer reaches them through
that beat. A send whose segment selects by beats (``beats has "health"``, not under a ``not``)
leaves out every contact who opted out of any beat it names, even one who also matches through
another beat they kept: a release picked out for health readers is a health release. Sends to
static lists are hand-picked by staff and are not filtered (only unsubscribing, which suppresses
the address, stops those). Staff's own record of a contact's beats is left as it is.

Saving a choice from the preference centre also stores a tracking event, so that lives above
this package, in ``distro.tracking.preference_centre``; this module only reads the choices and
applies them to sends, which needs nothing from tracking.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Select, Table, select, union

from distro.audience.segment_parser import And, Has, Node, Not, Or, parse
from distro.db import reading
from distro.models import BeatOptOut, ContactBeat

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


def load_beat_choices(engine: Engine, contact_id: int) -> list[BeatChoice]:
    """``beat_choices`` in a transaction of its own, for the preference centre's page."""
    with reading(engine) as conn:
        return beat_choices(conn, contact_id)
