"""The summary's statements, written for the driver (``exec_driver_sql``): they run for every
batch of events the store path takes, with a thousand rows each, and SQLAlchemy's per-row
parameter processing would cost more than the statements themselves. Only values the driver
takes as they are go in: ints, text, timestamps as SQLAlchemy stores them (UTC text on SQLite,
aware datetimes on PostgreSQL), JSON as text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection

from distro.tracking.summary_fold import (
    LINK_COLUMNS,
    MINUTE_COLUMNS,
    OUTCOME_COLUMNS,
    ROLLUP_COLUMNS,
    Addressed,
    Outcome,
    Tally,
)

CHUNK = 900  # values per IN list, below every database's limit on bound parameters
# The advisory lock class of message outcomes (any constant: it names the key space).
LOCK_CLASS = 60_007
_MOMENTS = frozenset(name for name in OUTCOME_COLUMNS if name.endswith("_at"))
_ADDRESSED = ("send_id", "email", "provider", "outlet", "region", "beats")
_OUTCOME_TYPES = {
    name: "timestamptz"
    if name in _MOMENTS
    else "json"
    if name == "clicked_urls"
    else "text"
    if name in ("bounce_type", "reason")
    else "int"
    for name in OUTCOME_COLUMNS
}


class SummarySql:
    """Statements for one connection's dialect."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    # --- values ---------------------------------------------------------------------------

    def moment(self, value: datetime | None) -> Any:
        if value is None or not self.sqlite:
            return value
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    @staticmethod
    def read_moment(value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite: naive UTC text
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        moment: datetime = value
        return moment.astimezone(UTC)

    @staticmethod
    def read_json(value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, str | bytes) else value

    def _marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    # --- message outcomes -----------------------------------------------------------------

    def outcomes_for_update(self, ids: Sequence[int]) -> Iterator[tuple[int, Addressed, Outcome]]:
        """The messages' outcomes as committed now (empty for a message without one yet).

        On PostgreSQL each message is locked until the transaction ends (an advisory lock, taken
        in id order: a concurrent batch touching the same messages waits, then reads what this
        one wrote, and two batches never wait for each other in a ring). SQLite has one writer.
        """
        if not self.sqlite:
            self.conn.exec_driver_sql(
                "SELECT count(pg_advisory_xact_lock(%s, k)) FROM "
                "(SELECT unnest(%s::int[]) AS k ORDER BY 1) AS keys",
                (LOCK_CLASS, list(ids)),
            )
        source = "messages m LEFT JOIN message_outcomes o ON o.message_id = m.id"
        columns = ", ".join(
            [*(f"o.{name}" for name in OUTCOME_COLUMNS), *(f"m.{name}" for name in _ADDRESSED)]
        )
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            sql = (
                f"SELECT m.id, {columns} FROM {source} "  # noqa: S608
                f"WHERE m.id IN ({self._marks(len(chunk))}) ORDER BY m.id"
            )
            for row in self.conn.exec_driver_sql(sql, tuple(chunk)):
                yield row[0], self._addressed(row[1 + len(OUTCOME_COLUMNS) :]), self._outcome(row)

    def _outcome(self, row: Sequence[Any]) -> Outcome:
        values = dict(zip(OUTCOME_COLUMNS, row[1 : 1 + len(OUTCOME_COLUMNS)], strict=True))
        if values["bounce_type"] is None:  # no row yet (the outer join found none)
            return Outcome()
        for name in _MOMENTS:
            values[name] = self.read_moment(values[name])
        values["clicked_urls"] = list(self.read_json(values["clicked_urls"]) or [])
        return Outcome(**values)

    def _addressed(self, row: Sequence[Any]) -> Addressed:
        send_id, email, provider, outlet, region, beats = row
        return Addressed(
            send_id, email, provider, outlet or "", region or "", tuple(self.read_json(beats) or ())
        )

    def _outcome_values(self, outcome: Outcome) -> list[Any]:
        values: list[Any] = []
        for name in OUTCOME_COLUMNS:
            value = getattr(outcome, name)
            if name in _MOMENTS:
                value = self.moment(value)
            elif name == "clicked_urls":
                value = json.dumps(value)
            values.append(value)
        return values

    def write_outcomes(self, outcomes: Sequence[tuple[int, Outcome]]) -> None:
        """Store outcomes whole: new rows, or rows of messages this transaction holds."""
        self._upsert(
            "message_outcomes",
            [("message_id", "int"), *((name, _OUTCOME_TYPES[name]) for name in OUTCOME_COLUMNS)],
            [(message_id, *self._outcome_values(o)) for message_id, o in outcomes],
            conflict=("message_id",),
            update=", ".join(f"{name} = excluded.{name}" for name in OUTCOME_COLUMNS),
        )

    # --- rollups --------------------------------------------------------------------------

    def write_tally(self, tally: Tally) -> None:
        """Add a tally to the rollup tables: increments (``x = x + excluded.x``), in key order
        so concurrent batches take their row locks in one order."""
        self._increment(
            "report_rollups",
            [("send_id", "int"), ("dimension", "text"), ("value", "text")],
            ROLLUP_COLUMNS,
            {"recipients": "0", "suppressed": "0"},
            [(*key, *counts) for key, counts in sorted(tally.rollups.items())],
        )
        self._increment(
            "report_timeline",
            [("send_id", "int"), ("minute", "timestamptz")],
            MINUTE_COLUMNS,
            {"sent": "0"},
            [
                (send, self.moment(minute), *counts)
                for (send, minute), counts in sorted(tally.timeline.items())
            ],
        )
        self._increment(
            "report_links",
            [("send_id", "int"), ("url", "text")],
            LINK_COLUMNS,
            {},
            [(*key, *counts) for key, counts in sorted(tally.links.items())],
        )
        self._upsert(
            "report_bounces",
            [
                ("send_id", "int"),
                ("bounce_type", "text"),
                ("reason", "text"),
                ("bounces", "int"),
                ("example", "text"),
            ],
            [(*key, n, example) for key, (n, example) in sorted(tally.bounces.items())],
            conflict=("send_id", "bounce_type", "reason"),
            # The example kept is the smallest: the same whatever order bounces arrive in.
            update="bounces = report_bounces.bounces + excluded.bounces, example = CASE "
            "WHEN report_bounces.example = '' THEN excluded.example "
            "WHEN excluded.example <> '' AND excluded.example < report_bounces.example "
            "THEN excluded.example ELSE report_bounces.example END",
        )

    def _increment(
        self,
        table: str,
        keys: Sequence[tuple[str, str]],
        counters: Sequence[str],
        fixed: dict[str, str],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        self._upsert(
            table,
            [*keys, *((name, "int") for name in counters)],
            rows,
            conflict=tuple(name for name, _ in keys),
            update=", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counters),
            fixed=fixed,
        )

    def _upsert(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[tuple[Any, ...]],
        *,
        conflict: Sequence[str],
        update: str,
        fixed: dict[str, str] | None = None,
    ) -> None:
        """``INSERT ... ON CONFLICT (conflict) DO UPDATE SET update`` for many rows in one
        statement: an executemany on SQLite (prepared once), one ``unnest`` of a column array
        each on PostgreSQL (planned once, a single round trip). ``fixed`` columns get SQL
        literals."""
        if not rows:
            return
        fixed = fixed or {}
        names = ", ".join([*(name for name, _ in columns), *fixed])
        tail = f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {update}"
        if self.sqlite:
            values = ", ".join(["?"] * len(columns) + list(fixed.values()))
            self.conn.exec_driver_sql(
                f"INSERT INTO {table} ({names}) VALUES ({values}) {tail}",  # noqa: S608
                list(rows),
            )
            return
        arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
        literals = "".join(f", {value}" for value in fixed.values())
        self.conn.exec_driver_sql(
            f"INSERT INTO {table} ({names}) SELECT u.*{literals} "  # noqa: S608
            f"FROM unnest({arrays}) AS u {tail}",
            tuple(list(column) for column in zip(*rows, strict=True)),
        )
