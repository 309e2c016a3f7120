"""Contact import, the writing: distinct addresses in chunks of ``CHUNK`` with set-based
statements, all inside the import's one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Table,
    Text,
    any_,
    bindparam,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from distro.audience.contact_fields import (
    BEATS,
    CONTACTS,
    LISTS,
    MEMBERS,
    MULTI_FIELDS,
    SCALAR_FIELDS,
    TAGS,
)
from distro.audience.import_rows import ContactRow, ImportReport
from distro.models.types import UTCDateTime, utcnow

# Distinct addresses written per round of statements.
CHUNK = 1000

IMPORTED, UPDATED, UNCHANGED, SKIPPED = "imported", "updated", "unchanged", "skipped"
MULTI_TABLES = (("beats", BEATS, "beat"), ("tags", TAGS, "tag"))
_CONTACT_COLUMNS = ("email", *SCALAR_FIELDS)


class BulkStatements:
    """The set-based writes, per dialect.

    SQLite: Core INSERT statements compiled once and run with the driver's executemany (its
    loop is in C) on ready tuples, new ids read back with one SELECT per chunk; values are
    converted with the columns' own bind processors, computed once where they are constant.
    PostgreSQL: one statement per chunk over ``unnest`` of array parameters, since executemany
    there is one round trip per row and a multi-row VALUES of 14,000 parameters is slow to
    build and parse.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        dialect = conn.dialect
        self.stamp = CONTACTS.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
        self.to_json = CONTACTS.c.custom.type.dialect_impl(dialect).bind_processor(dialect)
        self._compiled: dict[str, tuple[str, tuple[str, ...]]] = {}

    def _sqlite_many(
        self, key: str, statement: Any, names: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        """executemany of a Core statement compiled once, on tuples in ``names`` order."""
        compiled = self._compiled.get(key)
        if compiled is None:
            built = statement.values({name: bindparam(name) for name in names}).compile(
                dialect=self.conn.dialect
            )
            order = tuple(built.positiontup or ())
            assert sorted(order) == sorted(names), (order, names)
            compiled = (built.string, order)
            self._compiled[key] = compiled
        sql, order = compiled
        if order != names:
            position = [names.index(name) for name in order]
            rows = [tuple(row[i] for i in position) for row in rows]
        self.conn.exec_driver_sql(sql, rows)

    def among(self, column: ColumnElement[Any], values: list[Any]) -> ColumnElement[bool]:
        """``column IN values``; on PostgreSQL ``= ANY(array)`` with the array as one
        parameter: an IN of 1,000 parameters is compared element by element, row by row, when
        the planner has no statistics yet (a table filling up inside this transaction)."""
        if not self.postgres:
            return column.in_(values)
        element = BigInteger() if isinstance(column.type, Integer) else Text()
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(element)))

    def _stamp(self, now: datetime) -> Any:
        return self.stamp(now) if self.stamp is not None else now

    def insert_contacts(self, rows: list[ContactRow], now: datetime) -> dict[str, int]:
        if self.postgres:
            columns = ", ".join(_CONTACT_COLUMNS)
            arrays = ", ".join(f"CAST(:{name} AS text[])" for name in _CONTACT_COLUMNS)
            sql = (
                f"INSERT INTO contacts ({columns}, custom, status, created_at, updated_at) "  # noqa: S608
                f"SELECT {columns}, custom, 'active', :now, :now "
                f"FROM unnest({arrays}, CAST(:custom AS json[])) "
                f"AS v({columns}, custom) RETURNING id, email"
            )
            statement = text(sql).bindparams(bindparam("now", type_=UTCDateTime()))
            params: dict[str, Any] = {
                "email": [row.email for row in rows],
                **{name: [row.values.get(name, "") for row in rows] for name in SCALAR_FIELDS},
                "custom": [json.dumps(row.custom) for row in rows],
                "now": now,
            }
            return {email: cid for cid, email in self.conn.execute(statement, params)}
        stamp = self._stamp(now)
        to_json = self.to_json or json.dumps
        names = (*_CONTACT_COLUMNS, "custom", "status", "created_at", "updated_at")
        self._sqlite_many(
            "contacts",
            insert(CONTACTS),
            names,
            [
                (
                    row.email,
                    *[row.values.get(name, "") for name in SCALAR_FIELDS],
                    to_json(row.custom) if row.custom else "{}",
                    "active",
                    stamp,
                    stamp,
                )
                for row in rows
            ],
        )
        query = select(CONTACTS.c.id, CONTACTS.c.email).where(
            CONTACTS.c.email.in_([row.email for row in rows])
        )
        return {email: cid for cid, email in self.conn.execute(query)}

    def update_contacts(self, changed: list[dict[str, Any]], now: datetime) -> None:
        """``changed``: full new values of SCALAR_FIELDS and custom, plus ``id``."""
        if self.postgres:
            assignments = ", ".join(f"{name} = v.{name}" for name in (*SCALAR_FIELDS, "custom"))
            columns = ", ".join(("id", *SCALAR_FIELDS, "custom"))
            arrays = ", ".join(f"CAST(:{name} AS text[])" for name in SCALAR_FIELDS)
            sql = (
                f"UPDATE contacts SET {assignments}, updated_at = :now "  # noqa: S608
                f"FROM unnest(CAST(:id AS bigint[]), {arrays}, CAST(:custom AS json[])) "
                f"AS v({columns}) WHERE contacts.id = v.id"
            )
            statement = text(sql).bindparams(bindparam("now", type_=UTCDateTime()))
            params: dict[str, Any] = {
                "id": [values["id"] for values in changed],
                **{name: [values[name] for values in changed] for name in SCALAR_FIELDS},
                "custom": [json.dumps(values["custom"]) for values in changed],
                "now": now,
            }
            self.conn.execute(statement, params)
            return
        self.conn.execute(
            update(CONTACTS)
            .where(CONTACTS.c.id == bindparam("_id"))
            .values({name: bindparam(name) for name in (*SCALAR_FIELDS, "custom")})
            .values(updated_at=bindparam("updated_at")),
            [
                {**{k: v for k, v in values.items() if k != "id"}, "_id": values["id"]}
                | {"updated_at": now}
                for values in changed
            ],
        )

    def insert_pairs(self, table: Table, column: str, pairs: list[tuple[int, str]]) -> None:
        """Rows of (contact_id, value) into a beats/tags table."""
        if not pairs:
            return
        if self.postgres:
            sql = (
                f"INSERT INTO {table.name} (contact_id, {column}) "  # noqa: S608
                "SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:values AS text[]))"
            )
            self.conn.execute(
                text(sql),
                {"ids": [cid for cid, _ in pairs], "values": [value for _, value in pairs]},
            )
            return
        self._sqlite_many(table.name, insert(table), ("contact_id", column), pairs)

    def add_members(self, list_id: int, contact_ids: list[int], now: datetime) -> None:
        if not contact_ids:
            return
        if self.postgres:
            sql = (
                "INSERT INTO list_members (list_id, contact_id, added_at) "
                "SELECT :list_id, id, :now FROM unnest(CAST(:ids AS bigint[])) AS v(id) "
                "ON CONFLICT DO NOTHING"
            )
            self.conn.execute(
                text(sql).bindparams(bindparam("now", type_=UTCDateTime())),
                {"list_id": list_id, "ids": contact_ids, "now": now},
            )
            return
        stamp = self._stamp(now)
        self._sqlite_many(
            "members",
            sqlite.insert(MEMBERS).on_conflict_do_nothing(),
            ("list_id", "contact_id", "added_at"),
            [(list_id, cid, stamp) for cid in contact_ids],
        )


