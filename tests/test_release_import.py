"""The press-release importer: the shared real samples, releases written here in many house
styles, and malformed input. Every expectation was decided by reading the text, not the output."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from distro.errors import ValidationError
from distro.releases.importer import ImportedContact, ImportedRelease, parse_release

# Copies of the shared real samples (/work/shared/samples/releases), names kept, in the repository
# so these tests never depend on what sits beside the clone.
SAMPLES = Path(__file__).resolve().parent / "fixtures" / "releases"
DEBRIS = ("Skip to content", "Spread the love", "Emergency Response Network", "909-361-4588")


def sample(prefix: str) -> ImportedRelease:
    (path,) = SAMPLES.glob(f"{prefix}_*.txt")  # exactly one; a missing fixture fails, not skips
    return parse_release(path.read_text(encoding="utf-8"))


def paragraphs(markdown: str) -> list[str]:
    return markdown.split("\n\n")


def assert_no_debris(release: ImportedRelease) -> None:
    for text in (*DEBRIS, "For Immediate Release", "[email"):
        assert text.lower() not in release.body.lower()
        assert text.lower() not in release.boilerplate.lower()


# -- the shared samples ------------------------------------------------------------------------


def test_sample_000_statement_with_phone_banner_and_dateline_alone() -> None:
    release = sample("000")
    assert release.title == (
        "With Joe Biden as President we must recommit our fight to protect immigrant lives"
    )
    assert release.subtitle == ""
    assert release.dateline == "San Bernardino, CA"
    assert release.release_date == date(2020, 11, 7)
    assert release.embargo_at is None
    assert release.contacts == [ImportedContact(name="Armando Carmona", phone="(951) 966-6500")]
    assert "contact Armando Carmona: no email address given" in release.warnings
    assert release.body.startswith("On Saturday, November 7th, Joseph Biden won")
    assert release.body.endswith("ensure our immigrant communities feel safe.")
    assert len(paragraphs(release.body)) == 7
    assert "The Inland Coalition for Immigrant Justice issued the following statement:" in (
        paragraphs(release.body)
    )
    assert release.boilerplate == ""
    assert any(w.startswith("no boilerplate found") for w in release.warnings)
    assert_no_debris(release)
    assert "  " not in release.body
    assert "\u00a0" not in release.body


def test_sample_001_statement_without_header_details() -> None:
    release = sample("001")
    assert release.title == (
        "Immigrant Justice Network Calls on Next Administration to Forge a New Way Forward "
        "Toward Dignity and Justice"
    )
    assert (release.subtitle, release.dateline, release.release_date) == ("", "", None)
    assert release.contacts == []
    assert release.warnings == [
        "no dateline found (a place such as 'CHICAGO' opening the text)",
        "no release date found",
        "no media contacts found",
    ]
    body = paragraphs(release.body)
    assert body[0].startswith("In response to the 2020 election results, the Immigrant Justice")
    assert body[-1].startswith("Together, through true solidarity and organizing")
    assert len(body) == 6
    tail = paragraphs(release.boilerplate)
    assert len(tail) == 2
    assert all(p.startswith("The Immigrant Justice Network is") for p in tail)
    assert "Immigrant Justice Network is" not in release.body


def test_sample_002_joint_statement_with_redacted_emails_and_bullets() -> None:
    release = sample("002")
    assert release.title == "President Biden: Honor Your Commitments to Migrant Communities"
    assert release.subtitle == (
        "Immigrant communities eagerly await tangible changes that can improve their lives"
    )
    assert release.dateline == "CHICAGO"
    assert release.release_date == date(2021, 2, 2)
    assert release.contacts == [
        ImportedContact(name="Fernanda Durand", phone="(214) 402-0186"),
        ImportedContact(name="Nancy Trevi\u00f1o", phone="(786) 201-8958"),
    ]
    assert all(contact.email == "" for contact in release.contacts)
    assert "contact Fernanda Durand: email address is redacted ('[email protected]')" in (
        release.warnings
    )
    assert "contact Nancy Trevi\u00f1o: email address is redacted ('[email protected]')" in (
        release.warnings
    )
    body = paragraphs(release.body)
    assert body[0] == "The following is a joint statement from and Alianza Americas:"
    assert body[1].startswith("Today, President Joe Biden signed a series of immigration")
    assert "CHICAGO" not in release.body
    bullets = [line for line in release.body.splitlines() if line.startswith("- ")]
    assert len(bullets) == 3
    assert bullets[0].startswith("- Ensure immediate processing and entry to asylum seekers")
    assert bullets[2] == (
        "- Increase the refugee quota in the U.S. to 125,000 and rebuild the resettlement program."
    )
    assert "\u2022" not in release.body
    assert release.boilerplate.startswith("Alianza Americas is a network of migrant-led")
    assert "Alianza Americas is a network" not in release.body
    assert_no_debris(release)
    assert not any("boilerplate" in w or "dateline" in w for w in release.warnings)


# -- releases in other house styles ------------------------------------------------------------

WIRE = """\
Acme Robotics Unveils Warehouse Robot That Learns From a Single Demonstration

