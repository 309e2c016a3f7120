"""Static lists of contacts.

The services at the end (``create_list`` ... ``delete_list``) take an engine, run one
transaction each and return frozen values an API can serialise as they are; the functions that
take a session are the steps they (and the import, and scheduling) are made of.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from distro.db import reading_session, writing_session
from distro.errors import NotFoundError, ValidationError
from distro.models import Contact, ContactList, ListMember, Send, SendStatus
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


# Sends that will still expand their audience by list name: deleting a list they name would
# silently shrink them.
WAITING_SENDS = (SendStatus.SCHEDULED, SendStatus.HELD, SendStatus.MISSED, SendStatus.PAUSED)


@dataclass(frozen=True)
class MembershipChange:
    """What ``add_emails`` / ``remove_emails`` did, address by address (normalised)."""

    list_name: str
    changed: list[str] = field(default_factory=list)  # added, or removed
    unchanged: list[str] = field(default_factory=list)  # already a member, or not a member
    unknown: list[str] = field(default_factory=list)  # no contact with that address

    def as_dict(self, changed: str, unchanged: str) -> dict[str, Any]:
        return {
            "list": self.list_name,
            changed: self.changed,
            unchanged: self.unchanged,
            "unknown": self.unknown,
        }


def list_members(session: Session, contact_list: ContactList) -> list[Contact]:
    """The list's contacts, by email."""
    query = (
        select(Contact)
        .join(ListMember, col(ListMember.contact_id) == col(Contact.id))
        .where(ListMember.list_id == contact_list.id)
        .order_by(col(Contact.email))
    )
    return list(session.exec(query).all())


def _normalised(emails: Iterable[str]) -> list[str]:
    """Trimmed, lower-cased, de-duplicated, in the order given."""
    return list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))


def _contact_ids(session: Session, emails: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(emails), 500):
        chunk = emails[start : start + 500]
        rows = session.exec(
            select(Contact.email, Contact.id).where(col(Contact.email).in_(chunk))
        ).all()
        found.update({email: cid for email, cid in rows if cid is not None})
    return found


def _member_ids(session: Session, contact_list: ContactList, ids: Collection[int]) -> set[int]:
    members: set[int] = set()
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        members.update(
            session.exec(
                select(ListMember.contact_id).where(
                    ListMember.list_id == contact_list.id,
                    col(ListMember.contact_id).in_(ordered[start : start + 500]),
                )
            ).all()
        )
    return members


def _sort_addresses(
    session: Session, contact_list: ContactList, emails: Iterable[str], *, adding: bool
) -> tuple[MembershipChange, dict[str, int]]:
    """Which addresses an add (or removal) changes, leaves as they are, or does not know."""
    wanted = _normalised(emails)
    ids = _contact_ids(session, wanted)
    members = _member_ids(session, contact_list, ids.values())
    change = MembershipChange(contact_list.name)
    for email in wanted:
        cid = ids.get(email)
        if cid is None:
            change.unknown.append(email)
        elif (cid in members) != adding:
            change.changed.append(email)
        else:
            change.unchanged.append(email)
    return change, ids


def add_emails(
    session: Session, contact_list: ContactList, emails: Iterable[str]
) -> MembershipChange:
    """Add existing contacts by address; addresses with no contact are reported, not created."""
    change, ids = _sort_addresses(session, contact_list, emails, adding=True)
    add_members(session, contact_list, [ids[e] for e in change.changed])
    return change


def remove_emails(
    session: Session, contact_list: ContactList, emails: Iterable[str]
) -> MembershipChange:
    """Take contacts off the list (the contacts themselves stay)."""
    change, ids = _sort_addresses(session, contact_list, emails, adding=False)
    gone = [ids[e] for e in change.changed]
    for start in range(0, len(gone), 500):
        session.execute(
            delete(ListMember).where(
                col(ListMember.list_id) == contact_list.id,
                col(ListMember.contact_id).in_(gone[start : start + 500]),
            )
        )
    return change


