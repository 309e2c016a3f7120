"""Contacts one at a time and in bulk: find, show, edit, export, delete.

Values are stored exactly as given (trimmed); the export is written by ``distro.csv_writer``,
which prefixes with ``'`` every cell a spreadsheet would run as a formula. Edits are validated
the way the import validates (time zone, language code, column lengths), but refuse a bad value
instead of dropping it: the person editing is there to correct it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError
from sqlalchemy import Connection, Engine, Select, delete, func, insert, select, update

from distro.audience.contact_fields import (
    BEATS,
    CONTACTS,
    LISTS,
    MEMBERS,
    MULTI_LIMIT,
    SCALAR_FIELDS,
    TAGS,
    AddressNormaliser,
    clean_value,
    multi_value,
)
from distro.audience.contact_views import (
    BeatOptOutView,
    ContactDetails,
    ContactFields,
    ContactSuppression,
    ContactView,
    DeletedContact,
    DeletionSuppression,
)
from distro.audience.preferences import OPT_OUTS
from distro.audience.suppression import suppression_added
from distro.csv_writer import CsvWriter
from distro.db import reading, writing, writing_session
from distro.errors import NotFoundError, ValidationError
from distro.models import Message, Suppression, SuppressionReason
from distro.models.types import utcnow

MESSAGES = Message.__table__  # type: ignore[attr-defined]
SUPPRESSIONS = Suppression.__table__  # type: ignore[attr-defined]

EXPORT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "outlet",
    "title",
    "beats",
    "tags",
    "region",
    "country",
    "language",
    "timezone",
    "notes",
    "status",
    "created_at",
    "updated_at",
)
DELETE_SOURCE = "contacts delete"


def normalise_address(email: str) -> str:
    """The stored form of an address typed by a person: validated when it can be, else just
    trimmed and lower-cased (so an odd stored address can still be found)."""
    address = email.strip()
    try:
        return AddressNormaliser().normalise(address)
    except EmailNotValidError:
        return address.lower()


def has_contacts(engine: Engine) -> bool:
    """Whether the database has any contact (the samples are loaded only into an empty one)."""
    with reading(engine) as conn:
        return conn.scalar(select(CONTACTS.c.id).limit(1)) is not None


def _contact_id(conn: Connection, email: str) -> int:
    address = normalise_address(email)
    found = conn.scalar(select(CONTACTS.c.id).where(CONTACTS.c.email == address))
    if found is None:
        raise NotFoundError(f"no contact with the address {address!r}")
    return int(found)


def _multi(conn: Connection, ids: Collection[int]) -> dict[str, dict[int, list[str]]]:
    found: dict[str, dict[int, list[str]]] = {"beats": {}, "tags": {}}
    if not ids:
        return found
    id_list = sorted(ids)
    for name, table, column in (("beats", BEATS, "beat"), ("tags", TAGS, "tag")):
        for start in range(0, len(id_list), 1000):
            query = (
                select(table.c.contact_id, table.c[column])
                .where(table.c.contact_id.in_(id_list[start : start + 1000]))
                .order_by(table.c.contact_id, table.c[column])
            )
            for cid, value in conn.execute(query):
                found[name].setdefault(cid, []).append(value)
    return found


def _view(row: Any, multi: dict[str, dict[int, list[str]]]) -> ContactView:
    return ContactView(
        email=row.email,
        fields=ContactFields(**{name: row._mapping[name] for name in SCALAR_FIELDS}),
        beats=tuple(multi["beats"].get(row.id, [])),
        tags=tuple(multi["tags"].get(row.id, [])),
        custom=dict(row.custom or {}),
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_contacts(
    engine: Engine,
    *,
    where: str | None = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> list[ContactView]:
    """Contacts by address, optionally only those a segment expression matches."""
    query: Select[Any] = select(CONTACTS).order_by(CONTACTS.c.email)
    if where:
        query = query.where(CONTACTS.c.id.in_(_segment_ids(where, now)))
    if limit is not None:
        if limit < 0:
            raise ValidationError("--limit must be 0 or more")
        query = query.limit(limit)
    with reading(engine) as conn:
        rows = conn.execute(query).all()
        multi = _multi(conn, [row.id for row in rows])
    return [_view(row, multi) for row in rows]


def _segment_ids(where: str, now: datetime | None) -> Select[tuple[int]]:
    # Written alongside this module; imported when used so either can land first.
    from distro.audience.segments import segment_contact_ids

    return segment_contact_ids(where, now or utcnow())


def contact_details(engine: Engine, email: str) -> ContactDetails:
    """Every field, beats, tags, custom fields, lists and suppression status of one contact."""
    with reading(engine) as conn:
        return _details(conn, _contact_id(conn, email))


def _details(conn: Connection, cid: int) -> ContactDetails:
    row = conn.execute(select(CONTACTS).where(CONTACTS.c.id == cid)).one()
    lists = tuple(
        conn.scalars(
            select(LISTS.c.name)
            .join(MEMBERS, MEMBERS.c.list_id == LISTS.c.id)
            .where(MEMBERS.c.contact_id == cid)
            .order_by(LISTS.c.name)
        )
    )
    suppression = conn.execute(
        select(SUPPRESSIONS.c.reason, SUPPRESSIONS.c.source, SUPPRESSIONS.c.created_at).where(
            SUPPRESSIONS.c.email == row.email
        )
    ).first()
    # Beats they dropped in the preference centre: staff's beats stay, sends by beat skip them.
    opt_outs = tuple(
        BeatOptOutView(beat, since, message_id)
        for beat, since, message_id in conn.execute(
            select(OPT_OUTS.c.beat, OPT_OUTS.c.created_at, OPT_OUTS.c.message_id)
            .where(OPT_OUTS.c.contact_id == cid)
            .order_by(OPT_OUTS.c.beat)
        )
    )
    return ContactDetails(
        contact=_view(row, _multi(conn, [cid])),
        lists=lists,
        suppression=None
        if suppression is None
        else ContactSuppression(suppression.reason, suppression.source, suppression.created_at),
        beat_opt_outs=opt_outs,
    )


@dataclass
class ContactEdit:
    """What `contacts edit` changes; None leaves a field alone, "" clears it."""

    values: dict[str, str | None] = field(default_factory=dict)
    add_beats: list[str] = field(default_factory=list)
    remove_beats: list[str] = field(default_factory=list)
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    set_custom: list[str] = field(default_factory=list)  # "custom.KEY=VALUE"
    unset_custom: list[str] = field(default_factory=list)  # "custom.KEY"


def _custom_key(spec: str, option: str) -> str:
    key = spec.strip()
    if key.startswith("custom."):
        key = key[len("custom.") :]
    key = key.strip()
    if not key:
        raise ValidationError(f"{option} needs custom.KEY, got {spec!r}")
    return key


def _multi_values(values: Sequence[str], kind: str) -> list[str]:
    cleaned: list[str] = []
    for value in values:
        item = multi_value(value)
        if not item:
            raise ValidationError(f"an empty {kind} is not a {kind}")
        if len(item) > MULTI_LIMIT:
            raise ValidationError(f"{kind} {item[:40]!r}... is longer than {MULTI_LIMIT}")
        cleaned.append(item)
    return cleaned


def edit_contact(engine: Engine, email: str, edit: ContactEdit) -> ContactDetails:
    """Apply an edit in one transaction and return the contact as `contacts show` does."""
    values: dict[str, Any] = {}
    for name, raw in edit.values.items():
        if raw is None:
            continue
        if name not in SCALAR_FIELDS:
            raise ValidationError(f"unknown field {name!r}")
        value, problem = clean_value(name, raw)
        if problem:
            raise ValidationError(f"{name}: {problem}")
        values[name] = value
    changes = {
        "beats": (_multi_values(edit.add_beats, "beat"), _multi_values(edit.remove_beats, "beat")),
        "tags": (_multi_values(edit.add_tags, "tag"), _multi_values(edit.remove_tags, "tag")),
    }
    to_set: dict[str, str] = {}
    for spec in edit.set_custom:
        key_part, equals, value = spec.partition("=")
        if not equals:
            raise ValidationError(f"--set needs custom.KEY=VALUE, got {spec!r}")
        to_set[_custom_key(key_part, "--set")] = value.strip()
    to_unset = [_custom_key(spec, "--unset") for spec in edit.unset_custom]
    with writing(engine) as conn:
        cid = _contact_id(conn, email)
        if to_set or to_unset:
            custom = dict(conn.scalar(select(CONTACTS.c.custom).where(CONTACTS.c.id == cid)) or {})
            for key in to_unset:
                if key not in custom:
                    raise ValidationError(f"the contact has no custom field {key!r}")
                del custom[key]
            custom.update(to_set)
            values["custom"] = custom
        for (table, column), (add, remove) in zip(
            ((BEATS, "beat"), (TAGS, "tag")), changes.values(), strict=True
        ):
            if remove:
                conn.execute(
                    delete(table).where(table.c.contact_id == cid, table.c[column].in_(remove))
                )
            if add:
                have = set(conn.scalars(select(table.c[column]).where(table.c.contact_id == cid)))
                fresh = [v for v in dict.fromkeys(add) if v not in have]
                if fresh:
                    conn.execute(insert(table), [{"contact_id": cid, column: v} for v in fresh])
        if values or any(add or remove for add, remove in changes.values()):
            values["updated_at"] = utcnow()
            conn.execute(update(CONTACTS).where(CONTACTS.c.id == cid).values(values))
        return _details(conn, cid)


def export_contacts(
    engine: Engine, path: Path, *, where: str | None = None, now: datetime | None = None
) -> int:
    """Write contacts to a UTF-8 CSV (see ``distro.csv_writer``); returns how many."""
    # The listed JSON form, so each cell is what `contacts list --json` shows.
    contacts = [contact.as_dict() for contact in list_contacts(engine, where=where, now=now)]
    custom_keys = sorted({key for contact in contacts for key in contact["custom"]})
    taken = {column.lower() for column in EXPORT_COLUMNS}
    custom_headers = [f"custom.{key}" if key.lower() in taken else key for key in custom_keys]
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = CsvWriter(handle)
            writer.writerow((*EXPORT_COLUMNS, *custom_headers))
            for contact in contacts:
                cells = [
                    ";".join(contact[name]) if name in ("beats", "tags") else str(contact[name])
                    for name in EXPORT_COLUMNS
                ]
                cells += [str(contact["custom"].get(key, "")) for key in custom_keys]
                writer.writerow(cells)
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be written: {exc.strerror}") from None
    return len(contacts)


def delete_contact(engine: Engine, email: str, *, suppress: bool = False) -> DeletedContact:
    """Delete a contact, its beats, tags and list memberships; with ``suppress`` keep its
    address on the suppression list (do_not_contact) so it is never mailed again.

    A contact that has been sent messages stays: deleting it would take the send reports'
    history with it.
    """
    with writing_session(engine) as session:
        conn = session.connection()
        cid = _contact_id(conn, email)
        address = conn.scalar(select(CONTACTS.c.email).where(CONTACTS.c.id == cid))
        assert address is not None
        sent = conn.scalar(select(func.count()).where(MESSAGES.c.contact_id == cid)) or 0
        if sent:
            raise ValidationError(
                f"{address} has {sent} messages in send reports and cannot be deleted; "
                "suppress the address instead (distro suppress add)"
            )
        lists = list(
            conn.scalars(
                select(LISTS.c.name)
                .join(MEMBERS, MEMBERS.c.list_id == LISTS.c.id)
                .where(MEMBERS.c.contact_id == cid)
            )
        )
        for table in (MEMBERS, BEATS, TAGS):
            conn.execute(delete(table).where(table.c.contact_id == cid))
        conn.execute(delete(CONTACTS).where(CONTACTS.c.id == cid))
        kept: DeletionSuppression | None = None
        if suppress:
            suppression, added = suppression_added(
                session, address, SuppressionReason.DO_NOT_CONTACT, source=DELETE_SOURCE
            )
            kept = DeletionSuppression(suppression.reason, suppression.source, added)
    return DeletedContact(address, tuple(sorted(lists)), kept)
