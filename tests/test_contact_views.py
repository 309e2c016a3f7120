"""The contacts service returns typed views, not rows or dicts, and their JSON is what the
command line has always printed (`contacts list/show/edit/delete --json`)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from distro.audience.contact_views import (
    BeatOptOutView,
    ContactDetails,
    ContactFields,
    ContactSuppression,
    ContactView,
    DeletedContact,
    DeletionSuppression,
)
from distro.audience.contacts import (
    ContactEdit,
    contact_details,
    delete_contact,
    edit_contact,
    list_contacts,
)
from tests.factories import add_contacts, suppress

AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
FIELDS = ContactFields("Ana", "Ruiz", "Harbor", "Editor", "CA", "US", "es", "UTC", "")
VIEW = ContactView("ana@harbor.example", FIELDS, ("health",), ("vip",), {"k": 1}, "active", AT, AT)


def test_a_view_gives_the_json_keys_in_the_printed_order() -> None:
    assert list(VIEW.as_dict()) == [
        "email",
        "first_name",
        "last_name",
        "outlet",
        "title",
        "region",
        "country",
        "language",
        "timezone",
        "notes",
        "beats",
        "tags",
        "custom",
        "status",
        "created_at",
        "updated_at",
    ]
    assert VIEW.as_dict()["created_at"] == "2026-03-04T05:06:07+00:00"
    assert VIEW.fields.name == "Ana Ruiz"


def test_details_add_lists_suppression_and_opt_outs_after_the_view() -> None:
    details = ContactDetails(
        VIEW,
        ("press",),
        ContactSuppression("unsubscribed", "webhook", AT),
        (BeatOptOutView("health", AT, 7),),
    )
    data = details.as_dict()
    assert list(data)[-4:] == ["lists", "suppressed", "suppression", "beat_opt_outs"]
    assert data["suppressed"] is True
    assert data["suppression"] == {
        "reason": "unsubscribed",
        "source": "webhook",
        "since": AT.isoformat(),
    }
    assert data["beat_opt_outs"] == [{"beat": "health", "since": AT.isoformat(), "message_id": 7}]
    assert ContactDetails(VIEW, (), None, ()).as_dict()["suppression"] is None


def test_a_deletion_names_its_suppression_only_when_asked_for() -> None:
    assert DeletedContact("a@x.example", ("press",)).as_dict() == {
        "email": "a@x.example",
        "deleted": True,
        "lists": ["press"],
    }
    kept = DeletedContact("a@x.example", (), DeletionSuppression("do_not_contact", "s", False))
    assert kept.as_dict()["suppression"] == {
        "reason": "do_not_contact",
        "source": "s",
        "added": False,
    }


@pytest.mark.parametrize("name", ["email", "beats"])
def test_views_are_frozen(name: str) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(VIEW, name, "b@x.example")


def test_the_service_returns_views(engine: Engine) -> None:
    first, second = add_contacts(engine, 2)
    suppress(engine, second.email)
    listed = list_contacts(engine)
    assert all(isinstance(contact, ContactView) for contact in listed)
    assert [contact.email for contact in listed] == sorted([first.email, second.email])
    shown = contact_details(engine, second.email)
    assert shown.lists == ("press",)
    assert shown.suppression is not None
    assert shown.suppression.reason == "do_not_contact"
    edited = edit_contact(
        engine, first.email, ContactEdit(values={"outlet": "Tide"}, add_beats=["x"])
    )
    assert (edited.contact.fields.outlet, edited.contact.beats) == ("Tide", ("x",))
    assert delete_contact(engine, first.email) == DeletedContact(first.email, ("press",))
