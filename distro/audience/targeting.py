"""Who a send reaches: its static lists and its segment, each contact once.

A send names lists, a saved segment, or an inline ``--where`` expression (or lists plus one of
the two); the audience is their union. Segments are evaluated when the send fires, so a contact
added or re-tagged in between is in (or out) as the expression says at that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Select, Table, select, union

from distro.audience.preferences import without_opted_out
from distro.errors import NotFoundError
from distro.models import ContactList, ContactTag, ListMember, Segment

LISTS: Table = ContactList.__table__  # type: ignore[attr-defined]
MEMBERS: Table = ListMember.__table__  # type: ignore[attr-defined]
SEGMENTS: Table = Segment.__table__  # type: ignore[attr-defined]
TAGS: Table = ContactTag.__table__  # type: ignore[attr-defined]


def list_contact_ids(list_names: Sequence[str]) -> Select[tuple[int]]:
    return (
        select(MEMBERS.c.contact_id)
        .join(LISTS, LISTS.c.id == MEMBERS.c.list_id)
        .where(LISTS.c.name.in_(list(list_names)))
    )


def tagged_contact_ids(tag: str) -> Select[tuple[int]]:
    """The ids of contacts carrying ``tag`` (an advance copy's audience is limited to them)."""
    return select(TAGS.c.contact_id).where(TAGS.c.tag == tag)


def audience_contact_ids(
    list_names: Sequence[str],
    expression: str | None = None,
    now: datetime | None = None,
    *,
    honour_opt_outs: bool = True,
) -> Select[tuple[int]]:
    """A SELECT of the contact ids in the lists or matching the expression (not yet filtered
    for status or suppression: expansion records suppressed contacts on purpose). A segment
    that selects by beats leaves out who opted out of them (see ``distro.audience.preferences``)
    unless ``honour_opt_outs`` is False, which a forecast uses to count them.
    """
    from distro.audience.segments import segment_contact_ids

    parts: list[Select[tuple[int]]] = []
    if list_names:
        parts.append(list_contact_ids(list_names))
    if expression:
        assert now is not None, "a segment is evaluated at a moment"
        matching = segment_contact_ids(expression, now)
        parts.append(without_opted_out(matching, expression) if honour_opt_outs else matching)
    if not parts:
        return select(MEMBERS.c.contact_id).where(MEMBERS.c.contact_id.is_(None))
    if len(parts) == 1:
        return parts[0]
    combined = union(*parts).subquery()
    return select(combined.c[0])


def send_expression(conn: Connection, where: str | None, segment_name: str | None) -> str | None:
    """The expression a send's audience uses: inline, or its saved segment's as it is now."""
    if where:
        return where
    if not segment_name:
        return None
    expression = conn.scalar(select(SEGMENTS.c.expression).where(SEGMENTS.c.name == segment_name))
    if expression is None:
        raise NotFoundError(f"no saved segment named {segment_name!r}")
    return str(expression)
