"""The release services the CLI calls (create, list, load, preview): one transaction each,
releases returned loaded and usable after it, the same errors the CLI prints."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from distro.errors import NotFoundError, ValidationError
from distro.moments import show_moment
from distro.releases import service as releases
from distro.releases.service import ReleaseDraft
from distro.sending.preview import preview_release
from tests.conftest import make_settings
from tests.factories import add_contacts


def test_create_draft_list_and_load(any_engine: Engine) -> None:
    lift = datetime(2030, 1, 2, 15, 0, tzinfo=UTC)
    first = releases.create_draft(
        any_engine,
        ReleaseDraft(
            title=" Harbor opens ",
            body_md="The harbor opens.",
            media_contacts=[{"name": "Ana", "email": "Ana@Harbor.example"}],
            embargo_at=lift,
            embargo_tz="America/Chicago",
        ),
    )
    assert (first.slug, first.title, first.status) == ("harbor-opens", "Harbor opens", "draft")
    assert first.body_md == "The harbor opens.\n"
    second = releases.create_draft(any_engine, ReleaseDraft(title="Harbor opens", body_md="Again"))
    assert second.slug == "harbor-opens-2"
    assert [r.id for r in releases.list_releases(any_engine)] == [second.id, first.id]
    assert first.id is not None
    loaded = releases.load_release(any_engine, first.id)
    assert (loaded.embargo_at, loaded.embargo_tz) == (lift, "America/Chicago")
    assert loaded.media_contacts[0]["name"] == "Ana"
    shown = loaded.as_dict()
    assert shown["embargo_at"] == "2030-01-02T15:00:00+00:00"
    assert shown["embargo_local"] == show_moment(lift, "America/Chicago")
    assert (shown["status"], shown["release_date"]) == ("draft", None)
    assert "warnings" not in shown


def test_a_draft_without_a_body_is_refused_and_nothing_is_stored(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="needs a body"):
        releases.create_draft(engine, ReleaseDraft(title="Title", body_md="  "))
    assert releases.list_releases(engine) == []
    with pytest.raises(NotFoundError, match="no release 7"):
        releases.load_release(engine, 7)


def test_the_sample_and_a_toml_file_make_drafts(engine: Engine, tmp_path: Path) -> None:
    sample = releases.create_draft(engine, ReleaseDraft.sample())
    assert sample.title == ReleaseDraft.sample().title
    path = tmp_path / "release.toml"
    path.write_text('title = "From a file"\nbody = "Body."\nembargo = "2030-01-02 09:00 UTC"\n')
    draft = ReleaseDraft.from_toml(path)
    assert (draft.title, draft.embargo_tz) == ("From a file", "UTC")
    assert releases.create_draft(engine, draft).title == "From a file"
    path.write_text('title = "No body"\n')
    with pytest.raises(ValidationError, match="body is missing"):
        ReleaseDraft.from_toml(path)


def test_preview_as_a_contact_or_the_sample_contact(engine: Engine) -> None:
    add_contacts(engine, 1)
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    made = releases.create_draft(engine, ReleaseDraft(title="Harbor opens", body_md="**Open**."))
    assert made.id is not None
    preview = preview_release(engine, settings, made.id, contact_email=" Reporter0@News.example ")
    assert "reporter0@news.example" in preview.headers()
    assert "<strong>Open</strong>" in preview.body()
    assert "Open" in preview.body(text=True)
    assert preview.eml().startswith(preview.headers().splitlines()[0])
    sample = preview_release(engine, settings, made.id)
    assert "reporter0@news.example" not in sample.headers()
    with pytest.raises(ValidationError, match=r"no contact 'nobody@x\.example'"):
        preview_release(engine, settings, made.id, contact_email="nobody@x.example")
    with pytest.raises(NotFoundError, match="no release 99"):
        preview_release(engine, settings, 99)