New arm cuts setup time for small warehouses from weeks to hours

LOS ANGELES, Nov. 3, 2020 /PRNewswire/ -- Acme Robotics, Inc. today announced the Acme Arm, a \
robot that learns a picking task after watching a worker do it once.

"Small warehouses cannot wait weeks for an integrator," said Jane Smith, chief executive of \
Acme Robotics.

The Acme Arm ships in the first quarter of 2021.

About Acme Robotics
Acme Robotics, Inc. is a Los Angeles company that builds robots for small warehouses. For more \
information, visit www.acmerobotics.example.

Media Contact:
Jane Smith
Acme Robotics
+1 (213) 555-0147
press@acmerobotics.example

SOURCE Acme Robotics, Inc.
"""


def test_wire_service_release() -> None:
    release = parse_release(WIRE)
    assert release.title == (
        "Acme Robotics Unveils Warehouse Robot That Learns From a Single Demonstration"
    )
    assert release.subtitle == "New arm cuts setup time for small warehouses from weeks to hours"
    assert release.dateline == "LOS ANGELES"
    assert release.release_date == date(2020, 11, 3)
    assert release.contacts == [
        ImportedContact(
            name="Jane Smith",
            phone="+1 (213) 555-0147",
            email="press@acmerobotics.example",
            role="Acme Robotics",
        )
    ]
    assert release.body.startswith("Acme Robotics, Inc. today announced the Acme Arm")
    assert release.body.endswith("The Acme Arm ships in the first quarter of 2021.")
    assert len(paragraphs(release.body)) == 3
    assert release.boilerplate == (
        "**About Acme Robotics**\n\nAcme Robotics, Inc. is a Los Angeles company that builds "
        "robots for small warehouses. For more information, visit www.acmerobotics.example."
    )
    assert "SOURCE" not in release.boilerplate
    assert release.warnings == []


MARKDOWN = """\
Harbor City Public Library

# Harbor City Library opens 120 years of newspapers to the public

## Two million digitised pages, free to search from home

**EMBARGOED UNTIL 9:00 a.m. ET, Tuesday, March 3, 2026**

Date: 2026-03-03

HARBOR CITY, Ore. — The Harbor City Public Library today opened **The Harbor Record
Archive**, a free online collection of every issue of the city's four newspapers
published between 1901 and 2021.

What the archive offers:

* full-text search across *all* 2.1 million pages;
* maps that link articles to the streets they mention;
* a reading room for reporters.

> "Local news is the first draft of a city's memory," said Dana Whitfield,
> director of the library.

## About the Harbor City Public Library

The Harbor City Public Library serves 180,000 residents from a central library and six
branches. It was founded in 1894.

### Media contact

