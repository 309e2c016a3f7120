"""The segment language: parser (ASTs, errors with columns), compiler (bound parameters only,
injection attempts are data), and a property test against a plain-Python evaluator on SQLite and
PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlmodel import Session

from distro.audience.segment_parser import (
    And,
    Compare,
    Duration,
    Engaged,
    Field,
    Has,
    InList,
    InSet,
    Node,
    Not,
    Or,
    Received,
    quote,
    tokenize,
    unparse,
)
from distro.audience.segments import (
    HANDED_OVER,
    SegmentError,
    compile_where,
    count_matching,
    parse,
    sample_matching,
    segment_contact_ids,
)
from distro.errors import ValidationError
from distro.models import (
    Contact,
    ContactBeat,
    ContactList,
    ContactTag,
    Event,
    ListMember,
    Message,
    MessageStatus,
    Release,
    Send,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def col(name: str) -> Field:
    return Field(name)


def custom(key: str) -> Field:
    return Field("custom", key)


# --- parser: valid expressions ------------------------------------------------------------------

VALID: list[tuple[str, Node]] = [
    ('region = "CA"', Compare(col("region"), "=", "CA")),
    ("region = 'CA'", Compare(col("region"), "=", "CA")),
    ('outlet != "Times"', Compare(col("outlet"), "!=", "Times")),
    ('title ~ "editor"', Compare(col("title"), "~", "editor")),
    ('email="a@b.example"', Compare(col("email"), "=", "a@b.example")),
    ('status = "active"', Compare(col("status"), "=", "active")),
    ('first_name = ""', Compare(col("first_name"), "=", "")),
    ('notes ~ "say \\"hi\\""', Compare(col("notes"), "~", 'say "hi"')),
    ("notes ~ 'it\\'s'", Compare(col("notes"), "~", "it's")),
    ('notes ~ "a\\\\b"', Compare(col("notes"), "~", "a\\b")),
    ('notes ~ "tab\\there\\n"', Compare(col("notes"), "~", "tab\there\n")),
    ('notes ~ "caf\\u00e9"', Compare(col("notes"), "~", "café")),
    ('notes ~ "café ☕"', Compare(col("notes"), "~", "café ☕")),
    ('region in ("CA", "TX")', InSet(col("region"), ("CA", "TX"))),
    ('region in ("CA",)', InSet(col("region"), ("CA",))),
    ('country not in ("US")', InSet(col("country"), ("US",), negated=True)),
    ('beats has "immigration"', Has("beats", "immigration")),
    ('tags has "Do-Not-Contact"', Has("tags", "Do-Not-Contact")),
    ('custom.desk = "metro"', Compare(custom("desk"), "=", "metro")),
    ('custom.Desk_2 != "x"', Compare(custom("Desk_2"), "!=", "x")),
    ('custom."news desk" ~ "met"', Compare(custom("news desk"), "~", "met")),
    ('custom.desk in ("a", "b")', InSet(custom("desk"), ("a", "b"))),
    ('custom.desk not in ("a")', InSet(custom("desk"), ("a",), negated=True)),
    ('in_list("tier-1")', InList("tier-1")),
    ("opened(within 30d)", Engaged("opened", Duration(30, "d"))),
    ("clicked(within 12h)", Engaged("clicked", Duration(12, "h"))),
    ("bounced(within 2w)", Engaged("bounced", Duration(2, "w"))),
    ("bounced", Engaged("bounced")),
    ("opened()", Engaged("opened")),
    ("received(release = 12)", Received(12)),
    ("received(release=3)", Received(3)),
    ('not region = "CA"', Not(Compare(col("region"), "=", "CA"))),
    ("not not bounced", Not(Not(Engaged("bounced")))),
    ('(region = "CA")', Compare(col("region"), "=", "CA")),
    (
        'beats has "immigration" and region in ("CA", "TX") and not tags has "do-not-contact"',
        And(
            (
                Has("beats", "immigration"),
                InSet(col("region"), ("CA", "TX")),
                Not(Has("tags", "do-not-contact")),
            )
        ),
    ),
    (
        'region = "a" or region = "b" and bounced',
        Or(
            (
                Compare(col("region"), "=", "a"),
                And((Compare(col("region"), "=", "b"), Engaged("bounced"))),
            )
        ),
    ),
    (
        '(region = "a" or region = "b") and bounced',
        And(
            (
                Or((Compare(col("region"), "=", "a"), Compare(col("region"), "=", "b"))),
                Engaged("bounced"),
            )
        ),
    ),
    (
        'not (bounced or opened) and in_list("x")',
        And((Not(Or((Engaged("bounced"), Engaged("opened")))), InList("x"))),
    ),
    (
        "bounced or opened or clicked",
        Or((Engaged("bounced"), Engaged("opened"), Engaged("clicked"))),
    ),
    (
        "bounced and (opened and clicked)",
        And((Engaged("bounced"), And((Engaged("opened"), Engaged("clicked"))))),
    ),
    # keywords, fields and functions are case-insensitive; custom keys are not
    (
        'Beats HAS "x" AND NOT Region IN ("CA") Or IN_LIST("t")',
        Or(
            (
                And((Has("beats", "x"), Not(InSet(col("region"), ("CA",))))),
                InList("t"),
            )
        ),
    ),
    ("OPENED(WITHIN 30D)", Engaged("opened", Duration(30, "d"))),
    ("Received(Release = 4)", Received(4)),
    ('region NOT IN ("a")', InSet(col("region"), ("a",), negated=True)),
    ('CUSTOM.Desk = "m"', Compare(custom("Desk"), "=", "m")),
    ('  region\t=\n"CA"  ', Compare(col("region"), "=", "CA")),
]


@pytest.mark.parametrize(("expression", "expected"), VALID)
def test_valid_expressions_parse_to_their_ast(expression: str, expected: Node) -> None:
    assert parse(expression) == expected


@pytest.mark.parametrize(("expression", "expected"), VALID)
def test_printed_ast_parses_back_to_itself(expression: str, expected: Node) -> None:
    assert parse(unparse(expected)) == expected


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    a, b, c = (Compare(col("region"), "=", v) for v in "abc")
    assert parse('region = "a" and region = "b" or region = "c"') == Or((And((a, b)), c))
    assert parse('region = "a" or region = "b" and region = "c"') == Or((a, And((b, c))))
    assert parse('not region = "a" and region = "b"') == And((Not(a), b))
    assert parse('not (region = "a" and region = "b")') == Not(And((a, b)))


def test_durations_convert_to_timedeltas() -> None:
    assert Duration(36, "h").delta == timedelta(hours=36)
    assert Duration(3, "d").delta == timedelta(days=3)
    assert Duration(2, "w").delta == timedelta(days=14)


# --- parser: mistakes ---------------------------------------------------------------------------

INVALID: list[tuple[str, int, str]] = [
    ("", 1, "expected a condition but found end of input"),
    ("   ", 1, "expected a condition but found end of input"),
    ("region =", 9, "expected a value after '=' but found end of input"),
    ('country = "US" and region =', 28, "expected a value after '=' but found end of input"),
    ('beat has "x"', 1, "unknown field 'beat' (did you mean 'beats'?)"),
    ('regoin = "CA"', 1, "unknown field 'regoin' (did you mean 'region'?)"),
    ('zzz = "CA"', 1, "unknown field 'zzz'"),
    ('in_lst("x")', 1, "unknown function 'in_lst' (did you mean 'in_list'?)"),
    ("opend(within 3d)", 1, "unknown function 'opend' (did you mean 'opened'?)"),
    ("opened(within 30x)", 15, "bad duration '30x'"),
    ("opened(within 30)", 15, "bad duration '30'"),
    ("opened(within 0d)", 15, "longer than zero"),
    ("opened(within 999999999w)", 15, "longer than a century"),
    ("opened(within d)", 15, "expected a duration after 'within'"),
    ("opened(30d)", 8, "expected 'within' or ')'"),
    ("opened(within 3d", 17, "expected ')' to close opened("),
    ('region = "CA', 10, "unterminated string"),
    ("region = 'CA", 10, "unterminated string"),
    ('region = "CA\\', 10, "unterminated string"),
    ('region = "C\\qA"', 12, "unknown escape '\\q'"),
    ('region = "\\u12"', 11, "'\\u' needs four hex digits"),
    ('(region = "CA"', 15, "unbalanced parentheses: expected ')' to close the '(' at column 1"),
    ('((region = "CA")', 17, "expected ')' to close the '(' at column 1"),
    ('region = "CA")', 14, "unbalanced parentheses: this ')' has no matching '('"),
    ('region "CA"', 8, "expected an operator (=, !=, ~, in, not in) after 'region' but found"),
    ('custom.desk "x"', 13, "after 'custom.desk'"),
    ("region = CA", 10, "expected a value after '=' but found 'CA' (quote it: \"CA\")"),
    ("region = 12", 10, 'quote it: "12"'),
    ('region = "CA" "TX"', 15, "expected 'and', 'or' or end of input but found the value \"TX\""),
    ('region = "CA" region = "TX"', 15, "expected 'and', 'or' or end of input"),
    ('region = "CA" and', 18, "expected a condition but found end of input"),
    ('region = "CA" or or bounced', 18, "found the keyword 'or'"),
    ('region == "CA"', 9, "expected a value after '=' but found '='"),
    ('region & "CA"', 8, "unexpected character '&' (write 'and')"),
    ('region = "a" && bounced', 14, "unexpected character '&'"),
    ('region ! "CA"', 8, "unexpected character '!'"),
    ('region > "CA"', 8, "unexpected character '>'"),
    ('region has "CA"', 8, "'has' works on beats and tags only"),
    ('beats = "x"', 7, 'beats holds several values: write beats has "..."'),
    ('tags in ("x")', 6, "expected 'has' after 'tags'"),
    ("beats has", 10, "expected a value after 'has' but found end of input"),
    ("region in ()", 12, "expected a value in the list but found ')'"),
    ('region in ("a" "b")', 16, "expected ',' or ')' in the list of values"),
    ('region in "a"', 11, "expected '(' after 'in'"),
    ('region not "a"', 12, "expected 'in' after 'region not'"),
    ('custom = "x"', 8, "expected '.' after 'custom'"),
    ('custom. = "x"', 9, "expected a custom field name after 'custom.'"),
    ('custom."" = "x"', 8, "expected a custom field name"),
    ('custom.desk has "x"', 13, "'has' works on beats and tags only"),
    ("in_list(tier)", 9, "expected a value in in_list(...) but found 'tier'"),
    ('in_list "x"', 9, "expected '(' after 'in_list'"),
    ('in_list("x"', 12, "expected ')' to close in_list("),
    ("received(release = x)", 20, "expected a release id (a number) after '='"),
    ("received(release = 12x)", 20, "expected a release id (a number)"),
    ('received(release = "12")', 20, "expected a release id (a number)"),
    ("received(release = 99999999999)", 20, "release id 99999999999 is too large"),
    ("received(12)", 10, "expected 'release' in received(...)"),
    ("received", 9, "expected '(' after 'received'"),
    ("and bounced", 1, "expected a condition but found the keyword 'and'"),
    ('"CA" = region', 1, 'expected a condition but found the value "CA"'),
    (")", 1, "expected a condition but found ')'"),
    ("not", 4, "expected a condition but found end of input"),
    ('notes = "a\\u0000b"', 9, "cannot contain the NUL character"),
    ('notes = "a\x00b"', 9, "cannot contain the NUL character"),
    ("region = \x00", 10, "unexpected character '\\x00'"),
]


@pytest.mark.parametrize(("expression", "column", "fragment"), INVALID)
def test_mistakes_name_their_column(expression: str, column: int, fragment: str) -> None:
    with pytest.raises(SegmentError) as caught:
        parse(expression)
    error = caught.value
    assert error.column == column, str(error)
    assert str(error).startswith(f"column {column}: "), str(error)
    assert fragment in str(error)


@pytest.mark.parametrize(("expression", "column", "fragment"), INVALID[:8])
def test_compiling_a_mistake_raises_the_same_error(
    expression: str, column: int, fragment: str
) -> None:
    with pytest.raises(SegmentError, match=f"^column {column}: "):
        compile_where(expression, NOW)


def test_segment_error_is_a_validation_error_with_a_caret_pointer() -> None:
    expression = 'region = "CA" and beat has "x"'
    with pytest.raises(ValidationError) as caught:
        parse(expression)
    error = caught.value
    assert isinstance(error, SegmentError)
    assert str(error) == "column 19: unknown field 'beat' (did you mean 'beats'?)"
    assert error.pointer(expression) == f"{expression}\n{' ' * 18}^"


def test_pointer_keeps_tabs_aligned_and_puts_newlines_on_one_line() -> None:
    expression = '\tregion =\n"CA" )'
    with pytest.raises(SegmentError) as caught:
        parse(expression)
    assert caught.value.column == 16
    assert caught.value.pointer(expression) == '\tregion = "CA" )\n\t' + " " * 14 + "^"


def test_pointer_at_the_end_of_input() -> None:
    with pytest.raises(SegmentError) as caught:
        parse("region =   ")
    assert caught.value.pointer("region =   ").splitlines()[1] == " " * 8 + "^"


def test_tokens_carry_their_columns() -> None:
    tokens = tokenize('a  != "x"')
    assert [(t.kind, t.text, t.column) for t in tokens] == [
        ("word", "a", 1),
        ("op", "!=", 4),
        ("string", "x", 7),
        ("end", "", 10),
    ]


# --- compiler -----------------------------------------------------------------------------------


DIALECTS: list[Dialect] = [sqlite.dialect(), postgresql.dialect()]  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_value_is_a_bound_parameter(dialect: Dialect) -> None:
    expression = (
        'region = \'REGIONVAL\' and outlet ~ "OUTLETVAL" and notes in ("NOTESVAL") and '
        'beats has "BEATVAL" and custom.desk = "DESKVAL" and in_list("LISTVAL") '
        "and received(release = 424242) and opened(within 30d)"
    )
    compiled = segment_contact_ids(expression, NOW).compile(dialect=dialect)
    sql = str(compiled)
    for value in ("REGIONVAL", "OUTLETVAL", "NOTESVAL", "BEATVAL", "DESKVAL", "LISTVAL", "424242"):
        assert value.lower() not in sql.lower()
    params = {str(v) for v in compiled.params.values() if not isinstance(v, list | tuple)}
    listed = {str(x) for v in compiled.params.values() if isinstance(v, list | tuple) for x in v}
    assert {"REGIONVAL", "beatval", "DESKVAL", "LISTVAL", "424242"} <= params
    assert "NOTESVAL" in listed
    assert "outletval" in params  # lower-cased for the case-insensitive match
    assert str(NOW - timedelta(days=30)) in {str(v) for v in compiled.params.values()}


def test_multi_valued_conditions_are_semi_joins_not_row_multiplying_joins() -> None:
    where = 'beats has "a" and tags has "b" and in_list("c") and opened and received(release=1)'
    lite, pg = (str(segment_contact_ids(where, NOW).compile(dialect=d)) for d in DIALECTS)
    assert " JOIN " not in pg.upper()
    assert " JOIN " not in lite.upper()
    assert pg.count("EXISTS (") == 5
    assert "contact_beats.contact_id = contacts.id" in pg
    assert lite.count("contacts.id IN (SELECT") == 5


def test_status_is_not_added_to_the_segment() -> None:
    sql = str(segment_contact_ids("bounced", NOW).compile())
    assert "status" not in sql


# --- a small data set ---------------------------------------------------------------------------


def seed_small(engine: Engine) -> None:
    with Session(engine) as session:
        rows = [
            ("ana@x.example", "CA", "The Times", ["immigration"], [], {"desk": "metro"}),
            ("bo@x.example", "TX", "Daily Post", ["immigration", "health"], ["do-not-contact"], {}),
            ("cy@x.example", "NY", "the times union", ["politics"], [], {"desk": "national"}),
            ("di@x.example", "TX", "Herald", ["immigration"], ["vip"], {"desk": "Metro"}),
        ]
        for i, (email, region, outlet, _b, _t, extra) in enumerate(rows, start=1):
            session.add(Contact(id=i, email=email, region=region, outlet=outlet, custom=extra))
        session.flush()
        for i, (_e, _r, _o, beats, tags, _c) in enumerate(rows, start=1):
            session.add_all(ContactBeat(contact_id=i, beat=b) for b in beats)
            session.add_all(ContactTag(contact_id=i, tag=t) for t in tags)
        tier = ContactList(id=1, name="tier-1")
        session.add(tier)
        session.flush()
        session.add_all([ListMember(list_id=1, contact_id=1), ListMember(list_id=1, contact_id=4)])
        session.commit()


def test_count_and_sample_on_a_small_data_set(engine: Engine) -> None:
    seed_small(engine)
    spec = 'beats has "immigration" and region in ("CA", "TX") and not tags has "do-not-contact"'
    assert count_matching(engine, spec, NOW) == 2
    sample = sample_matching(engine, spec, NOW)
    assert [c.email for c in sample] == ["ana@x.example", "di@x.example"]
    assert sample[0].custom == {"desk": "metro"}  # loaded: usable after the session closed
    assert [c.id for c in sample_matching(engine, "not bounced", NOW, limit=3)] == [1, 2, 3]
    assert sample_matching(engine, 'region = "nowhere"', NOW) == []
    assert count_matching(engine, 'outlet ~ "TIMES"', NOW) == 2
    assert count_matching(engine, 'outlet = "the times union"', NOW) == 1
    assert count_matching(engine, 'custom.desk = "metro"', NOW) == 1
    assert count_matching(engine, 'custom.desk ~ "METRO"', NOW) == 2
    assert count_matching(engine, 'custom.desk != "metro"', NOW) == 3  # includes no-desk bo
    assert count_matching(engine, 'not custom.desk = "metro"', NOW) == 3
    assert count_matching(engine, 'custom.desk not in ("metro", "national")', NOW) == 2
    assert count_matching(engine, 'in_list("tier-1") or region = "NY"', NOW) == 3
    assert count_matching(engine, 'in_list("nope")', NOW) == 0
    assert count_matching(engine, 'BEATS HAS "IMMIGRATION"', NOW) == 3


def test_engagement_windows_count_back_from_the_given_now(any_engine: Engine) -> None:
    engine = any_engine
    seed_small(engine)
    with Session(engine) as session:
        session.add(Release(id=7, slug="r7", title="R7"))
        session.add(Send(id=1, release_id=7, provider="p", scheduled_at=NOW))
        session.flush()
        session.add(Message(id=1, send_id=1, contact_id=2, email="bo", provider="p", status="sent"))
        session.add(
            Message(id=2, send_id=1, contact_id=3, email="cy", provider="p", status="failed")
        )
        session.flush()
        opened_at = NOW - timedelta(days=10)
        session.add(
            Event(
                message_id=1,
                provider="p",
                provider_event_id="e1",
                type="opened",
                occurred_at=opened_at,
            )
        )
        session.commit()
    assert count_matching(engine, "opened(within 10d)", NOW) == 1
    assert count_matching(engine, "opened(within 239h)", NOW) == 0
    assert count_matching(engine, "opened(within 2w)", NOW + timedelta(days=4)) == 1
    assert count_matching(engine, "opened(within 2w)", NOW + timedelta(days=5)) == 0
    assert count_matching(engine, "opened", NOW + timedelta(days=500)) == 1
    assert count_matching(engine, "clicked or bounced", NOW) == 0
    assert [c.id for c in sample_matching(engine, "received(release = 7)", NOW)] == [
        2
    ]  # not failed
    assert count_matching(engine, "received(release = 8)", NOW) == 0


# --- injection attempts are data ----------------------------------------------------------------

PAYLOADS = [
    "'",
    '"',
    ";",
    "--",
    "%",
    "_",
    "\\",
    "/",
    ") or 1=1 --",
    "') or 1=1 --",
    '") or 1=1 --',
    "'; DROP TABLE contacts; --",
    "a%b_c",
    "%' OR '1'='1",
    "1; SELECT * FROM contacts",
    "\u0001",
]


def _notes() -> list[str]:
    """Each payload embedded in text, plus near misses (the wildcard's meaning, other case)."""
    notes = [f"x{payload}y" for payload in PAYLOADS]
    return [*notes, "plain", "aXbYc", "a.b.c", "A%B_C", ""]


def seed_payloads(engine: Engine) -> list[str]:
    notes = _notes()
    with Session(engine) as session:
        for i, note in enumerate(notes, start=1):
            session.add(
                Contact(id=i, email=f"c{i}@x.example", notes=note, outlet=note, custom={"k": note})
            )
        session.flush()
        for i, note in enumerate(notes, start=1):
            if note:
                session.add(ContactTag(contact_id=i, tag=note.lower()))
        session.commit()
    return notes


def _ids(engine: Engine, expression: str) -> set[int]:
    with engine.connect() as conn:
        return set(conn.scalars(segment_contact_ids(expression, NOW)))


def test_injection_attempts_are_data(any_engine: Engine) -> None:
    notes = seed_payloads(any_engine)
    every = set(range(1, len(notes) + 1))
    for payload in PAYLOADS:
        literal = quote(payload)
        contains = {i for i, n in enumerate(notes, start=1) if payload.lower() in n.lower()}
        exact = {i for i, n in enumerate(notes, start=1) if n == f"x{payload}y"}
        assert contains, payload
        assert _ids(any_engine, f"notes ~ {literal}") == contains, payload
        assert _ids(any_engine, f"custom.k ~ {literal}") == contains, payload
        assert _ids(any_engine, f"not notes ~ {literal}") == every - contains, payload
        assert _ids(any_engine, f"notes = {quote(f'x{payload}y')}") == exact, payload
        assert _ids(any_engine, f"notes = {literal}") == set(), payload
        assert _ids(any_engine, f"outlet in ({literal}, {quote(f'x{payload}y')})") == exact
        assert _ids(any_engine, f"tags has {quote(f'X{payload}Y')}") == exact, payload
        assert _ids(any_engine, f"in_list({literal})") == set(), payload
    # the table and its rows are intact
    assert "contacts" in inspect(any_engine).get_table_names()
    with any_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Contact)) == len(notes)


