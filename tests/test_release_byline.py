"""Issue 12, point 4: a byline is never a headline, and a stale dated dateline is warned about.

The scraped page in ``fixtures/scraped_byline_page.txt`` is the shared sample 000 as a newsroom
page shows it without its headline: the site's skip link and hotline, the byline "By Javier
Hernandez", the body, and an "About the Author" section. It once imported with the title
"By Javier Hernandez" and no warning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from distro.errors import ValidationError
from distro.models import Release
from distro.releases import workflow
from distro.releases.bylines import find_byline, is_author_section
from distro.releases.datelines import STALE_DATELINE_DAYS, stale_dateline
from distro.releases.import_service import import_release
from distro.releases.importer import parse_release
from distro.releases.service import create_release
from distro.sending.scheduling import Audience, SendRequest, schedule
from tests.cli_support import run, run_json
from tests.conftest import make_settings
from tests.factories import add_contacts
from tests.test_release_cli import CONTACTS_CSV, one_line_error, workdir  # noqa: F401 (fixture)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCRAPED = FIXTURES / "scraped_byline_page.txt"
DATED = FIXTURES / "dated_dateline_release.txt"  # "MIAMI, March 3, 2021 — ..."
MARCH_3_2021 = date(2021, 3, 3)
HEADLINE = "With Joe Biden as President we must recommit our fight to protect immigrant lives"


def byline_warnings(warnings: list[str]) -> list[str]:
    return [w for w in warnings if w.startswith("byline ")]


# -- reading the page ---------------------------------------------------------------------------


def test_the_scraped_page_has_no_headline_and_its_byline_is_the_author() -> None:
    parsed = parse_release(SCRAPED.read_text(encoding="utf-8"))
    assert parsed.title == ""
    assert "no headline found" in parsed.warnings
    assert parsed.author == "Javier Hernandez"
    assert byline_warnings(parsed.warnings) == [
        "byline 'By Javier Hernandez' is not the headline: left out of the release "
        "(a release has no author field; author 'Javier Hernandez' is shown here only)"
    ]
    assert parsed.body.startswith("On Saturday, November 7th, Joseph Biden won")
    assert "By Javier Hernandez" not in parsed.body
    # The author's biography is closing text, not body.
    assert "Javier Hernandez is the director" not in parsed.body
    assert parsed.boilerplate.startswith("**About the Author**\n\nJavier Hernandez is the director")
    for debris in ("Skip to content", "Emergency Response Network", "909-361-4588"):
        assert debris not in parsed.body + parsed.boilerplate


def test_a_byline_under_a_headline_leaves_the_headline_and_the_body_alone() -> None:
    parsed = parse_release(
        "Harbor City Library Opens Its Newspaper Archive\n\n"
        "By Priya Raman and Tom Lee, Staff Writers\n\n"
        "HARBOR CITY, Ore. — The library today opened two million pages to search from home.\n"
    )
    assert parsed.title == "Harbor City Library Opens Its Newspaper Archive"
    assert parsed.author == "Priya Raman and Tom Lee"
    assert parsed.dateline == "HARBOR CITY, Ore."
    assert parsed.body == "The library today opened two million pages to search from home."
    assert len(byline_warnings(parsed.warnings)) == 1


def test_written_by_was_dropped_silently_as_debris_and_is_now_reported() -> None:
    parsed = parse_release(
        "Skip to content\n"
        "24/7 Emergency Hotline: call us at 909-361-4588 if ICE comes to your door\n\n"
        "Written by Javier Hernandez\n\n" + "The coalition answered every call this year. " * 6
    )
    assert parsed.title == ""
    assert parsed.author == "Javier Hernandez"
    assert byline_warnings(parsed.warnings)


@pytest.mark.parametrize(
    ("line", "author"),
    [
        ("By Javier Hernandez", "Javier Hernandez"),
        ("BY Javier Hernandez", "Javier Hernandez"),
        ("**By Jane Doe | March 3, 2021**", "Jane Doe"),
        ("By Javier Hernandez, Staff Writer", "Javier Hernandez"),
        ("By Ana Ruiz, Tom Lee and Bo Park", "Ana Ruiz, Tom Lee and Bo Park"),
        ("Written by Javier Hernandez — The Associated Press", "Javier Hernandez"),
        ("By Martin Luther King Jr.", "Martin Luther King Jr."),
        ("Por María de la Cruz", "María de la Cruz"),
        ("Par Jean Dupont, journaliste", "Jean Dupont"),
        ("Von Hans Müller", "Hans Müller"),
    ],
)
def test_byline_shapes(line: str, author: str) -> None:
    found = find_byline(line)
    assert found is not None
    assert found.author == author


@pytest.mark.parametrize(
    "line",
    [
        "By 2030, solar will power half the grid",
        "By the numbers",
        "By Jane Doe, Texas",
        "By Land and Sea: a history",
        "Di Maio says no",
        "By Jane Doe. She writes about cities.",
    ],
)
def test_headlines_and_sentences_that_start_like_a_byline_are_not_bylines(line: str) -> None:
    assert find_byline(line) is None


def test_author_sections() -> None:
    assert is_author_section("About the Author")
    assert is_author_section("**About the authors:**")
    assert is_author_section("Author bio")
    assert not is_author_section("About Acme")
    parsed = parse_release(
        "Acme Opens a Plant\n\nDENVER — Acme opened a plant today in the city.\n\n"
        "About the author\n\nJane Doe covers industry for the Acme newsroom.\n"
    )
    assert parsed.body == "Acme opened a plant today in the city."
    assert "Jane Doe covers industry" in parsed.boilerplate


# -- the service and the command line -----------------------------------------------------------


def test_the_service_refuses_a_page_with_no_headline_and_takes_a_given_title(
    engine: Engine,
) -> None:
    text = SCRAPED.read_text(encoding="utf-8")
    with pytest.raises(ValidationError) as refused:
        import_release(engine, text, source="page.txt")
    assert str(refused.value) == (
        "page.txt: no headline found (only page text and a byline before the body); "
        'give one with --title "..."'
    )
    with Session(engine) as session:
        assert session.get(Release, 1) is None  # nothing stored

    outcome = import_release(engine, text, source="page.txt", title=HEADLINE)
    assert outcome.release.title == HEADLINE
    assert outcome.author == "Javier Hernandez"
    assert "no headline found" not in outcome.warnings
    assert byline_warnings(outcome.warnings)
    assert not outcome.release.body_md.startswith("By ")


def test_release_import_asks_for_a_title_then_imports_with_it(workdir: Path) -> None:  # noqa: F811
    error = one_line_error(run(workdir, "release", "import", str(SCRAPED)))
    assert error == (
        f"error: {SCRAPED}: no headline found (only page text and a byline before the body); "
        'give one with --title "..."'
    )
    data = run_json(workdir, "release", "import", str(SCRAPED), "--title", HEADLINE, "--json")
    assert data["title"] == HEADLINE
    assert data["author"] == "Javier Hernandez"
    assert data["slug"].startswith("with-joe-biden-as-president")  # from the given title
    assert any(w.startswith("byline 'By Javier Hernandez'") for w in data["warnings"])
    assert data["body"].startswith("On Saturday, November 7th")
    assert "About the Author" not in data["body"]
    assert data["boilerplate"].startswith("**About the Author**")


# -- a dated dateline far from the moment the release goes out ---------------------------------


def test_stale_means_more_than_a_week_from_the_day_it_goes_out_in_its_zone() -> None:
    assert STALE_DATELINE_DAYS == 7
    week_on = datetime(2021, 3, 10, 12, 0, tzinfo=UTC)
    assert stale_dateline(MARCH_3_2021, week_on, "UTC") is None
    eight_days = datetime(2021, 3, 11, 3, 0, tzinfo=UTC)
    found = stale_dateline(MARCH_3_2021, eight_days, "UTC")
    assert found is not None
    assert found.days == 8
    # 03:00 UTC on the 11th is still the 10th in Los Angeles, where the send was entered.
    assert stale_dateline(MARCH_3_2021, eight_days, "America/Los_Angeles") is None
    assert stale_dateline(None, eight_days, "UTC") is None
    assert stale_dateline(date(2021, 3, 20), eight_days, "UTC") is not None  # ahead, too


def dated_release(engine: Engine, embargo_at: datetime | None = None) -> int:
    with Session(engine, expire_on_commit=False) as session:
        release = create_release(
            session,
            title="Miami Shelters Open Their Doors",
            body_md="Twelve shelters opened.",
            dateline="MIAMI",
            release_date=MARCH_3_2021,
            embargo_at=embargo_at,
        )
        session.commit()
    assert release.id is not None
    return release.id


def test_approve_warns_when_the_dateline_is_dated_far_from_today_or_the_lift(
    engine: Engine,
) -> None:
    stale = dated_release(engine)
    outcome = workflow.approve(engine, stale, datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    assert outcome.release.status == "approved"
    assert outcome.warnings == [
        "the dateline is dated March 3, 2021, 2103 days before today (2026-12-05): correct it "
        f"with `distro release edit {stale} --date YYYY-MM-DD`, print no date with "
        f"`distro release edit {stale} --no-date`, or change the place with `--dateline`"
    ]
    fresh = dated_release(engine)
    assert workflow.approve(engine, fresh, datetime(2021, 3, 5, tzinfo=UTC)).warnings == []
    # Under embargo, the lift is the moment it goes out, not the day it is approved.
    lifted = dated_release(engine, embargo_at=datetime(2021, 3, 4, 14, 0, tzinfo=UTC))
    assert workflow.approve(engine, lifted, datetime(2021, 2, 1, tzinfo=UTC)).warnings == []


def test_schedule_warns_when_the_dateline_is_dated_far_from_the_send(engine: Engine) -> None:
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    add_contacts(engine, 2, "press")
    release_id = dated_release(engine)
    now = datetime(2021, 3, 1, 9, 0, tzinfo=UTC)
    workflow.approve(engine, release_id, now)
    press = Audience(lists=["press"])

    on_time = schedule(
        engine,
        settings,
        SendRequest(release_id, press, at=datetime(2021, 3, 3, 9, tzinfo=UTC)),
        now,
    )
    assert on_time.warnings == []
    late = schedule(
        engine,
        settings,
        SendRequest(release_id, press, at=datetime(2026, 12, 7, 9, tzinfo=UTC)),
        now,
    )
    send_id = late.send.id
    assert late.warnings == [
        f"the dateline is dated March 3, 2021, 2105 days before send {send_id} goes out "
        f"(2026-12-07): to correct it, `distro send cancel {send_id}`, then `distro release edit "
        f"{release_id} --date YYYY-MM-DD` (or `--no-date`), approve and schedule again"
    ]
    assert late.as_dict()["warnings"] == late.warnings


def test_approve_and_schedule_warn_on_the_command_line_and_the_way_out_works(
    workdir: Path,  # noqa: F811
) -> None:
    imported = run_json(workdir, "release", "import", str(DATED), "--json")
    assert (imported["dateline"], imported["release_date"]) == ("MIAMI", "2021-03-03")
    rid = str(imported["id"])

    approved = run(workdir, "release", "approve", rid)
    assert approved.returncode == 0, approved.stderr
    lines = approved.stdout.splitlines()
    assert lines[0].startswith(f"Approved release {rid} (approved): Miami Shelters")
    assert lines[1].startswith("  warning: the dateline is dated March 3, 2021, ")
    assert f"`distro release edit {rid} --date YYYY-MM-DD`" in lines[1]

    (workdir / "contacts.csv").write_text(CONTACTS_CSV, encoding="utf-8")
    run_json(workdir, "contacts", "import", "contacts.csv", "--list", "press", "--json")
    scheduled = run(
        workdir,
        "send",
        "schedule",
        rid,
        "--list",
        "press",
        "--at",
        "2030-12-05 09:00 Europe/Madrid",
    )
    assert scheduled.returncode == 0, scheduled.stderr
    assert (
        "  warning: the dateline is dated March 3, 2021, 3564 days before send 1 goes out "
        "(2030-12-05): to correct it, `distro send cancel 1`, then "
        f"`distro release edit {rid} --date YYYY-MM-DD` (or `--no-date`), approve and schedule "
        "again"
    ) in scheduled.stdout.splitlines()

    # The way out the warning names.
    assert run(workdir, "send", "cancel", "1").returncode == 0
    bad = one_line_error(run(workdir, "release", "edit", rid, "--date", "3 March"))
    assert bad == "error: --date '3 March' is not a YYYY-MM-DD date"
    both = one_line_error(run(workdir, "release", "edit", rid, "--date", "2030-12-05", "--no-date"))
    assert both == "error: give --date or --no-date, not both"
    edited = run_json(workdir, "release", "edit", rid, "--date", "2030-12-04", "--json")
    assert (edited["release_date"], edited["status"]) == ("2030-12-04", "draft")
    run_json(workdir, "release", "approve", rid, "--json")
    again = run_json(
        workdir,
        *("send", "schedule", rid, "--list", "press"),
        *("--at", "2030-12-05 09:00 Europe/Madrid", "--json"),
    )
    assert again["warnings"] == []
    assert run_json(workdir, "send", "cancel", str(again["send_id"]), "--json")
    undated = run_json(workdir, "release", "edit", rid, "--no-date", "--json")
    assert undated["release_date"] is None
    assert run_json(workdir, "release", "approve", rid, "--json")["warnings"] == []