Priya Raman, Communications Manager, +1 503 555 0142, press@harborcitylibrary.example
"""


def test_markdown_release_with_embargo_in_eastern_time() -> None:
    release = parse_release(MARKDOWN)
    assert release.title == "Harbor City Library opens 120 years of newspapers to the public"
    assert release.subtitle == "Two million digitised pages, free to search from home"
    assert release.dateline == "HARBOR CITY, Ore."
    assert release.release_date == date(2026, 3, 3)
    assert release.embargo_at == datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
    assert release.embargo_tz == "America/New_York"
    assert release.contacts == [
        ImportedContact(
            name="Priya Raman",
            phone="+1 503 555 0142",
            email="press@harborcitylibrary.example",
            role="Communications Manager",
        )
    ]
    assert paragraphs(release.body) == [
        "The Harbor City Public Library today opened **The Harbor Record Archive**, a free "
        "online collection of every issue of the city's four newspapers published between "
        "1901 and 2021.",
        "What the archive offers:",
        "- full-text search across *all* 2.1 million pages;\n"
        "- maps that link articles to the streets they mention;\n"
        "- a reading room for reporters.",
        '> "Local news is the first draft of a city\'s memory," said Dana Whitfield,\n'
        "> director of the library.",
    ]
    assert release.boilerplate == (
        "**About the Harbor City Public Library**\n\nThe Harbor City Public Library serves "
        "180,000 residents from a central library and six branches. It was founded in 1894."
    )
    assert release.warnings == [
        "dropped short lines before the headline as page text: 'Harbor City Public Library'"
    ]


CRLF_PLAIN = (
    "   Skip to main content\r\n"
    "Home | News | Press Releases | Contact Us\r\n"
    "\r\n"
    "  Coalition Urges Congress to Fund\u00a0Rural Broadband Maps\r\n"
    "\r\n"
    "Embargoed until 2026-03-03 09:00 America/New_York\r\n"
    "Feb. 27, 2026\r\n"
    "Maria L\u00f3pez | 202-555-0114 | maria@ruralnet.example\r\n"
    "Tom O\u2019Neil | (202) 555-0175 | tom.oneil@ruralnet.example\r\n"
    "\r\n"
    "(Washington)\u2014The Rural Broadband Coalition asked Congress on Friday to fund\u00a0new\r\n"
    "   coverage maps before the next grant round.\r\n"
    "\r\n"
    "\u201cYou cannot fix a gap you cannot see,\u201d said Maria L\u00f3pez.\r\n"
    "\r\n"
    "Share this:\r\n"
    "Facebook Twitter LinkedIn Email\r\n"
    "\r\n"
    "The Rural Broadband Coalition is a coalition of 140 cooperatives and towns working to "
    "bring fast internet to rural America.\r\n"
    "\r\n"
    "We use cookies to improve your experience. Accept all cookies\r\n"
)


def test_plain_text_with_crlf_indentation_and_page_debris() -> None:
    release = parse_release(CRLF_PLAIN)
    assert release.title == "Coalition Urges Congress to Fund Rural Broadband Maps"
    assert release.dateline == "Washington"
    assert release.release_date == date(2026, 2, 27)
    assert release.embargo_at == datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
    assert release.embargo_tz == "America/New_York"
    assert release.contacts == [
        ImportedContact("Maria L\u00f3pez", "202-555-0114", "maria@ruralnet.example"),
        ImportedContact("Tom O\u2019Neil", "(202) 555-0175", "tom.oneil@ruralnet.example"),
    ]
    assert paragraphs(release.body) == [
        "The Rural Broadband Coalition asked Congress on Friday to fund new coverage maps "
        "before the next grant round.",
        "\u201cYou cannot fix a gap you cannot see,\u201d said Maria L\u00f3pez.",
    ]
    assert release.boilerplate.startswith("The Rural Broadband Coalition is a coalition of 140")
    assert "cookies" not in release.boilerplate
    assert "\r" not in release.body + release.boilerplate
    assert release.warnings == []


AP_STYLE = """\
Senate passes water bill after all-night session