def test_single_quoted_and_escaped_forms_of_a_payload(any_engine: Engine) -> None:
    notes = seed_payloads(any_engine)
    target = notes.index("x') or 1=1 --y") + 1
    assert _ids(any_engine, "notes = 'x\\') or 1=1 --y'") == {target}
    assert _ids(any_engine, 'notes = "x\') or 1=1 --y"') == {target}
    assert _ids(any_engine, "notes ~ '%'") == {i for i, n in enumerate(notes, start=1) if "%" in n}


def test_a_nul_character_is_refused_before_any_sql() -> None:
    with pytest.raises(SegmentError) as caught:
        count_matching(None, 'notes ~ "\\u0000" or 1=1', NOW)  # type: ignore[arg-type]
    assert caught.value.column == 9


# --- property: the database agrees with a plain-Python evaluator -------------------------------

TEXT = st.text(alphabet="aAb%_'", max_size=3)
COLUMN_NAMES = ["region", "outlet", "notes", "title", "status"]
CUSTOM_KEYS = ["desk", "beat"]
MULTI = ["x", "y", "z"]
LISTS = ["tier-1", "press"]
EVENT_TYPES = ["opened", "clicked", "bounced", "delivered"]
HOURS_AGO = [0, 1, 23, 24, 25, 167, 168, 169, 719, 720, 721, 3000, -5]
DURATIONS = [Duration(1, "d"), Duration(24, "h"), Duration(1, "w"), Duration(30, "d")]
RELEASE_IDS = [1, 2]
SENDS = {1: 1, 2: 1, 3: 2}  # send id -> release id


