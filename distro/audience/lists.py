"""Static lists of contacts."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from distro.errors import NotFoundError
from distro.models import ContactList, ListMember
from distro.models.types import utcnow


def get_or_create_list(session: Session, name: str, description: str = "") -> ContactList:
    found = session.exec(select(ContactList).where(ContactList.name == name)).first()
    if found is not None:
        return found
    created = ContactList(name=name, description=description)
    session.add(created)
    session.flush()
    return created


def find_list(session: Session, name: str) -> ContactList:
    found = session.exec(select(ContactList).where(ContactList.name == name)).first()
    if found is None:
        raise NotFoundError(f"no list named {name!r}")
    return found


def add_members(session: Session, contact_list: ContactList, contact_ids: Collection[int]) -> None:
    """Add contacts to a list; contacts already on it stay as they are."""
    if not contact_ids:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    ids = sorted(set(contact_ids))
    for start in range(0, len(ids), 1000):
        rows = [
            {"list_id": contact_list.id, "contact_id": cid, "added_at": now}
            for cid in ids[start : start + 1000]
        ]
        session.execute(dialect.insert(ListMember).values(rows).on_conflict_do_nothing())


def list_sizes(session: Session) -> list[tuple[ContactList, int]]:
    query = (
        select(ContactList, func.count(col(ListMember.contact_id)))
        .outerjoin(ListMember, col(ListMember.list_id) == col(ContactList.id))
        .group_by(col(ContactList.id))
        .order_by(col(ContactList.name))
    )
    return [(found, int(count)) for found, count in session.exec(query).all()]