WASHINGTON (AP) — The Senate passed a $40 billion water infrastructure bill early Wednesday.

The bill now goes to the House, where leaders said it would be taken up next week.
"""


def test_news_agency_style_without_contacts_or_boilerplate() -> None:
    release = parse_release(AP_STYLE)
    assert release.title == "Senate passes water bill after all-night session"
    assert release.dateline == "WASHINGTON"
    assert release.body.startswith("The Senate passed a $40 billion water infrastructure bill")
    assert release.contacts == []
    assert release.warnings == [
        "no boilerplate found: no 'About ...' section or closing organisation description",
        "no release date found",
        "no media contacts found",
    ]


IMMEDIATE_IN_BODY = """\
FOR IMMEDIATE RELEASE

City Council Approves Emergency Repairs to Main Street Bridge

CHICAGO, Ill. — The City Council voted 12-3 on Monday to approve emergency repairs.

The motion asked the mayor's office for immediate release of $2 million from the reserve \
fund, and noted that the money was set aside for immediate release in emergencies. For \
immediate release of the lane closures, drivers should check the city website.

Greenfield Partners is a firm that inspected the bridge in 2024; its report found rust in \
two of the six supports.

Repairs begin next month.

Contact: Lee Chan, Press Secretary, 312-555-0199, lee.chan@cityofchicago.example
"""


def test_immediate_release_inside_a_sentence_and_org_paragraph_mid_body() -> None:
    release = parse_release(IMMEDIATE_IN_BODY)
    assert release.title == "City Council Approves Emergency Repairs to Main Street Bridge"
    assert release.dateline == "CHICAGO, Ill."
    assert "FOR IMMEDIATE RELEASE" not in release.body
    assert "for immediate release of $2 million" in release.body
    assert "For immediate release of the lane closures" in release.body
    body = paragraphs(release.body)
    assert body[0] == "The City Council voted 12-3 on Monday to approve emergency repairs."
    assert body[2].startswith("Greenfield Partners is a firm that inspected the bridge")
    assert body[-1] == "Repairs begin next month."
    assert release.boilerplate == ""
    assert release.contacts == [
        ImportedContact(
            "Lee Chan", "312-555-0199", "lee.chan@cityofchicago.example", "Press Secretary"
        )
    ]
    assert release.embargo_at is None


INTERNATIONAL = """\
EMBARGO: 03/03/2026 09:00 GMT

Europe's Largest Seed Bank Opens Its Catalogue to Farmers

London, UK \u2013 3 March 2026 \u2013 The European Seed Trust today published its full catalogue.

Press contacts:
Sophie Martin, +33 1 23 45 67 89, sophie.martin@seedtrust.example
Jonas Weber, +49 (0)30 1234567, jonas.weber@seedtrust.example
Amelia Hughes, +44 20 7946 0958, amelia.hughes@seedtrust.example

###

