"""Who a beat segment leaves out because they opted out of a beat it names, and why.

A journalist who unticks a beat on the preference page stays subscribed; segments that name that
beat no longer match them. Staff must see who that left out and since when: the forecast
(``send schedule``, ``send list``) lists them, and a send that fires records one ``opted_out``
message per such contact (never mailed, ``last_error`` naming the beats) so that its report
counts and lists them apart from contacts left out for having an advance copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, Table, select

from distro.audience.preferences import OPT_OUTS, named_beats
from distro.audience.targeting import audience_contact_ids, tagged_contact_ids
from distro.models import Contact

CONTACTS: Table = Contact.__table__  # type: ignore[attr-defined]

# An opted-out message's last_error, followed by the beats.
OPTED_OUT_REASON = "left out: opted out of "


@dataclass(frozen=True, slots=True)
class OptedOut:
    """A contact a beat segment leaves out, and why: so staff can see who, not just how many."""

    contact_id: int
    email: str
    beats: tuple[str, ...]  # the segment's beats they opted out of
    since: datetime  # their earliest opt-out of those beats

    @property
    def reason(self) -> str:
        """What a report says about them: "left out: opted out of climate, health"."""
        return OPTED_OUT_REASON + ", ".join(self.beats)

    def as_dict(self) -> dict[str, Any]:
        return {"email": self.email, "beats": list(self.beats), "since": self.since.isoformat()}


def addressed(members: Select[tuple[int]], trusted_tag: str | None) -> list[Any]:
    """The conditions expansion puts on the contacts it inserts: in the audience, active, and
    carrying the trusted tag for an embargoed advance copy."""
    c = CONTACTS
    conditions: list[Any] = [c.c.id.in_(members), c.c.status == "active"]
    if trusted_tag is not None:
        conditions.append(c.c.id.in_(tagged_contact_ids(trusted_tag)))
    return conditions


def beat_opted_out(
    conn: Connection,
    lists: Sequence[str],
    expression: str | None,
    members: Select[tuple[int]],
    trusted_tag: str | None,
    now: datetime,
) -> tuple[OptedOut, ...]:
    """Contacts the send would address but for a beat opt-out, with the beats, by address.

    ``members`` is the send's audience as it honours opt-outs; the same audience without them,
    less ``members``, is who an opt-out of one of the expression's beats left out."""
    beats = named_beats(expression) if expression else []
    if not beats:
        return ()
    c, o = CONTACTS, OPT_OUTS
    everyone = audience_contact_ids(lists, expression, now, honour_opt_outs=False)
    rows = conn.execute(
        select(c.c.id, c.c.email, o.c.beat, o.c.created_at)
        .join(o, o.c.contact_id == c.c.id)
        .where(*addressed(everyone, trusted_tag), c.c.id.not_in(members), o.c.beat.in_(beats))
        .order_by(c.c.email, o.c.beat)
    ).all()
    grouped: dict[int, tuple[str, list[str], datetime]] = {}
    for contact_id, email, beat, created_at in rows:
        _, found, since = grouped.get(contact_id, (email, [], created_at))
        found.append(beat)
        grouped[contact_id] = (email, found, min(since, created_at))
    return tuple(
        OptedOut(contact_id, email, tuple(found), since)
        for contact_id, (email, found, since) in grouped.items()
    )