@dataclass
class FakeMessage:
    send_id: int
    status: str
    events: list[tuple[str, int]]  # (type, hours before NOW)


@dataclass
class FakeContact:
    fields: dict[str, str]
    custom: dict[str, str]
    beats: set[str]
    tags: set[str]
    lists: set[str]
    messages: list[FakeMessage] = field(default_factory=list)


messages_st = st.builds(
    FakeMessage,
    send_id=st.sampled_from(sorted(SENDS)),
    status=st.sampled_from([str(s) for s in MessageStatus]),
    events=st.lists(
        st.tuples(st.sampled_from(EVENT_TYPES), st.sampled_from(HOURS_AGO)), max_size=2
    ),
)

contacts_st = st.lists(
    st.builds(
        FakeContact,
        fields=st.fixed_dictionaries(dict.fromkeys(COLUMN_NAMES, TEXT)),
        custom=st.dictionaries(st.sampled_from(CUSTOM_KEYS), TEXT, max_size=2),
        beats=st.sets(st.sampled_from(MULTI)),
        tags=st.sets(st.sampled_from(MULTI)),
        lists=st.sets(st.sampled_from(LISTS)),
        messages=st.lists(messages_st, max_size=2, unique_by=lambda m: m.send_id),
    ),
    max_size=7,
)