About the European Seed Trust
The European Seed Trust is a foundation that keeps 1.2 million seed samples in trust for \
farmers.
"""


def test_international_phones_numeric_embargo_and_end_mark() -> None:
    release = parse_release(INTERNATIONAL)
    assert release.title == "Europe's Largest Seed Bank Opens Its Catalogue to Farmers"
    assert release.dateline == "London, UK"
    assert release.release_date == date(2026, 3, 3)
    assert release.embargo_at == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert release.embargo_tz == "UTC"
    assert [(c.name, c.phone, c.email) for c in release.contacts] == [
        ("Sophie Martin", "+33 1 23 45 67 89", "sophie.martin@seedtrust.example"),
        ("Jonas Weber", "+49 (0)30 1234567", "jonas.weber@seedtrust.example"),
        ("Amelia Hughes", "+44 20 7946 0958", "amelia.hughes@seedtrust.example"),
    ]
    assert release.body == "The European Seed Trust today published its full catalogue."
    assert release.boilerplate.startswith("**About the European Seed Trust**\n\nThe European")
    assert "###" not in release.body + release.boilerplate
    assert release.warnings == []


@pytest.mark.parametrize(
    ("line", "expected_utc", "zone"),
    [
        (
            "EMBARGOED UNTIL 9:00 a.m. ET, Tuesday, March 3, 2026",
            (2026, 3, 3, 14, 0),
            "America/New_York",
        ),
        (
            "Embargoed until 2026-03-03 09:00 America/New_York",
            (2026, 3, 3, 14, 0),
            "America/New_York",
        ),
        ("EMBARGO: 03/03/2026 09:00 GMT", (2026, 3, 3, 9, 0), "UTC"),
        ("Embargoed until 00:01 BST, 4 June 2026", (2026, 6, 3, 23, 1), "Europe/London"),
        (
            "Embargoed until 12:01 a.m. CET on Monday, March 2, 2026",
            (2026, 3, 1, 23, 1),
            "Europe/Paris",
        ),
        ("Embargoed until 6 p.m. PT July 1, 2026", (2026, 7, 2, 1, 0), "America/Los_Angeles"),
        ("Embargoed until 10:30 CT, Jan. 15, 2026", (2026, 1, 15, 16, 30), "America/Chicago"),
        ("Under embargo until noon MT, 2 February 2026", (2026, 2, 2, 19, 0), "America/Denver"),
        ("Embargo: 2026-03-03T14:00:00Z", (2026, 3, 3, 14, 0), "UTC"),
        (
            "EMBARGOED: not for publication or broadcast before 09:00 PST on Sunday 22 November "
            "2026 (17:00 UTC).",
            (2026, 11, 22, 17, 0),
            "America/Los_Angeles",
        ),
    ],
)
def test_embargo_lines_in_several_zones_and_formats(
    line: str, expected_utc: tuple[int, int, int, int, int], zone: str
) -> None:
    release = parse_release(f"{line}\n\nMuseum Reopens After Two-Year Renovation\n\nText.\n")
    assert release.embargo_at == datetime(*expected_utc, tzinfo=UTC)
    assert release.embargo_tz == zone
    assert not any("embargo" in warning for warning in release.warnings)
    assert release.title == "Museum Reopens After Two-Year Renovation"


def test_embargo_in_an_unknown_zone_uses_the_default_zone_and_warns() -> None:
    text = "Embargoed until 10am AEST 4 March 2026\n\nReef Survey Finds Coral Recovery\n\nText.\n"
    release = parse_release(text, default_zone="Australia/Sydney")
    assert release.embargo_at == datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
    assert release.embargo_tz == "Australia/Sydney"
    assert "embargo time zone 'AEST' is not recognised; assumed Australia/Sydney" in (
        release.warnings
    )


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("Embargoed until further notice", "has no readable date"),
        ("EMBARGOED UNTIL March 3, 2026", "has no readable time"),
        ("Embargoed until 9:00 ET March 3, 2026 or 10:00 CT March 4, 2026", "more numbers"),
    ],
)
def test_unreadable_embargo_is_a_warning_not_a_guess(line: str, complaint: str) -> None:
    release = parse_release(f"{line}\n\nMuseum Reopens After Two-Year Renovation\n\nText.\n")
    assert release.embargo_at is None
    assert any(w.startswith(f"embargo line {line!r}") and complaint in w for w in release.warnings)


def test_embargo_weekday_that_contradicts_the_date_is_reported() -> None:
    line = "Embargoed until 9:00 a.m. ET, Monday, March 3, 2026"
    release = parse_release(f"{line}\n\nMuseum Reopens After Two-Year Renovation\n\nText.\n")
    assert release.embargo_at == datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
    assert any("says Monday" in w and "Tuesday" in w for w in release.warnings)


OBFUSCATED = """\
Food Bank Opens Second Warehouse in Fresno

FRESNO, Calif. — The Central Valley Food Bank opened a second warehouse on Tuesday.

