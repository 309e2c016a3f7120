"""Segments: dynamic audiences written in the segment language, compiled to SQL.

An expression is parsed (:mod:`distro.audience.segment_parser`) to an AST and compiled to a
parameterised SQLAlchemy Core WHERE clause over the ``contacts`` table: every value the user typed
is a bound parameter, never SQL text.

Every compiled condition is two-valued (true or false, never NULL), so ``not`` is the exact
complement of what it negates: a contact without a custom key does not match
``custom.desk = "metro"`` and does match both ``custom.desk != "metro"`` and
``not custom.desk = "metro"``.

Multi-valued conditions (beats, tags, list membership, engagement, releases received) compile to
semi-joins on indexed columns (``contacts.id IN (SELECT contact_id ...)`` on SQLite, where the
planner drives the count from the subquery's index, and ``EXISTS (SELECT 1 ... WHERE contact_id =
contacts.id)`` elsewhere, which PostgreSQL turns into a (anti-)semi-join); none multiplies rows.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    String,
    Table,
    and_,
    cast,
    false,
    func,
    not_,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean
from sqlmodel import col

from distro.audience.segment_parser import (
    COLUMNS,
    And,
    Compare,
    Engaged,
    Field,
    Has,
    InList,
    InSet,
    Node,
    Not,
    Or,
    Received,
    SegmentError,
    parse,
    unparse,
)
from distro.db import reading, reading_session
from distro.models import (
    Contact,
    ContactBeat,
    ContactList,
    ContactTag,
    Event,
    ListMember,
    Message,
    MessageStatus,
    Send,
)

__all__ = [
    "HANDED_OVER",
    "Node",
    "SegmentError",
    "compile_node",
    "compile_where",
    "count_matching",
    "parse",
    "sample_matching",
    "segment_contact_ids",
    "unparse",
]

CONTACTS: Table = Contact.__table__  # type: ignore[attr-defined]
BEATS: Table = ContactBeat.__table__  # type: ignore[attr-defined]
TAGS: Table = ContactTag.__table__  # type: ignore[attr-defined]
LISTS: Table = ContactList.__table__  # type: ignore[attr-defined]
MEMBERS: Table = ListMember.__table__  # type: ignore[attr-defined]
MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
SENDS: Table = Send.__table__  # type: ignore[attr-defined]
EVENTS: Table = Event.__table__  # type: ignore[attr-defined]

# Message statuses that mean the message was handed over to a provider.
HANDED_OVER = (
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.OPENED,
    MessageStatus.CLICKED,
    MessageStatus.DEFERRED,
    MessageStatus.BOUNCED,
    MessageStatus.COMPLAINED,
    MessageStatus.UNSUBSCRIBED,
)


def compile_where(expression: str, now: datetime) -> ColumnElement[bool]:
    """The WHERE clause over ``contacts`` for ``expression``; ``now`` anchors 'within' windows."""
    return compile_node(parse(expression), now)


def segment_contact_ids(expression: str, now: datetime) -> Select[tuple[int]]:
    """SELECT contacts.id of the matching contacts (any status: callers add status = 'active')."""
    return select(CONTACTS.c.id).where(compile_where(expression, now))


def count_matching(engine: Engine, expression: str, now: datetime) -> int:
    where = compile_where(expression, now)
    with reading(engine) as conn:
        _no_jit(conn)
        return int(conn.scalar(select(func.count()).select_from(CONTACTS).where(where)) or 0)


def sample_matching(
    engine: Engine, expression: str, now: datetime, limit: int = 10
) -> list[Contact]:
    """Up to ``limit`` matching contacts, lowest id first (detached, fully loaded)."""
    where = compile_where(expression, now)
    with reading_session(engine) as session:
        _no_jit(session.connection())
        query = select(Contact).where(where).order_by(col(Contact.id)).limit(limit)
        return list(session.execute(query).scalars().all())


def _no_jit(conn: Connection) -> None:
    """PostgreSQL's JIT costs 300-400 ms per query here (the planner prices the correlated
    alternative of each hashed subplan, so every segment looks expensive): off for this
    transaction only."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL jit = off"))


# --- compiler -----------------------------------------------------------------------------------


def compile_node(node: Node, now: datetime) -> ColumnElement[bool]:
    if isinstance(node, And):
        return and_(*(compile_node(operand, now) for operand in node.operands))
    if isinstance(node, Or):
        return or_(*(compile_node(operand, now) for operand in node.operands))
    if isinstance(node, Not):
        return not_(compile_node(node.operand, now))
    if isinstance(node, Compare):
        return _compare(node)
    if isinstance(node, InSet):
        return _in_set(node)
    if isinstance(node, Has):
        table, column = (BEATS, BEATS.c.beat) if node.field == "beats" else (TAGS, TAGS.c.tag)
        return _member(table.c.contact_id, column == node.value.lower())
    if isinstance(node, InList):
        return _member(
            MEMBERS.c.contact_id,
            MEMBERS.c.list_id.in_(select(LISTS.c.id).where(LISTS.c.name == node.name)),
        )
    if isinstance(node, Engaged):
        condition = EVENTS.c.type == node.kind
        if node.within is not None:
            condition = and_(condition, EVENTS.c.occurred_at >= now - node.within.delta)
        return _member(
            MESSAGES.c.contact_id,
            MESSAGES.c.id.in_(select(EVENTS.c.message_id).where(condition)),
        )
    if isinstance(node, Received):
        return _member(
            MESSAGES.c.contact_id,
            and_(
                MESSAGES.c.send_id.in_(
                    select(SENDS.c.id).where(SENDS.c.release_id == node.release_id)
                ),
                MESSAGES.c.status.in_([str(status) for status in HANDED_OVER]),
            ),
        )
    raise TypeError(f"not a segment node: {node!r}")  # pragma: no cover