target_st = st.one_of(
    st.sampled_from(COLUMN_NAMES).map(Field),
    st.sampled_from(CUSTOM_KEYS).map(lambda k: Field("custom", k)),
)
VALUE = st.text(alphabet="aAb%_'", max_size=2)
leaves: st.SearchStrategy[Node] = st.one_of(
    st.builds(Compare, target_st, st.sampled_from(["=", "!=", "~"]), VALUE),
    st.builds(InSet, target_st, st.lists(VALUE, min_size=1, max_size=3).map(tuple), st.booleans()),
    st.builds(Has, st.sampled_from(["beats", "tags"]), st.sampled_from(["x", "X", "y", "w"])),
    st.builds(InList, st.sampled_from([*LISTS, "Tier-1", "none"])),
    st.builds(
        Engaged,
        st.sampled_from(["opened", "clicked", "bounced"]),
        st.none() | st.sampled_from(DURATIONS),
    ),
    st.builds(Received, st.sampled_from([*RELEASE_IDS, 3])),
)
nodes_st: st.SearchStrategy[Node] = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(Not, children),
        st.lists(children, min_size=2, max_size=3).map(lambda ops: And(tuple(ops))),
        st.lists(children, min_size=2, max_size=3).map(lambda ops: Or(tuple(ops))),
    ),
    max_leaves=6,
)


