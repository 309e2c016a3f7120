"""Issue 12, point 4: a byline is never a headline, and a stale dated dateline is warned about.

The scraped page in ``fixtures/scraped_byline_page.txt`` is the shared sample 000 as a newsroom
page shows it without its headline: the site's skip link and hotline, the byline "By Javier
Hernandez", the body, and an "About the Author" section. It once imported with the title
"By Javier Hernandez" and no warning.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from distro.errors import ValidationError
from distro.models import Release
from distro.releases.bylines import find_byline, is_author_section
from distro.releases.import_service import import_release
from distro.releases.importer import parse_release
from tests.cli_support import run, run_json
from tests.test_release_cli import one_line_error, workdir  # noqa: F401 (a fixture)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCRAPED = FIXTURES / "scraped_byline_page.txt"
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
    assert data["slug"].startswith("with-joe-biden-as-president")  # from the given title
    assert any(w.startswith("byline 'By Javier Hernandez'") for w in data["warnings"])
    assert data["body"].startswith("On Saturday, November 7th")
    assert "About the Author" not in data["body"]
    assert data["boilerplate"].startswith("**About the Author**")
