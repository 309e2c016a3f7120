"""Segment expressions of any size end in a one-line error with a caret, never a traceback.

Before the limits, 400 nested parentheses or 5,000 ``not``\\s ended in a RecursionError and
4,000 ``or`` terms in SQLite's "Expression tree is too large". An expression at every limit at
once must still compile and run on each database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from distro.audience.segment_limits import MAX_CONDITIONS, MAX_DEPTH, MAX_EXPRESSION_LENGTH
from distro.audience.segment_parser import parse
from distro.audience.segments import SegmentError, count_matching
from distro.models import Contact
from distro.sending.scheduling import Audience
from tests.cli_support import run

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)

# One of each kind of condition, so every compiled form is in the tree at the limit.
KINDS = (
    'region = "ZZ"',
    'beats has "nothing"',
    'tags has "nothing"',
    'custom.desk = "nowhere"',
    'outlet ~ "no such outlet"',
    'region in ("Q1", "Q2")',
    'in_list("no-such-list")',
    "opened(within 30d)",
    "clicked",
    "received(release = 7)",
)


def at_every_limit() -> str:
    """MAX_DEPTH nested parentheses holding MAX_CONDITIONS conditions, one of them true for the
    contact in region CA; all the others are false for both contacts."""
    per_level = 7
    levels = []
    used = 0
    for depth in range(MAX_DEPTH):
        terms = [KINDS[(depth + i) % len(KINDS)] for i in range(per_level)]
        used += per_level
        levels.append(" or ".join(terms[:4]) + " or " + " and ".join(terms[4:]) + " or (")
    inner = [KINDS[i % len(KINDS)] for i in range(MAX_CONDITIONS - used - 1)]
    inner.append('region = "CA"')
    expression = "".join(levels) + " or ".join(inner) + ")" * MAX_DEPTH
    assert len(expression) <= MAX_EXPRESSION_LENGTH
    return expression


def caught(expression: str) -> SegmentError:
    with pytest.raises(SegmentError) as error:
        parse(expression)
    return error.value


def test_deep_parentheses_are_refused_at_the_first_level_too_many() -> None:
    expression = "(" * 400 + 'region = "CA"' + ")" * 400
    error = caught(expression)
    assert error.column == MAX_DEPTH + 1
    assert "nested too deeply" in error.reason
    assert error.pointer(expression).splitlines()[1] == " " * MAX_DEPTH + "^"


def test_a_long_chain_of_nots_is_refused_at_the_first_not_too_many() -> None:
    expression = "not " * 3000 + 'region = "CA"'
    error = caught(expression)
    assert error.column == 4 * MAX_DEPTH + 1
    assert "nested too deeply" in error.reason


def test_nots_and_parentheses_count_together() -> None:
    expression = "not (" * 16 + 'region = "CA"' + ")" * 16
    parse(expression)  # exactly at the limit
    error = caught("not " + expression)
    assert "nested too deeply" in error.reason


def test_too_many_conditions_are_refused_at_the_first_one_too_many() -> None:
    expression = " or ".join(["opened"] * 1000)
    error = caught(expression)
    assert error.column == len("opened or ") * MAX_CONDITIONS + 1
    assert f"more than {MAX_CONDITIONS}" in error.reason


def test_the_length_is_checked_before_anything_is_read() -> None:
    expression = " or ".join(['region = "CA"'] * 4000)
    error = caught(expression)
    assert error.column == MAX_EXPRESSION_LENGTH + 1
    assert "too long" in error.reason
    assert f"{len(expression):,} characters" in error.reason


def test_the_caret_under_a_long_expression_shows_the_place_not_the_whole_line() -> None:
    expression = " or ".join(["opened"] * 1000)
    error = caught(expression)
    shown, caret = error.pointer(expression).splitlines()
    assert len(shown) < 200
    assert shown[len(caret) - 1 :].startswith("opened")  # the caret sits under the 257th
    assert shown.startswith("…")
    assert shown.endswith("…")


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 400 + 'region = "CA"' + ")" * 400,
        "not " * 1000 + 'region = "CA"',
        " or ".join(["clicked"] * 1000),
        'region = "' + "x" * (MAX_EXPRESSION_LENGTH + 1) + '"',
    ],
)
def test_the_service_refuses_them_as_a_validation_error(expression: str) -> None:
    with pytest.raises(SegmentError, match=r"^column \d+: "):
        Audience(where=expression).validate()


def test_an_expression_at_every_limit_runs_on_the_database(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        session.add_all(
            [
                Contact(email="ana@x.example", region="CA", custom={"desk": "metro"}),
                Contact(email="cy@x.example", region="NY"),
            ]
        )
        session.commit()
    expression = at_every_limit()
    assert count_matching(any_engine, expression, NOW) == 1
    with pytest.raises(SegmentError, match="too many conditions"):
        count_matching(any_engine, expression.replace('region = "CA"', "opened or clicked"), NOW)
    with pytest.raises(SegmentError, match="nested too deeply"):
        count_matching(any_engine, f"({expression})", NOW)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("preview", "(" * 400 + 'region = "CA"' + ")" * 400), "nested too deeply"),
        (("preview", "not " * 6000 + "opened"), "too long"),
        (("save", "many", " or ".join(["opened"] * 300)), "too many conditions"),
    ],
)
def test_the_command_line_prints_one_error_line_and_a_caret(
    tmp_path: Path, args: tuple[str, ...], reason: str
) -> None:
    assert run(tmp_path, "init").returncode == 0
    done = run(tmp_path, "segments", *args)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    message, shown, caret = done.stderr.rstrip("\n").splitlines()
    assert message.startswith("error: column ")
    assert reason in message
    assert caret.strip() == "^"
    assert len(shown) < 200
