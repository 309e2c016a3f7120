"""The segment language's syntax tree, and the printer that turns a tree back into text.

The parser (:mod:`distro.audience.segment_parser`) builds these nodes; the compiler
(:mod:`distro.audience.segments`) turns them into SQL. Printing gives text that parses back to
the same tree, which is how a stored or shown expression stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeAlias

from distro.audience.segment_tokens import quote

UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}

CompareOp: TypeAlias = Literal["=", "!=", "~"]
Engagement: TypeAlias = Literal["opened", "clicked", "bounced"]
MultiField: TypeAlias = Literal["beats", "tags"]
Unit: TypeAlias = Literal["h", "d", "w"]


@dataclass(frozen=True)
class Field:
    """A contact column (``key`` None) or a key of the ``custom`` JSON column (name 'custom')."""

    name: str
    key: str | None = None


@dataclass(frozen=True)
class Compare:
    field: Field
    op: CompareOp
    value: str


@dataclass(frozen=True)
class InSet:
    field: Field
    values: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class Has:
    field: MultiField
    value: str


@dataclass(frozen=True)
class InList:
    name: str


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: Unit

    @property
    def delta(self) -> timedelta:
        return self.amount * UNITS[self.unit]


@dataclass(frozen=True)
class Engaged:
    kind: Engagement
    within: Duration | None = None


@dataclass(frozen=True)
class Received:
    release_id: int


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node: TypeAlias = Compare | InSet | Has | InList | Engaged | Received | Not | And | Or


def unparse(node: Node) -> str:
    """Expression text that parses back to ``node`` (nested and/or are parenthesised)."""
    if isinstance(node, Compare):
        return f"{_field(node.field)} {node.op} {quote(node.value)}"
    if isinstance(node, InSet):
        values = ", ".join(quote(v) for v in node.values)
        return f"{_field(node.field)} {'not in' if node.negated else 'in'} ({values})"
    if isinstance(node, Has):
        return f"{node.field} has {quote(node.value)}"
    if isinstance(node, InList):
        return f"in_list({quote(node.name)})"
    if isinstance(node, Engaged):
        if node.within is None:
            return node.kind
        return f"{node.kind}(within {node.within.amount}{node.within.unit})"
    if isinstance(node, Received):
        return f"received(release = {node.release_id})"
    if isinstance(node, Not):
        return f"not {_operand(node.operand)}"
    joiner = " and " if isinstance(node, And) else " or "
    return joiner.join(_operand(operand) for operand in node.operands)


def _operand(node: Node) -> str:
    text = unparse(node)
    return f"({text})" if isinstance(node, And | Or) else text


def _field(field: Field) -> str:
    if field.key is None:
        return field.name
    key = field.key
    simple = key.isascii() and key.replace("_", "a").isalnum() and not key[0].isdigit()
    return f"custom.{key}" if simple else f"custom.{quote(key)}"
