"""Property tests over the parsers of hostile text: the release importer (file checks and
parser), the contact CSV importer and the segment parser. Whatever the input, each ends in a
result or in distro's own error type, never another exception, within a deadline generous for
the sizes drawn (a 2-core machine shared with other work); the bench scripts measure speed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from distro.audience.importer import import_contacts
from distro.audience.segment_parser import parse
from distro.audience.segments import SegmentError, compile_where
from distro.errors import DistroError, ValidationError
from distro.releases.import_source import release_text
from distro.releases.importer import parse_release

#: Far above what a parser takes for the largest input drawn here, even on a busy machine.
DEADLINE = timedelta(seconds=3)
EXAMPLES = 60
NOW = datetime(2026, 3, 1, tzinfo=UTC)

#: Pieces of real releases and of hostile ones, so drawn text has the shapes the importer looks
#: for (contacts, cloaks, stars, datelines, markers) and not just random characters.
RELEASE_PIECES = [
    "Contact: Jane Doe, (951) 966-6500",
    " | ",
    "; ",
    "jane@x.org",
    "j***@x.org",
    "[email protected]",
    "This email address is being protected from spambots. You need JavaScript enabled to view it.",
    "x [at] y [dot] org",
    "fax 555 123 4567",
    "CHICAGO \u2013 ",
    "For Immediate Release",
    "EMBARGOED UNTIL 9:00 a.m. ET, March 3, 2026",
    "February 2, 2021",
    "About Acme: Acme is a network of groups.",
    "###",
    "\n",
    "\n\n",
    "**",
    "# ",
    "- ",
]
release_texts = st.lists(
    st.one_of(st.sampled_from(RELEASE_PIECES), st.text(max_size=40)), max_size=60
).map("".join)

SEGMENT_PIECES = [
    "(", ")", "not ", " and ", " or ", 'region = "CA"', "beats has", ' "x"', "in_list(",
    "opened(within 30d)", "custom.", "desk", " in (", ",", "received(release = 1)", '"', "\\",
]  # fmt: skip
segment_texts = st.lists(
    st.one_of(st.sampled_from(SEGMENT_PIECES), st.text(max_size=10)), max_size=80
).map("".join)

CSV_PIECES = [
    "email,first_name,last_name,beats\n",
    "a@x.org,Ana,Li,politics\n",
    '"',
    ",",
    "\n",
    "\x00",
    "email,email\n",
    "bad-address,,,\n",
    "=HYPERLINK()",
]


@settings(max_examples=EXAMPLES, deadline=DEADLINE)
@given(text=release_texts)
def test_release_parser_ends_in_a_draft_or_a_validation_error(text: str) -> None:
    try:
        draft = parse_release(text)
    except ValidationError:
        assert not text.strip()
        return
    assert isinstance(draft.title, str)
    assert isinstance(draft.warnings, list)


@settings(max_examples=EXAMPLES, deadline=DEADLINE)
@given(data=st.one_of(st.binary(max_size=2000), release_texts.map(str.encode)))
def test_release_file_bytes_end_in_text_or_a_validation_error(data: bytes) -> None:
    try:
        text = release_text(data, "release.txt")
    except ValidationError as error:
        message = str(error)
    else:
        parse_release(text)
        return
    assert message.startswith("release.txt: ")
    assert "\n" not in message


@settings(max_examples=EXAMPLES, deadline=DEADLINE)
@given(expression=segment_texts)
def test_segment_parser_ends_in_a_tree_or_a_segment_error(expression: str) -> None:
    try:
        node = parse(expression)
    except SegmentError as error:
        column = error.column
    else:
        compile_where(expression, NOW)  # a tree that parses also compiles
        assert node is not None
        return
    assert 1 <= column <= len(expression) + 1


@settings(
    max_examples=30,
    deadline=DEADLINE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.one_of(
        st.binary(max_size=1000),
        st.lists(st.sampled_from(CSV_PIECES), max_size=40).map(lambda p: "".join(p).encode()),
    )
)
def test_contact_csv_import_ends_in_a_report_or_distros_error(
    engine: Engine, tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(data)
    try:
        report = import_contacts(engine, path, dry_run=True)
    except DistroError:
        return
    assert report.imported >= 0
