"""The static-list services: one transaction each, frozen values back, on SQLite and PostgreSQL.

The steps they are made of (``add_emails``, ``remove_emails`` ...) are tested in
``test_lists.py``; these check what a caller (the CLI, later the API) gets and that each call
commits on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from distro.audience import lists
from distro.errors import NotFoundError
from tests.factories import add_contacts


def test_create_list_is_empty_and_keeps_an_existing_one(any_engine: Engine) -> None:
    created = lists.create_list(any_engine, "vip", "The few")
    assert created == lists.ListSummary("vip", "The few", 0)
    add_contacts(any_engine, 2, "vip")
    # An existing list is returned as it is: its description is not replaced.
    assert lists.create_list(any_engine, "vip", "Other words") == lists.ListSummary(
        "vip", "The few", 2
    )
    assert lists.get_list(any_engine, "vip").contacts == 2


def test_summaries_and_details_are_frozen_values_with_their_json(any_engine: Engine) -> None:
    add_contacts(any_engine, 2, "press")
    lists.create_list(any_engine, "empty", "Nobody yet")
    summaries = lists.list_summaries(any_engine)
    assert [s.as_dict() for s in summaries] == [
        {"name": "empty", "description": "Nobody yet", "contacts": 0},
        {"name": "press", "description": "", "contacts": 2},
    ]
    details = lists.list_details(any_engine, "press")
    assert details.as_dict() == {
        "name": "press",
        "description": "",
        "count": 2,
        "members": [
            {"email": "reporter0@news.example", "name": "First0 Last0", "outlet": "Outlet 0"},
            {"email": "reporter1@news.example", "name": "First1 Last1", "outlet": "Outlet 1"},
        ],
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        details.name = "other"  # type: ignore[misc]


def test_add_and_remove_commit_each_call(any_engine: Engine) -> None:
    add_contacts(any_engine, 3, "everyone")
    lists.create_list(any_engine, "vip")
    added = lists.add_to_list(any_engine, "vip", ["Reporter1@news.example", "ghost@news.example"])
    assert added.as_dict("added", "already_members") == {
        "list": "vip",
        "added": ["reporter1@news.example"],
        "already_members": [],
        "unknown": ["ghost@news.example"],
    }
    assert lists.get_list(any_engine, "vip").contacts == 1
    removed = lists.remove_from_list(
        any_engine, "vip", ["reporter1@news.example", "reporter2@news.example"]
    )
    assert (removed.changed, removed.unchanged) == (
        ["reporter1@news.example"],
        ["reporter2@news.example"],
    )
    assert lists.get_list(any_engine, "vip").contacts == 0


def test_delete_list_reports_memberships(any_engine: Engine) -> None:
    add_contacts(any_engine, 2, "press")
    deleted = lists.delete_list(any_engine, "press")
    assert deleted.as_dict() == {"name": "press", "deleted": True, "memberships_removed": 2}
    with pytest.raises(NotFoundError, match="no list named 'press'"):
        lists.get_list(any_engine, "press")


UNKNOWN_LIST_CALLS: dict[str, Callable[[Engine], object]] = {
    "get": lambda engine: lists.get_list(engine, "nope"),
    "details": lambda engine: lists.list_details(engine, "nope"),
    "add": lambda engine: lists.add_to_list(engine, "nope", ["a@b.example"]),
    "remove": lambda engine: lists.remove_from_list(engine, "nope", ["a@b.example"]),
    "delete": lambda engine: lists.delete_list(engine, "nope"),
}


@pytest.mark.parametrize("call", sorted(UNKNOWN_LIST_CALLS))
def test_an_unknown_list_is_not_found(engine: Engine, call: str) -> None:
    with pytest.raises(NotFoundError, match="no list named 'nope'"):
        UNKNOWN_LIST_CALLS[call](engine)