Media contact: Rosa Diaz, Communications Director, (559) 555-0123, rosa [at] cvfoodbank [dot] org
Contact: Sam Patel, 559.555.0188; Ana Ruiz, +1 559 555 0190, ana@cvfoodbank.example

About the Central Valley Food Bank: The Central Valley Food Bank is a nonprofit that feeds \
280,000 people a month. Learn more at cvfoodbank.example.
"""


def test_obfuscated_email_and_several_contacts_on_one_line() -> None:
    release = parse_release(OBFUSCATED)
    assert release.contacts == [
        ImportedContact("Rosa Diaz", "(559) 555-0123", "", "Communications Director"),
        ImportedContact("Sam Patel", "559.555.0188"),
        ImportedContact("Ana Ruiz", "+1 559 555 0190", "ana@cvfoodbank.example"),
    ]
    assert (
        "contact Rosa Diaz: email address is obfuscated ('rosa [at] cvfoodbank [dot] org')"
        in release.warnings
    )
    assert "contact Sam Patel: no email address given" in release.warnings
    assert not any("Ana Ruiz" in w for w in release.warnings)
    assert "cvfoodbank" not in release.body
    assert release.body == ("The Central Valley Food Bank opened a second warehouse on Tuesday.")
    assert release.boilerplate.startswith(
        "**About the Central Valley Food Bank**\n\nThe Central Valley Food Bank is a nonprofit"
    )


PAGE_WITH_DEBRIS = """\
Skip to content
Menu
Home » News » 2021
Posted on March 2, 2021 by admin

Tenants Win Repairs at 40 Buildings After Rent Strike

Hotline: 1-800-555-0100

For Immediate Release //
March 2, 2021
Contact: Dee Brown, dee@tenantsunion.example

BALTIMORE \u2013 Tenants in 40 buildings will get new boilers and roofs under an agreement signed \
Monday.

Tweet
Share this:
Print

The agreement follows a four-month rent strike.

