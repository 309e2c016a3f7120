"""The suppression list as services: one transaction each, frozen values back.

The rules (which reasons are protected, what is logged, how addresses are normalised) are in
``distro.audience.suppression``, whose session functions also serve callers that suppress inside
a larger transaction (a tracking event, deleting a contact). These are for people and programs
working on the list itself: the CLI today, the API and the web app next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from distro.audience.suppression import (
    list_suppressions,
    remove_suppression,
    suppression_added,
    suppression_log,
)
from distro.db import reading_session, writing_session
from distro.models import Suppression, SuppressionLog, SuppressionReason


@dataclass(frozen=True)
class SuppressedAddress:
    """One address on the list: why, who put it there (``source``), and since when."""

    email: str
    reason: str
    source: str
    note: str
    event_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: Suppression) -> SuppressedAddress:
        return cls(row.email, row.reason, row.source, row.note, row.event_id, row.created_at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "reason": self.reason,
            "source": self.source,
            "note": self.note,
            "event_id": self.event_id,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class SuppressOutcome:
    """The address's suppression, and whether this call added it (False: it was there, and
    keeps its original reason and date)."""

    suppression: SuppressedAddress
    added: bool

    def as_dict(self) -> dict[str, Any]:
        return {**self.suppression.as_dict(), "added": self.added}


@dataclass(frozen=True)
class SuppressionLogEntry:
    """One addition to or removal from the list; ``forced``: a protected reason was lifted."""

    email: str
    action: str
    reason: str
    source: str
    note: str
    forced: bool
    at: datetime

    @classmethod
    def of(cls, row: SuppressionLog) -> SuppressionLogEntry:
        return cls(row.email, row.action, row.reason, row.source, row.note, row.forced, row.at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "action": self.action,
            "reason": self.reason,
            "source": self.source,
            "note": self.note,
            "forced": self.forced,
            "at": self.at.isoformat(),
        }


def suppress_address(
    engine: Engine,
    email: str,
    reason: SuppressionReason | str,
    *,
    source: str,
    note: str = "",
) -> SuppressOutcome:
    """Suppress an address (validated, stored lower-cased) and log it; one already suppressed
    is left as it is. ValidationError for a bad address or reason."""
    with writing_session(engine) as session:
        row, added = suppression_added(session, email, reason, source=source, note=note)
        return SuppressOutcome(SuppressedAddress.of(row), added)


def lift_suppression(
    engine: Engine, email: str, *, force: bool = False, note: str = "", source: str = ""
) -> SuppressedAddress:
    """Let an address be mailed again and log it; return the suppression lifted. A complaint
    or do_not_contact suppression needs ``force`` (ValidationError without it); NotFoundError
    for an address not on the list."""
    with writing_session(engine) as session:
        row = remove_suppression(session, email, force=force, note=note, source=source)
        return SuppressedAddress.of(row)


def suppressed_addresses(
    engine: Engine, reason: SuppressionReason | str | None = None
) -> list[SuppressedAddress]:
    """The list by address, or only the addresses suppressed for ``reason``."""
    with reading_session(engine) as session:
        return [SuppressedAddress.of(row) for row in list_suppressions(session, reason)]


def suppression_history(engine: Engine, email: str | None = None) -> list[SuppressionLogEntry]:
    """Additions and removals, oldest first; only one address's when ``email`` is given."""
    with reading_session(engine) as session:
        return [SuppressionLogEntry.of(row) for row in suppression_log(session, email)]
