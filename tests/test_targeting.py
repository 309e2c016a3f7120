"""A send's audience: lists and/or a segment, each contact once, the segment judged at fire time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from distro.audience.lists import add_members, get_or_create_list
from distro.errors import NotFoundError, ValidationError
from distro.models import Contact, ContactBeat, ContactTag, MessageStatus, Segment
from distro.models.types import utcnow
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from tests.cli_support import run, run_json
from tests.conftest import make_settings
from tests.factories import add_release, messages_of, suppress


def newsroom(engine: Engine) -> dict[str, int]:
    """Five journalists: two immigration reporters in CA/TX, one in NY, two others."""
    people = {
        "ana@ca.example": ("CA", ["immigration"], []),
        "ben@tx.example": ("TX", ["immigration", "courts"], ["do-not-contact"]),
        "cy@ny.example": ("NY", ["immigration"], []),
        "di@ca.example": ("CA", ["sports"], []),
        "ed@tx.example": ("TX", ["economy"], []),
    }
    ids: dict[str, int] = {}
    with Session(engine) as session:
        for email, (region, beats, tags) in people.items():
            contact = Contact(email=email, region=region, first_name=email[:2])
            session.add(contact)
            session.flush()
            assert contact.id is not None
            ids[email] = contact.id
            session.add_all(ContactBeat(contact_id=contact.id, beat=b) for b in beats)
            session.add_all(ContactTag(contact_id=contact.id, tag=t) for t in tags)
        add_members(session, get_or_create_list(session, "editors"), [ids["ed@tx.example"]])
        session.commit()
    return ids


EXPRESSION = 'beats has "immigration" and region in ("CA", "TX") and not tags has "do-not-contact"'


def test_lists_and_a_segment_make_one_audience_each_contact_once(any_engine: Engine) -> None:
    engine = any_engine
    newsroom(engine)
    suppress(engine, "ed@tx.example")
    release = add_release(engine)
    assert release.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    now = utcnow()
    send = schedule_send(
        engine,
        settings,
        release_id=release.id,
        audience=Audience(lists=["editors"], where=EXPRESSION),
        now=now,
    )
    assert send.id is not None
    assert fire_send(engine, settings, send.id, now) == FireOutcome.STARTED
    statuses = {m.email: m.status for m in messages_of(engine, send.id)}
    assert statuses == {
        "ana@ca.example": MessageStatus.QUEUED,  # the segment
        "ed@tx.example": MessageStatus.SUPPRESSED,  # the list, suppressed and recorded
    }


def test_a_saved_segment_is_judged_when_the_send_fires(engine: Engine) -> None:
    ids = newsroom(engine)
    with Session(engine) as session:
        session.add(Segment(name="immigration-west", expression=EXPRESSION))
        session.commit()
    release = add_release(engine)
    assert release.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    now = utcnow()
    later = now + timedelta(hours=1)
    send = schedule_send(
        engine,
        settings,
        release_id=release.id,
        audience=Audience(segment="immigration-west"),
        at=later,
        now=now,
    )
    assert send.id is not None
    with Session(engine) as session:  # between scheduling and firing, Di takes the beat
        session.add(ContactBeat(contact_id=ids["di@ca.example"], beat="immigration"))
        session.commit()
    assert fire_send(engine, settings, send.id, later) == FireOutcome.STARTED
    assert sorted(m.email for m in messages_of(engine, send.id)) == [
        "ana@ca.example",
        "di@ca.example",
    ]


def test_segment_audiences_are_checked_when_scheduled(engine: Engine) -> None:
    newsroom(engine)
    release = add_release(engine)
    assert release.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))

    def schedule(audience: Audience) -> None:
        schedule_send(engine, settings, release_id=release.id, audience=audience, now=utcnow())  # type: ignore[arg-type]

    with pytest.raises(ValidationError, match="column"):
        schedule(Audience(where='beats has "immigration" and'))
    with pytest.raises(NotFoundError, match="no saved segment"):
        schedule(Audience(segment="nope"))
    with pytest.raises(ValidationError, match="not both"):
        schedule(Audience(where='region = "CA"', segment="x"))
    with pytest.raises(ValidationError, match="is empty"):
        schedule(Audience(where='region = "ZZ"'))


def test_segments_from_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path
    assert run(folder, "init").returncode == 0
    csv = folder / "people.csv"
    csv.write_text(
        "email,region,beats,tags\n"
        "ana@ca.example,CA,immigration,\n"
        "ben@tx.example,TX,immigration;courts,do-not-contact\n"
        "cy@ny.example,NY,immigration,\n",
        encoding="utf-8",
    )
    assert run(folder, "contacts", "import", str(csv)).returncode == 0
    preview = run_json(folder, "segments", "preview", EXPRESSION, "--json")
    assert preview["count"] == 1
    assert [p["email"] for p in preview["sample"]] == ["ana@ca.example"]
    broken = run(folder, "segments", "preview", 'region = "CA" and and')
    assert broken.returncode == 1
    assert "column" in broken.stderr
    assert "^" in broken.stderr  # the caret under the mistake
    assert "Traceback" not in broken.stderr
    saved = run_json(folder, "segments", "save", "west", EXPRESSION, "--json")
    assert saved == {"name": "west", "expression": EXPRESSION, "replaced": False}
    listed = run_json(folder, "segments", "list", "--json")
    assert listed == [{"name": "west", "expression": EXPRESSION}]