class ChunkWriter:
    """Collects distinct addresses and writes them CHUNK at a time with set-based statements."""

    def __init__(
        self,
        conn: Connection,
        report: ImportReport,
        *,
        update_existing: bool,
        list_id: int | None,
    ) -> None:
        self.conn = conn
        self.bulk = BulkStatements(conn)
        self.report = report
        self.update_existing = update_existing
        self.list_id = list_id
        self.pending: dict[str, ContactRow] = {}
        # Addresses written by earlier chunks: first line and what happened to them.
        self.written: dict[str, tuple[int, str]] = {}
        self.duplicate_entries: dict[str, dict[str, Any]] = {}

    def add(self, row: ContactRow) -> None:
        email = row.email
        earlier = self.pending.get(email)
        if earlier is not None:
            self._duplicate(email, earlier.lines[0], row.lines[0])
            earlier.merge(row)
            return
        written = self.written.get(email)
        if written is not None:  # written by an earlier chunk: merged into the stored contact
            self._duplicate(email, written[0], row.lines[0])
        self.pending[email] = row
        if len(self.pending) >= CHUNK:
            self.flush()

    def _duplicate(self, email: str, first: int, line: int) -> None:
        entry = self.duplicate_entries.get(email)
        if entry is None:
            entry = {"email": email, "lines": [first]}
            self.duplicate_entries[email] = entry
            self.report.duplicates.append(entry)
        entry["lines"].append(line)

    def flush(self) -> None:
        rows = list(self.pending.values())
        self.pending.clear()
        if not rows:
            return
        now = utcnow()
        columns = [CONTACTS.c.id, CONTACTS.c.email, CONTACTS.c.custom]
        columns += [CONTACTS.c[name] for name in SCALAR_FIELDS]
        existing = {
            found.email: found._asdict()
            for found in self.conn.execute(
                select(*columns).where(self.bulk.among(CONTACTS.c.email, [r.email for r in rows]))
            )
        }
        fresh = [r for r in rows if r.email not in existing]
        ids = self.bulk.insert_contacts(fresh, now) if fresh else {}
        current_multi = self._current_multi(
            [existing[r.email]["id"] for r in rows if r.email in existing and r.multi]
        )
        changed: list[dict[str, Any]] = []
        replace: dict[str, dict[int, list[str]]] = {name: {} for name in MULTI_FIELDS}
        for row in rows:
            found = existing.get(row.email)
            if found is None:
                self.written[row.email] = (row.lines[0], IMPORTED)
                self.report.imported += 1
                for name, items in row.multi.items():
                    replace[name][ids[row.email]] = items
                continue
            cid = found["id"]
            ids[row.email] = cid
            before = self.written.get(row.email)
            if before is None and not self.update_existing:
                self.written[row.email] = (row.lines[0], SKIPPED)
                self.report.skipped_existing += 1
                continue
            if before is not None and before[1] == SKIPPED:
                continue
            new_values = _changes(found, row)
            multi_changed = False
            for name, items in row.multi.items():
                if set(items) != current_multi[name].get(cid, set()):
                    replace[name][cid] = items
                    multi_changed = True
            outcome = UPDATED if new_values is not None or multi_changed else UNCHANGED
            if outcome == UPDATED:
                changed.append({**(new_values or _row_values(found)), "id": cid})
            if before is None:
                if outcome == UPDATED:
                    self.report.updated += 1
                else:
                    self.report.unchanged += 1
                self.written[row.email] = (row.lines[0], outcome)
            elif before[1] == UNCHANGED and outcome == UPDATED:  # a later duplicate changed it
                self.report.unchanged -= 1
                self.report.updated += 1
                self.written[row.email] = (before[0], UPDATED)
        if changed:
            self.bulk.update_contacts(changed, now)
        for name, table, column in MULTI_TABLES:
            wanted = replace[name]
            if not wanted:
                continue
            replaced = [cid for cid in wanted if cid in current_multi[name]]
            if replaced:
                self.conn.execute(
                    delete(table).where(self.bulk.among(table.c.contact_id, replaced))
                )
            self.bulk.insert_pairs(
                table, column, [(cid, item) for cid, items in wanted.items() for item in items]
            )
        if self.list_id is not None:
            self.bulk.add_members(self.list_id, sorted(set(ids.values())), now)

    def _current_multi(self, contact_ids: list[int]) -> dict[str, dict[int, set[str]]]:
        current: dict[str, dict[int, set[str]]] = {name: {} for name in MULTI_FIELDS}
        if not contact_ids:
            return current
        for name, table, column in MULTI_TABLES:
            query = select(table.c.contact_id, table.c[column]).where(
                self.bulk.among(table.c.contact_id, contact_ids)
            )
            for cid, value in self.conn.execute(query):
                current[name].setdefault(cid, set()).add(value)
        return current


