"""The suppression-list services: what a caller gets back (frozen values and their JSON), and
that each call is its own transaction, on SQLite and PostgreSQL. The rules themselves are
tested through the session functions in ``test_suppression.py``."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine

from distro.audience import suppression_service as service
from distro.errors import NotFoundError, ValidationError


def test_suppress_reports_added_then_keeps_the_first_reason(any_engine: Engine) -> None:
    first = service.suppress_address(
        any_engine, " Ana@Harbor.example ", "complaint", source="api", note="angry"
    )
    assert first.added
    shown = first.as_dict()
    assert shown == {
        "email": "ana@harbor.example",
        "reason": "complaint",
        "source": "api",
        "note": "angry",
        "event_id": None,
        "created_at": first.suppression.created_at.isoformat(),
        "added": True,
    }
    again = service.suppress_address(any_engine, "ana@harbor.example", "unsubscribed", source="x")
    assert not again.added
    assert again.suppression == first.suppression  # the original reason, source and date
    with pytest.raises(dataclasses.FrozenInstanceError):
        again.suppression.reason = "unsubscribed"  # type: ignore[misc]


def test_list_filters_by_reason_and_sorts_by_address(any_engine: Engine) -> None:
    for email, reason in (
        ("cy@a.example", "hard_bounce"),
        ("ana@a.example", "unsubscribed"),
        ("ben@a.example", "hard_bounce"),
    ):
        service.suppress_address(any_engine, email, reason, source="test")
    every = service.suppressed_addresses(any_engine)
    assert [s.email for s in every] == ["ana@a.example", "ben@a.example", "cy@a.example"]
    bounced = service.suppressed_addresses(any_engine, "Hard-Bounce")
    assert [s.email for s in bounced] == ["ben@a.example", "cy@a.example"]


def test_lift_needs_force_for_protected_reasons_and_is_logged(any_engine: Engine) -> None:
    service.suppress_address(any_engine, "ana@harbor.example", "do_not_contact", source="cli")
    with pytest.raises(ValidationError, match="needs force"):
        service.lift_suppression(any_engine, "ana@harbor.example")
    assert [s.email for s in service.suppressed_addresses(any_engine)] == ["ana@harbor.example"]
    lifted = service.lift_suppression(
        any_engine, "ANA@harbor.example", force=True, note="editor said yes", source="cli"
    )
    assert (lifted.email, lifted.reason) == ("ana@harbor.example", "do_not_contact")
    assert service.suppressed_addresses(any_engine) == []
    history = service.suppression_history(any_engine, "ana@harbor.example")
    assert [(e.action, e.reason, e.forced, e.source) for e in history] == [
        ("added", "do_not_contact", False, "cli"),
        ("removed", "do_not_contact", True, "cli"),
    ]
    assert history[1].as_dict()["note"] == "editor said yes"
    assert history[1].as_dict()["at"] == history[1].at.isoformat()
    with pytest.raises(NotFoundError, match="not on the suppression list"):
        service.lift_suppression(any_engine, "ana@harbor.example", force=True)


def test_a_bad_address_or_reason_stores_nothing(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="not a valid email address"):
        service.suppress_address(engine, "not-an-address", "complaint", source="test")
    with pytest.raises(ValidationError, match="unknown suppression reason"):
        service.suppress_address(engine, "ana@harbor.example", "bored", source="test")
    assert service.suppressed_addresses(engine) == []
    assert service.suppression_history(engine) == []