def _delete_list(session: Session, contact_list: ContactList) -> int:
    """Delete the list and its memberships (never the contacts); return how many members it had.

    Refused while a send that has not expanded yet names the list: it would go to fewer people.
    """
    waiting = [
        send.id
        for send in session.exec(select(Send).where(col(Send.status).in_(WAITING_SENDS))).all()
        if contact_list.name in (send.list_names or [])
    ]
    if waiting:
        ids = ", ".join(str(i) for i in sorted(i for i in waiting if i is not None))
        raise ValidationError(
            f"list {contact_list.name!r} is the audience of send(s) {ids} that have not gone "
            "out yet: delete it once they have gone out or been cancelled"
        )
    members = _size(session, contact_list)
    session.execute(delete(ListMember).where(col(ListMember.list_id) == contact_list.id))
    session.delete(contact_list)
    session.flush()
    return members


def _size(session: Session, contact_list: ContactList) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(ListMember)
            .where(ListMember.list_id == contact_list.id)
        ).one()
    )


# --- services: one transaction each -------------------------------------------------------------


@dataclass(frozen=True)
class ListSummary:
    name: str
    description: str
    contacts: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "contacts": self.contacts}


@dataclass(frozen=True)
class ContactEntry:
    """A contact as a list or a segment preview shows it: address, name, outlet."""

    email: str
    name: str
    outlet: str

    @classmethod
    def of(cls, contact: Contact) -> ContactEntry:
        return cls(
            contact.email, f"{contact.first_name} {contact.last_name}".strip(), contact.outlet
        )

    def as_dict(self) -> dict[str, Any]:
        return {"email": self.email, "name": self.name, "outlet": self.outlet}


@dataclass(frozen=True)
class ListDetails:
    name: str
    description: str
    members: tuple[ContactEntry, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "count": len(self.members),
            "members": [member.as_dict() for member in self.members],
        }


@dataclass(frozen=True)
class DeletedList:
    name: str
    memberships_removed: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "deleted": True, "memberships_removed": self.memberships_removed}


def create_list(engine: Engine, name: str, description: str = "") -> ListSummary:
    """The list named ``name``, created empty if there is none (an existing one is kept as it
    is, description included: importing with --list creates lists the same way)."""
    with writing_session(engine) as session:
        found = get_or_create_list(session, name, description)
        return _summary(session, found)


def list_summaries(engine: Engine) -> list[ListSummary]:
    """Every list with its size, by name."""
    with reading_session(engine) as session:
        return [ListSummary(lst.name, lst.description, n) for lst, n in list_sizes(session)]


def get_list(engine: Engine, name: str) -> ListSummary:
    """One list with its size; NotFoundError when there is none by that name."""
    with reading_session(engine) as session:
        return _summary(session, find_list(session, name))


def list_details(engine: Engine, name: str) -> ListDetails:
    """A list and its members, by email."""
    with reading_session(engine) as session:
        found = find_list(session, name)
        members = tuple(ContactEntry.of(c) for c in list_members(session, found))
        return ListDetails(found.name, found.description, members)


def add_to_list(engine: Engine, name: str, emails: Iterable[str]) -> MembershipChange:
    """``add_emails`` to the list named ``name`` (NotFoundError when there is none)."""
    with writing_session(engine) as session:
        return add_emails(session, find_list(session, name), emails)


def remove_from_list(engine: Engine, name: str, emails: Iterable[str]) -> MembershipChange:
    """``remove_emails`` from the list named ``name`` (NotFoundError when there is none)."""
    with writing_session(engine) as session:
        return remove_emails(session, find_list(session, name), emails)


def delete_list(engine: Engine, name: str) -> DeletedList:
    """Delete the list and its memberships, never the contacts. Refused (ValidationError) while
    a send that has not expanded yet names the list: it would go to fewer people."""
    with writing_session(engine) as session:
        return DeletedList(name, _delete_list(session, find_list(session, name)))


def _summary(session: Session, contact_list: ContactList) -> ListSummary:
    return ListSummary(contact_list.name, contact_list.description, _size(session, contact_list))