def evaluate(node: Node, contact: FakeContact) -> bool:
    """The meaning of a segment, in plain Python."""
    if isinstance(node, And):
        return all(evaluate(operand, contact) for operand in node.operands)
    if isinstance(node, Or):
        return any(evaluate(operand, contact) for operand in node.operands)
    if isinstance(node, Not):
        return not evaluate(node.operand, contact)
    if isinstance(node, Compare | InSet):
        if node.field.key is None:
            value: str | None = contact.fields[node.field.name]
        else:
            value = contact.custom.get(node.field.key)
        negative = (isinstance(node, Compare) and node.op == "!=") or (
            isinstance(node, InSet) and node.negated
        )
        if value is None:
            return negative
        if isinstance(node, InSet):
            return (value in node.values) != node.negated
        if node.op == "=":
            return value == node.value
        if node.op == "!=":
            return value != node.value
        return node.value.lower() in value.lower()
    if isinstance(node, Has):
        values = contact.beats if node.field == "beats" else contact.tags
        return node.value.lower() in values
    if isinstance(node, InList):
        return node.name in contact.lists
    if isinstance(node, Engaged):
        since = None if node.within is None else NOW - node.within.delta
        return any(
            kind == node.kind and (since is None or NOW - timedelta(hours=hours) >= since)
            for message in contact.messages
            for kind, hours in message.events
        )
    assert isinstance(node, Received)
    return any(
        SENDS[m.send_id] == node.release_id and m.status in HANDED_OVER for m in contact.messages
    )


