"""Saved segments, and previewing an expression, as services: one transaction each.

A saved segment is a name for an expression in the segment language; a send that targets it
(``--segment NAME``) reads the expression as it is when the send fires (see
``distro.audience.targeting``). Expressions are checked before anything is stored, with the
mistake pointed at, so a bad one never waits in the database for a send to trip over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from distro.audience.lists import ContactEntry
from distro.audience.segments import SegmentError, count_matching, parse, sample_matching
from distro.db import reading_session, writing_session
from distro.errors import NotFoundError, ValidationError
from distro.models import Segment


@dataclass(frozen=True)
class SavedSegment:
    name: str
    expression: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "expression": self.expression}


@dataclass(frozen=True)
class SaveOutcome:
    """The segment as saved, and whether it replaced one of the same name."""

    segment: SavedSegment
    replaced: bool

    def as_dict(self) -> dict[str, Any]:
        return {**self.segment.as_dict(), "replaced": self.replaced}


@dataclass(frozen=True)
class SegmentPreview:
    """How many contacts an expression matches now, and the first few (lowest id first)."""

    expression: str
    count: int
    sample: tuple[ContactEntry, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "count": self.count,
            "sample": [entry.as_dict() for entry in self.sample],
        }


def check_expression(expression: str) -> str:
    """The expression, or a ValidationError whose message shows a caret under the mistake."""
    try:
        parse(expression)
    except SegmentError as exc:
        raise ValidationError(f"{exc}\n{exc.pointer(expression)}") from None
    return expression


def preview_segment(
    engine: Engine, expression: str, now: datetime, *, limit: int = 10
) -> SegmentPreview:
    """Count the contacts ``expression`` matches at ``now`` and show up to ``limit`` of them."""
    count = count_matching(engine, check_expression(expression), now)
    sample = sample_matching(engine, expression, now, limit=limit)
    return SegmentPreview(expression, count, tuple(ContactEntry.of(c) for c in sample))


def save_segment(engine: Engine, name: str, expression: str) -> SaveOutcome:
    """Save ``expression`` as ``name``, replacing the expression of a segment of that name."""
    check_expression(expression)
    with writing_session(engine) as session:
        found = _find(session, name)
        segment = found or Segment(name=name, expression=expression)
        segment.expression = expression
        session.add(segment)
        return SaveOutcome(SavedSegment(name, expression), replaced=found is not None)


def list_segments(engine: Engine) -> list[SavedSegment]:
    """Every saved segment, by name."""
    with reading_session(engine) as session:
        found = session.exec(select(Segment).order_by(col(Segment.name))).all()
        return [SavedSegment(s.name, s.expression) for s in found]


def delete_segment(engine: Engine, name: str) -> SavedSegment:
    """Delete a saved segment (scheduled sends that use it are held when they fire); return
    what it was. NotFoundError when there is none by that name."""
    with writing_session(engine) as session:
        found = _find(session, name)
        if found is None:
            raise NotFoundError(f"no saved segment named {name!r}")
        session.delete(found)
        return SavedSegment(found.name, found.expression)


def _find(session: Session, name: str) -> Segment | None:
    return session.exec(select(Segment).where(Segment.name == name)).first()