Tags: housing, tenants
-30-
Like this:
Like Loading...
Related
"""


def test_page_debris_is_dropped_and_an_ambiguous_phone_line_is_reported() -> None:
    release = parse_release(PAGE_WITH_DEBRIS)
    assert release.title == "Tenants Win Repairs at 40 Buildings After Rent Strike"
    assert release.dateline == "BALTIMORE"
    assert release.release_date == date(2021, 3, 2)
    assert release.contacts == [ImportedContact("Dee Brown", "", "dee@tenantsunion.example")]
    assert paragraphs(release.body) == [
        "Tenants in 40 buildings will get new boilers and roofs under an agreement signed Monday.",
        "The agreement follows a four-month rent strike.",
    ]
    assert "dropped 'Hotline: 1-800-555-0100': a phone line that names no person" in (
        release.warnings
    )
    assert not any("before the headline" in w for w in release.warnings)


@pytest.mark.parametrize(
    ("paragraph", "place", "rest"),
    [
        ("CHICAGO \u2013 Today the city opened.", "CHICAGO", "Today the city opened."),
        ("CHICAGO, Ill. \u2014 Today the city opened.", "CHICAGO, Ill.", "Today the city opened."),
        ("(Washington)\u2014Today the city opened.", "Washington", "Today the city opened."),
        ("WASHINGTON (AP) \u2014 Today the city opened.", "WASHINGTON", "Today the city opened."),
        ("ST. LOUIS - Today the city opened.", "ST. LOUIS", "Today the city opened."),
        ("NEW YORK, NY, March 3, 2026 \u2014 Today opened.", "NEW YORK, NY", "Today opened."),
    ],
)
def test_dateline_shapes(paragraph: str, place: str, rest: str) -> None:
    release = parse_release(f"Town Opens Its First Public Pool\n\n{paragraph}\n\nMore text.\n")
    assert release.dateline == place
    assert paragraphs(release.body)[0] == rest


@pytest.mark.parametrize(
    "paragraph",
    [
        "However, Biden \u2014 who spoke first \u2014 said little.",
        "UPDATE \u2014 The pool opens on Sunday.",
        "Today \u2014 for the first time \u2014 the pool is open.",
    ],
)
def test_sentences_that_resemble_datelines_are_left_alone(paragraph: str) -> None:
    release = parse_release(f"Town Opens Its First Public Pool\n\n{paragraph}\n")
    assert release.dateline == ""
    assert release.body == paragraph


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("November 7th, 2020", date(2020, 11, 7)),
        ("February 2, 2021", date(2021, 2, 2)),
        ("2021-02-02", date(2021, 2, 2)),
        ("Feb. 2, 2021", date(2021, 2, 2)),
        ("Tuesday, 2 February 2021", date(2021, 2, 2)),
        ("Sept. 30, 2021", date(2021, 9, 30)),
        ("FOR IMMEDIATE RELEASE: February 2, 2021", date(2021, 2, 2)),
    ],
)
def test_date_lines(line: str, expected: date) -> None:
    release = parse_release(f"Town Opens Its First Public Pool\n{line}\n\nThe pool opened.\n")
    assert release.release_date == expected
    assert release.body == "The pool opened."


def test_ambiguous_numeric_date_is_read_month_first_and_reported() -> None:
    release = parse_release("Town Opens Its First Public Pool\n03/04/2021\n\nThe pool opened.\n")
    assert release.release_date == date(2021, 3, 4)
    assert any("could be day/month or month/day" in w for w in release.warnings)


def test_two_different_dates_keep_the_first_and_warn() -> None:
    text = "Town Opens Its First Public Pool\nMarch 4, 2021\nMarch 5, 2021\n\nThe pool opened.\n"
    release = parse_release(text)
    assert release.release_date == date(2021, 3, 4)
    assert any(w.startswith("two release dates: 2021-03-04") for w in release.warnings)


@pytest.mark.parametrize("marker", ["\u2022", "\u00b7", "*", "\u2013", "\u25aa", "-"])
def test_bullet_characters_become_markdown_items(marker: str) -> None:
    text = (
        f"Town Opens Its First Public Pool\n\nThe pool has:\n\n{marker} a slide\n{marker} a cafe\n"
    )
    release = parse_release(text)
    assert release.body == "The pool has:\n\n- a slide\n- a cafe"


@pytest.mark.parametrize(
    "marker",
    ["FOR IMMEDIATE RELEASE", "For Immediate Release //", "for immediate release:",
     "**FOR IMMEDIATE RELEASE**", "*** For Immediate Release ***", "Immediate Release"],
)  # fmt: skip
def test_release_markers_are_dropped_without_an_embargo(marker: str) -> None:
    release = parse_release(f"{marker}\nTown Opens Its First Public Pool\n\nThe pool opened.\n")
    assert release.title == "Town Opens Its First Public Pool"
    assert release.body == "The pool opened."
    assert release.embargo_at is None


def test_vertical_contact_block_at_the_end_with_a_label_line_alone() -> None:
    text = (
        "Town Opens Its First Public Pool\n\nThe pool opened on Saturday.\n\n"
        "For media inquiries, contact:\n\nKim Lee\nParks Department\n+1 (555) 010-2030\n"
        "Fax: +1 (555) 010-9999\nkim.lee@parks.example\n"
    )
    release = parse_release(text)
    assert release.contacts == [
        ImportedContact("Kim Lee", "+1 (555) 010-2030", "kim.lee@parks.example", "Parks Department")
    ]
    assert release.body == "The pool opened on Saturday."


def test_headline_that_reads_like_a_sentence_is_kept_with_a_warning() -> None:
    release = parse_release("The pool opened today.\n\nIt has a slide.\n")
    assert release.title == "The pool opened today."
    assert "headline 'The pool opened today.' reads like a sentence; check it" in release.warnings


def test_boilerplate_needs_a_body_before_it() -> None:
    text = "Acme Opens a Lab\n\nAcme Corp is a company that makes anvils.\n"
    release = parse_release(text)
    assert release.body == "Acme Corp is a company that makes anvils."
    assert release.boilerplate == ""


CONTACT_FIRST = """\
MEDIA CONTACT:
Jane Doe
Director of Communications, Acme Corp.
(555) 123-4567
jane.doe@acme.example