TABLES = [Event, Message, Send, Release, ListMember, ContactList, ContactBeat, ContactTag, Contact]


def load_world(engine: Engine, contacts: list[FakeContact]) -> None:
    with Session(engine) as session:
        for model in TABLES:
            session.execute(delete(model))
        session.add_all(Release(id=r, slug=f"r{r}", title=f"R{r}") for r in (1, 2, 3))
        session.add_all(ContactList(id=i, name=name) for i, name in enumerate(LISTS, start=1))
        session.flush()
        session.add_all(
            Send(id=s, release_id=r, provider="p", scheduled_at=NOW) for s, r in SENDS.items()
        )
        for i, c in enumerate(contacts, start=1):
            contact = Contact(id=i, email=f"c{i}@x.example", custom=c.custom)
            for name, value in c.fields.items():
                setattr(contact, name, value)
            session.add(contact)
        session.flush()
        message_id = event_id = 0
        for i, c in enumerate(contacts, start=1):
            session.add_all(ContactBeat(contact_id=i, beat=b) for b in c.beats)
            session.add_all(ContactTag(contact_id=i, tag=t) for t in c.tags)
            session.add_all(
                ListMember(list_id=LISTS.index(name) + 1, contact_id=i) for name in c.lists
            )
            for m in c.messages:
                message_id += 1
                session.add(
                    Message(
                        id=message_id,
                        send_id=m.send_id,
                        contact_id=i,
                        email=f"c{i}@x.example",
                        provider="p",
                        status=m.status,
                    )
                )
                session.flush()
                for kind, hours in m.events:
                    event_id += 1
                    session.add(
                        Event(
                            id=event_id,
                            message_id=message_id,
                            provider="p",
                            provider_event_id=f"e{event_id}",
                            type=kind,
                            occurred_at=NOW - timedelta(hours=hours),
                        )
                    )
        session.commit()


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(contacts=contacts_st, nodes=st.lists(nodes_st, min_size=1, max_size=4))
def test_database_agrees_with_the_python_evaluator(
    any_engine: Engine, contacts: list[FakeContact], nodes: list[Node]
) -> None:
    load_world(any_engine, contacts)
    for node in nodes:
        expression = unparse(node)
        assert parse(expression) == node
        expected = {i for i, c in enumerate(contacts, start=1) if evaluate(node, c)}
        assert _ids(any_engine, expression) == expected, expression
        assert count_matching(any_engine, expression, NOW) == len(expected), expression


@given(node=nodes_st)
def test_printing_then_parsing_gives_back_the_ast(node: Node) -> None:
    assert parse(unparse(node)) == node
