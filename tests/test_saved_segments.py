"""The saved-segment services: save (or replace), list, delete, preview, and the expression
check that runs before anything is stored, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from distro.audience import saved_segments
from distro.audience.lists import ContactEntry
from distro.errors import NotFoundError, ValidationError
from distro.models.types import utcnow
from tests.factories import add_contacts

EXPRESSION = 'outlet = "Outlet 1"'


def test_save_replace_list_and_delete(any_engine: Engine) -> None:
    first = saved_segments.save_segment(any_engine, "west", 'region = "CA"')
    assert first.as_dict() == {"name": "west", "expression": 'region = "CA"', "replaced": False}
    saved_segments.save_segment(any_engine, "east", 'region = "NY"')
    again = saved_segments.save_segment(any_engine, "west", 'region in ("CA", "OR")')
    assert again.replaced
    assert [s.as_dict() for s in saved_segments.list_segments(any_engine)] == [
        {"name": "east", "expression": 'region = "NY"'},
        {"name": "west", "expression": 'region in ("CA", "OR")'},
    ]
    deleted = saved_segments.delete_segment(any_engine, "west")
    assert deleted == saved_segments.SavedSegment("west", 'region in ("CA", "OR")')
    assert [s.name for s in saved_segments.list_segments(any_engine)] == ["east"]
    with pytest.raises(NotFoundError, match="no saved segment named 'west'"):
        saved_segments.delete_segment(any_engine, "west")


def test_a_bad_expression_is_refused_with_a_caret_and_nothing_is_stored(engine: Engine) -> None:
    with pytest.raises(ValidationError, match=r"column [\s\S]*\^") as raised:
        saved_segments.save_segment(engine, "broken", 'region = "CA" and and')
    assert str(raised.value).splitlines()[1] == 'region = "CA" and and'
    assert saved_segments.list_segments(engine) == []
    with pytest.raises(ValidationError, match="column"):
        saved_segments.preview_segment(engine, "and", utcnow())


def test_preview_counts_and_samples_lowest_id_first(any_engine: Engine) -> None:
    add_contacts(any_engine, 16)  # outlets cycle through 7 values: 1, 8 and 15 say "Outlet 1"
    preview = saved_segments.preview_segment(any_engine, EXPRESSION, utcnow(), limit=2)
    assert preview.count == 3
    assert preview.sample == (
        ContactEntry("reporter1@news.example", "First1 Last1", "Outlet 1"),
        ContactEntry("reporter8@news.example", "First8 Last8", "Outlet 1"),
    )
    assert preview.as_dict()["sample"][0] == {
        "email": "reporter1@news.example",
        "name": "First1 Last1",
        "outlet": "Outlet 1",
    }