FOR IMMEDIATE RELEASE

ACME CORP ANNOUNCES RECORD THIRD QUARTER
Sales up 40 percent on new anvil line

DENVER, Colo. (March 3, 2026) \u2013 Acme Corp. today reported record sales.

Acme Corp. (NYSE: ACME) is the world's leading maker of anvils. Visit acme.example.
"""


def test_contact_block_above_the_headline_and_deck_right_under_it() -> None:
    release = parse_release(CONTACT_FIRST)
    assert release.title == "ACME CORP ANNOUNCES RECORD THIRD QUARTER"
    assert release.subtitle == "Sales up 40 percent on new anvil line"
    assert release.dateline == "DENVER, Colo."
    assert release.release_date == date(2026, 3, 3)
    assert release.contacts == [
        ImportedContact(
            "Jane Doe",
            "(555) 123-4567",
            "jane.doe@acme.example",
            "Director of Communications, Acme Corp.",
        )
    ]
    assert release.body == "Acme Corp. today reported record sales."
    assert release.boilerplate.startswith("Acme Corp. (NYSE: ACME) is the world's leading maker")
    assert release.warnings == []


def test_unlabelled_contact_block_after_the_end_mark_and_a_spam_cloaked_email() -> None:
    text = (
        "Town Opens Its First Public Pool\n\nBy Jane Doe\n\nThe pool opened.\n\n-30-\n\n"
        "Jane Doe\n555-010-2030\njane@town.example\n\n"
        "Contact: Bo Li, This email address is being protected from spambots. You need "
        "JavaScript enabled to view it.\n"
    )
    release = parse_release(text)
    assert release.contacts == [
        ImportedContact("Jane Doe", "555-010-2030", "jane@town.example"),
        ImportedContact("Bo Li"),
    ]
    assert any(w.startswith("contact Bo Li: email address is redacted") for w in release.warnings)
    # The byline is a credit, not body text (issue 12): reported, and kept as the author.
    assert release.body == "The pool opened."
    assert release.author == "Jane Doe"
    assert any(w.startswith("byline 'By Jane Doe'") for w in release.warnings)
    assert release.boilerplate == ""


# -- malformed input ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\t\r\n\u00a0 "])
def test_empty_text_is_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationError, match="nothing to import"):
        parse_release(text)


def test_unknown_default_zone_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        parse_release("Headline Goes Here\n\nBody.\n", default_zone="Mars/Olympus")


def test_only_page_debris_gives_an_empty_draft_with_warnings() -> None:
    release = parse_release("Skip to content\nShare this:\nFacebook\nTwitter\n###\n")
    assert release.title == ""
    assert (release.body, release.boilerplate, release.contacts) == ("", "", [])
    assert "no headline found" in release.warnings
    assert "no body text found" in release.warnings


def test_one_long_paragraph_is_body_without_a_headline() -> None:
    text = " ".join(["The council met for a long time and talked about many things."] * 6)
    release = parse_release(text)
    assert release.title == ""
    assert release.body == text
    assert "no headline found" in release.warnings


def test_control_characters_and_invisible_marks_are_removed() -> None:
    release = parse_release("\ufeffTown\u200b Opens Its First\x00 Pool\n\nThe pool\x07 opened.\n")
    assert release.title == "Town Opens Its First Pool"
    assert release.body == "The pool opened."


def test_headline_only() -> None:
    release = parse_release("Town Opens Its First Public Pool")
    assert release.title == "Town Opens Its First Public Pool"
    assert release.body == ""
    assert "no body text found" in release.warnings