def _target(field: Field) -> ColumnElement[str]:
    if field.key is None:
        assert field.name in COLUMNS
        column: ColumnElement[str] = CONTACTS.c[field.name]
        return column
    value: ColumnElement[str] = CONTACTS.c.custom[field.key].as_string()
    return value


def _compare(node: Compare) -> ColumnElement[bool]:
    target = _target(node.field)
    condition: ColumnElement[bool]
    if node.op == "=":
        condition = target == node.value
    elif node.op == "!=":
        condition = target != node.value
    else:
        condition = func.lower(target, type_=String).contains(node.value.lower(), autoescape=True)
    condition = _two_valued(node.field, target, condition, negative=node.op == "!=")
    if node.op == "!=":
        return condition
    return _prefiltered(node.field, [node.value] if node.op == "=" else [], condition)


def _in_set(node: InSet) -> ColumnElement[bool]:
    target = _target(node.field)
    values = list(node.values)
    condition: ColumnElement[bool] = target.not_in(values) if node.negated else target.in_(values)
    condition = _two_valued(node.field, target, condition, negative=node.negated)
    return condition if node.negated else _prefiltered(node.field, [], condition)


# Text that JSON serialises as itself: safe to look for in the stored JSON text.
_PLAIN = re.compile(r"[A-Za-z0-9 .,:;!?#&()+*/=@$'-]+")


def _prefiltered(
    field: Field, values: list[str], condition: ColumnElement[bool]
) -> ColumnElement[bool]:
    """A positive custom-field test, with a cheap necessary condition first.

    Extracting a JSON value on every row is the slow part of a custom-field segment on SQLite
    (a million ``json_extract`` calls). A contact can only match if the stored JSON text
    contains ``"key"`` (and, for ``=``, ``"value"``), which a plain LIKE checks far faster;
    this holds only for text JSON writes as itself, so anything else skips the pre-filter.
    """
    if field.key is None or not _PLAIN.fullmatch(field.key):
        return condition
    # The value, when there is one, is the more selective necessary condition: one LIKE a row.
    plain_values = [v for v in values if _PLAIN.fullmatch(v)]
    pattern = f'%"{plain_values[0]}"%' if plain_values else f'%"{field.key}"%'
    return and_(_TextPrefilter([pattern]), condition)


class _TextPrefilter(ColumnElement[bool]):
    """``contacts.custom LIKE :pattern AND ...`` on SQLite; always true elsewhere, where the
    JSON column is binary (JSONB) and a text search would cost more than it saves."""

    inherit_cache = True
    _traverse_internals = [("patterns", InternalTraversal.dp_plain_obj)]  # noqa: RUF012
    type = Boolean()
    _is_implicitly_boolean = True

    def __init__(self, patterns: list[str]) -> None:
        self.patterns = tuple(patterns)

    @property
    def _from_objects(self) -> list[Any]:
        return [CONTACTS]


@compiles(_TextPrefilter)
def _prefilter_default(element: _TextPrefilter, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(true(), **kw)


@compiles(_TextPrefilter, "sqlite")
def _prefilter_sqlite(element: _TextPrefilter, compiler: SQLCompiler, **kw: Any) -> str:
    stored = cast(CONTACTS.c.custom, String)
    return compiler.process(and_(*(stored.like(p) for p in element.patterns)), **kw)


def _two_valued(
    field: Field, target: ColumnElement[str], condition: ColumnElement[bool], *, negative: bool
) -> ColumnElement[bool]:
    """Columns are NOT NULL; a missing custom key (NULL) fails positive tests, passes negative.

    ``coalesce`` rather than ``x IS NULL OR ...``: the JSON value is extracted once per row.
    """
    if field.key is None:
        return condition
    return func.coalesce(condition, true() if negative else false(), type_=Boolean)


# --- semi-joins ---------------------------------------------------------------------------------


class _Member(ColumnElement[bool]):
    """``contacts.id`` has a row in a related table whose ``contact_id`` column is
    ``member_id``, satisfying ``member_where``.

    SQLite renders ``contacts.id IN (SELECT member_id FROM ... WHERE member_where)``: the
    subquery runs once from its index and the count probes contacts by rowid. PostgreSQL (and
    others) render the correlated ``EXISTS (SELECT 1 FROM ... WHERE member_id = contacts.id AND
    member_where)``, which its planner turns into a semi-join, and ``NOT EXISTS`` into an
    anti-join (``NOT IN`` would not).
    """

    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012
        ("member_id", InternalTraversal.dp_clauseelement),
        ("member_where", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()
    _is_implicitly_boolean = True

    def __init__(self, member_id: ColumnElement[int], member_where: ColumnElement[bool]) -> None:
        self.member_id = member_id
        self.member_where = member_where

    def as_in(self) -> ColumnElement[bool]:
        return CONTACTS.c.id.in_(select(self.member_id).where(self.member_where))

    def as_exists(self) -> ColumnElement[bool]:
        return (
            select(true())
            .where(self.member_id == CONTACTS.c.id, self.member_where)
            .correlate(CONTACTS)
            .exists()
        )

    @property
    def _from_objects(self) -> list[Any]:
        return [CONTACTS]

    def get_children(self, **kw: Any) -> tuple[ClauseElement, ...]:
        return (self.member_id, self.member_where)


def _member(member_id: ColumnElement[int], where: ColumnElement[bool]) -> ColumnElement[bool]:
    return _Member(member_id, where)


@compiles(_Member)
def _member_default(element: _Member, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.as_exists(), **kw)


@compiles(_Member, "sqlite")
def _member_sqlite(element: _Member, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.as_in(), **kw)