def _changes(found: dict[str, Any], row: ContactRow) -> dict[str, Any] | None:
    """The contact's full new values when the row changes any of them, else None."""
    values = _row_values(found)
    changed = False
    for name, value in row.values.items():
        if value and values[name] != value:
            values[name] = value
            changed = True
    if row.custom:
        merged = {**values["custom"], **row.custom}
        if merged != values["custom"]:
            values["custom"] = merged
            changed = True
    return values if changed else None


def _row_values(found: dict[str, Any]) -> dict[str, Any]:
    values = {name: found[name] for name in SCALAR_FIELDS}
    values["custom"] = dict(found["custom"] or {})
    return values


def list_id_for(conn: Connection, name: str) -> int:
    found = conn.scalar(select(LISTS.c.id).where(LISTS.c.name == name))
    if found is not None:
        return int(found)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(LISTS)
        .values(name=name, description="", created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    created = conn.scalar(select(LISTS.c.id).where(LISTS.c.name == name))
    assert created is not None
    return int(created)


@contextmanager
def import_cache(conn: Connection) -> Iterator[None]:
    """SQLite: a 64 MB page cache for the import (indexes of 100,000 rows outgrow the default
    2 MB), the connection's own setting restored afterwards."""
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.driver_connection  # outside SQLAlchemy's transaction
    assert driver is not None
    before = int(driver.execute("PRAGMA cache_size").fetchone()[0])
    driver.execute("PRAGMA cache_size = -65536")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size = {before}")
