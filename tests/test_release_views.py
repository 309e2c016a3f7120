"""Release services return ``ReleaseView`` (frozen, no session behind it) and outcomes whose
``as_dict`` is the JSON `release ... --json` has always printed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from distro.models import Release
from distro.moments import show_moment
from distro.releases import service as releases
from distro.releases import workflow
from distro.releases.import_service import ImportOutcome
from distro.releases.service import ReleaseDraft
from distro.releases.views import ReleaseView
from distro.sending.withdraw import WithdrawOutcome, withdraw_release

LIFT = datetime(2030, 1, 2, 15, 0, tzinfo=UTC)
KEYS = [
    "id",
    "slug",
    "title",
    "subtitle",
    "dateline",
    "release_date",
    "status",
    "language",
    "embargo_at",
    "embargo_tz",
    "embargo_local",
    "published_at",
    "body",
    "boilerplate",
    "contacts",
    "assets",
]


def _row() -> Release:
    return Release(
        id=3,
        slug="harbor-opens",
        title="Harbor opens",
        release_date=date(2030, 1, 2),
        body_md="Body.",
        media_contacts=[{"name": "Ana"}],
        asset_links=[{"label": "Photos", "url": "https://x.example/p.zip"}],
        embargo_at=LIFT,
        embargo_tz="America/Chicago",
    )


def test_the_json_keys_and_values_are_the_printed_ones() -> None:
    data = ReleaseView.of(_row()).as_dict()
    assert list(data) == KEYS
    assert (data["release_date"], data["embargo_at"]) == ("2030-01-02", LIFT.isoformat())
    assert data["embargo_local"] == show_moment(LIFT, "America/Chicago")
    assert (data["body"], data["contacts"], data["published_at"]) == (
        "Body.",
        [{"name": "Ana"}],
        None,
    )


def test_a_view_is_a_copy_not_the_row() -> None:
    row = _row()
    view = ReleaseView.of(row)
    row.media_contacts[0]["name"] = "changed"
    assert view.media_contacts == ({"name": "Ana"},)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(view, "title", "changed")  # noqa: B010 - the point is that it is refused


def test_outcomes_add_their_own_keys_after_the_release() -> None:
    view = ReleaseView.of(_row())
    assert list(ImportOutcome(view, ["w"], "Bo").as_dict())[-2:] == ["warnings", "author"]
    assert WithdrawOutcome(view, [4]).as_dict()["cancelled_sends"] == [4]
    assert workflow.ApproveOutcome(view).as_dict()["warnings"] == []
    edited = workflow.EditedRelease(view, ["title"]).as_dict()
    assert list(edited)[-3:] == ["changed", "moved_sends", "early_sends"]


def test_every_release_service_returns_a_view(engine: Engine) -> None:
    made = releases.create_draft(engine, ReleaseDraft(title="Harbor opens", body_md="Open."))
    assert isinstance(made, ReleaseView)
    assert releases.list_releases(engine) == [made]
    assert releases.load_release(engine, made.id) == made
    now = datetime.now(UTC)
    edited = workflow.edit(engine, made.id, {"title": "Harbor opens today"}, now)
    assert (edited.release.title, edited.changed) == ("Harbor opens today", ["title"])
    assert workflow.approve(engine, made.id, now).release.status == "approved"
    withdrawn = withdraw_release(engine, made.id, now)
    assert (withdrawn.release.status, withdrawn.cancelled_sends) == ("withdrawn", [])
    assert workflow.reopen(engine, made.id, now).status == "draft"
